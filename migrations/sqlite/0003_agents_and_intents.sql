-- Registered agents and the intents they submit. JSON columns hold canonical JSON text.
CREATE TABLE agents (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    id                 TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT,
    -- JSON arrays; empty = no restriction.
    domains            TEXT NOT NULL,
    intent_types       TEXT NOT NULL,
    trust_tier         TEXT NOT NULL,
    trust_score        DOUBLE PRECISION NOT NULL,
    -- An admin's fixed tier, overriding the earned one.
    pinned_tier        TEXT,
    status             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE intents (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    type             TEXT NOT NULL,
    domain           TEXT NOT NULL,
    agent_id         TEXT NOT NULL,
    status           TEXT NOT NULL,
    params           TEXT NOT NULL,
    description      TEXT,
    justification    TEXT,
    idempotency_key  TEXT,
    -- SHA-256 of the canonical request: an idempotent replay must match it.
    request_hash     TEXT NOT NULL,
    decision         TEXT,
    result           TEXT,
    value_cents      BIGINT,
    error            TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    completed_at     BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id)
);

CREATE UNIQUE INDEX intents_by_idempotency_key ON intents (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX intents_by_time ON intents (tenant_id, created_at);
CREATE INDEX intents_by_status ON intents (tenant_id, status, created_at);
CREATE INDEX intents_by_agent ON intents (tenant_id, agent_id, created_at);
