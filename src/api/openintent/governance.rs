//! RFC-0013 routes: governance policies on intents, approval requests and escalations (in
//! the one approval queue of `/v1/approvals`).

use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    Object, OpenApi,
};
use serde_json::json;

use super::{
    created_document, document, if_match, ok, parse, reader, resources::Intent, writer, Answer,
    Body, DocAnswer, DocCreated, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, vocabularies, Word},
        security::TenantKey,
        types::{Documented, JsonObject},
    },
    governance::approvals::Choice,
    openintent::{
        approvals::{self, ApprovalRequestIn, EscalationIn, ResolutionIn},
        governance, Approvals, Intents,
    },
};

vocabularies! {
    /// `auto`: any writer may complete the intent; `require_approval`: an approved approval
    /// request for action `complete` must exist; `quorum`: approved `complete` requests from
    /// at least `quorum_threshold` of the assigned agents.
    CompletionMode => governance::COMPLETION_MODES;
    /// `assigned_only`: only agents assigned to the intent write to it (its creator and
    /// admin keys always may).
    WriteScope => governance::WRITE_SCOPES;
    /// How urgent an escalation is.
    EscalationLevel => approvals::PRIORITIES;
}

/// A governance policy; every field is optional (the defaults govern nothing).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct GovernancePolicyDoc {
    completion_mode: Option<Word<CompletionMode>>,
    /// (0, 1], default 0.6.
    quorum_threshold: Option<f64>,
    write_scope: Option<Word<WriteScope>>,
    /// When set, only these agents write to the intent and may be assigned to it.
    allowed_agents: Option<Vec<String>>,
    /// Costs recorded beyond this total are refused.
    max_cost: Option<f64>,
    /// Every status change must carry a `reason`.
    require_status_reason: Option<bool>,
}

/// The policy as set and as enforced.
#[derive(Debug, Object)]
#[oai(example)]
pub struct GovernanceDoc {
    intent_id: String,
    /// As set (`{}`: none).
    governance_policy: JsonObject,
    effective_policy: GovernancePolicyDoc,
}

/// An approval request (RFC-0013), decided in the approval queue.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ApprovalRequestDoc {
    /// The approval's id in `/v1/approvals` too.
    id: String,
    intent_id: String,
    requested_by: String,
    /// `complete` gates the intent's completion under `require_approval` and `quorum`.
    action: String,
    reason: String,
    context: JsonObject,
    /// `pending`, `approved`, `denied`, `expired`, or `cancelled` (its intent was deleted).
    status: String,
    created_at: String,
    decided_at: Option<String>,
    decided_by: Option<String>,
    decision_notes: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ApprovalRequestBody {
    action: String,
    reason: Option<String>,
    context: Option<JsonObject>,
    /// Default: the calling agent.
    requested_by: Option<String>,
}

/// An escalation to a human (RFC-0013), resolved in the approval queue.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct EscalationDoc {
    /// The approval's id in `/v1/approvals` too.
    id: String,
    intent_id: String,
    escalated_by: String,
    reason: String,
    priority: Word<EscalationLevel>,
    urgency: Word<EscalationLevel>,
    context: JsonObject,
    /// `pending`, `resolved`, `expired`, or `cancelled` (its intent was deleted).
    status: String,
    created_at: String,
    resolved_at: Option<String>,
    resolved_by: Option<String>,
    /// As the resolver named it; `approved` / `rejected` when decided in `/v1/approvals`.
    resolution: Option<String>,
    resolution_notes: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct EscalationBody {
    reason: String,
    /// Default `medium`.
    priority: Option<Word<EscalationLevel>>,
    urgency: Option<Word<EscalationLevel>>,
    context: Option<JsonObject>,
    /// Default: the calling agent.
    escalated_by: Option<String>,
}

/// A resolution: `rejected`, `denied` (or `reject`, `deny`, `refuse[d]`) turns the
/// escalation down; any other word approves it.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ResolutionBody {
    resolution: String,
    notes: Option<String>,
    /// Ignored: the resolver is the key's person, else the key.
    resolved_by: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct EscalationListDoc {
    escalations: Vec<EscalationDoc>,
}

examples! {
    GovernancePolicyDoc => {
        "completion_mode": "require_approval",
        "write_scope": "assigned_only",
        "allowed_agents": ["research-agent", "writer-agent"],
        "max_cost": 50.0
    }
    GovernanceDoc => {
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "governance_policy": {"completion_mode": "require_approval"},
        "effective_policy": {
            "completion_mode": "require_approval", "quorum_threshold": 0.6,
            "write_scope": "any", "allowed_agents": [], "require_status_reason": false
        }
    }
    ApprovalRequestDoc => {
        "id": "apr_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "requested_by": "research-agent",
        "action": "complete",
        "reason": "The report is ready for sign-off",
        "context": {"report": "q1.pdf"},
        "status": "approved",
        "created_at": "2026-02-07T10:00:00.000+00:00",
        "decided_at": "2026-02-07T10:05:00.000+00:00",
        "decided_by": "usr_01HN4WZ3J5K6M7N8P9Q0R1S2T3",
        "decision_notes": "Looks right"
    }
    ApprovalRequestBody => {"action": "complete", "reason": "The report is ready for sign-off"}
    EscalationDoc => {
        "id": "apr_01HN4X8M2R7T9V3W5X6Y7Z8A9C",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "escalated_by": "research-agent",
        "reason": "Conflicting sources",
        "priority": "high",
        "urgency": "medium",
        "context": {},
        "status": "pending",
        "created_at": "2026-02-07T10:00:00.000+00:00"
    }
    EscalationBody => {"reason": "Conflicting sources", "priority": "high"}
    ResolutionBody => {"resolution": "use_source_a", "notes": "Source A is audited"}
    EscalationListDoc => {"escalations": []}
}

pub struct GovernanceOi(pub Intents, pub Approvals);

#[OpenApi(tag = "OiTag::Governance")]
impl GovernanceOi {
    /// Set or replace the intent's governance policy at the `If-Match` version (400 for an
    /// unknown mode or scope); answers the intent.
    #[oai(
        path = "/intents/:id/governance",
        method = "put",
        operation_id = "oi_set_governance"
    )]
    async fn set(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Required: the intent's current `version`.
        #[oai(name = "If-Match")]
        _version: Header<Option<String>>,
        body: Body<GovernancePolicyDoc>,
    ) -> OiResult<Answer<Intent>> {
        let caller = writer(&key, req)?;
        let version = if_match(req)?;
        ok(self
            .0
            .set_governance(&caller, &id, version, Some(body.0.value))
            .await)
    }

    /// The intent's policy, as set and as enforced.
    #[oai(
        path = "/intents/:id/governance",
        method = "get",
        operation_id = "oi_get_governance"
    )]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<GovernanceDoc>> {
        document(self.0.governance(&reader(&key, req)?, &id).await)
    }

    /// Remove the intent's policy at the `If-Match` version; answers the intent.
    #[oai(
        path = "/intents/:id/governance",
        method = "delete",
        operation_id = "oi_remove_governance"
    )]
    async fn remove(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Required: the intent's current `version`.
        #[oai(name = "If-Match")]
        _version: Header<Option<String>>,
    ) -> OiResult<Answer<Intent>> {
        let caller = writer(&key, req)?;
        let version = if_match(req)?;
        ok(self.0.set_governance(&caller, &id, version, None).await)
    }

    /// Ask for approval of an action; the request waits in `/v1/approvals` for a person.
    #[oai(
        path = "/intents/:id/approvals",
        method = "post",
        operation_id = "oi_request_approval"
    )]
    async fn request_approval(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<ApprovalRequestBody>,
    ) -> OiResult<DocCreated<ApprovalRequestDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<ApprovalRequestIn, _>(body)?;
        created_document(self.1.request_approval(&caller, &id, input).await)
    }

    #[oai(
        path = "/intents/:id/approvals/:approval_id",
        method = "get",
        operation_id = "oi_get_approval"
    )]
    async fn approval(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        approval_id: Path<String>,
    ) -> OiResult<DocAnswer<ApprovalRequestDoc>> {
        let caller = reader(&key, req)?;
        document(self.1.approval_status(&caller, &id, &approval_id).await)
    }

    /// Approve as one approver of the queue (an `approver` or `admin` key; separation of
    /// duties applies: the requesting key cannot approve). 409 once it is decided.
    #[oai(
        path = "/intents/:id/approvals/:approval_id/approve",
        method = "post",
        operation_id = "oi_approve_approval"
    )]
    async fn approve(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        approval_id: Path<String>,
    ) -> OiResult<DocAnswer<ApprovalRequestDoc>> {
        let caller = reader(&key, req)?;
        let decided = self
            .1
            .decide_approval(&caller, &id, &approval_id, Choice::Approve)
            .await;
        document(decided)
    }

    /// Deny (an `approver` or `admin` key). 409 once it is decided.
    #[oai(
        path = "/intents/:id/approvals/:approval_id/deny",
        method = "post",
        operation_id = "oi_deny_approval"
    )]
    async fn deny(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        approval_id: Path<String>,
    ) -> OiResult<DocAnswer<ApprovalRequestDoc>> {
        let caller = reader(&key, req)?;
        let decided = self
            .1
            .decide_approval(&caller, &id, &approval_id, Choice::Reject)
            .await;
        document(decided)
    }

    /// Escalate to a human; the escalation waits in `/v1/approvals`.
    #[oai(
        path = "/intents/:id/escalations",
        method = "post",
        operation_id = "oi_escalate"
    )]
    async fn escalate(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<EscalationBody>,
    ) -> OiResult<DocCreated<EscalationDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<EscalationIn, _>(body)?;
        created_document(self.1.escalate(&caller, &id, input).await)
    }

    /// Escalations on intents the caller may read, oldest first.
    #[oai(
        path = "/escalations",
        method = "get",
        operation_id = "oi_list_escalations"
    )]
    async fn escalations(
        &self,
        key: TenantKey,
        req: &Request,
        intent_id: Query<Option<String>>,
        /// `pending`, `resolved`, `expired` or `cancelled`.
        status: Query<Option<String>>,
    ) -> OiResult<DocAnswer<EscalationListDoc>> {
        let caller = reader(&key, req)?;
        let found = self
            .1
            .escalations(&caller, intent_id.0.as_deref(), status.0.as_deref())
            .await;
        document(found.map(|escalations| json!({ "escalations": escalations })))
    }

    /// Resolve as one approver of the queue (an `approver` or `admin` key). 409 once it is
    /// resolved.
    #[oai(
        path = "/escalations/:id/resolve",
        method = "post",
        operation_id = "oi_resolve_escalation"
    )]
    async fn resolve(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<ResolutionBody>,
    ) -> OiResult<Json<Documented<EscalationDoc>>> {
        let caller = reader(&key, req)?;
        let input = parse::<ResolutionIn, _>(body)?;
        document(self.1.resolve_escalation(&caller, &id, input).await)
    }
}
