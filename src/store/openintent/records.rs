//! Per-intent records kept as JSON documents (arbitrations, decisions, attachments, costs,
//! retry policies, failures, ACL entries, access requests, subscriptions): each is written
//! whole and read by owner, so one table with a `kind` column serves them all.

use sqlx::AnyConnection;

use crate::{ids::TenantId, store::Store, time::Millis};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub id: String,
    pub intent_id: Option<String>,
    /// The resource as the API shows it (a JSON object).
    pub body: String,
    pub created_at: Millis,
}

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    row: &RecordRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oi_records (tenant_id, kind, id, intent_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(&row.id)
    .bind(&row.intent_id)
    .bind(&row.body)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn replace_body(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    id: &str,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE oi_records SET body = $4 WHERE tenant_id = $1 AND kind = $2 AND id = $3")
        .bind(tenant_id)
        .bind(kind)
        .bind(id)
        .bind(body)
        .execute(conn)
        .await
        .map(|_| ())
}

/// One record, inside a transaction (for read-modify-write).
pub async fn get_in(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    id: &str,
) -> sqlx::Result<Option<RecordRow>> {
    sqlx::query_as(
        "SELECT id, intent_id, body, created_at FROM oi_records \
         WHERE tenant_id = $1 AND kind = $2 AND id = $3",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Records of one kind owned by `intent_id` (or, with `None`, all of the tenant's), oldest first.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    kind: &str,
    intent_id: Option<&str>,
) -> sqlx::Result<Vec<RecordRow>> {
    sqlx::query_as(
        "SELECT id, intent_id, body, created_at FROM oi_records \
         WHERE tenant_id = $1 AND kind = $2 AND ($3 IS NULL OR intent_id = $3) ORDER BY id",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(intent_id)
    .fetch_all(store.reader())
    .await
}

pub async fn delete(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    id: &str,
) -> sqlx::Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM oi_records WHERE tenant_id = $1 AND kind = $2 AND id = $3")
            .bind(tenant_id)
            .bind(kind)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Deletes every record of `kind` owned by the intent (a replaced retry policy or ACL).
pub async fn delete_for_intent(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    intent_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM oi_records WHERE tenant_id = $1 AND kind = $2 AND intent_id = $3")
        .bind(tenant_id)
        .bind(kind)
        .bind(intent_id)
        .execute(conn)
        .await
        .map(|_| ())
}
