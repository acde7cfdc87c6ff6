//! The audit trail's SQL: chain heads and records. Records are only ever inserted.

use sqlx::AnyConnection;

use super::{page_total, split_counted, Store};
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub sequence: i64,
    pub event_type: String,
    pub actor: String,
    pub subject: String,
    pub data: String,
    pub created_at: Millis,
    pub previous_hash: String,
    pub hash: String,
}

const COLUMNS: &str = "sequence, event_type, actor, subject, data, created_at, previous_hash, hash";

/// Advances the tenant's chain head by one and returns `(new sequence, previous hash)`.
///
/// The upsert takes the head row's lock until the transaction ends, so appends of one
/// tenant are serialized, on PostgreSQL across every process; other tenants' rows are free.
/// A rolled-back transaction rolls the head back too: no gap.
pub async fn advance_head(
    conn: &mut AnyConnection,
    tenant_id: &str,
    genesis_hash: &str,
) -> sqlx::Result<(i64, String)> {
    sqlx::query_as(
        "INSERT INTO audit_heads (tenant_id, sequence, hash) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET sequence = audit_heads.sequence + 1 \
         RETURNING sequence, hash",
    )
    .bind(tenant_id)
    .bind(genesis_hash)
    .fetch_one(conn)
    .await
}

/// Inserts the record and makes its hash the chain head's.
pub async fn insert(conn: &mut AnyConnection, tenant_id: &str, row: &AuditRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_records \
         (tenant_id, sequence, event_type, actor, subject, data, created_at, previous_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant_id)
    .bind(row.sequence)
    .bind(&row.event_type)
    .bind(&row.actor)
    .bind(&row.subject)
    .bind(&row.data)
    .bind(row.created_at)
    .bind(&row.previous_hash)
    .bind(&row.hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1")
        .bind(tenant_id)
        .bind(&row.hash)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The chain head `(sequence, hash)`, if the tenant has any record.
pub async fn head(store: &Store, tenant_id: &str) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT sequence, hash FROM audit_heads WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_optional(store.reader())
        .await
}

/// Up to `limit` records with a sequence above `after`, in sequence order (keyset paging, so
/// walking a long chain stays cheap and memory stays bounded).
pub async fn batch_after(
    store: &Store,
    tenant_id: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_records WHERE tenant_id = $1 AND sequence > $2 \
         ORDER BY sequence LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

/// Filters of the audit listing; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub event_type: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

/// One page of records matching `filter`, oldest first, and the number matching.
pub async fn list(
    store: &Store,
    tenant_id: &str,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AuditRow>, i64)> {
    // Absent filters are bound as NULL so one prepared statement serves every combination.
    const WHERE: &str = "WHERE tenant_id = $1 AND ($2 IS NULL OR event_type = $2) \
         AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at <= $4)";
    let counted = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, COUNT(*) OVER () AS total_count FROM audit_records {WHERE} \
         ORDER BY sequence LIMIT $5 OFFSET $6"
    ))
    .bind(tenant_id)
    .bind(filter.event_type.as_deref())
    .bind(filter.from)
    .bind(filter.to)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.reader())
    .await?;
    let (rows, total) = split_counted(counted);
    let count_sql = format!("SELECT COUNT(*) FROM audit_records {WHERE}");
    let count = sqlx::query_as(&count_sql)
        .bind(tenant_id)
        .bind(filter.event_type.as_deref())
        .bind(filter.from)
        .bind(filter.to)
        .fetch_one(store.reader());
    Ok((rows, page_total(total, offset, count).await?))
}
