-- The registry: who the members are, what they host, every deploy attempt and every state change.
-- Timestamps are unix seconds (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    email         TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    -- Argon2id PHC string; NULL for accounts made by the CLI that never set a password.
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE projects (
    id             INTEGER PRIMARY KEY,
    slug           TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    owner_id       INTEGER NOT NULL REFERENCES users(id),
    state          TEXT    NOT NULL,
    -- The stack file exactly as submitted; parsed again at every deploy.
    stack_source   TEXT    NOT NULL,
    -- Path prefix the proxy serves it at: '/<slug>' or '/' for the root project.
    route          TEXT    NOT NULL,
    is_root        INTEGER NOT NULL DEFAULT 0,
    term_days      INTEGER NOT NULL,
    -- Set when the project is approved: approval time + term_days.
    term_end       INTEGER,
    -- Why the last deploy failed, shown to the member and the admin.
    failure_reason TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- At most one project serves '/'.
CREATE UNIQUE INDEX projects_one_root ON projects(is_root) WHERE is_root = 1;

CREATE TABLE deployments (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- deploying | running | failed | removed
    state       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT
);

CREATE INDEX deployments_project ON deployments(project_id);

-- Append-only. Keeps the slug as text so history survives a project's deletion.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    project    TEXT,
    action     TEXT    NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    reason     TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_project ON audit_log(project);

-- Small facts about this registry, such as the instance id every Docker object is labelled with.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
