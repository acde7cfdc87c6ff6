//! Tenants: the unit of isolation. Every other table carries `tenant_id`.

use sqlx::AnyConnection;

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

pub async fn exists(conn: &mut AnyConnection, tenant_id: &str) -> sqlx::Result<bool> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}
