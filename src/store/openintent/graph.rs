//! Intent graph edges (RFC-0002 dependencies) and agent assignments.

use sqlx::AnyConnection;

use crate::{ids::TenantId, store::Store, time::Millis};

pub async fn add_dependency(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    depends_on: &str,
    now: Millis,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO oi_dependencies (tenant_id, intent_id, depends_on, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(depends_on)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn remove_dependency(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    depends_on: &str,
) -> sqlx::Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM oi_dependencies WHERE tenant_id = $1 AND intent_id = $2 AND depends_on = $3",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(depends_on)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Serializes the tenant's dependency additions (PostgreSQL: a lock on the tenant row until
/// commit). Without it two opposite edges added at once would each pass the cycle check,
/// which cannot see the other's uncommitted edge. SQLite has one writer: nothing to do.
pub async fn lock_for_new_edges(
    conn: &mut AnyConnection,
    store: &Store,
    tenant_id: &TenantId,
) -> sqlx::Result<()> {
    if store.backend() == crate::store::Backend::Postgres {
        sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
            .bind(tenant_id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Whether `from` depends on `to`, directly or through other intents. Run inside the
/// writing transaction, so a cycle check sees every committed edge.
pub async fn depends_transitively(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    from: &str,
    to: &str,
) -> sqlx::Result<bool> {
    let found: Option<(String,)> = sqlx::query_as(
        "WITH RECURSIVE reach(id) AS ( \
           SELECT depends_on FROM oi_dependencies WHERE tenant_id = $1 AND intent_id = $2 \
           UNION \
           SELECT d.depends_on FROM oi_dependencies d JOIN reach r ON d.intent_id = r.id \
           WHERE d.tenant_id = $1 \
         ) SELECT id FROM reach WHERE id = $3 LIMIT 1",
    )
    .bind(tenant_id)
    .bind(from)
    .bind(to)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// What `intent_id` depends on.
pub async fn dependencies_of(
    store: &Store,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT depends_on FROM oi_dependencies WHERE tenant_id = $1 AND intent_id = $2 ORDER BY depends_on",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_all(store.reader())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// What depends on `intent_id` (read on `conn`: a transaction's, or a reader's).
pub async fn dependents_of(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT intent_id FROM oi_dependencies WHERE tenant_id = $1 AND depends_on = $2 ORDER BY intent_id",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssignmentRow {
    pub intent_id: String,
    pub agent_id: String,
    pub role: String,
    pub assigned_at: Millis,
}

pub async fn assign(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    row: &AssignmentRow,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO oi_assignments (tenant_id, intent_id, agent_id, role, assigned_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&row.intent_id)
    .bind(&row.agent_id)
    .bind(&row.role)
    .bind(row.assigned_at)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn unassign(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    agent_id: &str,
) -> sqlx::Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM oi_assignments WHERE tenant_id = $1 AND intent_id = $2 AND agent_id = $3",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(agent_id)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Whether the agent is assigned to the intent.
pub async fn is_assigned(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    agent_id: &str,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM oi_assignments WHERE tenant_id = $1 AND intent_id = $2 AND agent_id = $3",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .bind(agent_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// How many agents are assigned to the intent.
pub async fn count_assigned(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM oi_assignments WHERE tenant_id = $1 AND intent_id = $2",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_one(conn)
    .await
}

pub async fn assignments(
    store: &Store,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<Vec<AssignmentRow>> {
    sqlx::query_as(
        "SELECT intent_id, agent_id, role, assigned_at FROM oi_assignments \
         WHERE tenant_id = $1 AND intent_id = $2 ORDER BY assigned_at, agent_id",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_all(store.reader())
    .await
}

/// The intents an agent is assigned to.
pub async fn intents_of_agent(
    store: &Store,
    tenant_id: &TenantId,
    agent_id: &str,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT intent_id FROM oi_assignments WHERE tenant_id = $1 AND agent_id = $2",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .fetch_all(store.reader())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The dependency edges (intent, depends_on) leaving any of `intent_ids`.
pub async fn dependencies_of_many(
    store: &Store,
    tenant_id: &TenantId,
    intent_ids: &[String],
) -> sqlx::Result<Vec<(String, String)>> {
    if intent_ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(&format!(
        "SELECT intent_id, depends_on FROM oi_dependencies WHERE tenant_id = $1 \
         AND intent_id IN ({}) ORDER BY intent_id, depends_on",
        super::json_id_list(store, "$2")
    ))
    .bind(tenant_id)
    .bind(super::json_ids(intent_ids))
    .fetch_all(store.reader())
    .await
}
