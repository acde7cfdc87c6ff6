-- webhook_events becomes the tenant's durable event log: every /v1 event is written, whether
-- or not an endpoint subscribes to it, and GET /v1/events replays it by id.
CREATE INDEX webhook_events_tenant_id ON webhook_events (tenant_id, id);

-- RFC-0006 subscriptions with a webhook_url: where their events go. Each has its own webhook
-- endpoint (signed, retried and logged like any other); an OpenIntent event of the tenant is
-- matched here, in its transaction, by intent (or portfolio, or every intent) and type.
CREATE TABLE oi_webhook_targets (
    tenant_id        TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    intent_id        TEXT,
    portfolio_id     TEXT,
    -- JSON array of event types; empty: every type.
    event_types      TEXT NOT NULL,
    expires_at       BIGINT,
    PRIMARY KEY (tenant_id, subscription_id)
);
