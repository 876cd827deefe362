-- Members' own domains (issue 16). A project's owner adds a name; it is routed to the project
-- and gets a certificate only once `verified_at` is set, after clubhost fetched
-- `http://<name>/.well-known/clubhost-domain/<token>` and got the token back (proof that the
-- name's DNS points at this club). Deleting the project deletes its names.
CREATE TABLE project_domains (
    name          TEXT PRIMARY KEY,   -- a DNS name, lowercase, never under the club's domain
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    token         TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    verified_at   INTEGER,            -- NULL until the check passed
    last_check_at INTEGER,
    last_error    TEXT                -- why the last check failed; NULL after a success
);
CREATE INDEX project_domains_project ON project_domains (project_id);

-- A failed order tells the admins once per failure streak: set when they were told, cleared by
-- the next issuance.
ALTER TABLE certificates ADD COLUMN failure_notified_at INTEGER;
