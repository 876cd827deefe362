-- The member portal: browser sessions, login attempts (for throttling) and a project's source link.

-- One row per signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so
-- a copy of the database cannot be used to sign in.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Per-session CSRF token: every state-changing form and API call must echo it.
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions(user_id);

-- Failed and successful logins, counted per account and per address over a sliding window.
CREATE TABLE login_attempts (
    id      INTEGER PRIMARY KEY,
    account TEXT    NOT NULL,
    address TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    ok      INTEGER NOT NULL
);

CREATE INDEX login_attempts_account ON login_attempts(account, at);
CREATE INDEX login_attempts_address ON login_attempts(address, at);

-- Emails identify accounts at login: at most one account per address (case-insensitive).
CREATE UNIQUE INDEX users_email ON users(lower(email)) WHERE email IS NOT NULL;

-- Link to the project's source code, shown in the gallery and to admins.
ALTER TABLE projects ADD COLUMN source_url TEXT NOT NULL DEFAULT '';
