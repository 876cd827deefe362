-- A project's files (issue 15): where they come from and each stored revision. A project with no
-- row here is a plain compose file (kind 'compose'), as every project was before.
CREATE TABLE project_sources (
    project_id     INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    -- 'files' (a folder or an archive) or 'git'.
    kind           TEXT    NOT NULL CHECK (kind IN ('files', 'git')),
    git_url        TEXT,
    -- Branch or tag; NULL for the repository's default branch.
    git_ref        TEXT,
    -- The stack file named with --stack; NULL when it was found (or generated) by name.
    stack_file     TEXT,
    -- The revision deployed from: <data_dir>/projects/<slug>/<revision>/.
    revision       INTEGER NOT NULL,
    -- Authenticates the project's webhook (HMAC-SHA256 of the body, or the bare token); only git
    -- projects have one.
    webhook_secret TEXT
);

CREATE TABLE project_revisions (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    revision   INTEGER NOT NULL,
    -- The git commit the files are from; NULL for a folder or an archive.
    commit_id  TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, revision)
);
