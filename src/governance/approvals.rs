//! The approval queue: humans decide the intents policy sends to them.
//!
//! A decision first takes the approval's row lock (a conditional update on `pending`), so
//! decisions on one approval are serialized, across processes too: two approvers deciding at
//! once produce one outcome. Quorum counts distinct approvers (the decisions table is keyed by
//! approver); one rejection rejects; a decided approval answers `ALREADY_RESOLVED`. Expired
//! approvals are resolved by [`ApprovalService::expire_due`], run periodically by every
//! instance: each expiry is a conditional update, so instances never double-apply one.

use std::{collections::HashMap, sync::Arc};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    catalog::{Catalog, Risk, ValueCategory},
    duties,
    lifecycle::{apply_transition, Intent, IntentStatus, Moved, Transition},
    standing::record_trust_event,
    summary,
    trust::{TrustEvent, TrustTier},
};
use crate::{
    auth::{Principal, TenantId},
    error::{Error, Result},
    ids::{ApprovalId, IntentId},
    metrics::{Decider, IntentFacts, Metrics},
    pagination::{Page, PageRequest},
    store::{
        self,
        approvals::{self, ApprovalRow, DecisionRow, QueuedRow},
        intents::{self, StatusChange},
        users,
    },
    time::{Millis, SharedClock},
    work::{UnitOfWork, Writer},
};

pub mod event_types {
    pub const INTENT_APPROVED: &str = "intent.approved";
    pub const INTENT_REJECTED: &str = "intent.rejected";
    pub const APPROVAL_RECORDED: &str = "approval.recorded";
    /// A decision refused by separation of duties.
    pub const APPROVAL_REFUSED: &str = "approval.refused";
}

/// What an approval decides (its `subject_kind`).
pub mod subjects {
    /// A `/v1` governed intent.
    pub const INTENT: &str = "intent";
    /// An OpenIntent approval request (RFC-0013) on a protocol intent.
    pub const PROTOCOL_APPROVAL: &str = "openintent.approval";
    /// An OpenIntent escalation to a human (RFC-0013) on a protocol intent.
    pub const PROTOCOL_ESCALATION: &str = "openintent.escalation";
}

/// What the requester of an OpenIntent subject said, kept with its approval: who asked
/// (agent, key, the key's person, for separation of duties) and what for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProtocolRequest {
    pub requested_by: String,
    pub key_id: String,
    pub person: Option<String>,
    pub reason: String,
    pub context: Value,
    /// Escalations: `low` … `critical`.
    pub priority: Option<String>,
    pub urgency: Option<String>,
}

impl ProtocolRequest {
    /// The request an approval row of an OpenIntent subject carries (none for `/v1` intents).
    pub fn of_row(row: &ApprovalRow) -> Option<ProtocolRequest> {
        row.request
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    }

    fn submitter(&self) -> duties::Submitter<'_> {
        duties::Submitter {
            key_id: Some(&self.key_id),
            person: self.person.as_deref(),
            agent_id: &self.requested_by,
        }
    }
}

/// A pending approval row for an OpenIntent subject of `kind` on the protocol intent.
pub fn protocol_approval(
    kind: &str,
    intent_id: &str,
    action: Option<&str>,
    request: &ProtocolRequest,
    now: Millis,
) -> ApprovalRow {
    ApprovalRow {
        id: ApprovalId::generate().to_string(),
        subject_kind: kind.to_string(),
        intent_id: intent_id.to_string(),
        status: "pending".into(),
        required_approvals: 1,
        roles: "[]".into(),
        reason: None,
        expires_at: None,
        created_at: now,
        updated_at: now,
        resolved_at: None,
        action: action.map(str::to_string),
        request: Some(json!(request).to_string()),
        outcome: None,
    }
}

/// An approval's statuses: `cancelled` when its intent was withdrawn while it waited.
pub const STATUSES: [&str; 5] = ["pending", "approved", "rejected", "expired", "cancelled"];
const MAX_NOTE_LEN: usize = 2_000;
/// Expired approvals resolved per sweep round.
const SWEEP_BATCH: i64 = 100;

/// One approver's decision.
#[derive(Debug, Clone)]
pub struct ApprovalDecision {
    /// The person's user id, or the key id of a key no person owns.
    pub approver: String,
    /// The approver's display name (the person's email, else the key's name).
    pub approver_name: Option<String>,
    /// The API key used (none: a console session).
    pub key_id: Option<String>,
    pub approve: bool,
    pub comment: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct Approval {
    pub id: String,
    /// What it decides: `intent` (a `/v1` intent, `intent_id`).
    pub subject_kind: String,
    pub intent_id: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    pub required_approvals: i64,
    pub roles: Vec<String>,
    pub reason: Option<String>,
    pub decisions: Vec<ApprovalDecision>,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
    pub resolved_at: Option<Millis>,
    /// OpenIntent subjects: the action asked for, the request, and the resolution named.
    pub action: Option<String>,
    pub request: Option<ProtocolRequest>,
    pub outcome: Option<String>,
}

impl Approval {
    pub(crate) fn from_rows(row: ApprovalRow, decisions: Vec<DecisionRow>) -> Self {
        Approval {
            request: ProtocolRequest::of_row(&row),
            action: row.action,
            outcome: row.outcome,
            id: row.id,
            subject_kind: row.subject_kind,
            intent_id: row.intent_id,
            status: row.status,
            required_approvals: row.required_approvals,
            roles: serde_json::from_str(&row.roles).unwrap_or_default(),
            reason: row.reason,
            decisions: decisions.into_iter().map(ApprovalDecision::from).collect(),
            expires_at: row.expires_at,
            created_at: row.created_at,
            resolved_at: row.resolved_at,
        }
    }
}

impl From<DecisionRow> for ApprovalDecision {
    fn from(row: DecisionRow) -> Self {
        ApprovalDecision {
            approve: row.decision == "approve",
            approver: row.approver,
            approver_name: row.approver_name,
            key_id: row.key_id,
            comment: row.comment,
            created_at: row.created_at,
        }
    }
}

/// An approval in the queue with what an approver triages by: the intent it decides.
#[derive(Debug, Clone)]
pub struct QueuedApproval {
    pub approval: Approval,
    pub intent_type: String,
    pub domain: String,
    pub agent_id: String,
    /// The intent type's risk (none if the type left the catalog since).
    pub risk: Option<Risk>,
    /// The intent type's value category, if it declares one.
    pub value_category: Option<ValueCategory>,
    /// The agent's trust tier in force now (none if the agent is gone).
    pub agent_trust_tier: Option<TrustTier>,
    /// The params on one short line.
    pub params_summary: String,
    /// Why policy sent the intent to the queue (its decision's reason).
    pub routing_reason: Option<String>,
}

/// An approver's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Reject,
}

/// Where an approval stands after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// One rejection settles it.
    Rejected,
    /// As many approvals as required, from distinct approvers (the decisions table's unique
    /// key on the approver makes them distinct before they are counted here).
    Met,
    Waiting,
}

/// The quorum rule: `choice` has just been recorded, making `approvals` approvals of
/// `required`.
pub fn quorum(choice: Choice, approvals: i64, required: i64) -> Quorum {
    match choice {
        Choice::Reject => Quorum::Rejected,
        Choice::Approve if approvals >= required.max(1) => Quorum::Met,
        Choice::Approve => Quorum::Waiting,
    }
}

pub struct ApprovalService {
    writer: Writer,
    catalog: Arc<Catalog>,
    metrics: Arc<Metrics>,
    /// What decides whether an approval has expired.
    clock: SharedClock,
}

impl ApprovalService {
    pub fn new(
        writer: Writer,
        catalog: Arc<Catalog>,
        metrics: Arc<Metrics>,
        clock: SharedClock,
    ) -> Self {
        Self {
            clock,
            writer,
            catalog,
            metrics,
        }
    }

    /// Metrics of a settled approval, once its transaction committed.
    fn record_settled(&self, tenant: &TenantId, intent: &Intent, decider: Decider) {
        let facts = IntentFacts {
            tenant: tenant.as_str(),
            domain: &intent.domain,
            intent_type: &intent.intent_type,
        };
        self.metrics
            .intent_decided(&facts, intent.status.as_str(), decider);
    }

    /// Approvals with `status` (`pending` by default), oldest first, with their intents' facts.
    pub async fn list(
        &self,
        tenant: &TenantId,
        status: &str,
        page: PageRequest,
    ) -> Result<Page<QueuedApproval>> {
        if !STATUSES.contains(&status) {
            return Err(Error::invalid(
                &["status"],
                format!("must be one of {}", STATUSES.join(", ")),
            ));
        }
        let (rows, total) = approvals::list(
            self.writer.store(),
            tenant,
            status,
            page.limit(),
            page.offset(),
        )
        .await?;
        let ids: Vec<&str> = rows.iter().map(|row| row.approval.id.as_str()).collect();
        let mut decisions: HashMap<String, Vec<DecisionRow>> = HashMap::new();
        for (approval_id, decision) in
            approvals::decisions_of(self.writer.store(), tenant, &ids).await?
        {
            decisions.entry(approval_id).or_default().push(decision);
        }
        let items = rows
            .into_iter()
            .map(|row| {
                let decided = decisions.remove(&row.approval.id).unwrap_or_default();
                self.queued(row, decided)
            })
            .collect();
        Ok(Page {
            items,
            total,
            request: page,
        })
    }

    pub async fn get(&self, tenant: &TenantId, id: &ApprovalId) -> Result<Approval> {
        let mut conn = self.writer.store().reader().acquire().await?;
        let row = approvals::get(&mut conn, tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "approval" })?;
        let decisions = approvals::decisions(&mut conn, tenant, id).await?;
        Ok(Approval::from_rows(row, decisions))
    }

    /// The approvals of one intent, oldest first, with their decisions.
    pub async fn for_intent(
        &self,
        tenant: &TenantId,
        intent_id: &IntentId,
    ) -> Result<Vec<Approval>> {
        let mut conn = self.writer.store().reader().acquire().await?;
        let joined = approvals::for_intent(&mut conn, tenant, intent_id).await?;
        let mut found: Vec<Approval> = Vec::new();
        for row in joined {
            let decision = match (row.approver, row.decision, row.decided_at) {
                (Some(approver), Some(decision), Some(created_at)) => Some(DecisionRow {
                    approver,
                    approver_name: row.approver_name,
                    key_id: row.key_id,
                    decision,
                    comment: row.comment,
                    created_at,
                }),
                _ => None,
            };
            match found.last_mut() {
                Some(last) if last.id == row.approval.id => {
                    last.decisions.extend(decision.map(ApprovalDecision::from));
                }
                _ => found.push(Approval::from_rows(
                    row.approval,
                    decision.into_iter().collect(),
                )),
            }
        }
        Ok(found)
    }

    fn queued(&self, row: QueuedRow, decisions: Vec<DecisionRow>) -> QueuedApproval {
        let approval = Approval::from_rows(row.approval, decisions);
        if let Some(request) = approval.request.clone() {
            // An OpenIntent request: its requester, action and reason are what to triage by.
            let asked = json!({ "action": approval.action, "context": request.context });
            return QueuedApproval {
                risk: None,
                value_category: None,
                agent_trust_tier: None,
                params_summary: summary::one_line(&asked),
                routing_reason: Some(request.reason).filter(|r| !r.is_empty()),
                intent_type: approval.subject_kind.clone(),
                domain: "openintent".into(),
                agent_id: request.requested_by,
                approval,
            };
        }
        let params = row
            .params
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let routing_reason = row
            .decision
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|decision| decision.get("reason")?.as_str().map(str::to_string));
        let intent_type = row.intent_type.unwrap_or_default();
        let known = self.catalog.intent_type(&intent_type);
        QueuedApproval {
            risk: known.map(|t| t.risk),
            value_category: known.and_then(|t| t.value_category),
            agent_trust_tier: row.agent_tier.as_deref().and_then(|t| t.parse().ok()),
            params_summary: summary::one_line(&params),
            routing_reason,
            intent_type,
            domain: row.domain.unwrap_or_default(),
            agent_id: row.agent_id.unwrap_or_default(),
            approval,
        }
    }

    /// Records `principal`'s decision and resolves the approval when it settles it. The
    /// decider is the person behind the credential when there is one (see
    /// [`Principal::decider`]); separation of duties may refuse it ([`duties`]).
    pub async fn decide(
        &self,
        principal: &Principal,
        id: &ApprovalId,
        choice: Choice,
        note: Option<String>,
    ) -> Result<Approval> {
        self.decide_naming(principal, id, choice, note, None).await
    }

    /// [`Self::decide`], naming the resolution (an OpenIntent escalation's `resolution`) if
    /// the decision settles the approval.
    pub async fn decide_naming(
        &self,
        principal: &Principal,
        id: &ApprovalId,
        choice: Choice,
        note: Option<String>,
        outcome: Option<String>,
    ) -> Result<Approval> {
        let tenant = &principal.tenant_id;
        let approver = principal.decider();
        let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_LEN)
        {
            let field = if choice == Choice::Approve {
                "comment"
            } else {
                "reason"
            };
            return Err(Error::invalid(
                &[field],
                format!("must be at most {MAX_NOTE_LEN} characters"),
            ));
        }
        let now = self.clock.now_ms();
        let mut work = self.writer.begin(tenant).await?;
        if !approvals::lock_pending(&mut work, tenant, id, now).await? {
            let row = approvals::get(&mut work, tenant, id)
                .await?
                .ok_or(Error::NotFound { what: "approval" })?;
            return Err(Error::AlreadyResolved(row.status));
        }
        let row = approvals::get(&mut work, tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "approval" })?;
        if row.expires_at.is_some_and(|at| at <= now) {
            let (work, expired) = expire(work, &self.writer, &row, now).await?;
            work.commit().await?.publish();
            if let Some(intent) = expired {
                self.record_settled(tenant, &intent, Decider::Expiry);
            }
            return Err(Error::AlreadyResolved("expired".into()));
        }
        if let Some(refusal) = self.refusal(&mut work, principal, &row, choice).await? {
            drop(work);
            return Err(self.refuse(principal, &row, refusal).await);
        }
        let decision = DecisionRow {
            approver: approver.to_string(),
            approver_name: None,
            key_id: (principal.person.as_deref() != Some(&*principal.key_id))
                .then(|| principal.key_id.to_string()),
            decision: if choice == Choice::Approve {
                "approve"
            } else {
                "reject"
            }
            .to_string(),
            comment: note.clone(),
            created_at: now,
        };
        match approvals::insert_decision(&mut work, tenant, id, &decision).await {
            Err(err) if store::is_unique_violation(&err) => {
                return Err(Error::Conflict(
                    "you have already decided this approval".into(),
                ))
            }
            other => other?,
        }
        let decisions = approvals::decisions(&mut work, tenant, id).await?;
        let approvals_given = decisions.iter().filter(|d| d.decision == "approve").count() as i64;
        let settled = match quorum(choice, approvals_given, row.required_approvals) {
            Quorum::Rejected => Some((
                IntentStatus::Rejected,
                "rejected",
                event_types::INTENT_REJECTED,
            )),
            Quorum::Met => Some((
                IntentStatus::Approved,
                "approved",
                event_types::INTENT_APPROVED,
            )),
            Quorum::Waiting => None,
        };
        let mut settled_intent = None;
        let mut tier_move = None;
        match settled {
            Some((_, approval_status, _)) if row.subject_kind != subjects::INTENT => {
                approvals::resolve(&mut work, tenant, id, approval_status, note.as_deref(), now)
                    .await?;
                if let Some(outcome) = &outcome {
                    approvals::set_outcome(&mut work, tenant, id, outcome).await?;
                }
                let settled = crate::openintent::approvals::Settled {
                    row: &row,
                    status: approval_status,
                    decided_by: approver,
                    outcome: outcome.as_deref(),
                    note: note.as_deref(),
                };
                work = crate::openintent::approvals::announce_settled(work, &self.writer, settled)
                    .await?;
            }
            Some((intent_status, approval_status, event_type)) => {
                approvals::resolve(&mut work, tenant, id, approval_status, note.as_deref(), now)
                    .await?;
                let data = json!({
                    "approvalId": id,
                    "decidedBy": approver,
                    "approvers": decisions.iter().map(|d| &d.approver).collect::<Vec<_>>(),
                    "reason": note,
                });
                let intent = move_intent(
                    &mut work,
                    approver,
                    &row.intent_id,
                    intent_status,
                    event_type,
                    data,
                )
                .await?
                .intent;
                if let (Choice::Reject, Some(known)) =
                    (choice, self.catalog.intent_type(&intent.intent_type))
                {
                    let event = TrustEvent::Rejected(known.risk);
                    tier_move =
                        record_trust_event(&mut work, &intent.agent_id, event, &intent.id).await?;
                }
                settled_intent = Some(intent);
            }
            None => {
                let event = crate::audit::AuditEvent {
                    event_type: event_types::APPROVAL_RECORDED,
                    actor: approver,
                    subject: id,
                    data: json!({"intentId": row.intent_id, "approvals": approvals_given,
                                 "required": row.required_approvals, "comment": note}),
                };
                work.audit(event).await?;
            }
        }
        work.commit().await?.publish();
        if let Some(intent) = settled_intent {
            self.record_settled(tenant, &intent, Decider::Human);
        }
        if let Some(tier_move) = tier_move {
            tier_move.record(&self.metrics, tenant);
        }
        self.get(tenant, id).await
    }

    /// Why separation of duties refuses `principal`'s `choice` on the approval `row`, if it does.
    async fn refusal(
        &self,
        tx: &mut sqlx::AnyConnection,
        principal: &Principal,
        row: &ApprovalRow,
        choice: Choice,
    ) -> Result<Option<String>> {
        let tenant = &principal.tenant_id;
        let has_people = users::any_enabled(&mut *tx, tenant).await?;
        if let Some(refusal) = duties::unaccountable(principal, has_people) {
            return Ok(Some(refusal));
        }
        if choice == Choice::Reject {
            // Turning one's own intent down is withdrawing it: nothing to separate.
            return Ok(None);
        }
        if let Some(request) = ProtocolRequest::of_row(row) {
            return Ok(duties::approval_conflict(principal, request.submitter()));
        }
        let intent = intents::get(&mut *tx, tenant, &row.intent_id)
            .await?
            .ok_or(Error::NotFound { what: "intent" })?;
        Ok(duties::approval_conflict(
            principal,
            duties::Submitter::of_intent(&intent),
        ))
    }

    /// Audits a refused decision (`approval.refused`) and returns the error to answer with.
    async fn refuse(&self, principal: &Principal, row: &ApprovalRow, refusal: String) -> Error {
        let event = crate::audit::AuditEvent {
            event_type: event_types::APPROVAL_REFUSED,
            actor: &principal.key_id,
            subject: &row.id,
            data: json!({ "intentId": row.intent_id, "person": principal.person.as_deref(),
                          "reason": refusal }),
        };
        match crate::audit::append_alone(self.writer.store(), &principal.tenant_id, event).await {
            Ok(()) => Error::SeparationOfDuties(refusal),
            Err(err) => err,
        }
    }

    /// Resolves up to a batch of pending approvals past their expiry; returns how many.
    pub async fn expire_due(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        let due = approvals::expired(self.writer.store(), now, SWEEP_BATCH).await?;
        let mut expired = 0;
        for (tenant, id) in due {
            // One approval that cannot be expired must not hold up the others behind it.
            match self.expire_one(&tenant, &id, now).await {
                Ok(true) => expired += 1,
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(tenant = %tenant, approval = %id, error = %err,
                        "cannot expire approval; skipping it");
                }
            }
        }
        Ok(expired)
    }

    /// Expires one due approval; false when another instance resolved it first.
    async fn expire_one(&self, tenant: &str, id: &str, now: Millis) -> Result<bool> {
        let tenant = TenantId::parse(tenant)?;
        let mut work = self.writer.begin(&tenant).await?;
        // Another instance may have resolved it meanwhile: the lock says.
        if !approvals::lock_pending(&mut work, &tenant, id, now).await? {
            return Ok(false);
        }
        let Some(row) = approvals::get(&mut work, &tenant, id).await? else {
            return Ok(false);
        };
        let (work, expired) = expire(work, &self.writer, &row, now).await?;
        work.commit().await?.publish();
        if let Some(intent) = expired {
            self.record_settled(&tenant, &intent, Decider::Expiry);
        }
        Ok(true)
    }

    /// Sweeps expired approvals every `period` until `shutdown`.
    pub async fn run_expiry(
        self: std::sync::Arc<Self>,
        period: std::time::Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let metrics = self.metrics.clone();
        crate::supervisor::every("approval_expiry", period, metrics, shutdown, || {
            self.expire_due()
        })
        .await;
    }
}

/// Marks the approval expired and moves its `/v1` intent to `expired` (audited as a
/// rejection with reason `expired`; the intent is returned), or tells the OpenIntent side.
async fn expire(
    mut work: UnitOfWork,
    writer: &Writer,
    row: &ApprovalRow,
    now: Millis,
) -> Result<(UnitOfWork, Option<Intent>)> {
    let tenant = work.tenant().clone();
    approvals::resolve(&mut work, &tenant, &row.id, "expired", Some("expired"), now).await?;
    if row.subject_kind != subjects::INTENT {
        let settled = crate::openintent::approvals::Settled {
            row,
            status: "expired",
            decided_by: crate::audit::actors::SYSTEM,
            outcome: None,
            note: Some("expired"),
        };
        let work = crate::openintent::approvals::announce_settled(work, writer, settled).await?;
        return Ok((work, None));
    }
    let data = json!({"approvalId": row.id, "reason": "expired"});
    let moved = move_intent(
        &mut work,
        crate::audit::actors::SYSTEM,
        &row.intent_id,
        IntentStatus::Expired,
        event_types::INTENT_REJECTED,
        data,
    )
    .await?;
    Ok((work, Some(moved.intent)))
}

async fn move_intent(
    work: &mut UnitOfWork,
    actor: &str,
    intent_id: &str,
    to: IntentStatus,
    event_type: &'static str,
    data: Value,
) -> Result<Moved> {
    let transition = Transition {
        to,
        action: "decide",
        event_type,
        change: StatusChange::default(),
        data,
    };
    apply_transition(work, actor, intent_id, transition).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rejection_settles_and_approvals_settle_at_the_quorum() {
        assert_eq!(quorum(Choice::Reject, 0, 2), Quorum::Rejected);
        assert_eq!(
            quorum(Choice::Reject, 1, 2),
            Quorum::Rejected,
            "after an approval too"
        );
        assert_eq!(quorum(Choice::Approve, 1, 2), Quorum::Waiting);
        assert_eq!(quorum(Choice::Approve, 2, 2), Quorum::Met);
        assert_eq!(quorum(Choice::Approve, 1, 1), Quorum::Met);
        assert_eq!(
            quorum(Choice::Approve, 0, 0),
            Quorum::Waiting,
            "a quorum is never zero"
        );
    }
}
