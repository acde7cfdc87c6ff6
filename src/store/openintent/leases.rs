//! Scope leases (RFC-0003). At most one `active` lease per (intent, scope): a unique partial
//! index makes a racing second acquisition fail instead of silently succeeding.

use sqlx::AnyConnection;

use crate::{ids::TenantId, store::Store, time::Millis};

const COLUMNS: &str =
    "tenant_id, id, intent_id, agent_id, scope, status, expires_at, acquired_at, released_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeaseRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub intent_id: String,
    pub agent_id: String,
    pub scope: String,
    pub status: String,
    pub expires_at: Millis,
    pub acquired_at: Millis,
    pub released_at: Option<Millis>,
}

/// Marks the intent's active leases that ran out as `expired` (so the scope is free again).
pub async fn expire_lapsed(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE oi_leases SET status = 'expired' WHERE tenant_id = $1 AND intent_id = $2 \
         AND status = 'active' AND expires_at <= $3",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The active lease on a scope, if any.
pub async fn active_on_scope(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    scope: &str,
) -> sqlx::Result<Option<LeaseRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_leases WHERE tenant_id = $1 AND intent_id = $2 \
         AND scope = $3 AND status = 'active'"
    ))
    .bind(tenant_id)
    .bind(intent_id)
    .bind(scope)
    .fetch_optional(conn)
    .await
}

pub async fn insert(conn: &mut AnyConnection, row: &LeaseRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO oi_leases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.intent_id)
    .bind(&row.agent_id)
    .bind(&row.scope)
    .bind(&row.status)
    .bind(row.expires_at)
    .bind(row.acquired_at)
    .bind(row.released_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    id: &str,
) -> sqlx::Result<Option<LeaseRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_leases WHERE tenant_id = $1 AND intent_id = $2 AND id = $3"
    ))
    .bind(tenant_id)
    .bind(intent_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn update(conn: &mut AnyConnection, row: &LeaseRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE oi_leases SET status = $3, expires_at = $4, released_at = $5 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.status)
    .bind(row.expires_at)
    .bind(row.released_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// An intent's leases, newest first.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<Vec<LeaseRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_leases WHERE tenant_id = $1 AND intent_id = $2 ORDER BY id DESC"
    ))
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_all(store.reader())
    .await
}

/// Revokes the agent's active leases on the intent (its access was withdrawn); answers how many.
pub async fn revoke_held_by(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    agent_id: &str,
    now: Millis,
) -> sqlx::Result<u64> {
    let revoked = sqlx::query(
        "UPDATE oi_leases SET status = 'revoked', released_at = $4 WHERE tenant_id = $1 \
         AND intent_id = $2 AND agent_id = $3 AND status = 'active'",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(agent_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(revoked.rows_affected())
}
