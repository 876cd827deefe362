-- HTTPS certificates (issue 16). The ACME account per directory URL and one certificate per
-- name, kept so a restart never orders again. Private keys (the account's and each certificate's)
-- are sealed with the server's key like secret variables (crates/registry/src/secrets.rs), bound
-- to `acme_accounts/<directory>` and `certificates/<name>`.
CREATE TABLE acme_accounts (
    directory  TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,      -- the account's credentials (JSON with its key), sealed
    created_at INTEGER NOT NULL
);

CREATE TABLE certificates (
    name            TEXT PRIMARY KEY,   -- a DNS name, lowercase
    chain_pem       TEXT,               -- leaf first; NULL until the first issuance
    key_sealed      BLOB,               -- the leaf's private key (PEM), sealed
    issuer          TEXT NOT NULL DEFAULT '',
    not_before      INTEGER,
    not_after       INTEGER,
    issued_at       INTEGER,            -- the last issuance or renewal
    renew_at        INTEGER,            -- a third of the lifetime left, with jitter
    last_error      TEXT,               -- the last failed order's reason; NULL after a success
    last_failure_at INTEGER             -- when it failed: no new order for the name for an hour
);
