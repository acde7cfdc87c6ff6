-- Tenants and their API keys. Times are milliseconds since the Unix epoch (see src/store/mod.rs).
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL,
    -- Non-secret lookup handle: the first characters of the secret (or the dev key's name).
    prefix        TEXT NOT NULL,
    -- argon2id PHC string of the whole key; the key itself is never stored.
    secret_hash   TEXT NOT NULL,
    -- Comma-separated scopes: admin, agent, approver, read.
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

CREATE INDEX api_keys_by_prefix ON api_keys (tenant_id, prefix);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_by_revocation ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
