//! Tenant policy documents: every version kept, the highest in force.

use sqlx::AnyConnection;

use super::Store;
use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub version: i64,
    pub document: String,
    pub created_by: String,
    pub created_at: Millis,
}

/// The version in force, if the tenant stored any.
pub async fn current(store: &Store, tenant_id: &TenantId) -> sqlx::Result<Option<PolicyRow>> {
    sqlx::query_as(
        "SELECT version, document, created_by, created_at FROM policies \
         WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant_id)
    .fetch_optional(store.reader())
    .await
}

/// The number of the version in force (0 when the tenant stored none): what a cached
/// compiled policy is checked against, without reading the document.
pub async fn current_version(store: &Store, tenant_id: &TenantId) -> sqlx::Result<i64> {
    let (version,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM policies WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(store.reader())
            .await?;
    Ok(version)
}

/// Stores the next version; a concurrent store of the same version is a unique violation.
pub async fn insert_next(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    document: &str,
    created_by: &str,
    at: Millis,
) -> sqlx::Result<i64> {
    let (version,): (i64,) = sqlx::query_as(
        "INSERT INTO policies (tenant_id, version, document, created_by, created_at) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM policies WHERE tenant_id = $1 \
         RETURNING version",
    )
    .bind(tenant_id)
    .bind(document)
    .bind(created_by)
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(version)
}
