-- Backups of projects (`clubhost backup`): one row per attempt. A row is inserted as `running`
-- before anything is written, and becomes `complete` only once its directory has been renamed
-- from its temporary name, so a crash leaves a `running` row (swept to `failed`) that nothing
-- lists or restores. `project` is the slug as text, not a key: a deleted project's backups stay,
-- which is how a deleted project is brought back.
CREATE TABLE backups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running', 'complete', 'failed')),
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    -- The backup's directory name under `[backup] dir`; set when complete.
    dir         TEXT,
    -- Bytes of every file in the backup.
    bytes       INTEGER NOT NULL DEFAULT 0,
    -- Why it failed.
    error       TEXT,
    -- Who asked: a user name, `admin-socket` or `scheduler`.
    actor       TEXT    NOT NULL
);

CREATE INDEX backups_project ON backups(project, state);
