//! The audit trail's SQL: chain heads and records. Records are only ever inserted.

use sqlx::AnyConnection;

use super::{filtered_page, AnyQueryAs, ListFilter, Store};
use crate::canonical::{HashTemplate, GENESIS_HASH};
use crate::ids::TenantId;
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

/// A record to append, before its chain position is known.
pub struct NewRecord<'a> {
    pub event_type: &'a str,
    pub actor: &'a str,
    pub subject: &'a str,
    /// Canonical JSON.
    pub data: &'a str,
    pub created_at: Millis,
    /// The OpenIntent event (`oi_events` row of this transaction) the record is about: it is
    /// stamped with the record's sequence and hash by the same statement (RFC-0019).
    pub oi_event_id: Option<&'a str>,
}

/// Appends a record to the tenant's chain; returns `(sequence, previous hash, hash)`.
///
/// Advancing the head row locks it until the transaction ends, so appends of one tenant are
/// serialized, on PostgreSQL across every process; other tenants' rows stay free. A rolled-back
/// transaction rolls the head back too: no gap. Because that lock is what limits one tenant's
/// write rate, PostgreSQL does the whole append in one statement (the database completes the
/// hash from `template` with its built-in `sha256`); SQLite, whose writes are serialized in
/// process anyway, does it step by step with the same template.
pub async fn append(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    record: &NewRecord<'_>,
    template: &HashTemplate,
) -> sqlx::Result<(i64, String, String)> {
    if conn.backend_name() == "PostgreSQL" {
        append_in_one_statement(conn, tenant_id, record, template).await
    } else {
        append_step_by_step(conn, tenant_id, record, template).await
    }
}

async fn append_in_one_statement(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    record: &NewRecord<'_>,
    template: &HashTemplate,
) -> sqlx::Result<(i64, String, String)> {
    // The event stamp rides in the statement as one more data-modifying CTE: no round trip
    // of its own while the head is locked.
    let stamp = match record.oi_event_id {
        Some(_) => {
            ", stamped AS (UPDATE oi_events SET audit_sequence = head.sequence, \
             event_hash = head.hash FROM head WHERE oi_events.tenant_id = $1 \
             AND oi_events.id = $11) "
        }
        None => " ",
    };
    let sql = format!(
        "WITH head AS ( \
           INSERT INTO audit_heads (tenant_id, sequence, previous_hash, hash) \
           VALUES ($1, 1, $2, encode(sha256(convert_to($3 || $2 || $4 || '1' || $5, 'UTF8')), 'hex')) \
           ON CONFLICT (tenant_id) DO UPDATE SET \
             sequence = audit_heads.sequence + 1, \
             previous_hash = audit_heads.hash, \
             hash = encode(sha256(convert_to( \
               $3 || audit_heads.hash || $4 || (audit_heads.sequence + 1)::text || $5, 'UTF8')), 'hex') \
           RETURNING sequence, previous_hash, hash){stamp}\
         INSERT INTO audit_records \
           (tenant_id, sequence, event_type, actor, subject, data, created_at, previous_hash, hash) \
         SELECT $1, sequence, $6, $7, $8, $9, $10, previous_hash, hash FROM head \
         RETURNING sequence, previous_hash, hash"
    );
    let query = sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(GENESIS_HASH)
        .bind(&template.before_previous)
        .bind(&template.before_sequence)
        .bind(&template.after_sequence)
        .bind(record.event_type)
        .bind(record.actor)
        .bind(record.subject)
        .bind(record.data)
        .bind(record.created_at);
    match record.oi_event_id {
        Some(event_id) => query.bind(event_id),
        None => query,
    }
    .fetch_one(conn)
    .await
}

async fn append_step_by_step(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    record: &NewRecord<'_>,
    template: &HashTemplate,
) -> sqlx::Result<(i64, String, String)> {
    let (sequence, previous_hash): (i64, String) = sqlx::query_as(
        "INSERT INTO audit_heads (tenant_id, sequence, previous_hash, hash) VALUES ($1, 1, $2, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET sequence = audit_heads.sequence + 1 \
         RETURNING sequence, hash",
    )
    .bind(tenant_id)
    .bind(GENESIS_HASH)
    .fetch_one(&mut *conn)
    .await?;
    let hash = template.hash(&previous_hash, sequence);
    // Two statements (three with an event to stamp), one round trip to the connection's thread.
    let stamp = match record.oi_event_id {
        Some(_) => {
            "UPDATE oi_events SET audit_sequence = $2, event_hash = $9 \
             WHERE tenant_id = $1 AND id = $10;"
        }
        None => "",
    };
    let sql = format!(
        "INSERT INTO audit_records \
         (tenant_id, sequence, event_type, actor, subject, data, created_at, previous_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9); \
         UPDATE audit_heads SET previous_hash = $8, hash = $9 WHERE tenant_id = $1;{stamp}"
    );
    let query = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(sequence)
        .bind(record.event_type)
        .bind(record.actor)
        .bind(record.subject)
        .bind(record.data)
        .bind(record.created_at)
        .bind(&previous_hash)
        .bind(&hash);
    match record.oi_event_id {
        Some(event_id) => query.bind(event_id),
        None => query,
    }
    .execute(conn)
    .await?;
    Ok((sequence, previous_hash, hash))
}

/// The chain head `(sequence, hash)`, if the tenant has any record.
pub async fn head<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    tenant_id: &TenantId,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT sequence, hash FROM audit_heads WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_optional(executor)
        .await
}

/// Up to `limit` records with a sequence above `after`, in sequence order (keyset paging, so
/// walking a long chain stays cheap and memory stays bounded).
pub async fn batch_after<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    tenant_id: &TenantId,
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
    .fetch_all(executor)
    .await
}

/// The lowest sequence of the tenant's records outside `1..=head` (every record when there is
/// no head), if any. One statement, so it reads the head and the records at one moment: an
/// append committing meanwhile moves both together and is never mistaken for a stray.
pub async fn first_outside_chain(store: &Store, tenant_id: &TenantId) -> sqlx::Result<Option<i64>> {
    let (first,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(r.sequence) FROM audit_records r \
         LEFT JOIN audit_heads h ON h.tenant_id = r.tenant_id \
         WHERE r.tenant_id = $1 AND (r.sequence < 1 OR r.sequence > COALESCE(h.sequence, 0))",
    )
    .bind(tenant_id)
    .fetch_one(store.reader())
    .await?;
    Ok(first)
}

/// The records at `sequences` (those that exist).
pub async fn records_at(
    store: &Store,
    tenant_id: &TenantId,
    sequences: &[i64],
) -> sqlx::Result<Vec<AuditRow>> {
    let mut rows = Vec::new();
    for chunk in sequences.chunks(500) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        rows.extend(
            sqlx::query_as::<_, AuditRow>(&format!(
                "SELECT {COLUMNS} FROM audit_records WHERE tenant_id = $1 AND sequence IN ({})",
                list.join(",")
            ))
            .bind(tenant_id)
            .fetch_all(store.reader())
            .await?,
        );
    }
    Ok(rows)
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
    tenant_id: &TenantId,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AuditRow>, i64)> {
    let order = "sequence";
    filtered_page(
        store,
        ("audit_records", COLUMNS, order),
        tenant_id,
        filter,
        (limit, offset),
    )
    .await
}

impl ListFilter for AuditFilter {
    const WHERE: &'static str = "WHERE tenant_id = $1 AND ($2 IS NULL OR event_type = $2) \
         AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at <= $4)";
    const PARAMS: usize = 4;

    fn bind<'q, O>(&'q self, query: AnyQueryAs<'q, O>) -> AnyQueryAs<'q, O> {
        query
            .bind(self.event_type.as_deref())
            .bind(self.from)
            .bind(self.to)
    }
}
