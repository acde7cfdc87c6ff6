-- The hash-chained audit trail (see src/audit/mod.rs for the record hash).
-- One chain per tenant. audit_heads holds each chain's last sequence and hash: appends lock
-- that row (an upsert), which serializes appends per tenant and only per tenant.
CREATE TABLE audit_heads (
    tenant_id      TEXT PRIMARY KEY REFERENCES tenants (id),
    sequence       BIGINT NOT NULL,
    previous_hash  TEXT NOT NULL,
    hash           TEXT NOT NULL
);

CREATE TABLE audit_records (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    sequence       BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    actor          TEXT NOT NULL,
    subject        TEXT NOT NULL,
    -- Canonical JSON (sorted keys, no whitespace).
    data           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    previous_hash  TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sequence)
);

CREATE INDEX audit_records_by_type ON audit_records (tenant_id, event_type, sequence);
CREATE INDEX audit_records_by_time ON audit_records (tenant_id, created_at);
