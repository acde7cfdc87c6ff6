-- OpenIntent resources kept as versioned JSON documents (RFC-0012 tasks and plans, RFC-0015
-- memory, RFC-0017 triggers): the document is the resource as answered; the other columns
-- copy the parts of it that lists filter on, sweeps look up, or uniqueness is enforced by.
CREATE TABLE oi_documents (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    -- task, plan, memory, trigger
    kind        TEXT NOT NULL,
    -- What it belongs to: the intent of a task or plan, the agent of a memory entry.
    parent      TEXT NOT NULL,
    -- Its lifecycle state (task status, plan state) or class (memory type, trigger type).
    status      TEXT NOT NULL,
    namespace   TEXT,
    -- ",tag1,tag2," so one tag matches as ",tag," (tags never hold commas).
    tags        TEXT NOT NULL DEFAULT ',',
    -- Unique per tenant and kind when set: (agent, namespace, key) of a memory entry.
    unique_key  TEXT,
    -- When a sweep must look at it: a memory entry's expiry, a trigger's next firing.
    due_at      BIGINT,
    version     BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX oi_documents_parent ON oi_documents (tenant_id, kind, parent, created_at);
CREATE UNIQUE INDEX oi_documents_unique_key ON oi_documents (tenant_id, kind, unique_key);
CREATE INDEX oi_documents_due ON oi_documents (kind, due_at);
