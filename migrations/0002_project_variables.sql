-- A project's own variables, filled into its stack file (`${NAME}`). Secret values are stored
-- like the others (the server needs them to deploy) but never shown: pages, logs and the CLI mask
-- them.
CREATE TABLE project_variables (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    secret     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, name)
);
