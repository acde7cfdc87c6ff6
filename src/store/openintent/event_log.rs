//! The intent event log. Event ids are ULIDs: they sort by time, so "after id X" is both the
//! `since`-style cursor of listings and the resume point of SSE streams.

use sqlx::AnyConnection;

use crate::{
    ids::TenantId,
    store::{get_by_id, Keyed, Store},
    time::Millis,
};

/// The columns an event is written with.
const WRITTEN: &str =
    "tenant_id, id, intent_id, event_type, actor, payload, trace_id, parent_event_id, created_at";
/// The columns it is read with: also the stamp of its audit record (RFC-0019).
const COLUMNS: &str = "tenant_id, id, intent_id, event_type, actor, payload, trace_id, \
     parent_event_id, created_at, audit_sequence, event_hash";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub intent_id: String,
    pub event_type: String,
    pub actor: String,
    /// JSON object.
    pub payload: String,
    pub trace_id: Option<String>,
    pub parent_event_id: Option<String>,
    pub created_at: Millis,
    /// The sequence and hash (hex) of the event's audit record; `None` until it is appended
    /// (and for events logged before records were stamped).
    #[sqlx(default)]
    pub audit_sequence: Option<i64>,
    #[sqlx(default)]
    pub event_hash: Option<String>,
    /// The `event_hash` of the event before it in the intent's log (listings only).
    #[sqlx(default)]
    pub previous_event_hash: Option<String>,
}

impl Keyed for EventRow {
    const TABLE: &'static str = "oi_events";
    const COLUMNS: &'static str = COLUMNS;
}

pub async fn insert(conn: &mut AnyConnection, row: &EventRow) -> sqlx::Result<()> {
    let sql = format!("INSERT INTO oi_events ({WRITTEN}) VALUES ({VALUES})");
    bind_event(sqlx::query(&sql), row)
        .execute(conn)
        .await
        .map(|_| ())
}

/// `$1`–`$9`, in [`WRITTEN`] order.
const VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9";

fn bind_event<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    row: &'q EventRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(&row.tenant_id)
        .bind(&row.id)
        .bind(&row.intent_id)
        .bind(&row.event_type)
        .bind(&row.actor)
        .bind(&row.payload)
        .bind(&row.trace_id)
        .bind(&row.parent_event_id)
        .bind(row.created_at)
}

/// What to list of an intent's events.
#[derive(Debug, Default)]
pub struct EventFilter<'a> {
    pub event_type: Option<&'a str>,
    /// Only events created at or after this instant.
    pub since: Option<Millis>,
    /// Only events whose id sorts after this one.
    pub after_id: Option<&'a str>,
    pub limit: i64,
}

/// An intent's events, oldest first, each with the hash of the event before it.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    intent_id: &str,
    filter: &EventFilter<'_>,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, (SELECT p.event_hash FROM oi_events p WHERE p.tenant_id = e.tenant_id \
           AND p.intent_id = e.intent_id AND p.id < e.id ORDER BY p.id DESC LIMIT 1) \
           AS previous_event_hash \
         FROM oi_events e WHERE tenant_id = $1 AND intent_id = $2 \
         AND ($3 IS NULL OR event_type = $3) AND ($4 IS NULL OR created_at >= $4) \
         AND ($5 IS NULL OR id > $5) ORDER BY id LIMIT $6"
    ))
    .bind(tenant_id)
    .bind(intent_id)
    .bind(filter.event_type)
    .bind(filter.since)
    .bind(filter.after_id)
    .bind(filter.limit)
    .fetch_all(store.reader())
    .await
}

/// A tenant's events of one type after `after_id` and created by `until`, oldest first:
/// what an event trigger has not considered yet.
pub async fn of_type_after(
    store: &Store,
    tenant_id: &TenantId,
    event_type: &str,
    after_id: &str,
    until: Millis,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_events WHERE tenant_id = $1 AND id > $2 AND event_type = $3 \
         AND created_at <= $4 ORDER BY id LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(after_id)
    .bind(event_type)
    .bind(until)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

/// Events of several intents after `after_id`, oldest first: the replay of a portfolio or
/// agent stream.
pub async fn list_for_intents(
    store: &Store,
    tenant_id: &TenantId,
    intent_ids: &[String],
    after_id: &str,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    if intent_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = super::json_id_list(store, "$2");
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_events WHERE tenant_id = $1 AND intent_id IN ({ids}) \
         AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(tenant_id)
    .bind(super::json_ids(intent_ids))
    .bind(after_id)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

pub async fn get(store: &Store, tenant_id: &TenantId, id: &str) -> sqlx::Result<Option<EventRow>> {
    get_by_id(store.reader(), tenant_id, id).await
}

/// PostgreSQL only: inserts the event and queues its notification in one statement.
pub async fn insert_notifying(
    conn: &mut AnyConnection,
    row: &EventRow,
    channel: &str,
    payload: &str,
) -> sqlx::Result<()> {
    let sql = format!(
        "WITH inserted AS (INSERT INTO oi_events ({WRITTEN}) VALUES ({VALUES}) RETURNING id) \
         SELECT pg_notify($10, $11) FROM inserted"
    );
    bind_event(sqlx::query(&sql), row)
        .bind(channel)
        .bind(payload)
        .execute(conn)
        .await
        .map(|_| ())
}
