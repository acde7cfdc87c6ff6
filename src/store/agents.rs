//! Registered agents.

use sqlx::AnyConnection;

use super::{page_total, split_counted, Store};
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
    pub intents_total: i64,
    pub intents_completed: i64,
    pub intents_failed: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

const COLUMNS: &str = "id, name, description, domains, intent_types, trust_tier, trust_score, \
     pinned_tier, status, intents_total, intents_completed, intents_failed, created_at, updated_at";

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
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
    tenant_id: &str,
    id: &str,
) -> sqlx::Result<Option<AgentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// One page of agents, oldest first (registration order), and the total.
pub async fn list(
    store: &Store,
    tenant_id: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AgentRow>, i64)> {
    let counted = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, COUNT(*) OVER () AS total_count FROM agents WHERE tenant_id = $1 \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    ))
    .bind(tenant_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.reader())
    .await?;
    let (rows, total) = split_counted(counted);
    let count = sqlx::query_as("SELECT COUNT(*) FROM agents WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(store.reader());
    Ok((rows, page_total(total, offset, count).await?))
}

/// Writes the mutable registration fields.
pub async fn update(
    conn: &mut AnyConnection,
    tenant_id: &str,
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

/// Which of the agent's intent counters an event moves.
#[derive(Debug, Clone, Copy)]
pub enum IntentCounter {
    Total,
    Completed,
    Failed,
}

pub async fn increment(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
    counter: IntentCounter,
) -> sqlx::Result<()> {
    let sql = match counter {
        IntentCounter::Total => "UPDATE agents SET intents_total = intents_total + 1 WHERE tenant_id = $1 AND id = $2",
        IntentCounter::Completed => {
            "UPDATE agents SET intents_completed = intents_completed + 1 WHERE tenant_id = $1 AND id = $2"
        }
        IntentCounter::Failed => "UPDATE agents SET intents_failed = intents_failed + 1 WHERE tenant_id = $1 AND id = $2",
    };
    sqlx::query(sql)
        .bind(tenant_id)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}
