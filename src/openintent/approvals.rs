//! RFC-0013 approval requests and escalations, queued in the one approval queue of `/v1`.
//!
//! An agent's request becomes a pending approval (`openintent.approval` or
//! `openintent.escalation`) that `/v1/approvals`, the console and this face all list and
//! decide through [`ApprovalService`]: the same row lock, quorum, separation of duties and
//! expiry. When the queue settles one, it tells this side ([`announce_settled`]) inside the
//! deciding transaction, which logs `governance.approval_granted` / `…_denied` (or
//! `escalation_resolved`) on the intent.

use std::{collections::HashMap, sync::Arc};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{records::require_text, Approvals, Caller, Change, NewEvent};
use crate::{
    auth::{Principal, Scope},
    error::{Error, Result},
    governance::approvals::{
        protocol_approval, subjects, Approval, ApprovalService, Choice, ProtocolRequest,
    },
    ids::ApprovalId,
    store::{approvals as approval_rows, approvals::ApprovalRow},
    time::{now_ms, protocol_instant},
    work::{UnitOfWork, Writer},
};

pub const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const MAX_TEXT: usize = 2_000;
const MAX_LIST: i64 = 1_000;
/// Resolutions of an escalation that turn its request down.
const REFUSALS: [&str; 6] = ["reject", "rejected", "deny", "denied", "refuse", "refused"];

#[derive(Debug, Deserialize)]
pub struct ApprovalRequestIn {
    pub action: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub requested_by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct EscalationIn {
    pub reason: String,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub escalated_by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResolutionIn {
    pub resolution: String,
    #[serde(default)]
    pub notes: Option<String>,
}

/// An approval request as the SDK's `ApprovalRequest` reads it.
#[derive(Debug, Serialize)]
pub struct ApprovalRequestView {
    pub id: String,
    pub intent_id: String,
    pub requested_by: String,
    pub action: String,
    pub reason: String,
    pub context: Value,
    /// `pending`, `approved`, `denied`, `expired` (or `cancelled`: its intent was deleted).
    pub status: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_notes: Option<String>,
}

/// An escalation as the SDK's `Escalation` reads it.
#[derive(Debug, Serialize)]
pub struct EscalationView {
    pub id: String,
    pub intent_id: String,
    pub escalated_by: String,
    pub reason: String,
    pub priority: String,
    pub urgency: String,
    pub context: Value,
    /// `pending`, `resolved`, `expired` (or `cancelled`).
    pub status: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_notes: Option<String>,
}

/// Who settled it and how, from the queue's view of an approval.
struct Settlement {
    at: Option<String>,
    by: Option<String>,
    notes: Option<String>,
}

impl Settlement {
    fn of(approval: &Approval) -> Settlement {
        let deciding = approval
            .decisions
            .last()
            .filter(|_| approval.resolved_at.is_some());
        Settlement {
            at: approval.resolved_at.map(protocol_instant),
            by: deciding.map(|d| d.approver.clone()),
            notes: approval.reason.clone(),
        }
    }
}

impl From<Approval> for ApprovalRequestView {
    fn from(approval: Approval) -> Self {
        let settlement = Settlement::of(&approval);
        let request = approval.request.unwrap_or_default();
        ApprovalRequestView {
            status: match approval.status.as_str() {
                "rejected" => "denied",
                other => queue_status(other),
            },
            id: approval.id,
            intent_id: approval.intent_id,
            requested_by: request.requested_by,
            action: approval.action.unwrap_or_default(),
            reason: request.reason,
            context: request.context,
            created_at: protocol_instant(approval.created_at),
            decided_at: settlement.at,
            decided_by: settlement.by,
            decision_notes: settlement.notes,
        }
    }
}

impl From<Approval> for EscalationView {
    fn from(approval: Approval) -> Self {
        let settlement = Settlement::of(&approval);
        let resolution = approval.outcome.clone().or_else(|| {
            matches!(approval.status.as_str(), "approved" | "rejected")
                .then(|| approval.status.clone())
        });
        let request = approval.request.unwrap_or_default();
        EscalationView {
            status: escalation_status(&approval.status),
            id: approval.id,
            intent_id: approval.intent_id,
            escalated_by: request.requested_by,
            reason: request.reason,
            priority: request.priority.unwrap_or_else(|| "medium".into()),
            urgency: request.urgency.unwrap_or_else(|| "medium".into()),
            context: request.context,
            created_at: protocol_instant(approval.created_at),
            resolved_at: settlement.at,
            resolved_by: settlement.by,
            resolution,
            resolution_notes: settlement.notes,
        }
    }
}

fn queue_status(status: &str) -> &'static str {
    match status {
        "approved" => "approved",
        "rejected" => "rejected",
        "expired" => "expired",
        "cancelled" => "cancelled",
        _ => "pending",
    }
}

fn escalation_status(status: &str) -> &'static str {
    match status {
        "approved" | "rejected" => "resolved",
        other => queue_status(other),
    }
}

/// An approval the queue has just settled, for this side to announce.
pub struct Settled<'a> {
    pub row: &'a ApprovalRow,
    /// `approved`, `rejected` or `expired`.
    pub status: &'a str,
    pub decided_by: &'a str,
    pub outcome: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// Logs the settlement of an OpenIntent subject on its intent, inside the queue's deciding
/// unit of work (handed in and back).
pub(crate) async fn announce_settled(
    work: UnitOfWork,
    writer: &Writer,
    settled: Settled<'_>,
) -> Result<UnitOfWork> {
    let tenant = work.tenant().clone();
    let caller = Caller {
        agent_id: settled.decided_by.to_string(),
        admin: false,
        principal: Arc::new(Principal::for_key(
            tenant.clone(),
            settled.decided_by,
            Vec::new(),
        )),
        trace_id: None,
        tenant,
    };
    let row = settled.row;
    let requester = ProtocolRequest::of_row(row)
        .unwrap_or_default()
        .requested_by;
    let (event_type, payload) = match row.subject_kind.as_str() {
        subjects::PROTOCOL_ESCALATION => (
            "escalation_resolved",
            json!({ "escalation_id": row.id, "status": escalation_status(settled.status),
                    "resolution": settled.outcome.unwrap_or(settled.status),
                    "notes": settled.note, "resolved_by": settled.decided_by }),
        ),
        _ => {
            let decision = match settled.status {
                "approved" => "approved",
                "expired" => "expired",
                _ => "denied",
            };
            let event_type = match decision {
                "approved" => "governance.approval_granted",
                _ => "governance.approval_denied",
            };
            let payload = json!({ "approval_id": row.id, "action": row.action,
                                  "decision": decision, "requested_by": requester,
                                  "decided_by": settled.decided_by, "notes": settled.note });
            (event_type, payload)
        }
    };
    let mut change = Change {
        work,
        caller: &caller,
        writer: writer.clone(),
    };
    change
        .announce(NewEvent::new(&row.intent_id, event_type, payload))
        .await?;
    Ok(change.work)
}

/// Optional free text: at most [`MAX_TEXT`] characters (required text is `require_text`).
fn check_text(value: &str, field: &str) -> Result<()> {
    match value.chars().count() <= MAX_TEXT {
        true => Ok(()),
        false => Err(Error::invalid(
            &[field],
            format!("must be at most {MAX_TEXT} characters"),
        )),
    }
}

fn check_level(value: Option<String>, field: &str) -> Result<String> {
    let value = value.unwrap_or_else(|| "medium".into());
    match PRIORITIES.contains(&value.as_str()) {
        true => Ok(value),
        false => Err(Error::invalid(
            &[field],
            format!("must be one of {}", PRIORITIES.join(", ")),
        )),
    }
}

/// Approvers decide: a key with the `approver` scope (or `admin`).
fn approver(caller: &Caller) -> Result<&Principal> {
    caller.principal.require(Scope::Approver)?;
    Ok(&caller.principal)
}

impl Approvals {
    fn queue(&self) -> &ApprovalService {
        &self.approvals
    }

    /// Queues a request of `kind` on the intent (the caller must be able to write to it).
    async fn queue_request(
        &self,
        caller: &Caller,
        intent_id: &str,
        kind: &str,
        action: Option<&str>,
        request: ProtocolRequest,
    ) -> Result<Approval> {
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        let row = protocol_approval(kind, intent_id, action, &request, now_ms());
        approval_rows::insert(change.tx(), &caller.tenant, &row).await?;
        let (event_type, payload) = match kind {
            subjects::PROTOCOL_ESCALATION => (
                "escalation_initiated",
                json!({ "escalation_id": row.id, "reason": request.reason,
                        "priority": request.priority }),
            ),
            _ => (
                "governance.approval_requested",
                json!({ "approval_id": row.id, "action": action, "reason": request.reason }),
            ),
        };
        change
            .announce(NewEvent::new(intent_id, event_type, payload))
            .await?;
        change.commit().await?;
        Ok(Approval::from_rows(row, Vec::new()))
    }

    fn request(
        &self,
        caller: &Caller,
        by: String,
        reason: String,
        context: Option<Map<String, Value>>,
    ) -> ProtocolRequest {
        ProtocolRequest {
            requested_by: by,
            key_id: caller.principal.key_id.to_string(),
            person: caller.principal.person.as_deref().map(str::to_string),
            reason,
            context: Value::Object(context.unwrap_or_default()),
            priority: None,
            urgency: None,
        }
    }

    pub async fn request_approval(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: ApprovalRequestIn,
    ) -> Result<ApprovalRequestView> {
        require_text(&input.action, "action", 200)?;
        check_text(&input.reason, "reason")?;
        let by = self.attributed(caller, input.requested_by).await?;
        let request = self.request(caller, by, input.reason, input.context);
        let action = input.action.trim();
        self.queue_request(
            caller,
            intent_id,
            subjects::PROTOCOL_APPROVAL,
            Some(action),
            request,
        )
        .await
        .map(ApprovalRequestView::from)
    }

    /// An approval of the queue that is a request of `kind` on an intent the caller may
    /// read; 404 otherwise.
    async fn subject(&self, caller: &Caller, id: &str, kind: &str) -> Result<Approval> {
        let what = match kind {
            subjects::PROTOCOL_ESCALATION => "escalation",
            _ => "approval request",
        };
        let parsed = ApprovalId::parse(id).map_err(|_| Error::NotFound { what })?;
        let approval = match self.queue().get(&caller.tenant, &parsed).await {
            Err(Error::NotFound { .. }) => return Err(Error::NotFound { what }),
            other => other?,
        };
        if approval.subject_kind != kind {
            return Err(Error::NotFound { what });
        }
        self.intent(caller, &approval.intent_id).await?;
        Ok(approval)
    }

    async fn approval_of(&self, caller: &Caller, intent_id: &str, id: &str) -> Result<Approval> {
        let approval = self
            .subject(caller, id, subjects::PROTOCOL_APPROVAL)
            .await?;
        match approval.intent_id == intent_id {
            true => Ok(approval),
            false => Err(Error::NotFound {
                what: "approval request",
            }),
        }
    }

    pub async fn approval_status(
        &self,
        caller: &Caller,
        intent_id: &str,
        id: &str,
    ) -> Result<ApprovalRequestView> {
        self.approval_of(caller, intent_id, id)
            .await
            .map(ApprovalRequestView::from)
    }

    /// Decides a request as one approver of the queue (409 once it is settled).
    pub async fn decide_approval(
        &self,
        caller: &Caller,
        intent_id: &str,
        id: &str,
        choice: Choice,
    ) -> Result<ApprovalRequestView> {
        let principal = approver(caller)?;
        let approval = self.approval_of(caller, intent_id, id).await?;
        let id = ApprovalId::parse(&approval.id)?;
        self.queue()
            .decide(principal, &id, choice, None)
            .await
            .map(ApprovalRequestView::from)
    }

    pub async fn escalate(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: EscalationIn,
    ) -> Result<EscalationView> {
        require_text(&input.reason, "reason", MAX_TEXT)?;
        let priority = check_level(input.priority, "priority")?;
        let urgency = check_level(input.urgency, "urgency")?;
        let by = self.attributed(caller, input.escalated_by).await?;
        let request = ProtocolRequest {
            priority: Some(priority),
            urgency: Some(urgency),
            ..self.request(caller, by, input.reason, input.context)
        };
        self.queue_request(
            caller,
            intent_id,
            subjects::PROTOCOL_ESCALATION,
            None,
            request,
        )
        .await
        .map(EscalationView::from)
    }

    /// The tenant's escalations on intents the caller may read, oldest first.
    pub async fn escalations(
        &self,
        caller: &Caller,
        intent_id: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<EscalationView>> {
        if let Some(status) = status {
            if !["pending", "resolved", "expired", "cancelled"].contains(&status) {
                return Err(Error::invalid(
                    &["status"],
                    "must be one of pending, resolved, expired, cancelled",
                ));
            }
        }
        if let Some(intent_id) = intent_id {
            self.intent(caller, intent_id).await?;
        }
        let rows = approval_rows::of_kind(
            self.store(),
            &caller.tenant,
            subjects::PROTOCOL_ESCALATION,
            intent_id,
            None,
            MAX_LIST,
        )
        .await?;
        let mut readable: HashMap<String, bool> = HashMap::new();
        let mut kept = Vec::new();
        for row in rows {
            if status.is_some_and(|s| s != escalation_status(&row.status)) {
                continue;
            }
            let may_read = match readable.get(&row.intent_id) {
                Some(known) => *known,
                None => {
                    let known = match self.intent(caller, &row.intent_id).await {
                        Ok(_) => true,
                        Err(Error::Forbidden(_) | Error::NotFound { .. }) => false,
                        Err(err) => return Err(err),
                    };
                    readable.insert(row.intent_id.clone(), known);
                    known
                }
            };
            if may_read {
                kept.push(row);
            }
        }
        let ids: Vec<&str> = kept.iter().map(|row| row.id.as_str()).collect();
        let mut decisions: HashMap<String, Vec<_>> = HashMap::new();
        for (approval_id, decision) in
            approval_rows::decisions_of(self.store(), &caller.tenant, &ids).await?
        {
            decisions.entry(approval_id).or_default().push(decision);
        }
        let found = kept
            .into_iter()
            .map(|row| {
                let decided = decisions.remove(&row.id).unwrap_or_default();
                EscalationView::from(Approval::from_rows(row, decided))
            })
            .collect();
        Ok(found)
    }

    /// Resolves an escalation as one approver of the queue; a refusing resolution
    /// (`rejected`, `denied`, …) rejects it, any other approves it.
    pub async fn resolve_escalation(
        &self,
        caller: &Caller,
        id: &str,
        input: ResolutionIn,
    ) -> Result<EscalationView> {
        let principal = approver(caller)?;
        require_text(&input.resolution, "resolution", 200)?;
        if let Some(notes) = &input.notes {
            check_text(notes, "notes")?;
        }
        let escalation = self
            .subject(caller, id, subjects::PROTOCOL_ESCALATION)
            .await?;
        let resolution = input.resolution.trim().to_string();
        let choice = match REFUSALS.contains(&resolution.to_ascii_lowercase().as_str()) {
            true => Choice::Reject,
            false => Choice::Approve,
        };
        let id = ApprovalId::parse(&escalation.id)?;
        self.queue()
            .decide_naming(principal, &id, choice, input.notes, Some(resolution))
            .await
            .map(EscalationView::from)
    }
}
