-- Webhook endpoints, the outbox of events, and deliveries with every attempt.
CREATE TABLE webhook_endpoints (
    tenant_id                  TEXT NOT NULL REFERENCES tenants (id),
    id                         TEXT NOT NULL,
    url                        TEXT NOT NULL,
    -- JSON array of event names.
    events                     TEXT NOT NULL,
    description                TEXT,
    -- HMAC-SHA256 signing secret (needed in clear to sign).
    secret                     TEXT NOT NULL,
    -- After a rotation, the old secret still signs (a second header) until this time.
    previous_secret            TEXT,
    previous_secret_until      BIGINT,
    -- 1 or 0 (one type on both backends).
    enabled                    BIGINT NOT NULL,
    disabled_reason            TEXT,
    -- Start of the current run of failed attempts; NULL after a success.
    failing_since              BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The outbox: written, with one delivery per subscribed endpoint, in the transaction of the
-- change that causes the event.
CREATE TABLE webhook_events (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    event          TEXT NOT NULL,
    -- The exact body that is signed and sent.
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL REFERENCES webhook_events (id),
    event            TEXT NOT NULL,
    -- pending (due at next_attempt_at), delivered, dead (gave up).
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt       BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    latency_ms    BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
