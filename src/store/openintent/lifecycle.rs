//! The lifecycle columns of the agent registry (RFC-0016, migration 0014).

use sqlx::AnyConnection;

use crate::{ids::TenantId, store::Store, time::Millis};

const COLUMNS: &str = "tenant_id, id, name, lifecycle_status, lifecycle, lifecycle_version, \
     last_heartbeat_at, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LifecycleRow {
    pub tenant_id: TenantId,
    pub id: String,
    /// The registry's name of the agent.
    pub name: String,
    /// `None`: the agent never registered through the protocol.
    pub lifecycle_status: Option<String>,
    /// JSON document.
    pub lifecycle: Option<String>,
    pub lifecycle_version: i64,
    pub last_heartbeat_at: Option<Millis>,
    pub created_at: Millis,
}

/// What a registration or status change writes.
#[derive(Debug)]
pub struct LifecycleChange<'a> {
    pub status: &'a str,
    pub lifecycle: &'a str,
    pub version: i64,
    pub last_heartbeat_at: Option<Millis>,
    pub unhealthy_after_ms: i64,
    pub dead_after_ms: i64,
    /// While draining: when the sweep deregisters the agent.
    pub drain_deadline_at: Option<Millis>,
}

pub async fn get_for_update(
    conn: &mut AnyConnection,
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<LifecycleRow>> {
    let lock = store.row_lock();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn get(
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<LifecycleRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(store.reader())
    .await
}

/// Agents that registered through the protocol, optionally in one status, oldest first.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    status: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<LifecycleRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND lifecycle_status IS NOT NULL \
         AND ($2 IS NULL OR lifecycle_status = $2) ORDER BY created_at, id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(status)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

pub async fn write(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    change: &LifecycleChange<'_>,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE agents SET lifecycle_status = $3, lifecycle = $4, lifecycle_version = $5, \
         last_heartbeat_at = $6, unhealthy_after_ms = $7, dead_after_ms = $8, updated_at = $9, \
         drain_deadline_at = $10 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(change.status)
    .bind(change.lifecycle)
    .bind(change.version)
    .bind(change.last_heartbeat_at)
    .bind(change.unhealthy_after_ms)
    .bind(change.dead_after_ms)
    .bind(now)
    .bind(change.drain_deadline_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Records a heartbeat if the agent is still in status `seen` (else false: it changed in
/// between, read it again): the time, the status it brings (an unhealthy agent is active
/// again) and, when given, the profile with the load it reported.
#[allow(clippy::too_many_arguments)]
pub async fn heartbeat(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    seen: &str,
    status: &str,
    version: i64,
    lifecycle: Option<&str>,
    now: Millis,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE agents SET last_heartbeat_at = $3, lifecycle_status = $4, lifecycle_version = $5, \
         lifecycle = COALESCE($6, lifecycle) \
         WHERE tenant_id = $1 AND id = $2 AND lifecycle_status = $7",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(now)
    .bind(status)
    .bind(version)
    .bind(lifecycle)
    .bind(seen)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// What a health sweep looks for.
#[derive(Debug, Clone, Copy)]
pub enum Silence {
    /// Silent longer than the agent's `unhealthy_after_seconds`.
    Unhealthy,
    /// Silent longer than its `dead_after_seconds`.
    Dead,
    /// Draining past its drain deadline.
    DrainTimedOut,
}

impl Silence {
    /// The SQL condition (on `agents`) of an agent overdue at the instant bound as `now`, and
    /// the column overdue agents are taken in order of.
    fn condition(self, now: &str) -> (String, &'static str) {
        match self {
            Silence::Unhealthy | Silence::Dead => {
                let threshold = match self {
                    Silence::Unhealthy => "unhealthy_after_ms",
                    _ => "dead_after_ms",
                };
                let condition = format!(
                    "last_heartbeat_at IS NOT NULL AND last_heartbeat_at + {threshold} <= {now}"
                );
                (condition, "last_heartbeat_at")
            }
            Silence::DrainTimedOut => (
                format!("drain_deadline_at IS NOT NULL AND drain_deadline_at <= {now}"),
                "drain_deadline_at",
            ),
        }
    }
}

/// Agents (any tenant) in status `from` silent for longer than `silence` allows: what the
/// health sweep moves on.
pub async fn overdue(
    store: &Store,
    from: &str,
    silence: Silence,
    now: Millis,
    limit: i64,
) -> sqlx::Result<Vec<(TenantId, String)>> {
    let (overdue, order) = silence.condition("$2");
    sqlx::query_as(&format!(
        "SELECT tenant_id, id FROM agents WHERE lifecycle_status = $1 AND {overdue} \
         ORDER BY {order} LIMIT $3"
    ))
    .bind(from)
    .bind(now)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

/// Moves an agent from `from` to `to` if it is still there and still overdue: with several
/// instances sweeping, exactly one of them makes each move.
pub async fn mark_overdue(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    from: &str,
    to: &str,
    silence: Silence,
    now: Millis,
) -> sqlx::Result<bool> {
    let (overdue, _) = silence.condition("$5");
    let moved = sqlx::query(&format!(
        "UPDATE agents SET lifecycle_status = $4, lifecycle_version = lifecycle_version + 1, \
         drain_deadline_at = NULL \
         WHERE tenant_id = $1 AND id = $2 AND lifecycle_status = $3 AND {overdue}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}
