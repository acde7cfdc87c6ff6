//! Webhook endpoints, the event outbox, deliveries and their attempts.

use sqlx::AnyConnection;

use super::{get_by_id, placeholders, tenant_page, Backend, Keyed, Store};
use crate::ids::TenantId;
use crate::time::Millis;

const ENDPOINT_COLUMNS: &str = "tenant_id, id, url, events, description, secret, secret_key_id, \
     previous_secret, previous_secret_key_id, previous_secret_until, enabled, disabled_reason, \
     failing_since, created_at, updated_at";

/// An endpoint's signing secrets as stored.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecretColumns {
    /// Sealed under `secret_key_id` (see `Sealed::text`), or in clear when that is NULL: a
    /// secret from before migration 0010 that start-up has not sealed yet.
    pub secret: String,
    pub secret_key_id: Option<String>,
    /// The secret a rotation replaced, stored as `secret` is.
    pub previous_secret: Option<String>,
    pub previous_secret_key_id: Option<String>,
    /// Until when the previous secret still signs.
    pub previous_secret_until: Option<Millis>,
}

/// Key ids only: a clear secret left from before sealing must not reach a log.
impl std::fmt::Debug for SecretColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretColumns")
            .field("secret_key_id", &self.secret_key_id)
            .field("previous_secret_key_id", &self.previous_secret_key_id)
            .field("previous_secret_until", &self.previous_secret_until)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub url: String,
    /// JSON array of event names.
    pub events: String,
    pub description: Option<String>,
    #[sqlx(flatten)]
    pub secrets: SecretColumns,
    /// 1 or 0.
    pub enabled: i64,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Keyed for EndpointRow {
    const TABLE: &'static str = "webhook_endpoints";
    const COLUMNS: &'static str = ENDPOINT_COLUMNS;
}

pub async fn insert_endpoint(conn: &mut AnyConnection, row: &EndpointRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.url)
    .bind(&row.events)
    .bind(&row.description)
    .bind(&row.secrets.secret)
    .bind(&row.secrets.secret_key_id)
    .bind(&row.secrets.previous_secret)
    .bind(&row.secrets.previous_secret_key_id)
    .bind(row.secrets.previous_secret_until)
    .bind(row.enabled)
    .bind(&row.disabled_reason)
    .bind(row.failing_since)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes every mutable column of `row`.
pub async fn update_endpoint(conn: &mut AnyConnection, row: &EndpointRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $3, events = $4, description = $5, secret = $6, \
         secret_key_id = $7, previous_secret = $8, previous_secret_key_id = $9, \
         previous_secret_until = $10, enabled = $11, disabled_reason = $12, \
         failing_since = $13, updated_at = $14 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.url)
    .bind(&row.events)
    .bind(&row.description)
    .bind(&row.secrets.secret)
    .bind(&row.secrets.secret_key_id)
    .bind(&row.secrets.previous_secret)
    .bind(&row.secrets.previous_secret_key_id)
    .bind(row.secrets.previous_secret_until)
    .bind(row.enabled)
    .bind(&row.disabled_reason)
    .bind(row.failing_since)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get_endpoint(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<EndpointRow>> {
    get_by_id(conn, tenant_id, id).await
}

/// One page of a tenant's endpoints, newest first, and the tenant's total.
pub async fn list_endpoints(
    store: &Store,
    tenant_id: &TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<EndpointRow>, i64)> {
    tenant_page(
        store,
        "webhook_endpoints",
        ENDPOINT_COLUMNS,
        "created_at DESC, id DESC",
        tenant_id,
        limit,
        offset,
    )
    .await
}

/// Deletes an endpoint and gives up its pending deliveries; false when there was none.
pub async fn delete_endpoint(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    now: Millis,
) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'dead', last_error = 'endpoint deleted', \
         updated_at = $3 WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// An endpoint's stored secrets with its key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointSecrets {
    pub tenant_id: TenantId,
    pub id: String,
    #[sqlx(flatten)]
    pub secrets: SecretColumns,
}

const SECRET_COLUMNS: &str = "tenant_id, id, secret, secret_key_id, previous_secret, \
     previous_secret_key_id, previous_secret_until";

/// Every tenant's endpoints with a secret stored in clear or, when `current_key_id` is given,
/// sealed under another key: what sealing at start-up and key rotation re-seal.
pub async fn secrets_not_sealed_under(
    conn: &mut AnyConnection,
    current_key_id: Option<&str>,
) -> sqlx::Result<Vec<EndpointSecrets>> {
    let in_clear = "secret_key_id IS NULL \
         OR (previous_secret IS NOT NULL AND previous_secret_key_id IS NULL)";
    match current_key_id {
        None => {
            sqlx::query_as(&format!(
                "SELECT {SECRET_COLUMNS} FROM webhook_endpoints WHERE {in_clear}"
            ))
            .fetch_all(conn)
            .await
        }
        Some(key_id) => {
            sqlx::query_as(&format!(
                "SELECT {SECRET_COLUMNS} FROM webhook_endpoints WHERE {in_clear} \
                 OR secret_key_id <> $1 OR previous_secret_key_id <> $1"
            ))
            .bind(key_id)
            .fetch_all(conn)
            .await
        }
    }
}

/// The ids of the keys stored secrets are sealed under.
pub async fn secret_key_ids(conn: &mut AnyConnection) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT secret_key_id FROM webhook_endpoints WHERE secret_key_id IS NOT NULL \
         UNION SELECT previous_secret_key_id FROM webhook_endpoints \
         WHERE previous_secret_key_id IS NOT NULL",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// One endpoint with a secret sealed under `key_id`, if any.
pub async fn one_sealed_under(
    conn: &mut AnyConnection,
    key_id: &str,
) -> sqlx::Result<Option<EndpointSecrets>> {
    sqlx::query_as(&format!(
        "SELECT {SECRET_COLUMNS} FROM webhook_endpoints \
         WHERE secret_key_id = $1 OR previous_secret_key_id = $1 LIMIT 1"
    ))
    .bind(key_id)
    .fetch_optional(conn)
    .await
}

/// Replaces an endpoint's stored secrets with `new` if they are still `old`; false when they
/// changed meanwhile (a rotation through the API wins over a re-seal of what it replaced).
pub async fn replace_secrets(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    old: &SecretColumns,
    new: &SecretColumns,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET secret = $3, secret_key_id = $4, previous_secret = $5, \
         previous_secret_key_id = $6 WHERE tenant_id = $1 AND id = $2 AND secret = $7 \
         AND COALESCE(previous_secret, '') = $8",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(&new.secret)
    .bind(&new.secret_key_id)
    .bind(&new.previous_secret)
    .bind(&new.previous_secret_key_id)
    .bind(&old.secret)
    .bind(old.previous_secret.as_deref().unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An event in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub event: String,
    pub body: String,
    pub created_at: Millis,
}

/// Appends an event to the tenant's event log; with `notification` (PostgreSQL's bus:
/// channel and payload) queues it in the same statement, delivered at commit.
pub async fn insert_event(
    conn: &mut AnyConnection,
    row: &EventRow,
    notification: Option<(&str, &str)>,
) -> sqlx::Result<()> {
    const INSERT: &str = "INSERT INTO webhook_events (id, tenant_id, event, body, created_at) \
                          VALUES ($1, $2, $3, $4, $5)";
    let notifying;
    let sql = match notification {
        None => INSERT,
        Some(_) => {
            notifying = format!(
                "WITH inserted AS ({INSERT} RETURNING id) SELECT pg_notify($6, $7) FROM inserted"
            );
            &notifying
        }
    };
    let mut query = sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.tenant_id)
        .bind(&row.event)
        .bind(&row.body)
        .bind(row.created_at);
    if let Some((channel, payload)) = notification {
        query = query.bind(channel).bind(payload);
    }
    query.execute(conn).await.map(|_| ())
}

/// The tenant's `/v1` events after `after_id` (all, when empty) created before `until`,
/// oldest first (the rows of OpenIntent subscription deliveries, `openintent.*`, are not
/// among them).
pub async fn events_after(
    store: &Store,
    tenant_id: &TenantId,
    after_id: &str,
    until: Millis,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "SELECT id, tenant_id, event, body, created_at FROM webhook_events \
         WHERE tenant_id = $1 AND id > $2 AND created_at < $3 AND event NOT LIKE 'openintent.%' \
         ORDER BY id LIMIT $4",
    )
    .bind(tenant_id)
    .bind(after_id)
    .bind(until)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

/// One logged event of the tenant.
pub async fn get_event(
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as(
        "SELECT id, tenant_id, event, body, created_at FROM webhook_events \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(store.reader())
    .await
}

/// Whether any delivery is due at `now`: a read, so an idle worker never takes the write lock.
pub async fn work_waiting(store: &Store, now: Millis) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
         LIMIT 1",
    )
    .bind(now)
    .fetch_optional(store.reader())
    .await?;
    Ok(row.is_some())
}

/// The ids of the tenant's enabled endpoints subscribed to `event` (`events` is a JSON array
/// of strings, so the quoted name appears in it exactly when it is subscribed).
pub async fn subscribers(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    event: &str,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND enabled = 1 AND events LIKE $2",
    )
    .bind(tenant_id)
    .bind(format!("%\"{event}\"%"))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

const DELIVERY_COLUMNS: &str = "id, tenant_id, endpoint_id, event_id, event, status, attempts, \
     next_attempt_at, last_status_code, last_error, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub endpoint_id: String,
    pub event_id: String,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Inserts a delivery (one per endpoint and event).
pub async fn insert_delivery(conn: &mut AnyConnection, row: &DeliveryRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&row.id)
    .bind(&row.tenant_id)
    .bind(&row.endpoint_id)
    .bind(&row.event_id)
    .bind(&row.event)
    .bind(&row.status)
    .bind(row.attempts)
    .bind(row.next_attempt_at)
    .bind(row.last_status_code)
    .bind(&row.last_error)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A delivery due now, with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: String,
    pub tenant_id: TenantId,
    pub endpoint_id: String,
    pub event_id: String,
    pub event: String,
    pub attempts: i64,
    pub created_at: Millis,
    pub body: String,
    pub event_created_at: Millis,
    pub url: String,
    #[sqlx(flatten)]
    pub secrets: SecretColumns,
    /// The endpoint's current run of failures, if it is in one.
    pub failing_since: Option<Millis>,
}

/// Claims up to `limit` deliveries due at `now` to enabled endpoints, leasing each until
/// `lease_until` (if this instance dies mid-send, another sends it again after that).
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: Millis,
    lease_until: Millis,
    limit: i64,
) -> sqlx::Result<Vec<DueDelivery>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let claimed: Vec<(String,)> = sqlx::query_as(&format!(
        "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id IN ( \
           SELECT d.id FROM webhook_deliveries d \
           WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND EXISTS ( \
             SELECT 1 FROM webhook_endpoints e \
             WHERE e.tenant_id = d.tenant_id AND e.id = d.endpoint_id AND e.enabled = 1) \
           ORDER BY d.next_attempt_at LIMIT $3{lock}) \
         RETURNING id"
    ))
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    // One query for the whole batch.
    let sql = format!(
        "SELECT d.id, d.tenant_id, d.endpoint_id, d.event_id, d.event, d.attempts, \
                d.created_at, v.body, v.created_at AS event_created_at, e.url, e.secret, \
                e.secret_key_id, e.previous_secret, e.previous_secret_key_id, \
                e.previous_secret_until, e.failing_since \
         FROM webhook_deliveries d \
         JOIN webhook_events v ON v.id = d.event_id \
         JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id \
         WHERE d.id IN ({})",
        placeholders(1, claimed.len())
    );
    let mut query = sqlx::query_as(&sql);
    for (id,) in &claimed {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}

/// One attempt's outcome.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i64,
    pub started_at: Millis,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// `IN ($first, …)` over `count` parameters.
/// Inserts a batch of attempts in one statement.
pub async fn insert_attempts(
    conn: &mut AnyConnection,
    attempts: &[AttemptRow],
) -> sqlx::Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..attempts.len())
        .map(|i| format!("({})", placeholders(i * 6 + 1, 6)))
        .collect();
    let sql = format!(
        "INSERT INTO webhook_attempts \
         (delivery_id, attempt, started_at, status_code, error, latency_ms) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for attempt in attempts {
        query = query
            .bind(&attempt.delivery_id)
            .bind(attempt.attempt)
            .bind(attempt.started_at)
            .bind(attempt.status_code)
            .bind(&attempt.error)
            .bind(attempt.latency_ms);
    }
    query.execute(conn).await.map(|_| ())
}

/// Marks deliveries that one status code answered as delivered, in one statement.
pub async fn mark_delivered(
    conn: &mut AnyConnection,
    ids: &[&str],
    status_code: i64,
    now: Millis,
) -> sqlx::Result<()> {
    let sql = format!(
        "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, \
         next_attempt_at = $1, last_status_code = $2, last_error = NULL, updated_at = $1 \
         WHERE id IN ({})",
        placeholders(3, ids.len())
    );
    let mut query = sqlx::query(&sql).bind(now).bind(status_code);
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(conn).await.map(|_| ())
}

/// Records a failed attempt's outcome: `status` (`pending` or `dead`) and when to try again.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    attempt: &AttemptRow,
    status: &str,
    next_attempt_at: Millis,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, \
         last_status_code = $5, last_error = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(&attempt.delivery_id)
    .bind(status)
    .bind(attempt.attempt)
    .bind(next_attempt_at)
    .bind(attempt.status_code)
    .bind(&attempt.error)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A success clears the endpoint's failing run.
pub async fn endpoint_succeeded(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = NULL \
         WHERE tenant_id = $1 AND id = $2 AND failing_since IS NOT NULL",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A failure starts (or continues) the endpoint's failing run; returns when it started.
pub async fn endpoint_failed(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    now: Millis,
) -> sqlx::Result<Option<Millis>> {
    let row: Option<(Option<Millis>,)> = sqlx::query_as(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $3) \
         WHERE tenant_id = $1 AND id = $2 RETURNING failing_since",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(since,)| since))
}

pub async fn disable_endpoint(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    reason: &str,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $3, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// One page of an endpoint's deliveries, newest first, and their total.
pub async fn list_deliveries(
    store: &Store,
    tenant_id: &TenantId,
    endpoint_id: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<DeliveryRow>, i64)> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
         WHERE tenant_id = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id DESC \
         LIMIT $3 OFFSET $4"
    ))
    .bind(tenant_id)
    .bind(endpoint_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.reader())
    .await?;
    let (total,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2",
    )
    .bind(tenant_id)
    .bind(endpoint_id)
    .fetch_one(store.reader())
    .await?;
    Ok((rows, total))
}

/// The attempts of `delivery_ids` (one query), each delivery's in attempt order.
pub async fn attempts_of(store: &Store, delivery_ids: &[&str]) -> sqlx::Result<Vec<AttemptRow>> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT delivery_id, attempt, started_at, status_code, error, latency_ms \
         FROM webhook_attempts WHERE delivery_id IN ({}) ORDER BY delivery_id, attempt",
        placeholders(1, delivery_ids.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in delivery_ids {
        query = query.bind(*id);
    }
    query.fetch_all(store.reader()).await
}

pub async fn get_delivery(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    endpoint_id: &str,
    id: &str,
) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
         WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3"
    ))
    .bind(tenant_id)
    .bind(endpoint_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Makes a delivery due again now, whatever its state (a manual redelivery).
pub async fn requeue_delivery(conn: &mut AnyConnection, id: &str, now: Millis) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, updated_at = $2 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The tenant's events of the types `events`, created in `[since, until)`, that `endpoint_id`
/// has no delivery of, oldest first, at most `limit`: what an endpoint missed while disabled
/// (or unsubscribed).
pub async fn events_missed_by(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    endpoint_id: &str,
    events: &[String],
    (since, until): (Millis, Millis),
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, tenant_id, event, body, created_at FROM webhook_events v \
         WHERE v.tenant_id = $1 AND v.created_at >= $3 AND v.created_at < $4 \
           AND v.event IN ({}) AND NOT EXISTS ( \
             SELECT 1 FROM webhook_deliveries d \
             WHERE d.tenant_id = v.tenant_id AND d.endpoint_id = $2 AND d.event_id = v.id) \
         ORDER BY v.id LIMIT $5",
        placeholders(6, events.len())
    );
    let mut query = sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(endpoint_id)
        .bind(since)
        .bind(until)
        .bind(limit);
    for event in events {
        query = query.bind(event);
    }
    query.fetch_all(conn).await
}

/// Makes `endpoint_id`'s dead deliveries of events created at or after `since` due again at
/// `now`; returns how many.
pub async fn requeue_dead_since(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    endpoint_id: &str,
    since: Millis,
    now: Millis,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4, updated_at = $4 \
         WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'dead' AND event_id IN ( \
           SELECT id FROM webhook_events WHERE tenant_id = $1 AND created_at >= $3)",
    )
    .bind(tenant_id)
    .bind(endpoint_id)
    .bind(since)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes finished deliveries (delivered or dead) last changed before `before`, their
/// attempts, and the events no delivery refers to any more; returns how many
/// deliveries went.
pub async fn prune(conn: &mut AnyConnection, before: Millis) -> sqlx::Result<u64> {
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries \
         WHERE status IN ('delivered', 'dead') AND updated_at < $1)",
    )
    .bind(before)
    .execute(&mut *conn)
    .await?;
    let deliveries = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'dead') AND updated_at < $1",
    )
    .bind(before)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "DELETE FROM webhook_events WHERE created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
    )
    .bind(before)
    .execute(conn)
    .await?;
    Ok(deliveries)
}
