-- The subnet of every Docker network clubhost created (or found at start-up): project networks
-- get a block of `[docker] subnet_pool`, the gateway `[docker] gateway_subnet`. Recorded before the
-- network is created, so a restart or a crash never hands a block out twice; a row goes once its
-- network is gone from Docker (teardown, purge, delete, a failed deploy's cleanup, or start-up).
-- Keyed by network name, not by project: a deleted project's rows stay until its networks are gone.
CREATE TABLE subnets (
    network      TEXT    PRIMARY KEY,
    -- CIDR, e.g. 10.213.4.32/27. Unique: two networks never share a block.
    subnet       TEXT    NOT NULL UNIQUE,
    -- The project's slug; NULL for the gateway, which all projects share.
    project      TEXT,
    allocated_at INTEGER NOT NULL
);

CREATE INDEX subnets_project ON subnets(project);
