//! `/v1/approvals`: the approval queue (approver scope).

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    types::Example,
    Object, OpenApi,
};

use crate::{
    api::v1::intents::IntentOut,
    api::{
        error::ApiResult,
        schema::Word,
        security::Credential,
        types::{Data, JsonObject, ListPage, OptionalJson},
        v1::vocab::{ApprovalChoice, ApprovalStatus, Risk, TrustTier, ValueCategory},
        Tag,
    },
    auth::Scope,
    governance::{
        approvals::{Approval, ApprovalService, Choice, QueuedApproval},
        intents::IntentService,
    },
    ids::{ApprovalId, IntentId},
    pagination::PageRequest,
    time::rfc3339,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DecisionOut {
    /// Who decided: a console user's id, or the id of an API key no person owns.
    approver: String,
    /// The approver's name: the person's email, else the key's name.
    approver_name: Option<String>,
    /// The API key the decision was made with; absent for a console session.
    key_id: Option<String>,
    decision: Word<ApprovalChoice>,
    comment: Option<String>,
    created_at: String,
}

/// What an approval decides: a `/v1` intent (`kind` `intent`), or an OpenIntent approval
/// request or escalation (`openintent.approval`, `openintent.escalation`) on the protocol
/// intent `id`.
#[derive(Debug, Object)]
pub struct SubjectOut {
    kind: String,
    id: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ApprovalOut {
    id: String,
    /// What the approval decides; `intentId` names it.
    subject: SubjectOut,
    intent_id: String,
    /// `cancelled`: the intent was withdrawn while it waited.
    status: Word<ApprovalStatus>,
    /// Distinct approvers needed.
    required_approvals: i64,
    roles: Vec<String>,
    /// Why it was resolved so: the rejecter's reason, `expired`, or `intent cancelled`.
    reason: Option<String>,
    decisions: Vec<DecisionOut>,
    created_at: String,
    expires_at: Option<String>,
    resolved_at: Option<String>,
}

impl From<Approval> for ApprovalOut {
    fn from(approval: Approval) -> Self {
        ApprovalOut {
            id: approval.id,
            subject: SubjectOut {
                kind: approval.subject_kind,
                id: approval.intent_id.clone(),
            },
            intent_id: approval.intent_id,
            status: Word::new(approval.status),
            required_approvals: approval.required_approvals,
            roles: approval.roles,
            reason: approval.reason,
            decisions: approval
                .decisions
                .into_iter()
                .map(|d| DecisionOut {
                    approver: d.approver,
                    approver_name: d.approver_name,
                    key_id: d.key_id,
                    decision: Word::new(if d.approve { "approve" } else { "reject" }.into()),
                    comment: d.comment,
                    created_at: rfc3339(d.created_at),
                })
                .collect(),
            created_at: rfc3339(approval.created_at),
            expires_at: approval.expires_at.map(rfc3339),
            resolved_at: approval.resolved_at.map(rfc3339),
        }
    }
}

/// One approver of two has approved a critical intent.
impl Example for ApprovalOut {
    fn example() -> Self {
        ApprovalOut {
            id: "apr_01HN4X8M2R7T9V3W5X6Y7Z8A9B".into(),
            subject: SubjectOut {
                kind: "intent".into(),
                id: "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G".into(),
            },
            intent_id: "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G".into(),
            status: Word::new("pending".into()),
            required_approvals: 2,
            roles: Vec::new(),
            reason: None,
            decisions: vec![DecisionOut {
                approver: "usr_01HN4WZ3J5K6M7N8P9Q0R1S2T3".into(),
                approver_name: Some("alice@example.com".into()),
                key_id: None,
                decision: Word::new("approve".into()),
                comment: Some("Amount matches the signed order".into()),
                created_at: "2024-01-15T10:42:00.000Z".into(),
            }],
            created_at: "2024-01-15T10:30:00.000Z".into(),
            expires_at: Some("2024-01-18T10:30:00.000Z".into()),
            resolved_at: None,
        }
    }
}

/// An approval of the queue, with what to triage it by: the intent's type, domain, agent and
/// risk, its params on one line and why policy asked for approval.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct QueuedApprovalOut {
    #[oai(flatten)]
    approval: ApprovalOut,
    intent_type: String,
    domain: String,
    agent_id: String,
    /// Null if the intent type has left the catalog since.
    risk: Option<Word<Risk>>,
    /// What the intent type earns when it succeeds; null if it declares none.
    value_category: Option<Word<ValueCategory>>,
    /// The agent's trust tier in force now; null if the agent is gone.
    agent_trust_tier: Option<Word<TrustTier>>,
    /// The params' top-level fields on one line (cut at 160 characters).
    params_summary: String,
    /// Why policy sent the intent to the queue: the rule that matched.
    routing_reason: Option<String>,
}

impl From<QueuedApproval> for QueuedApprovalOut {
    fn from(queued: QueuedApproval) -> Self {
        QueuedApprovalOut {
            approval: queued.approval.into(),
            intent_type: queued.intent_type,
            domain: queued.domain,
            agent_id: queued.agent_id,
            risk: queued.risk.map(|risk| Word::new(risk.as_str().to_string())),
            value_category: queued
                .value_category
                .map(|category| Word::new(category.as_str().to_string())),
            agent_trust_tier: queued
                .agent_trust_tier
                .map(|tier| Word::new(tier.as_str().to_string())),
            params_summary: queued.params_summary,
            routing_reason: queued.routing_reason,
        }
    }
}

/// A critical DSAR waiting for its second approver.
impl Example for QueuedApprovalOut {
    fn example() -> Self {
        QueuedApprovalOut {
            approval: ApprovalOut::example(),
            intent_type: "compliance.process_dsar".into(),
            domain: "compliance".into(),
            agent_id: "compliance-agent".into(),
            risk: Some(Word::new("critical".into())),
            value_category: Some(Word::new("risk_mitigation".into())),
            agent_trust_tier: Some(Word::new("T1".into())),
            params_summary:
                r#"deadline: "2024-02-14", requestType: "access", subjectEmail: "jane@example.com""#
                    .into(),
            routing_reason: Some("rule 'critical-needs-two-approvers' matched".into()),
        }
    }
}

/// What an OpenIntent agent asked for (subjects `openintent.approval` and
/// `openintent.escalation`, on the protocol intent `intentId`).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ProtocolRequestOut {
    requested_by: String,
    /// Approval requests: the action to approve (`complete` gates the intent's completion).
    action: Option<String>,
    reason: String,
    context: JsonObject,
    /// Escalations: `low` … `critical`.
    priority: Option<String>,
    urgency: Option<String>,
    /// Escalations: the resolution as named by whoever resolved it.
    resolution: Option<String>,
}

/// An approval with what it decides: the `/v1` intent, or the OpenIntent request.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ApprovalDetailOut {
    #[oai(flatten)]
    approval: ApprovalOut,
    /// Subjects of kind `intent`.
    intent: Option<IntentOut>,
    /// OpenIntent subjects.
    request: Option<ProtocolRequestOut>,
}

impl Example for ApprovalDetailOut {
    fn example() -> Self {
        ApprovalDetailOut {
            approval: ApprovalOut::example(),
            intent: Some(IntentOut::example()),
            request: None,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
pub struct ApproveIn {
    comment: Option<String>,
}

impl Example for ApproveIn {
    fn example() -> Self {
        ApproveIn {
            comment: Some("Amount matches the signed order".into()),
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
pub struct RejectIn {
    reason: Option<String>,
}

impl Example for RejectIn {
    fn example() -> Self {
        RejectIn {
            reason: Some("Amount exceeds approved limit".into()),
        }
    }
}

pub struct ApprovalsApi {
    approvals: Arc<ApprovalService>,
    intents: Arc<IntentService>,
}

impl ApprovalsApi {
    pub fn new(approvals: Arc<ApprovalService>, intents: Arc<IntentService>) -> Self {
        Self { approvals, intents }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Approvals")]
impl ApprovalsApi {
    /// The approval queue, oldest first; `status` defaults to `pending`.
    #[oai(path = "/approvals", method = "get", operation_id = "list_approvals")]
    async fn list(
        &self,
        auth: Credential,
        status: Query<Option<Word<ApprovalStatus>>>,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<QueuedApprovalOut>>>> {
        let caller = auth.require(Scope::Approver)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let status = status.0.map_or_else(|| "pending".into(), |s| s.value);
        let approvals = self
            .approvals
            .list(&caller.tenant_id, &status, request)
            .await?;
        Ok(Json(Data::new(ListPage::from_page(
            approvals,
            QueuedApprovalOut::from,
        ))))
    }

    /// One approval with its decisions and the intent it decides.
    #[oai(path = "/approvals/:id", method = "get", operation_id = "get_approval")]
    async fn get(
        &self,
        auth: Credential,
        id: Path<ApprovalId>,
    ) -> ApiResult<Json<Data<ApprovalDetailOut>>> {
        let caller = auth.require(Scope::Approver)?;
        let approval = self.approvals.get(&caller.tenant_id, &id).await?;
        let request = approval.request.clone().map(|asked| ProtocolRequestOut {
            requested_by: asked.requested_by,
            action: approval.action.clone(),
            reason: asked.reason,
            context: JsonObject(asked.context),
            priority: asked.priority,
            urgency: asked.urgency,
            resolution: approval.outcome.clone(),
        });
        let intent = match request {
            Some(_) => None,
            None => Some(
                self.intents
                    .get(&caller.tenant_id, &IntentId::parse(&approval.intent_id)?)
                    .await?
                    .into(),
            ),
        };
        Ok(Json(Data::new(ApprovalDetailOut {
            approval: approval.into(),
            intent,
            request,
        })))
    }

    /// Approve. The intent is approved once the required number of distinct approvers has.
    #[oai(
        path = "/approvals/:id/approve",
        method = "post",
        operation_id = "approve_approval"
    )]
    async fn approve(
        &self,
        auth: Credential,
        id: Path<ApprovalId>,
        body: OptionalJson<ApproveIn>,
    ) -> ApiResult<Json<Data<ApprovalOut>>> {
        let comment = body.0.and_then(|b| b.comment);
        self.decide(auth, &id, Choice::Approve, comment).await
    }

    /// Reject: one rejection rejects the intent.
    #[oai(
        path = "/approvals/:id/reject",
        method = "post",
        operation_id = "reject_approval"
    )]
    async fn reject(
        &self,
        auth: Credential,
        id: Path<ApprovalId>,
        body: OptionalJson<RejectIn>,
    ) -> ApiResult<Json<Data<ApprovalOut>>> {
        let reason = body.0.and_then(|b| b.reason);
        self.decide(auth, &id, Choice::Reject, reason).await
    }
}

impl ApprovalsApi {
    /// The caller's decision: approvers are counted by person (a console user, or the owner
    /// of the key), or by key where no person stands behind it.
    async fn decide(
        &self,
        auth: Credential,
        id: &ApprovalId,
        choice: Choice,
        note: Option<String>,
    ) -> ApiResult<Json<Data<ApprovalOut>>> {
        let caller = auth.require(Scope::Approver)?;
        let approval = self.approvals.decide(caller, id, choice, note).await?;
        Ok(Json(Data::new(approval.into())))
    }
}
