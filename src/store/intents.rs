//! Intents: what agents ask to do, their status and outcome.

use sqlx::AnyConnection;

use super::{filtered_page, get_by_id, AnyQueryAs, Keyed, ListFilter, Store};
use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: String,
    #[sqlx(rename = "type")]
    pub intent_type: String,
    pub domain: String,
    pub agent_id: String,
    pub status: String,
    pub params: String,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub decision: Option<String>,
    pub result: Option<String>,
    pub value_cents: Option<i64>,
    pub error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub completed_at: Option<Millis>,
    /// The API key (or session user) that submitted the intent.
    pub submitted_by: Option<String>,
    /// The person who owns that key, when it has an owner.
    pub submitted_by_user: Option<String>,
}

impl Keyed for IntentRow {
    const TABLE: &'static str = "intents";
    const COLUMNS: &'static str = COLUMNS;
}

const COLUMNS: &str = "id, type, domain, agent_id, status, params, description, justification, \
     idempotency_key, request_hash, decision, result, value_cents, error, created_at, updated_at, \
     completed_at, submitted_by, submitted_by_user";

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent: &IntentRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO intents (tenant_id, id, type, domain, agent_id, status, params, description, \
         justification, idempotency_key, request_hash, decision, created_at, updated_at, \
         submitted_by, submitted_by_user) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(tenant_id)
    .bind(&intent.id)
    .bind(&intent.intent_type)
    .bind(&intent.domain)
    .bind(&intent.agent_id)
    .bind(&intent.status)
    .bind(&intent.params)
    .bind(intent.description.as_deref())
    .bind(intent.justification.as_deref())
    .bind(intent.idempotency_key.as_deref())
    .bind(&intent.request_hash)
    .bind(intent.decision.as_deref())
    .bind(intent.created_at)
    .bind(intent.updated_at)
    .bind(intent.submitted_by.as_deref())
    .bind(intent.submitted_by_user.as_deref())
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<IntentRow>> {
    get_by_id(conn, tenant_id, id).await
}

/// Frees `key` for reuse when the intent holding it was created before `created_before` (its
/// idempotency window has passed).
pub async fn release_idempotency_key(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key: &str,
    created_before: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE intents SET idempotency_key = NULL \
         WHERE tenant_id = $1 AND idempotency_key = $2 AND created_at < $3",
    )
    .bind(tenant_id)
    .bind(key)
    .bind(created_before)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn find_by_idempotency_key(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key: &str,
) -> sqlx::Result<Option<IntentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM intents WHERE tenant_id = $1 AND idempotency_key = $2"
    ))
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Filters of the intent listing; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct IntentFilter {
    pub status: Option<String>,
    pub agent_id: Option<String>,
    pub domain: Option<String>,
    pub intent_type: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

/// One page of intents matching `filter`, newest first, and the number matching.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    filter: &IntentFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<IntentRow>, i64)> {
    let order = "created_at DESC, id DESC";
    filtered_page(
        store,
        ("intents", COLUMNS, order),
        tenant_id,
        filter,
        (limit, offset),
    )
    .await
}

impl ListFilter for IntentFilter {
    const WHERE: &'static str = "WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR agent_id = $3) AND ($4 IS NULL OR domain = $4) \
         AND ($5 IS NULL OR type = $5) AND ($6 IS NULL OR created_at >= $6) \
         AND ($7 IS NULL OR created_at <= $7)";
    const PARAMS: usize = 7;

    fn bind<'q, O>(&'q self, query: AnyQueryAs<'q, O>) -> AnyQueryAs<'q, O> {
        query
            .bind(self.status.as_deref())
            .bind(self.agent_id.as_deref())
            .bind(self.domain.as_deref())
            .bind(self.intent_type.as_deref())
            .bind(self.from)
            .bind(self.to)
    }
}

/// The fields a status change writes.
#[derive(Debug, Clone, Default)]
pub struct StatusChange<'a> {
    pub result: Option<&'a str>,
    pub value_cents: Option<i64>,
    pub error: Option<&'a str>,
    pub completed_at: Option<Millis>,
}

/// Moves the intent from `from` to `to`; false when it was not in `from` any more (a
/// concurrent change won), so two racing changes cannot both apply.
pub async fn change_status(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    from: &str,
    to: &str,
    at: Millis,
    change: &StatusChange<'_>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE intents SET status = $4, updated_at = $5, \
         result = COALESCE($6, result), value_cents = COALESCE($7, value_cents), \
         error = COALESCE($8, error), completed_at = COALESCE($9, completed_at) \
         WHERE tenant_id = $1 AND id = $2 AND status = $3",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(at)
    .bind(change.result)
    .bind(change.value_cents)
    .bind(change.error)
    .bind(change.completed_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
