//! `oi_webhook_targets`: where the events of RFC-0006 subscriptions with a `webhook_url` go.

use sqlx::AnyConnection;

use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TargetRow {
    pub subscription_id: String,
    pub endpoint_id: String,
    pub intent_id: Option<String>,
    pub portfolio_id: Option<String>,
    /// A JSON array of event types; empty: every type.
    pub event_types: String,
    pub expires_at: Option<Millis>,
}

impl TargetRow {
    /// Whether an event of `event_type` goes to this target.
    pub fn wants(&self, event_type: &str) -> bool {
        let types: Vec<String> = serde_json::from_str(&self.event_types).unwrap_or_default();
        types.is_empty() || types.iter().any(|t| t == event_type)
    }
}

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    row: &TargetRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oi_webhook_targets (tenant_id, subscription_id, endpoint_id, intent_id, \
         portfolio_id, event_types, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(&row.subscription_id)
    .bind(&row.endpoint_id)
    .bind(&row.intent_id)
    .bind(&row.portfolio_id)
    .bind(&row.event_types)
    .bind(row.expires_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Removes a subscription's target; answers its endpoint, if it had one.
pub async fn delete(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    subscription_id: &str,
) -> sqlx::Result<Option<String>> {
    let endpoint: Option<(String,)> = sqlx::query_as(
        "DELETE FROM oi_webhook_targets WHERE tenant_id = $1 AND subscription_id = $2 \
         RETURNING endpoint_id",
    )
    .bind(tenant_id)
    .bind(subscription_id)
    .fetch_optional(conn)
    .await?;
    Ok(endpoint.map(|(id,)| id))
}

/// The live targets that follow `intent_id`: by that intent, by a portfolio it belongs to, or
/// every intent of the tenant. (Types are matched by the caller.)
pub async fn following(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    now: Millis,
) -> sqlx::Result<Vec<TargetRow>> {
    sqlx::query_as(
        "SELECT subscription_id, endpoint_id, intent_id, portfolio_id, event_types, expires_at \
         FROM oi_webhook_targets t WHERE tenant_id = $1 \
         AND (expires_at IS NULL OR expires_at > $3) \
         AND ((intent_id IS NULL AND portfolio_id IS NULL) OR intent_id = $2 \
              OR portfolio_id IN (SELECT portfolio_id FROM oi_portfolio_members m \
                                  WHERE m.tenant_id = $1 AND m.intent_id = $2)) \
         ORDER BY subscription_id",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(now)
    .fetch_all(conn)
    .await
}
