-- Hosting terms: permanent projects, reminders already sent, and renewal requests.

-- The root project and admin-marked projects have no term end; the scheduler never expires them.
ALTER TABLE projects ADD COLUMN permanent INTEGER NOT NULL DEFAULT 0;

-- One row per reminder sent, keyed by the term end it was about, so a crash never sends one twice
-- and a renewal (a new term end) starts a fresh set.
CREATE TABLE term_reminders (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    term_end    INTEGER NOT NULL,
    -- Seconds before term_end this reminder stands for (7 days = 604800).
    offset_secs INTEGER NOT NULL,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (project_id, term_end, offset_secs)
);

-- Members ask for a later term end; an admin approves or rejects.
CREATE TABLE renewals (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    requested_by TEXT    NOT NULL,
    -- The term end asked for (unix seconds).
    new_end      INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    -- pending | approved | rejected
    state        TEXT    NOT NULL DEFAULT 'pending',
    decided_by   TEXT,
    decided_at   INTEGER,
    decision     TEXT,
    created_at   INTEGER NOT NULL
);

CREATE INDEX renewals_pending ON renewals(state) WHERE state = 'pending';
