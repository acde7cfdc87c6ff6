-- Signed Merkle checkpoints over each tenant's audit chain (src/audit/checkpoints.rs).

-- How far each tenant's tree reaches: its size, its right edge (the hex hashes of the perfect
-- subtrees its size decomposes into, comma-separated, largest first) and the hash of the last
-- record it holds, so the next extension checks the chain where it goes on. `pruned_through`
-- is the last record removed by retention; `pruned_hash` its hash (where the chain resumes).
CREATE TABLE audit_trees (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants (id),
    tree_size       BIGINT NOT NULL,
    edge            TEXT NOT NULL,
    last_hash       TEXT NOT NULL,
    sealed_at       BIGINT NOT NULL,
    pruned_through  BIGINT NOT NULL DEFAULT 0,
    pruned_hash     TEXT
);

-- Perfect subtrees of 16 leaves and more (level >= 4), and the leaf hashes (level 0) that
-- retention keeps where a checkpoint's edge falls inside a pruned block. Everything below
-- level 4 is recomputed from the records' hashes when a proof needs it.
CREATE TABLE audit_tree_nodes (
    tenant_id  TEXT NOT NULL,
    level      INTEGER NOT NULL,
    idx        BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, level, idx)
);

CREATE TABLE audit_checkpoints (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    tree_size   BIGINT NOT NULL,
    root_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, tree_size)
);

-- Every public key that ever signed a checkpoint: published, so a checkpoint signed before a
-- key rotation still verifies.
CREATE TABLE checkpoint_keys (
    key_id        TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL
);
