//! Governed intent submission and the intent lifecycle.
//!
//! Submission runs the ordered steps of the contract (authentication and rate limiting
//! happen before, in the HTTP layer): validate the body → validate `params` against the
//! type's schema → the agent may submit this type → idempotency → policy → persist the
//! intent and its audit record in one transaction → respond.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::{
    agents::AgentService,
    approvals::event_types as approval_events,
    catalog::{Catalog, Risk},
    lifecycle::{
        apply_transition, intent_notice, Intent, IntentStatus, Moved, Receipt, Transition,
    },
    policies::PolicyService,
    policy::{Decision, Outcome},
    standing::{credit_completion, record_trust_event, TierMove},
    submission::Submission,
    trust::{CreditRule, TrustEvent},
};
use crate::{
    audit::AuditEvent,
    auth::{identity, Principal, TenantId},
    canonical,
    error::{Error, FieldError, Result},
    ids::{ApprovalId, IntentId},
    metrics::{IntentFacts, Metrics},
    pagination::{Page, PageRequest},
    store::{
        self, approvals::ApprovalRow, intents, intents::IntentFilter, intents::IntentRow,
        intents::StatusChange,
    },
    time::{now_ms, Millis, SharedClock, TimeRange},
    work::Writer,
};

pub mod event_types {
    pub const INTENT_SUBMITTED: &str = "intent.submitted";
    /// Webhook only: the policy blocked at submission.
    pub const INTENT_BLOCKED: &str = "intent.blocked";
    pub const INTENT_CANCELLED: &str = "intent.cancelled";
    pub const INTENT_COMPLETED: &str = "intent.completed";
    pub const INTENT_FAILED: &str = "intent.failed";
}

const MAX_ERROR_LEN: usize = 10_000;
/// Largest `valueCents` an outcome may report (a trillion currency units).
const MAX_VALUE_CENTS: i64 = 100_000_000_000_000;

/// A submission checked and decided, not yet stored.
struct Prepared {
    submission: Submission,
    decision: Decision,
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

/// What governs submissions beyond the policy.
#[derive(Debug, Clone)]
pub struct IntentRules {
    /// Which reported completions earn trust.
    pub credit: CreditRule,
    /// How long an idempotency key answers with the intent it created; after it, the key
    /// creates a new intent.
    pub idempotency_window: Duration,
    /// The time submissions are stamped with and idempotency windows go by.
    pub clock: SharedClock,
}

/// What an idempotency key already in use stands for.
enum EarlierUse {
    /// The intent it created, for the same request: replay it.
    Replay(Box<Intent>),
    /// Its window has passed, and it is released: submit again.
    Released,
    /// No intent holds it (any more): the unique violation was about something else.
    None,
}

pub struct IntentService {
    writer: Writer,
    catalog: Arc<Catalog>,
    agents: Arc<AgentService>,
    policies: Arc<PolicyService>,
    metrics: Arc<Metrics>,
    rules: IntentRules,
}

impl IntentService {
    pub fn new(
        writer: Writer,
        catalog: Arc<Catalog>,
        agents: Arc<AgentService>,
        policies: Arc<PolicyService>,
        metrics: Arc<Metrics>,
        rules: IntentRules,
    ) -> Self {
        Self {
            writer,
            catalog,
            agents,
            policies,
            metrics,
            rules,
        }
    }

    /// What submitting `body` would decide now, storing nothing: the same steps as a
    /// submission up to the policy's decision ([`IntentService::prepare`]).
    pub async fn simulate(&self, tenant: &TenantId, body: &Value) -> Result<Decision> {
        let prepared = self.prepare(tenant, body, None, now_ms()).await?;
        Ok(prepared.decision)
    }

    /// The steps a submission and its simulation share, so they cannot drift: validate the
    /// body and params; a key bound to agents submits only as them (`acting`: the submitting
    /// key; a simulation has none to check); the agent is registered, active, and may submit
    /// this type; the tenant's policy and the agent's trust tier decide.
    async fn prepare(
        &self,
        tenant: &TenantId,
        body: &Value,
        acting: Option<&Principal>,
        now: Millis,
    ) -> Result<Prepared> {
        let submission = Submission::parse(body, &self.catalog)?;
        if let Some(principal) = acting {
            identity::check_acting_as(
                self.writer.store(),
                principal,
                &submission.agent_id,
                "submit",
            )
            .await?;
        }
        let agent = self
            .agents
            .get_for_intent(tenant, &submission.agent_id)
            .await?;
        agent.may_submit(&submission.intent_type)?;
        let policy = self.policies.current(tenant).await?;
        let mut decision = self
            .policies
            .decide(
                policy.policy.clone(),
                submission.intent_type.clone(),
                &agent,
                &submission.params,
                now,
            )
            .await?;
        decision.action_digest = Some(Receipt::action_digest(
            &submission.intent_type.name,
            &submission.intent_type.domain,
            &submission.agent_id,
            &submission.params,
        ));
        Ok(Prepared {
            submission,
            decision,
        })
    }

    /// Submits an intent on behalf of `principal` (the key, and its owner when it has one,
    /// are recorded: they may not approve it).
    pub async fn submit(&self, principal: &Principal, body: &Value) -> Result<Submitted> {
        let started = Instant::now();
        let (tenant, actor) = (&principal.tenant_id, &*principal.key_id);
        let now = self.rules.clock.now_ms();
        let Prepared {
            submission,
            decision,
        } = self.prepare(tenant, body, Some(principal), now).await?;
        // Idempotency: the unique index on (tenant, key) decides when the intent is inserted
        // below; a key seen before turns into a replay of the original (or a conflict).
        let request_hash = submission.request_hash();
        let receipt = Receipt {
            action_digest: decision.action_digest.clone().unwrap_or_default(),
            policy_version: Some(decision.policy_version),
        };
        let decision_json = decision.to_json();
        let evaluation = started.elapsed();
        let status = match decision.outcome {
            Outcome::AutoApprove => IntentStatus::Approved,
            Outcome::RequireApproval { .. } => IntentStatus::PendingApproval,
            Outcome::Block { .. } => IntentStatus::Blocked,
        };
        // Persist the intent, its approval and its audit record together.
        let row = IntentRow {
            id: IntentId::generate().to_string(),
            intent_type: submission.intent_type.name.clone(),
            domain: submission.intent_type.domain.clone(),
            agent_id: submission.agent_id.clone(),
            status: status.as_str().to_string(),
            params: canonical::to_canonical(&submission.params),
            description: submission.description.clone(),
            justification: submission.justification.clone(),
            idempotency_key: submission.idempotency_key.clone(),
            request_hash: request_hash.clone(),
            decision: Some(decision_json.to_string()),
            result: None,
            value_cents: None,
            error: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
            submitted_by: Some(actor.to_string()),
            submitted_by_user: principal.person.as_deref().map(str::to_string),
        };
        let mut released = false;
        let mut work = loop {
            let mut work = self.writer.begin(tenant).await?;
            let Err(err) = intents::insert(&mut work, tenant, &row).await else {
                break work;
            };
            drop(work);
            let key = match (
                &submission.idempotency_key,
                store::is_unique_violation(&err),
            ) {
                (Some(key), true) => key,
                _ => return Err(err.into()),
            };
            // The key was used before (or by a concurrent submission that won the race).
            match self.earlier_use(tenant, key, &request_hash, now).await? {
                EarlierUse::Replay(existing) => return Ok(Submitted::Replayed(*existing)),
                // Once: the intent that took the key since is inside its window.
                EarlierUse::Released if !released => released = true,
                EarlierUse::Released | EarlierUse::None => return Err(err.into()),
            }
        };
        if let Outcome::RequireApproval {
            approvers,
            roles,
            expires_in_ms,
        } = &decision.outcome
        {
            let approval = ApprovalRow {
                id: ApprovalId::generate().to_string(),
                subject_kind: crate::governance::approvals::subjects::INTENT.into(),
                intent_id: row.id.clone(),
                status: "pending".into(),
                required_approvals: i64::from(*approvers),
                roles: json!(roles).to_string(),
                reason: None,
                expires_at: expires_in_ms.map(|ms| now + ms),
                created_at: now,
                updated_at: now,
                resolved_at: None,
                action: None,
                request: None,
                outcome: None,
            };
            store::approvals::insert(&mut work, tenant, &approval).await?;
        }
        let mut tier_move = None;
        if let Outcome::Block { .. } = &decision.outcome {
            tier_move =
                record_trust_event(&mut work, &row.agent_id, TrustEvent::Blocked, &row.id).await?;
        }
        let event = AuditEvent {
            event_type: event_types::INTENT_SUBMITTED,
            actor,
            subject: &row.id,
            data: json!({
                "type": row.intent_type,
                "domain": row.domain,
                "agentId": row.agent_id,
                "status": row.status,
                "params": submission.params,
                "idempotencyKey": row.idempotency_key,
                "decision": decision_json,
            }),
        };
        work.audit(event).await?;
        let mut notice = intent_notice(
            &row.id,
            &row.intent_type,
            &row.domain,
            &row.agent_id,
            status,
            &receipt,
        );
        notice["params"] = submission.params.clone();
        notice["decision"] = decision_json;
        work.emit(event_types::INTENT_SUBMITTED, &row.id, &notice)
            .await?;
        match &decision.outcome {
            Outcome::AutoApprove => {
                notice["approvedBy"] = json!("policy");
                work.emit(approval_events::INTENT_APPROVED, &row.id, &notice)
                    .await?;
            }
            Outcome::Block { reason } => {
                notice["reason"] = json!(reason);
                work.emit(event_types::INTENT_BLOCKED, &row.id, &notice)
                    .await?;
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

    /// What `key` stands for: the intent created earlier with it inside the idempotency window
    /// (a different request under it is `IDEMPOTENCY_CONFLICT`), or, past the window, nothing
    /// any more: the earlier intent lets go of it (it keeps its audit record, which names the
    /// key) and the caller submits again.
    async fn earlier_use(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &str,
        now: Millis,
    ) -> Result<EarlierUse> {
        let mut conn = self.writer.store().reader().acquire().await?;
        let Some(existing) = intents::find_by_idempotency_key(&mut conn, tenant, key).await? else {
            return Ok(EarlierUse::None);
        };
        drop(conn);
        let window = i64::try_from(self.rules.idempotency_window.as_millis()).unwrap_or(i64::MAX);
        let expired_before = now.saturating_sub(window);
        if existing.created_at < expired_before {
            let mut tx = self.writer.store().begin().await?;
            intents::release_idempotency_key(&mut tx, tenant, key, expired_before).await?;
            tx.commit().await?;
            return Ok(EarlierUse::Released);
        }
        if existing.request_hash == request_hash {
            Ok(EarlierUse::Replay(Box::new(Intent::from_row(existing)?)))
        } else {
            Err(Error::IdempotencyConflict(key.to_string()))
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: &IntentId) -> Result<Intent> {
        let mut conn = self.writer.store().reader().acquire().await?;
        let row = intents::get(&mut conn, tenant, id)
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
            self.writer.store(),
            tenant,
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
    pub async fn cancel(&self, principal: &Principal, id: &IntentId) -> Result<Intent> {
        let transition = Transition {
            to: IntentStatus::Cancelled,
            action: "cancel",
            event_type: event_types::INTENT_CANCELLED,
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
        id: &IntentId,
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
        let result = completion.result.as_ref().map(canonical::to_canonical);
        let transition = Transition {
            to: IntentStatus::Completed,
            action: "complete",
            event_type: event_types::INTENT_COMPLETED,
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
    pub async fn fail(&self, principal: &Principal, id: &IntentId, error: &str) -> Result<Intent> {
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
            event_type: event_types::INTENT_FAILED,
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
        id: &IntentId,
        transition: Transition<'_>,
        trust: Option<fn(Risk) -> TrustEvent>,
    ) -> Result<Moved> {
        let (tenant, actor) = (&principal.tenant_id, &*principal.key_id);
        if principal.is_bound() {
            // Only bound keys pay this read: an intent's agent never changes.
            let intent = self.get(tenant, id).await?;
            identity::check_acting_as(
                self.writer.store(),
                principal,
                &intent.agent_id,
                transition.action,
            )
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
                    credit_completion(
                        &mut work,
                        &moved.intent,
                        event,
                        since_approval,
                        self.rules.credit,
                    )
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
