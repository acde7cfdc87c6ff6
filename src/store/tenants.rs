//! Tenants: the unit of isolation. Every other table carries `tenant_id`.

use sqlx::AnyConnection;

use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub created_at: Millis,
}

/// Inserts a tenant; a duplicate id is a unique violation (see [`super::is_unique_violation`]).
pub async fn insert(conn: &mut AnyConnection, tenant: &TenantRow) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Inserts the tenant unless it exists; true when it was created.
pub async fn insert_if_absent(conn: &mut AnyConnection, tenant: &TenantRow) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(tenant.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn exists(conn: &mut AnyConnection, tenant_id: &TenantId) -> sqlx::Result<bool> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// The tenant's per-key limit override: `None` when the tenant is unknown, `Some(None)` when
/// it uses the default.
pub async fn rate_limit(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
) -> sqlx::Result<Option<Option<i64>>> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT rate_limit_per_minute FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(limit,)| limit))
}

/// Sets (or clears, with `None`) the override; false when the tenant does not exist.
pub async fn set_rate_limit(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    per_minute: Option<i64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE tenants SET rate_limit_per_minute = $2 WHERE id = $1")
        .bind(tenant_id)
        .bind(per_minute)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether unknown OpenIntent agents are registered on first use: `None` when the tenant is
/// unknown, `Some(None)` when it follows the server's default.
pub async fn auto_register_agents(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
) -> sqlx::Result<Option<Option<bool>>> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT auto_register_agents FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(flag,)| flag.map(|on| on != 0)))
}

/// Sets (or clears, with `None`) the switch; false when the tenant does not exist.
pub async fn set_auto_register_agents(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    on: Option<bool>,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE tenants SET auto_register_agents = $2 WHERE id = $1")
        .bind(tenant_id)
        .bind(on.map(i64::from))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
