-- The OpenIntent face (/api/v1): coordination intents with versioned state, their event log,
-- graph edges, assignments, leases, portfolios, and per-intent records (arbitrations,
-- decisions, attachments, costs, retry policies, failures, ACL entries, access requests,
-- subscriptions). Every table is keyed by tenant first.
CREATE TABLE oi_intents (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    id                 TEXT NOT NULL,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    status             TEXT NOT NULL,
    -- JSON objects.
    state              TEXT NOT NULL,
    constraints        TEXT NOT NULL,
    governance_policy  TEXT,
    parent_id          TEXT,
    -- JSON array of the ids this intent depends on: a copy of its oi_dependencies rows, kept
    -- in the same transactions, so reading an intent is one row.
    depends_on         TEXT NOT NULL,
    confidence         BIGINT NOT NULL,
    version            BIGINT NOT NULL,
    -- RFC-0011 default policy: 'open' or 'closed'.
    acl_policy         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX oi_intents_by_parent ON oi_intents (tenant_id, parent_id);
CREATE INDEX oi_intents_by_status ON oi_intents (tenant_id, status, id);

-- intent_id depends on depends_on (RFC-0002); the graph is kept acyclic on insert.
CREATE TABLE oi_dependencies (
    tenant_id   TEXT NOT NULL,
    intent_id   TEXT NOT NULL,
    depends_on  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, intent_id, depends_on)
);
CREATE INDEX oi_dependencies_by_target ON oi_dependencies (tenant_id, depends_on);

-- The intent event log; ids are ULIDs, so they sort by time and serve as SSE resume points.
CREATE TABLE oi_events (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    intent_id        TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    actor            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    trace_id         TEXT,
    parent_event_id  TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX oi_events_by_intent ON oi_events (tenant_id, intent_id, id);

CREATE TABLE oi_assignments (
    tenant_id    TEXT NOT NULL,
    intent_id    TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    role         TEXT NOT NULL,
    assigned_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, intent_id, agent_id)
);
CREATE INDEX oi_assignments_by_agent ON oi_assignments (tenant_id, agent_id);

CREATE TABLE oi_leases (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    intent_id    TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    scope        TEXT NOT NULL,
    -- 'active', 'released', 'expired' or 'revoked'.
    status       TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    acquired_at  BIGINT NOT NULL,
    released_at  BIGINT,
    PRIMARY KEY (tenant_id, id)
);
-- One active lease per scope: concurrent acquisitions cannot both win.
CREATE UNIQUE INDEX oi_leases_one_active ON oi_leases (tenant_id, intent_id, scope)
    WHERE status = 'active';

CREATE TABLE oi_portfolios (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    id                 TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT,
    created_by         TEXT NOT NULL,
    status             TEXT NOT NULL,
    metadata           TEXT NOT NULL,
    governance_policy  TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE oi_portfolio_members (
    tenant_id     TEXT NOT NULL,
    portfolio_id  TEXT NOT NULL,
    intent_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    role          TEXT NOT NULL,
    priority      BIGINT NOT NULL,
    added_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, portfolio_id, intent_id)
);
CREATE INDEX oi_portfolio_members_by_intent ON oi_portfolio_members (tenant_id, intent_id);

-- Sub-resources that are written whole and read by owner (an intent, or none for
-- subscriptions): the JSON document is the resource as the API shows it.
CREATE TABLE oi_records (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    intent_id   TEXT,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
);
CREATE INDEX oi_records_by_intent ON oi_records (tenant_id, kind, intent_id, id);
