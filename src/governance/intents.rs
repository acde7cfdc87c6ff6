//! Governed intent submission and the intent lifecycle.
//!
//! Submission runs the ordered steps of the contract (authentication and rate limiting
//! happen before, in the HTTP layer): validate the body → validate `params` against the
//! type's schema → the agent may submit this type → idempotency → policy → persist the
//! intent and its audit record in one transaction → respond.

use std::{sync::Arc, time::Instant};

use serde_json::{json, Value};

use super::{
    agents::AgentService,
    approvals::events as approval_events,
    catalog::{Catalog, Risk},
    lifecycle::IntentStatus,
    policies::PolicyService,
    policy::{Decision, Outcome},
    standing::{credit_completion, record_trust_event, TierMove},
    submission::Submission,
    trust::{CreditRule, TrustEvent},
};
use crate::{
    audit::{self, AuditEvent},
    auth::{identity, Principal, TenantId},
    error::{Error, FieldError, Result},
    ids,
    metrics::{IntentFacts, Metrics},
    pagination::{Page, PageRequest},
    store::{
        self, approvals, approvals::ApprovalRow, intents, intents::IntentFilter,
        intents::IntentRow, intents::StatusChange, Store,
    },
    time::{now_ms, Millis, TimeRange},
    work::{UnitOfWork, Writer},
};

pub mod events {
    pub const INTENT_SUBMITTED: &str = "intent.submitted";
    /// Webhook only: the policy blocked at submission.
    pub const INTENT_BLOCKED: &str = "intent.blocked";
    pub const INTENT_CANCELLED: &str = "intent.cancelled";
    pub const INTENT_COMPLETED: &str = "intent.completed";
    pub const INTENT_FAILED: &str = "intent.failed";
}

/// The id prefix of intents.
pub const INTENT_ID_PREFIX: &str = "int";
/// The id prefix of approvals.
pub const APPROVAL_ID_PREFIX: &str = "apr";
const MAX_ERROR_LEN: usize = 10_000;
/// Largest `valueCents` an outcome may report (a trillion currency units).
const MAX_VALUE_CENTS: i64 = 100_000_000_000_000;

/// An intent as stored.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub intent_type: String,
    pub domain: String,
    pub agent_id: String,
    pub status: IntentStatus,
    pub params: Value,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub idempotency_key: Option<String>,
    /// The policy decision: outcome, rule, reason, policy version (set by the policy engine).
    pub decision: Option<Value>,
    pub result: Option<Value>,
    pub value_cents: Option<i64>,
    pub error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub completed_at: Option<Millis>,
}

impl Intent {
    /// Whether policy sent this intent to the approval queue (so it has approvals to show).
    pub fn asked_for_approval(&self) -> bool {
        self.decision
            .as_ref()
            .and_then(|decision| decision.get("outcome"))
            .and_then(Value::as_str)
            == Some("require_approval")
    }

    fn from_row(row: IntentRow) -> Result<Self> {
        let json_column = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        Ok(Intent {
            status: row.status.parse()?,
            params: serde_json::from_str(&row.params).unwrap_or_default(),
            decision: json_column(row.decision),
            result: json_column(row.result),
            id: row.id,
            intent_type: row.intent_type,
            domain: row.domain,
            agent_id: row.agent_id,
            description: row.description,
            justification: row.justification,
            idempotency_key: row.idempotency_key,
            value_cents: row.value_cents,
            error: row.error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            completed_at: row.completed_at,
        })
    }
}

/// What a submission produced.
#[derive(Debug)]
pub enum Submitted {
    /// A new intent.
    Created(Intent),
    /// An idempotent replay: the intent the same key and body created before.
    Replayed(Intent),
}

/// Filters of the intent listing, validated.
#[derive(Debug, Clone, Default)]
pub struct IntentQuery {
    pub status: Option<IntentStatus>,
    pub agent_id: Option<String>,
    pub domain: Option<String>,
    pub intent_type: Option<String>,
    pub created: TimeRange,
}

/// An agent's report that it carried an approved intent out.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub result: Option<Value>,
    pub value_cents: Option<i64>,
}

pub struct IntentService {
    store: Store,
    writer: Writer,
    catalog: Arc<Catalog>,
    agents: Arc<AgentService>,
    policies: Arc<PolicyService>,
    metrics: Arc<Metrics>,
    /// Which reported completions earn trust.
    credit: CreditRule,
}

impl IntentService {
    pub fn new(
        writer: Writer,
        catalog: Arc<Catalog>,
        agents: Arc<AgentService>,
        policies: Arc<PolicyService>,
        metrics: Arc<Metrics>,
        credit: CreditRule,
    ) -> Self {
        Self {
            store: writer.store().clone(),
            writer,
            catalog,
            agents,
            policies,
            metrics,
            credit,
        }
    }

    /// What submitting `body` would decide now, storing nothing: the same validation, agent
    /// checks and policy as a submission.
    pub async fn simulate(&self, tenant: &TenantId, body: &Value) -> Result<Decision> {
        let submission = Submission::parse(body, &self.catalog)?;
        let agent = self
            .agents
            .get_for_intent(tenant, &submission.agent_id)
            .await?;
        agent.may_submit(&submission.intent_type)?;
        let policy = self.policies.current(tenant).await?;
        self.policies
            .decide(
                policy.policy.clone(),
                submission.intent_type,
                &agent,
                &submission.params,
                now_ms(),
            )
            .await
    }

    /// Submits an intent on behalf of `principal` (the key, and its owner when it has one,
    /// are recorded: they may not approve it).
    pub async fn submit(&self, principal: &Principal, body: &Value) -> Result<Submitted> {
        let started = Instant::now();
        let (tenant, actor) = (&principal.tenant_id, &*principal.key_id);
        // Validate the body and params.
        let submission = Submission::parse(body, &self.catalog)?;
        // A key bound to agents submits only as them.
        identity::check_acting_as(&self.store, principal, &submission.agent_id, "submit").await?;
        // The agent is registered, active, and may submit this type.
        let agent = self
            .agents
            .get_for_intent(tenant, &submission.agent_id)
            .await?;
        agent.may_submit(&submission.intent_type)?;
        // Idempotency: the unique index on (tenant, key) decides when the intent is inserted
        // below; a key seen before turns into a replay of the original (or a conflict).
        let request_hash = submission.request_hash();
        // Policy: the tenant's rules and the agent's trust tier decide.
        let now = now_ms();
        let policy = self.policies.current(tenant).await?;
        let decision = self
            .policies
            .decide(
                policy.policy.clone(),
                submission.intent_type.clone(),
                &agent,
                &submission.params,
                now,
            )
            .await?;
        let evaluation = started.elapsed();
        let status = match decision.outcome {
            Outcome::AutoApprove => IntentStatus::Approved,
            Outcome::RequireApproval { .. } => IntentStatus::PendingApproval,
            Outcome::Block { .. } => IntentStatus::Blocked,
        };
        // Persist the intent, its approval and its audit record together.
        let row = IntentRow {
            id: ids::new_id(INTENT_ID_PREFIX),
            intent_type: submission.intent_type.name.clone(),
            domain: submission.intent_type.domain.clone(),
            agent_id: submission.agent_id.clone(),
            status: status.as_str().to_string(),
            params: audit::canonical::to_canonical(&submission.params),
            description: submission.description.clone(),
            justification: submission.justification.clone(),
            idempotency_key: submission.idempotency_key.clone(),
            request_hash: request_hash.clone(),
            decision: Some(decision.to_json().to_string()),
            result: None,
            value_cents: None,
            error: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
            submitted_by: Some(actor.to_string()),
            submitted_by_user: principal.person.as_deref().map(str::to_string),
        };
        let mut work = self.writer.begin(tenant).await?;
        if let Err(err) = intents::insert(&mut work, tenant.as_str(), &row).await {
            drop(work);
            return match (
                &submission.idempotency_key,
                store::is_unique_violation(&err),
            ) {
                // The key was used before (or by a concurrent submission that won the race).
                (Some(key), true) => match self.replay(tenant, key, &request_hash).await? {
                    Some(existing) => Ok(Submitted::Replayed(existing)),
                    None => Err(err.into()),
                },
                _ => Err(err.into()),
            };
        }
        if let Outcome::RequireApproval {
            approvers,
            roles,
            expires_in_ms,
        } = &decision.outcome
        {
            let approval = ApprovalRow {
                id: ids::new_id(APPROVAL_ID_PREFIX),
                subject_kind: "intent".into(),
                intent_id: row.id.clone(),
                status: "pending".into(),
                required_approvals: i64::from(*approvers),
                roles: json!(roles).to_string(),
                reason: None,
                expires_at: expires_in_ms.map(|ms| now + ms),
                created_at: now,
                updated_at: now,
                resolved_at: None,
            };
            store::approvals::insert(&mut work, tenant.as_str(), &approval).await?;
        }
        let mut tier_move = None;
        if let Outcome::Block { .. } = &decision.outcome {
            tier_move =
                record_trust_event(&mut work, &row.agent_id, TrustEvent::Blocked, &row.id).await?;
        }
        let event = AuditEvent {
            event_type: events::INTENT_SUBMITTED,
            actor,
            subject: &row.id,
            data: json!({
                "type": row.intent_type,
                "domain": row.domain,
                "agentId": row.agent_id,
                "status": row.status,
                "params": submission.params,
                "idempotencyKey": row.idempotency_key,
                "decision": decision.to_json(),
            }),
        };
        work.audit(event).await?;
        let mut notice = intent_notice(
            &row.id,
            &row.intent_type,
            &row.domain,
            &row.agent_id,
            status,
        );
        notice["params"] = submission.params.clone();
        notice["decision"] = decision.to_json();
        work.emit(events::INTENT_SUBMITTED, &row.id, &notice)
            .await?;
        match &decision.outcome {
            Outcome::AutoApprove => {
                notice["approvedBy"] = json!("policy");
                work.emit(approval_events::INTENT_APPROVED, &row.id, &notice)
                    .await?;
            }
            Outcome::Block { reason } => {
                notice["reason"] = json!(reason);
                work.emit(events::INTENT_BLOCKED, &row.id, &notice).await?;
            }
            Outcome::RequireApproval { .. } => {}
        }
        work.commit().await?.publish();
        let facts = IntentFacts {
            tenant: tenant.as_str(),
            domain: &row.domain,
            intent_type: &row.intent_type,
        };
        self.metrics
            .intent_submitted(&facts, status.as_str(), evaluation);
        if let Some(moved) = tier_move {
            moved.record(&self.metrics, tenant);
        }
        Ok(Submitted::Created(Intent::from_row(row)?))
    }

    /// The intent created earlier with `key`, if any; a different request under the same key
    /// is `IDEMPOTENCY_CONFLICT`.
    async fn replay(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &str,
    ) -> Result<Option<Intent>> {
        let mut conn = self.store.reader().acquire().await?;
        match intents::find_by_idempotency_key(&mut conn, tenant.as_str(), key).await? {
            Some(existing) if existing.request_hash == request_hash => {
                Ok(Some(Intent::from_row(existing)?))
            }
            Some(_) => Err(Error::IdempotencyConflict(key.to_string())),
            None => Ok(None),
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Intent> {
        let mut conn = self.store.reader().acquire().await?;
        let row = intents::get(&mut conn, tenant.as_str(), id)
            .await?
            .ok_or(Error::NotFound { what: "intent" })?;
        Intent::from_row(row)
    }

    /// Intents matching `query`, newest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: IntentQuery,
        page: PageRequest,
    ) -> Result<Page<Intent>> {
        let filter = IntentFilter {
            status: query.status.map(|s| s.as_str().to_string()),
            agent_id: query.agent_id,
            domain: query.domain,
            intent_type: query.intent_type,
            from: query.created.from,
            to: query.created.to,
        };
        let (rows, total) = intents::list(
            &self.store,
            tenant.as_str(),
            &filter,
            page.limit(),
            page.offset(),
        )
        .await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(Intent::from_row)
                .collect::<Result<_>>()?,
            total,
            request: page,
        })
    }

    /// Withdraws an intent that is still waiting (pending or pending approval).
    pub async fn cancel(&self, principal: &Principal, id: &str) -> Result<Intent> {
        let transition = Transition {
            to: IntentStatus::Cancelled,
            action: "cancel",
            event_type: events::INTENT_CANCELLED,
            change: StatusChange::default(),
            data: json!({}),
        };
        let moved = self.transition(principal, id, transition, None).await?;
        Ok(moved.intent)
    }

    /// The agent reports that it carried out an approved intent.
    pub async fn complete(
        &self,
        principal: &Principal,
        id: &str,
        completion: Completion,
    ) -> Result<Intent> {
        if let Some(cents) = completion.value_cents {
            if !(0..=MAX_VALUE_CENTS).contains(&cents) {
                return Err(Error::invalid(
                    &["valueCents"],
                    format!("must be between 0 and {MAX_VALUE_CENTS}"),
                ));
            }
        }
        let result = completion
            .result
            .as_ref()
            .map(audit::canonical::to_canonical);
        let transition = Transition {
            to: IntentStatus::Completed,
            action: "complete",
            event_type: events::INTENT_COMPLETED,
            change: StatusChange {
                result: result.as_deref(),
                value_cents: completion.value_cents,
                completed_at: Some(now_ms()),
                ..StatusChange::default()
            },
            data: json!({"result": completion.result, "valueCents": completion.value_cents}),
        };
        let moved = self
            .transition(principal, id, transition, Some(TrustEvent::Completed))
            .await?;
        let category = self
            .catalog
            .intent_type(&moved.intent.intent_type)
            .and_then(|known| known.value_category)
            .map(|category| category.as_str());
        let value = completion.value_cents.map(|cents| (cents, category));
        self.record_execution(&principal.tenant_id, &moved, value);
        Ok(moved.intent)
    }

    /// The agent reports that carrying out an approved intent failed.
    pub async fn fail(&self, principal: &Principal, id: &str, error: &str) -> Result<Intent> {
        let error = error.trim();
        if error.is_empty() || error.chars().count() > MAX_ERROR_LEN {
            return Err(Error::Validation(vec![FieldError::new(
                &["error"],
                format!("must be 1-{MAX_ERROR_LEN} characters"),
            )]));
        }
        let transition = Transition {
            to: IntentStatus::Failed,
            action: "fail",
            event_type: events::INTENT_FAILED,
            change: StatusChange {
                error: Some(error),
                completed_at: Some(now_ms()),
                ..StatusChange::default()
            },
            data: json!({"error": error}),
        };
        let moved = self
            .transition(principal, id, transition, Some(TrustEvent::Failed))
            .await?;
        self.record_execution(&principal.tenant_id, &moved, None);
        Ok(moved.intent)
    }

    /// Metrics of an agent's outcome report (`moved` left `approved`).
    fn record_execution(
        &self,
        tenant: &TenantId,
        moved: &Moved,
        value: Option<(i64, Option<&'static str>)>,
    ) {
        let intent = &moved.intent;
        let facts = IntentFacts {
            tenant: tenant.as_str(),
            domain: &intent.domain,
            intent_type: &intent.intent_type,
        };
        let since_approval = intent.updated_at.saturating_sub(moved.entered_previous_at);
        self.metrics.intent_executed(
            &facts,
            intent.status.as_str(),
            std::time::Duration::from_millis(u64::try_from(since_approval).unwrap_or(0)),
            value,
        );
    }

    /// Applies a status change in its own transaction (see [`apply_transition`]) on behalf of
    /// `principal`, which must be allowed to act as the intent's agent.
    /// `trust`: how the outcome moves the agent's trust, given the intent type's risk.
    async fn transition(
        &self,
        principal: &Principal,
        id: &str,
        transition: Transition<'_>,
        trust: Option<fn(Risk) -> TrustEvent>,
    ) -> Result<Moved> {
        let (tenant, actor) = (&principal.tenant_id, &*principal.key_id);
        if principal.is_bound() {
            // Only bound keys pay this read: an intent's agent never changes.
            let intent = self.get(tenant, id).await?;
            identity::check_acting_as(&self.store, principal, &intent.agent_id, transition.action)
                .await?;
        }
        let mut work = self.writer.begin(tenant).await?;
        let moved = apply_transition(&mut work, actor, id, transition).await?;
        let mut tier_move: Option<TierMove> = None;
        if let (Some(event_for), Some(known)) =
            (trust, self.catalog.intent_type(&moved.intent.intent_type))
        {
            let event = event_for(known.risk);
            let since_approval = moved.intent.updated_at - moved.entered_previous_at;
            tier_move = match event {
                TrustEvent::Completed(_) => {
                    credit_completion(&mut work, &moved.intent, event, since_approval, self.credit)
                        .await?
                }
                _ => record_trust_event(&mut work, &moved.intent.agent_id, event, id).await?,
            };
        }
        work.commit().await?.publish();
        if let Some(tier_move) = tier_move {
            tier_move.record(&self.metrics, tenant);
        }
        Ok(moved)
    }
}

/// Applies a status change allowed by the state machine, with its audit record and event,
/// inside the caller's change. The update is conditional on the status read, so of two racing
/// changes exactly one applies and the other gets `INVALID_TRANSITION`.
pub(crate) async fn apply_transition(
    work: &mut UnitOfWork,
    actor: &str,
    id: &str,
    transition: Transition<'_>,
) -> Result<Moved> {
    let tenant = work.tenant().clone();
    let current = intents::get(work, tenant.as_str(), id)
        .await?
        .ok_or(Error::NotFound { what: "intent" })?;
    let from: IntentStatus = current.status.parse()?;
    from.check(transition.to, transition.action)?;
    let now = now_ms();
    let applied = intents::change_status(
        work,
        tenant.as_str(),
        id,
        from.as_str(),
        transition.to.as_str(),
        now,
        &transition.change,
    )
    .await?;
    if !applied {
        return Err(Error::InvalidTransition {
            action: transition.action,
            from: "no longer ".to_string() + from.as_str(),
        });
    }
    let mut data = transition.data;
    if from == IntentStatus::PendingApproval {
        // However the intent leaves the queue (a decision, a cancellation, an expiry), no
        // approval of it may stay pending: the queue, the stats and the gauge count them.
        let (status, reason) = approval_closure(transition.to);
        let closed =
            approvals::resolve_pending_of_intent(work, tenant.as_str(), id, status, reason, now)
                .await?;
        if closed > 0 {
            data["closedApprovals"] = json!(closed);
        }
    }
    let mut notice = intent_notice(
        id,
        &current.intent_type,
        &current.domain,
        &current.agent_id,
        transition.to,
    );
    notice["previousStatus"] = json!(from.as_str());
    if transition.to == IntentStatus::Approved {
        // The seed's shape of `intent.approved`.
        notice["approvedBy"] = json!(actor);
    }
    if let Value::Object(details) = &data {
        for (key, value) in details {
            notice[key.as_str()] = value.clone();
        }
    }
    data["from"] = json!(from.as_str());
    data["to"] = json!(transition.to.as_str());
    let event = AuditEvent {
        event_type: transition.event_type,
        actor,
        subject: id,
        data,
    };
    work.audit(event).await?;
    work.emit(transition.event_type, id, &notice).await?;
    let updated = intents::get(work, tenant.as_str(), id)
        .await?
        .ok_or(Error::NotFound { what: "intent" })?;
    Ok(Moved {
        intent: Intent::from_row(updated)?,
        entered_previous_at: current.updated_at,
    })
}

/// The status and reason an approval still pending gets when its intent moves to `to` (the
/// state machine lets `pending_approval` become only these four).
fn approval_closure(to: IntentStatus) -> (&'static str, &'static str) {
    match to {
        IntentStatus::Approved => ("approved", "approved"),
        IntentStatus::Expired => ("expired", "expired"),
        IntentStatus::Cancelled => ("cancelled", "intent cancelled"),
        _ => ("rejected", "rejected"),
    }
}

/// The common part of an intent's webhook `data`.
fn intent_notice(
    id: &str,
    intent_type: &str,
    domain: &str,
    agent_id: &str,
    status: IntentStatus,
) -> Value {
    json!({
        "intentId": id,
        "type": intent_type,
        "domain": domain,
        "agentId": agent_id,
        "status": status.as_str(),
    })
}

/// An intent after a status change.
pub(crate) struct Moved {
    pub intent: Intent,
    /// When the intent had entered the status it just left.
    pub entered_previous_at: Millis,
}

/// One status change: where to, what to record.
pub(crate) struct Transition<'a> {
    pub to: IntentStatus,
    pub action: &'static str,
    pub event_type: &'static str,
    pub change: StatusChange<'a>,
    pub data: Value,
}
