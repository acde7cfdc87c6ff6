//! Versioned JSON documents (`oi_documents`, migration 0013): tasks, plans, memory entries
//! and triggers. The store keeps the document as written and the columns the core derives
//! from it; it never reads inside the document.

use sqlx::AnyConnection;

use crate::{
    ids::TenantId,
    store::{Backend, Store},
    time::Millis,
};

const COLUMNS: &str = "tenant_id, id, kind, parent, status, namespace, tags, unique_key, \
     due_at, version, doc, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub kind: String,
    pub parent: String,
    pub status: String,
    pub namespace: Option<String>,
    /// `,a,b,` (see the migration).
    pub tags: String,
    pub unique_key: Option<String>,
    pub due_at: Option<Millis>,
    pub version: i64,
    /// The resource as JSON.
    pub doc: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Inserts the row; a taken `unique_key` is a unique violation (`store::is_unique_violation`).
pub async fn insert(conn: &mut AnyConnection, row: &DocumentRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO oi_documents ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.parent)
    .bind(&row.status)
    .bind(&row.namespace)
    .bind(&row.tags)
    .bind(&row.unique_key)
    .bind(row.due_at)
    .bind(row.version)
    .bind(&row.doc)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The document of this kind, read inside a transaction and locked on PostgreSQL (so two
/// changes of one document run one after the other).
pub async fn get_for_update(
    conn: &mut AnyConnection,
    store: &Store,
    tenant_id: &TenantId,
    kind: &str,
    id: &str,
) -> sqlx::Result<Option<DocumentRow>> {
    let lock = store.row_lock();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_documents WHERE tenant_id = $1 AND id = $2 AND kind = $3{lock}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(kind)
    .fetch_optional(conn)
    .await
}

pub async fn get(
    store: &Store,
    tenant_id: &TenantId,
    kind: &str,
    id: &str,
) -> sqlx::Result<Option<DocumentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_documents WHERE tenant_id = $1 AND id = $2 AND kind = $3"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(kind)
    .fetch_optional(store.reader())
    .await
}

/// Replaces the row's document and columns if it is still at `expected_version`; false when
/// another writer got there first.
pub async fn update(
    conn: &mut AnyConnection,
    row: &DocumentRow,
    expected_version: i64,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE oi_documents SET parent = $4, status = $5, namespace = $6, tags = $7, \
         unique_key = $8, due_at = $9, version = $10, doc = $11, updated_at = $12 \
         WHERE tenant_id = $1 AND id = $2 AND kind = $3 AND version = $13",
    )
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.parent)
    .bind(&row.status)
    .bind(&row.namespace)
    .bind(&row.tags)
    .bind(&row.unique_key)
    .bind(row.due_at)
    .bind(row.version)
    .bind(&row.doc)
    .bind(row.updated_at)
    .bind(expected_version)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub async fn delete(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    id: &str,
) -> sqlx::Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM oi_documents WHERE tenant_id = $1 AND id = $2 AND kind = $3")
            .bind(tenant_id)
            .bind(id)
            .bind(kind)
            .execute(conn)
            .await?;
    Ok(deleted.rows_affected() == 1)
}

/// What a listing selects: the kind, optionally one parent, status, namespace, tags (all of
/// them) and documents not yet due (unexpired) at `live_at`.
#[derive(Debug, Default)]
pub struct DocumentQuery<'a> {
    pub kind: &'a str,
    pub parent: Option<&'a str>,
    pub status: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub tags: &'a [String],
    /// Leaves out documents whose `due_at` is at or before this instant.
    pub live_at: Option<Millis>,
    pub limit: i64,
    pub offset: i64,
}

/// The documents the query selects, oldest first.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    query: &DocumentQuery<'_>,
) -> sqlx::Result<Vec<DocumentRow>> {
    let contains = match store.backend() {
        Backend::Sqlite => "instr(tags, ${n}) > 0",
        Backend::Postgres => "strpos(tags, ${n}) > 0",
    };
    let mut sql = format!(
        "SELECT {COLUMNS} FROM oi_documents WHERE tenant_id = $1 AND kind = $2 \
         AND ($3 IS NULL OR parent = $3) AND ($4 IS NULL OR status = $4) \
         AND ($5 IS NULL OR namespace = $5) AND ($6 IS NULL OR due_at IS NULL OR due_at > $6)"
    );
    for n in 0..query.tags.len() {
        sql.push_str(" AND ");
        sql.push_str(&contains.replace("{n}", &(n + 9).to_string()));
    }
    sql.push_str(" ORDER BY created_at, id LIMIT $7 OFFSET $8");
    let mut select = sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(query.kind)
        .bind(query.parent)
        .bind(query.status)
        .bind(query.namespace)
        .bind(query.live_at)
        .bind(query.limit)
        .bind(query.offset);
    for tag in query.tags {
        select = select.bind(format!(",{tag},"));
    }
    select.fetch_all(store.reader()).await
}

/// Which documents a grouping selects: a parent's, or a namespace's.
#[derive(Debug, Clone, Copy)]
pub enum Group<'a> {
    Parent(&'a str),
    Namespace(&'a str),
}

impl<'a> Group<'a> {
    fn column_and_value(self) -> (&'static str, &'a str) {
        match self {
            Group::Parent(parent) => ("parent", parent),
            Group::Namespace(namespace) => ("namespace", namespace),
        }
    }
}

/// Every document of `kind` in one group, oldest first, inside a transaction (the tasks of
/// an intent when a completion may make others ready; the grants of a credential).
pub async fn of_group(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    group: Group<'_>,
) -> sqlx::Result<Vec<DocumentRow>> {
    let (column, value) = group.column_and_value();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_documents WHERE tenant_id = $1 AND kind = $2 AND {column} = $3 \
         ORDER BY created_at, id"
    ))
    .bind(tenant_id)
    .bind(kind)
    .bind(value)
    .fetch_all(conn)
    .await
}

/// How many documents of `kind` a parent holds that were created at or after `since` (caps
/// on what one intent or agent may store; a grant's invocations in the last hour).
pub async fn count_of_parent(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    parent: &str,
    since: Millis,
) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM oi_documents WHERE tenant_id = $1 AND kind = $2 AND parent = $3 \
         AND created_at >= $4",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(parent)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(count)
}

/// Every document of `kind` (in `status`, when given), of every tenant: what `intendedops
/// secrets rotate` re-seals, the event triggers a sweep runs.
pub async fn of_kind(
    store: &Store,
    kind: &str,
    status: Option<&str>,
) -> sqlx::Result<Vec<DocumentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_documents WHERE kind = $1 AND ($2 IS NULL OR status = $2) \
         ORDER BY tenant_id, id"
    ))
    .bind(kind)
    .bind(status)
    .fetch_all(store.reader())
    .await
}

/// Documents of `kind` (any tenant) due at `now`, oldest due first: what a sweep works on.
pub async fn due(
    store: &Store,
    kind: &str,
    now: Millis,
    limit: i64,
) -> sqlx::Result<Vec<DocumentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_documents WHERE kind = $1 AND due_at IS NOT NULL \
         AND due_at <= $2 ORDER BY due_at LIMIT $3"
    ))
    .bind(kind)
    .bind(now)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}
