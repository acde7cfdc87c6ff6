-- Identities (issue 20): keys bound to agents and owned by people, console users and their
-- sessions, who submitted each intent (for separation of duties), the approval queue's subject
-- kind, a per-tenant switch for registering unknown OpenIntent agents on first use, and the
-- hourly window of trust credits.

-- JSON array of the agent ids the key may act as; NULL = unbound (any agent of the tenant).
ALTER TABLE api_keys ADD COLUMN agents TEXT;
-- The console user accountable for the key, when there is one.
ALTER TABLE api_keys ADD COLUMN owner_user_id TEXT;

-- NULL = the server's default (on in development mode, off otherwise); 1 = on; 0 = off.
ALTER TABLE tenants ADD COLUMN auto_register_agents BIGINT;

CREATE TABLE users (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    id             TEXT NOT NULL,
    -- Lowercased; unique per tenant.
    email          TEXT NOT NULL,
    -- admin, approver or viewer
    role           TEXT NOT NULL,
    -- argon2id PHC string.
    password_hash  TEXT NOT NULL,
    disabled_at    BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_by_email ON users (tenant_id, email);

-- Console sessions; the cookie holds the token, the table only its SHA-256.
CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    revoked_at    BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id);

-- The key that submitted the intent and the person who owns that key.
ALTER TABLE intents ADD COLUMN submitted_by TEXT;
ALTER TABLE intents ADD COLUMN submitted_by_user TEXT;

-- What an approval decides: an `intent` of /v1 (OpenIntent subjects join later).
ALTER TABLE approvals ADD COLUMN subject_kind TEXT NOT NULL DEFAULT 'intent';
-- The credential a decision was made with (the approver column is the person when known).
ALTER TABLE approval_decisions ADD COLUMN key_id TEXT;

-- Trust credits counted in the current hour (a cap per hour stops bursts of outcomes).
ALTER TABLE agents ADD COLUMN credit_window_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN credit_window_count BIGINT NOT NULL DEFAULT 0;
