//! Aggregates for the dashboard and agent metrics: counted from the source tables on demand.

use super::Store;
use crate::ids::TenantId;
use crate::time::Millis;

/// `(intents created since `since`, pending approvals, active agents, value in cents)`.
pub async fn tenant_totals(
    store: &Store,
    tenant_id: &TenantId,
    since: Millis,
) -> sqlx::Result<(i64, i64, i64, i64)> {
    sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM intents WHERE tenant_id = $1 AND created_at >= $2), \
           (SELECT COUNT(*) FROM approvals WHERE tenant_id = $1 AND status = 'pending'), \
           (SELECT COUNT(*) FROM agents WHERE tenant_id = $1 AND status = 'active'), \
           (SELECT CAST(COALESCE(SUM(value_cents), 0) AS BIGINT) FROM intents \
              WHERE tenant_id = $1 AND status = 'completed')",
    )
    .bind(tenant_id)
    .bind(since)
    .fetch_one(store.reader())
    .await
}

/// `(day, intents created that day)` for the days since `since` that had any, oldest first; a
/// day is counted in whole days since the Unix epoch (UTC).
pub async fn intents_per_day(
    store: &Store,
    tenant_id: &TenantId,
    since: Millis,
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT CAST(created_at / 86400000 AS BIGINT) AS day, COUNT(*) FROM intents \
         WHERE tenant_id = $1 AND created_at >= $2 GROUP BY 1 ORDER BY 1",
    )
    .bind(tenant_id)
    .bind(since)
    .fetch_all(store.reader())
    .await
}

/// Value reported by one agent's completed intents, in cents.
pub async fn agent_value_cents(
    store: &Store,
    tenant_id: &TenantId,
    agent_id: &str,
) -> sqlx::Result<i64> {
    let (cents,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(value_cents), 0) AS BIGINT) FROM intents \
         WHERE tenant_id = $1 AND agent_id = $2 AND status = 'completed'",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .fetch_one(store.reader())
    .await?;
    Ok(cents)
}

/// The `data` and time of the latest `limit` records of `event_type` about `subject`, oldest first.
pub async fn audit_history(
    store: &Store,
    tenant_id: &TenantId,
    event_type: &str,
    subject: &str,
    limit: i64,
) -> sqlx::Result<Vec<(String, Millis)>> {
    let mut rows: Vec<(String, Millis)> = sqlx::query_as(
        "SELECT data, created_at FROM audit_records \
         WHERE tenant_id = $1 AND event_type = $2 AND subject = $3 ORDER BY sequence DESC LIMIT $4",
    )
    .bind(tenant_id)
    .bind(event_type)
    .bind(subject)
    .bind(limit)
    .fetch_all(store.reader())
    .await?;
    rows.reverse();
    Ok(rows)
}

/// Counts across tenants, for the stored-state gauges (read at every `/metrics` scrape).
pub struct GaugeCounts {
    /// `(tenant, pending approvals)`.
    pub pending_approvals: Vec<(String, i64)>,
    /// `(tenant, tier, agents)`.
    pub agents_by_tier: Vec<(String, String, i64)>,
    /// `(tenant, agent, trust score)`.
    pub trust_scores: Vec<(String, String, f64)>,
}

pub async fn gauge_counts(store: &Store) -> sqlx::Result<GaugeCounts> {
    let pending_approvals = sqlx::query_as(
        "SELECT tenant_id, COUNT(*) FROM approvals WHERE status = 'pending' GROUP BY tenant_id",
    )
    .fetch_all(store.reader())
    .await?;
    // A pinned tier is the agent's tier in force, whatever its earned one.
    let agents_by_tier = sqlx::query_as(
        "SELECT tenant_id, COALESCE(pinned_tier, trust_tier) AS tier, COUNT(*) FROM agents \
         GROUP BY tenant_id, COALESCE(pinned_tier, trust_tier)",
    )
    .fetch_all(store.reader())
    .await?;
    let trust_scores = sqlx::query_as("SELECT tenant_id, id, trust_score FROM agents")
        .fetch_all(store.reader())
        .await?;
    Ok(GaugeCounts {
        pending_approvals,
        agents_by_tier,
        trust_scores,
    })
}
