//! The approval queue: approvals and the decisions of their approvers.

use sqlx::AnyConnection;

use super::{get_by_id, page_total, split_counted, Keyed, Store};
use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovalRow {
    pub id: String,
    /// What the approval decides: `intent` (a `/v1` intent; its id is `intent_id`), or an
    /// OpenIntent request on the protocol intent `intent_id` (`openintent.approval`,
    /// `openintent.escalation`).
    pub subject_kind: String,
    pub intent_id: String,
    pub status: String,
    pub required_approvals: i64,
    pub roles: String,
    pub reason: Option<String>,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub resolved_at: Option<Millis>,
    /// OpenIntent subjects: the action asked for (`complete` gates an intent's completion).
    pub action: Option<String>,
    /// OpenIntent subjects: the request as JSON (requester, key, person, reason, context).
    pub request: Option<String>,
    /// OpenIntent subjects: the resolution as named by whoever resolved it.
    pub outcome: Option<String>,
}

impl Keyed for ApprovalRow {
    const TABLE: &'static str = "approvals";
    const COLUMNS: &'static str = COLUMNS;
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DecisionRow {
    /// Who decided: the person's user id, or the key id of a key no person owns.
    pub approver: String,
    /// The approver's display name (the person's email, else the key's name).
    pub approver_name: Option<String>,
    /// The API key the decision was made with (none: a console session).
    pub key_id: Option<String>,
    pub decision: String,
    pub comment: Option<String>,
    pub created_at: Millis,
}

/// An approval of the queue with what an approver triages by: the `/v1` intent it decides
/// (none for OpenIntent subjects, whose request says it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedRow {
    #[sqlx(flatten)]
    pub approval: ApprovalRow,
    pub intent_type: Option<String>,
    pub domain: Option<String>,
    pub agent_id: Option<String>,
    pub params: Option<String>,
    pub decision: Option<String>,
    /// The agent's tier in force (pinned, else earned); none if the agent is gone.
    pub agent_tier: Option<String>,
}

const COLUMNS: &str = "id, subject_kind, intent_id, status, required_approvals, roles, reason, \
     expires_at, created_at, updated_at, resolved_at, action, request, outcome";

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    approval: &ApprovalRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO approvals (tenant_id, id, intent_id, status, required_approvals, roles, \
         expires_at, created_at, updated_at, subject_kind, action, request) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant_id)
    .bind(&approval.id)
    .bind(&approval.intent_id)
    .bind(&approval.status)
    .bind(approval.required_approvals)
    .bind(&approval.roles)
    .bind(approval.expires_at)
    .bind(approval.created_at)
    .bind(approval.updated_at)
    .bind(&approval.subject_kind)
    .bind(approval.action.as_deref())
    .bind(approval.request.as_deref())
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<ApprovalRow>> {
    get_by_id(conn, tenant_id, id).await
}

/// An approval joined with one of its decisions (none: the decision columns are null).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovalWithDecision {
    #[sqlx(flatten)]
    pub approval: ApprovalRow,
    pub approver: Option<String>,
    pub approver_name: Option<String>,
    pub key_id: Option<String>,
    pub decision: Option<String>,
    pub comment: Option<String>,
    pub decided_at: Option<Millis>,
}

/// The approvals of an intent with their decisions, in one query; oldest first.
pub async fn for_intent(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<Vec<ApprovalWithDecision>> {
    sqlx::query_as(
        "SELECT a.id, a.subject_kind, a.intent_id, a.status, a.required_approvals, a.roles, \
                a.reason, a.expires_at, a.created_at, a.updated_at, a.resolved_at, a.action, \
                a.request, a.outcome, d.approver, COALESCE(u.email, k.name) AS approver_name, d.key_id, d.decision, \
                d.comment, d.created_at AS decided_at \
         FROM approvals a LEFT JOIN approval_decisions d \
           ON d.tenant_id = a.tenant_id AND d.approval_id = a.id \
         LEFT JOIN api_keys k ON k.tenant_id = d.tenant_id AND k.id = d.approver \
         LEFT JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.approver \
         WHERE a.tenant_id = $1 AND a.intent_id = $2 \
         ORDER BY a.created_at, a.id, d.created_at, d.approver",
    )
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_all(conn)
    .await
}

/// One page of approvals with `status`, oldest first (the queue's order), each with its
/// intent's facts, and the total.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    status: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<QueuedRow>, i64)> {
    let counted = sqlx::query_as(
        "SELECT a.id, a.subject_kind, a.intent_id, a.status, a.required_approvals, a.roles, a.reason, \
                a.expires_at, a.created_at, a.updated_at, a.resolved_at, a.action, a.request, \
                a.outcome, i.type AS intent_type, i.domain, i.agent_id, i.params, i.decision, \
                COALESCE(g.pinned_tier, g.trust_tier) AS agent_tier, \
                COUNT(*) OVER () AS total_count \
         FROM approvals a LEFT JOIN intents i \
           ON a.subject_kind = 'intent' AND i.tenant_id = a.tenant_id AND i.id = a.intent_id \
         LEFT JOIN agents g ON g.tenant_id = i.tenant_id AND g.id = i.agent_id \
         WHERE a.tenant_id = $1 AND a.status = $2 ORDER BY a.created_at, a.id LIMIT $3 OFFSET $4",
    )
    .bind(tenant_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.reader())
    .await?;
    let (rows, total) = split_counted(counted);
    let count =
        sqlx::query_as("SELECT COUNT(*) FROM approvals WHERE tenant_id = $1 AND status = $2")
            .bind(tenant_id)
            .bind(status)
            .fetch_one(store.reader());
    Ok((rows, page_total(total, offset, count).await?))
}

/// The decisions of several approvals, in one query: `(approval id, decision)`, oldest first.
pub async fn decisions_of(
    store: &Store,
    tenant_id: &TenantId,
    approval_ids: &[&str],
) -> sqlx::Result<Vec<(String, DecisionRow)>> {
    #[derive(sqlx::FromRow)]
    struct Keyed {
        approval_id: String,
        #[sqlx(flatten)]
        decision: DecisionRow,
    }
    if approval_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.approval_id, {DECISION_COLUMNS} FROM approval_decisions d {DECISION_NAMES} \
         WHERE d.tenant_id = $1 AND d.approval_id IN ({}) ORDER BY d.created_at, d.approver",
        super::placeholders(2, approval_ids.len())
    );
    let mut query = sqlx::query_as::<_, Keyed>(&sql).bind(tenant_id);
    for id in approval_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(store.reader()).await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.approval_id, row.decision))
        .collect())
}

/// A decision's columns, with the approver's name (`d` decisions, `k` keys, `u` users).
const DECISION_COLUMNS: &str = "d.approver, COALESCE(u.email, k.name) AS approver_name, \
     d.key_id, d.decision, d.comment, d.created_at";
const DECISION_NAMES: &str =
    "LEFT JOIN api_keys k ON k.tenant_id = d.tenant_id AND k.id = d.approver \
     LEFT JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.approver";

pub async fn decisions(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    approval_id: &str,
) -> sqlx::Result<Vec<DecisionRow>> {
    sqlx::query_as(&format!(
        "SELECT {DECISION_COLUMNS} FROM approval_decisions d {DECISION_NAMES} \
         WHERE d.tenant_id = $1 AND d.approval_id = $2 ORDER BY d.created_at, d.approver"
    ))
    .bind(tenant_id)
    .bind(approval_id)
    .fetch_all(conn)
    .await
}

/// Takes the approval's row lock if it is still pending (true), so decisions on one approval
/// are serialized, on PostgreSQL across processes too; false when it is decided or unknown.
pub async fn lock_pending(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    at: Millis,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE approvals SET updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records an approver's decision; deciding twice is a unique violation.
pub async fn insert_decision(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    approval_id: &str,
    decision: &DecisionRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO approval_decisions (tenant_id, approval_id, approver, decision, comment, \
         created_at, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(approval_id)
    .bind(&decision.approver)
    .bind(&decision.decision)
    .bind(decision.comment.as_deref())
    .bind(decision.created_at)
    .bind(decision.key_id.as_deref())
    .execute(conn)
    .await
    .map(|_| ())
}

/// Resolves a pending approval; false when it was not pending any more.
pub async fn resolve(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    status: &str,
    reason: Option<&str>,
    at: Millis,
) -> sqlx::Result<bool> {
    let resolved = resolve_pending(conn, tenant_id, "id", id, status, reason, at).await?;
    Ok(resolved == 1)
}

/// Resolves every still-pending approval of an intent (the intent left `pending_approval` by
/// another way than a decision); returns how many.
pub async fn resolve_pending_of_intent(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    intent_id: &str,
    status: &str,
    reason: &str,
    at: Millis,
) -> sqlx::Result<u64> {
    resolve_pending(
        conn,
        tenant_id,
        "intent_id",
        intent_id,
        status,
        Some(reason),
        at,
    )
    .await
}

/// Resolves the tenant's pending approvals whose `column` (a fixed column name, never input)
/// is `value`.
async fn resolve_pending(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    column: &'static str,
    value: &str,
    status: &str,
    reason: Option<&str>,
    at: Millis,
) -> sqlx::Result<u64> {
    let done = sqlx::query(&format!(
        "UPDATE approvals SET status = $3, reason = $4, resolved_at = $5, updated_at = $5 \
         WHERE tenant_id = $1 AND {column} = $2 AND status = 'pending'"
    ))
    .bind(tenant_id)
    .bind(value)
    .bind(status)
    .bind(reason)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Pending approvals past their expiry, any tenant: `(tenant, approval id)`, at most `limit`.
pub async fn expired(
    store: &Store,
    now: Millis,
    limit: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT tenant_id, id FROM approvals WHERE status = 'pending' AND expires_at < $1 \
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}

/// Names how an approval was resolved (an OpenIntent escalation's `resolution`).
pub async fn set_outcome(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    outcome: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE approvals SET outcome = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .bind(outcome)
        .execute(conn)
        .await
        .map(|_| ())
}

/// How many approvals of `kind` for `action` on the intent were approved.
pub async fn count_approved(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    kind: &str,
    intent_id: &str,
    action: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM approvals WHERE tenant_id = $1 AND subject_kind = $2 \
         AND intent_id = $3 AND action = $4 AND status = 'approved'",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(intent_id)
    .bind(action)
    .fetch_one(conn)
    .await
}

/// The tenant's approvals of `kind`, oldest first, optionally of one intent and with one
/// status; at most `limit`.
pub async fn of_kind(
    store: &Store,
    tenant_id: &TenantId,
    kind: &str,
    intent_id: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ApprovalRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE tenant_id = $1 AND subject_kind = $2 \
         AND ($3 IS NULL OR intent_id = $3) AND ($4 IS NULL OR status = $4) \
         ORDER BY created_at, id LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(kind)
    .bind(intent_id)
    .bind(status)
    .bind(limit)
    .fetch_all(store.reader())
    .await
}
