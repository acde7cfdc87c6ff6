-- Tenant policy documents (every version kept) and the approval queue.
CREATE TABLE policies (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    version     BIGINT NOT NULL,
    document    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE approvals (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    intent_id           TEXT NOT NULL,
    -- pending, approved, rejected, expired
    status              TEXT NOT NULL,
    required_approvals  BIGINT NOT NULL,
    -- JSON array of roles an approver should hold (recorded; enforced by the console).
    roles               TEXT NOT NULL,
    reason              TEXT,
    expires_at          BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    resolved_at         BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, intent_id) REFERENCES intents (tenant_id, id)
);

CREATE INDEX approvals_by_status ON approvals (tenant_id, status, created_at);
CREATE INDEX approvals_by_intent ON approvals (tenant_id, intent_id);
CREATE INDEX approvals_by_expiry ON approvals (status, expires_at);

-- One decision per approver and approval: the key makes deciding twice impossible.
CREATE TABLE approval_decisions (
    tenant_id    TEXT NOT NULL,
    approval_id  TEXT NOT NULL,
    approver     TEXT NOT NULL,
    -- approve or reject
    decision     TEXT NOT NULL,
    comment      TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, approval_id, approver),
    FOREIGN KEY (tenant_id, approval_id) REFERENCES approvals (tenant_id, id)
);
