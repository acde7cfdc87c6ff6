-- RFC-0013: OpenIntent approval requests and escalations join the one approval queue. An
-- approval's subject is now a /v1 intent (`intent`) or an OpenIntent intent
-- (`openintent.approval`, `openintent.escalation`), so `intent_id` no longer references
-- /v1 intents only; the services check that a subject exists when they queue it. SQLite
-- cannot drop a foreign key in place: both queue tables are rebuilt, their rows kept.
CREATE TABLE approvals_rebuilt (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    subject_kind        TEXT NOT NULL DEFAULT 'intent',
    intent_id           TEXT NOT NULL,
    status              TEXT NOT NULL,
    required_approvals  BIGINT NOT NULL,
    roles               TEXT NOT NULL,
    reason              TEXT,
    expires_at          BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    resolved_at         BIGINT,
    -- OpenIntent subjects: the requested action (`complete` gates completion), the request
    -- as JSON (requester, key, person, reason, context, priority), and the resolution named.
    action              TEXT,
    request             TEXT,
    outcome             TEXT,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO approvals_rebuilt (tenant_id, id, subject_kind, intent_id, status,
    required_approvals, roles, reason, expires_at, created_at, updated_at, resolved_at)
SELECT tenant_id, id, subject_kind, intent_id, status, required_approvals, roles, reason,
       expires_at, created_at, updated_at, resolved_at FROM approvals;

CREATE TABLE approval_decisions_rebuilt (
    tenant_id    TEXT NOT NULL,
    approval_id  TEXT NOT NULL,
    approver     TEXT NOT NULL,
    decision     TEXT NOT NULL,
    comment      TEXT,
    created_at   BIGINT NOT NULL,
    key_id       TEXT,
    PRIMARY KEY (tenant_id, approval_id, approver),
    FOREIGN KEY (tenant_id, approval_id) REFERENCES approvals_rebuilt (tenant_id, id)
);
INSERT INTO approval_decisions_rebuilt
SELECT tenant_id, approval_id, approver, decision, comment, created_at, key_id
FROM approval_decisions;

DROP TABLE approval_decisions;
DROP TABLE approvals;
-- Renaming rewrites the decisions' reference to the new name.
ALTER TABLE approvals_rebuilt RENAME TO approvals;
ALTER TABLE approval_decisions_rebuilt RENAME TO approval_decisions;
CREATE INDEX approvals_by_status ON approvals (tenant_id, status, created_at);
CREATE INDEX approvals_by_intent ON approvals (tenant_id, intent_id);
CREATE INDEX approvals_by_expiry ON approvals (status, expires_at);
