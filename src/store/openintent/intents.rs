//! Coordination intents: one row each, with versioned JSON state.

use sqlx::AnyConnection;

use crate::{
    ids::TenantId,
    store::{get_by_id, Backend, Keyed, Store},
    time::Millis,
};

const COLUMNS: &str = "tenant_id, id, title, description, created_by, status, state, constraints, \
     governance_policy, parent_id, depends_on, confidence, version, acl_policy, created_at, \
     updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub title: String,
    pub description: String,
    pub created_by: String,
    pub status: String,
    /// JSON object.
    pub state: String,
    /// JSON object.
    pub constraints: String,
    pub governance_policy: Option<String>,
    pub parent_id: Option<String>,
    /// JSON array of intent ids (mirrors `oi_dependencies`).
    pub depends_on: String,
    pub confidence: i64,
    pub version: i64,
    pub acl_policy: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Keyed for IntentRow {
    const TABLE: &'static str = "oi_intents";
    const COLUMNS: &'static str = COLUMNS;
}

pub async fn insert(conn: &mut AnyConnection, row: &IntentRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO oi_intents ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.title)
    .bind(&row.description)
    .bind(&row.created_by)
    .bind(&row.status)
    .bind(&row.state)
    .bind(&row.constraints)
    .bind(&row.governance_policy)
    .bind(&row.parent_id)
    .bind(&row.depends_on)
    .bind(row.confidence)
    .bind(row.version)
    .bind(&row.acl_policy)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Reads an intent inside a write transaction (locking its row on PostgreSQL, so a
/// read-modify-write cannot interleave with another).
pub async fn get_for_update(
    conn: &mut AnyConnection,
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<IntentRow>> {
    let lock = store.row_lock();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_intents WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn get(store: &Store, tenant_id: &TenantId, id: &str) -> sqlx::Result<Option<IntentRow>> {
    get_by_id(store.reader(), tenant_id, id).await
}

/// Whether the intent exists, inside a transaction.
pub async fn exists(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    crate::store::exists_by_id::<IntentRow>(conn, tenant_id, id).await
}

/// The tenant's intents, oldest first, optionally of one status.
/// A reader of a listing that closed intents may be hidden from: the agent, and the record kind
/// of ACL entries (records whose `principal_id` names agents let in).
pub struct Reader<'a> {
    pub agent_id: &'a str,
    pub acl_kind: &'a str,
}

/// One page of intents in id order. With a reader, closed intents are left out unless the
/// agent created them or an ACL entry names it, so pages stay full (the caller still checks
/// each entry's expiry). Without one (an admin), every intent.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    status: Option<&str>,
    reader: Option<Reader<'_>>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<IntentRow>> {
    let principal = match store.backend() {
        Backend::Sqlite => "json_extract(body, '$.principal_id')",
        Backend::Postgres => "(body::jsonb ->> 'principal_id')",
    };
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_intents WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) \
         AND ($5 IS NULL OR acl_policy <> 'closed' OR created_by = $5 OR id IN \
             (SELECT intent_id FROM oi_records WHERE tenant_id = $1 AND kind = $6 \
              AND {principal} = $5)) \
         ORDER BY id LIMIT $3 OFFSET $4"
    ))
    .bind(tenant_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .bind(reader.as_ref().map(|r| r.agent_id))
    .bind(reader.as_ref().map_or("", |r| r.acl_kind))
    .fetch_all(store.reader())
    .await
}

/// Intents by id (in id order); unknown ids are left out.
pub async fn get_many(
    store: &Store,
    tenant_id: &TenantId,
    ids: &[String],
) -> sqlx::Result<Vec<IntentRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM oi_intents WHERE tenant_id = $1 AND id IN ({}) ORDER BY id",
        super::json_id_list(store, "$2")
    );
    sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(super::json_ids(ids))
        .fetch_all(store.reader())
        .await
}

pub async fn children(
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Vec<IntentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_intents WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_all(store.reader())
    .await
}

/// Writes every mutable column of `row` (the caller has bumped `version`).
pub async fn update(conn: &mut AnyConnection, row: &IntentRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE oi_intents SET title = $3, description = $4, status = $5, state = $6, \
         constraints = $7, governance_policy = $8, confidence = $9, version = $10, \
         acl_policy = $11, updated_at = $12, depends_on = $13 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.title)
    .bind(&row.description)
    .bind(&row.status)
    .bind(&row.state)
    .bind(&row.constraints)
    .bind(&row.governance_policy)
    .bind(row.confidence)
    .bind(row.version)
    .bind(&row.acl_policy)
    .bind(row.updated_at)
    .bind(&row.depends_on)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Deletes an intent and everything that hangs off it; children keep existing, detached.
pub async fn delete_cascade(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    for sql in [
        "DELETE FROM oi_dependencies WHERE tenant_id = $1 AND (intent_id = $2 OR depends_on = $2)",
        "DELETE FROM oi_events WHERE tenant_id = $1 AND intent_id = $2",
        "DELETE FROM oi_assignments WHERE tenant_id = $1 AND intent_id = $2",
        "DELETE FROM oi_leases WHERE tenant_id = $1 AND intent_id = $2",
        "DELETE FROM oi_portfolio_members WHERE tenant_id = $1 AND intent_id = $2",
        "DELETE FROM oi_records WHERE tenant_id = $1 AND intent_id = $2",
        // Its tasks and plans (RFC-0012 documents whose parent is the intent).
        "DELETE FROM oi_documents WHERE tenant_id = $1 AND parent = $2 AND kind IN ('task', 'plan')",
        "UPDATE oi_intents SET parent_id = NULL WHERE tenant_id = $1 AND parent_id = $2",
    ] {
        sqlx::query(sql)
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let deleted = sqlx::query("DELETE FROM oi_intents WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Every intent below `id` in the parent/child tree, in id order.
pub async fn descendants(
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Vec<IntentRow>> {
    sqlx::query_as(&format!(
        "WITH RECURSIVE below(id) AS ( \
           SELECT id FROM oi_intents WHERE tenant_id = $1 AND parent_id = $2 \
           UNION \
           SELECT i.id FROM oi_intents i JOIN below b ON i.parent_id = b.id WHERE i.tenant_id = $1 \
         ) SELECT {COLUMNS} FROM oi_intents WHERE tenant_id = $1 AND id IN (SELECT id FROM below) \
         ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_all(store.reader())
    .await
}

/// The intents above `id` in the parent/child tree (at most `max_depth` levels), in id order.
pub async fn ancestors(
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
    max_depth: i64,
) -> sqlx::Result<Vec<IntentRow>> {
    sqlx::query_as(&format!(
        "WITH RECURSIVE above(id, depth) AS ( \
           SELECT parent_id, 1 FROM oi_intents WHERE tenant_id = $1 AND id = $2 \
           UNION ALL \
           SELECT i.parent_id, a.depth + 1 FROM oi_intents i JOIN above a ON i.id = a.id \
           WHERE i.tenant_id = $1 AND a.depth < $3 \
         ) SELECT {COLUMNS} FROM oi_intents WHERE tenant_id = $1 \
         AND id IN (SELECT id FROM above) ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(max_depth)
    .fetch_all(store.reader())
    .await
}
