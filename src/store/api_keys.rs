//! API keys: stored as argon2id hashes with a short non-secret prefix for lookup.

use sqlx::AnyConnection;

use super::{get_by_id, tenant_page, Keyed, Store};
use crate::ids::TenantId;
use crate::time::Millis;

const COLUMNS: &str = "id, tenant_id, name, prefix, secret_hash, scopes, agents, owner_user_id, \
     created_at, last_used_at, revoked_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub scopes: String,
    /// JSON array of the agent ids the key may act as; `None`: unbound.
    pub agents: Option<String>,
    pub owner_user_id: Option<String>,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl Keyed for ApiKeyRow {
    const TABLE: &'static str = "api_keys";
    const COLUMNS: &'static str = COLUMNS;
}

pub async fn insert(conn: &mut AnyConnection, key: &ApiKeyRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, agents, \
         owner_user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key.id)
    .bind(&key.tenant_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(&key.secret_hash)
    .bind(&key.scopes)
    .bind(key.agents.as_deref())
    .bind(key.owner_user_id.as_deref())
    .bind(key.created_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The keys of `tenant_id` whose prefix is `prefix` (normally one; collisions are possible).
pub async fn find_by_prefix(
    store: &Store,
    tenant_id: &TenantId,
    prefix: &str,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND prefix = $2"
    ))
    .bind(tenant_id)
    .bind(prefix)
    .fetch_all(store.reader())
    .await
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key_id: &str,
) -> sqlx::Result<Option<ApiKeyRow>> {
    get_by_id(conn, tenant_id, key_id).await
}

/// The tenant of a key, for the CLI, which names keys by id alone.
pub async fn tenant_of(store: &Store, key_id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT tenant_id FROM api_keys WHERE id = $1")
        .bind(key_id)
        .fetch_optional(store.reader())
        .await?;
    Ok(row.map(|(tenant,)| tenant))
}

/// One page of a tenant's keys, newest first, and the tenant's total.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ApiKeyRow>, i64)> {
    tenant_page(
        store,
        "api_keys",
        COLUMNS,
        "created_at DESC, id DESC",
        tenant_id,
        limit,
        offset,
    )
    .await
}

/// Marks the key revoked; true when this call revoked it (false: unknown or already revoked).
pub async fn revoke(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key_id: &str,
    at: Millis,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(key_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids and revocation times of keys revoked at or after `since`, across all tenants: the
/// verifier polls this so a revocation made by another process takes effect here too.
pub async fn revoked_since(store: &Store, since: Millis) -> sqlx::Result<Vec<(String, Millis)>> {
    sqlx::query_as("SELECT id, revoked_at FROM api_keys WHERE revoked_at >= $1")
        .bind(since)
        .fetch_all(store.reader())
        .await
}

/// Records last use; never moves the time backwards (several instances flush independently).
pub async fn touch_last_used(
    conn: &mut AnyConnection,
    key_id: &str,
    at: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
    )
    .bind(key_id)
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}
