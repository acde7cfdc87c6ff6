//! Registered agents.

use sqlx::AnyConnection;

use super::{bind_filter, filtered_page, get_by_id, AnyQueryAs, Keyed, ListFilter, Store};
use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// JSON array of domain names.
    pub domains: String,
    /// JSON array of intent type names.
    pub intent_types: String,
    pub trust_tier: String,
    pub trust_score: f64,
    pub pinned_tier: Option<String>,
    pub status: String,
    /// Completed intents: the record trust promotions need.
    pub completed_count: i64,
    /// The hour in which `credit_window_count` completions earned trust.
    pub credit_window_start: Millis,
    pub credit_window_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Keyed for AgentRow {
    const TABLE: &'static str = "agents";
    const COLUMNS: &'static str = COLUMNS;
}

const COLUMNS: &str = "id, name, description, domains, intent_types, trust_tier, trust_score, \
     pinned_tier, status, completed_count, credit_window_start, credit_window_count, created_at, \
     updated_at";

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    agent: &AgentRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agents (tenant_id, id, name, description, domains, intent_types, trust_tier, \
         trust_score, pinned_tier, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant_id)
    .bind(&agent.id)
    .bind(&agent.name)
    .bind(agent.description.as_deref())
    .bind(&agent.domains)
    .bind(&agent.intent_types)
    .bind(&agent.trust_tier)
    .bind(agent.trust_score)
    .bind(agent.pinned_tier.as_deref())
    .bind(&agent.status)
    .bind(agent.created_at)
    .bind(agent.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<AgentRow>> {
    get_by_id(conn, tenant_id, id).await
}

/// One page of agents, oldest first (registration order), and the total.
/// Listings show agents in registration order.
const LIST_ORDER: &str = "created_at, id";

/// What an agent listing is narrowed to; `None` narrows nothing.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub status: Option<String>,
    pub trust_tier: Option<String>,
}

/// The tier filter applies to the tier in force: the pinned one, else the earned one.
impl ListFilter for AgentFilter {
    const WHERE: &'static str = "WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR COALESCE(pinned_tier, trust_tier) = $3)";
    const PARAMS: usize = 3;

    fn bind<'q, O>(&'q self, query: AnyQueryAs<'q, O>) -> AnyQueryAs<'q, O> {
        query
            .bind(self.status.as_deref())
            .bind(self.trust_tier.as_deref())
    }
}

/// The agents matching `filter` in registration order, and how many match.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    filter: &AgentFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AgentRow>, i64)> {
    filtered_page(
        store,
        ("agents", COLUMNS, LIST_ORDER),
        tenant_id,
        filter,
        (limit, offset),
    )
    .await
}

/// Writes the mutable registration fields.
pub async fn update(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    agent: &AgentRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE agents SET name = $3, description = $4, domains = $5, intent_types = $6, \
         pinned_tier = $7, status = $8, updated_at = $9 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(&agent.id)
    .bind(&agent.name)
    .bind(agent.description.as_deref())
    .bind(&agent.domains)
    .bind(&agent.intent_types)
    .bind(agent.pinned_tier.as_deref())
    .bind(&agent.status)
    .bind(agent.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes the agent's earned standing.
pub async fn update_trust(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    tier: &str,
    score: f64,
    completed_count: i64,
    at: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE agents SET trust_tier = $3, trust_score = $4, completed_count = $5, updated_at = $6 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(tier)
    .bind(score)
    .bind(completed_count)
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Intents per status of one agent: `(status, count)`. Counted on read from the indexed
/// intents table, so submitting an intent never writes (and locks) the agent's row.
pub async fn intent_counts(
    store: &Store,
    tenant_id: &TenantId,
    agent_id: &str,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT status, COUNT(*) FROM intents WHERE tenant_id = $1 AND agent_id = $2 GROUP BY status",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .fetch_all(store.reader())
    .await
}

/// Intents per agent and status for the agents of one listing page: `(agent, status, count)`.
pub async fn intent_counts_for_page(
    store: &Store,
    tenant_id: &TenantId,
    filter: &AgentFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    let sql = format!(
        "SELECT agent_id, status, COUNT(*) FROM intents WHERE tenant_id = $1 AND agent_id IN \
         (SELECT id FROM agents {} ORDER BY {LIST_ORDER} LIMIT $4 OFFSET $5) \
         GROUP BY agent_id, status",
        AgentFilter::WHERE
    );
    bind_filter(sqlx::query_as(&sql), tenant_id, filter)
        .bind(limit)
        .bind(offset)
        .fetch_all(store.reader())
        .await
}

/// Moves the agent's credit window from `seen` to `next`; false when another completion moved
/// it first (that completion then goes uncredited rather than over the cap).
pub async fn advance_credit_window(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    seen: (Millis, i64),
    next: (Millis, i64),
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE agents SET credit_window_start = $5, credit_window_count = $6 \
         WHERE tenant_id = $1 AND id = $2 AND credit_window_start = $3 AND credit_window_count = $4",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(seen.0)
    .bind(seen.1)
    .bind(next.0)
    .bind(next.1)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
