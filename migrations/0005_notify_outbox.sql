-- Notifications that survive a restart (the outbox), and the images clubhost deployed (what
-- `clubhost gc --images` may prune).

-- One row per note, written in the same transaction as the event it tells of: a note is never lost
-- to a crash or restart, and never sent for an event that was rolled back. The sender records each
-- destination as it succeeds, so a retry, or a resume after a restart, never repeats one.
CREATE TABLE notify_outbox (
    id           INTEGER PRIMARY KEY,
    -- 'owner' (the member named in `owner`) or 'admins'.
    audience     TEXT    NOT NULL,
    owner        TEXT,
    project      TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    -- Destinations already delivered to (a webhook URL, or `mailto:` and an address), one a line.
    sent_to      TEXT    NOT NULL DEFAULT '',
    -- Rounds that failed so far, across restarts; the note is given up after `notify.attempts`.
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    -- The process delivering it (a random token), so two processes never both send it; a server
    -- clears the claims of dead processes when it starts.
    claimed_by   TEXT,
    delivered_at INTEGER,
    given_up_at  INTEGER
);

CREATE INDEX notify_outbox_pending ON notify_outbox(id)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;

-- Every image reference a deploy used, with the image id it named then. `gc --images` only ever
-- removes references listed here that no project still needs, and only while they still name that
-- image (a tag since moved to another image is not clubhost's).
CREATE TABLE deployed_images (
    image       TEXT    PRIMARY KEY,
    image_id    TEXT    NOT NULL,
    -- The project that deployed it last, for the report.
    project     TEXT    NOT NULL,
    deployed_at INTEGER NOT NULL
);
