//! `/v1/approvals`: the approval queue (approver scope).

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};

use crate::{
    api::v1::intents::IntentOut,
    api::{
        error::ApiResult,
        security::TenantKey,
        types::{Data, ListPage, OptionalJson},
        Tag,
    },
    auth::Scope,
    governance::{
        approvals::{Approval, ApprovalService, Choice, QueuedApproval},
        intents::IntentService,
    },
    pagination::PageRequest,
    time::rfc3339,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DecisionOut {
    /// The approver (an API key id or console user id).
    approver: String,
    /// The approver's name (its API key's name), when it has one.
    approver_name: Option<String>,
    /// `approve` or `reject`.
    decision: String,
    comment: Option<String>,
    created_at: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApprovalOut {
    id: String,
    intent_id: String,
    /// `pending`, `approved`, `rejected`, `expired`, or `cancelled` (the intent was withdrawn).
    status: String,
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
            intent_id: approval.intent_id,
            status: approval.status,
            required_approvals: approval.required_approvals,
            roles: approval.roles,
            reason: approval.reason,
            decisions: approval
                .decisions
                .into_iter()
                .map(|d| DecisionOut {
                    approver: d.approver,
                    approver_name: d.approver_name,
                    decision: if d.approve { "approve" } else { "reject" }.into(),
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

/// An approval of the queue, with what to triage it by: the intent's type, domain, agent and
/// risk, its params on one line and why policy asked for approval.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueuedApprovalOut {
    #[oai(flatten)]
    approval: ApprovalOut,
    intent_type: String,
    domain: String,
    agent_id: String,
    /// The intent type's risk: `low`, `medium`, `high` or `critical`.
    risk: Option<String>,
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
            risk: queued.risk.map(|risk| risk.as_str().to_string()),
            params_summary: queued.params_summary,
            routing_reason: queued.routing_reason,
        }
    }
}

/// An approval with the intent it decides.
#[derive(Debug, Object)]
pub struct ApprovalDetailOut {
    #[oai(flatten)]
    approval: ApprovalOut,
    intent: IntentOut,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ApproveIn {
    comment: Option<String>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RejectIn {
    reason: Option<String>,
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
        auth: TenantKey,
        status: Query<Option<String>>,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<QueuedApprovalOut>>>> {
        let caller = auth.require(Scope::Approver)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let status = status.0.unwrap_or_else(|| "pending".into());
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
        auth: TenantKey,
        id: Path<String>,
    ) -> ApiResult<Json<Data<ApprovalDetailOut>>> {
        let caller = auth.require(Scope::Approver)?;
        let approval = self.approvals.get(&caller.tenant_id, &id).await?;
        let intent = self
            .intents
            .get(&caller.tenant_id, &approval.intent_id)
            .await?;
        Ok(Json(Data::new(ApprovalDetailOut {
            approval: approval.into(),
            intent: intent.into(),
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
        auth: TenantKey,
        id: Path<String>,
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
        auth: TenantKey,
        id: Path<String>,
        body: OptionalJson<RejectIn>,
    ) -> ApiResult<Json<Data<ApprovalOut>>> {
        let reason = body.0.and_then(|b| b.reason);
        self.decide(auth, &id, Choice::Reject, reason).await
    }
}

impl ApprovalsApi {
    /// The caller's decision, as its key: approvers are counted by key (or console user).
    async fn decide(
        &self,
        auth: TenantKey,
        id: &str,
        choice: Choice,
        note: Option<String>,
    ) -> ApiResult<Json<Data<ApprovalOut>>> {
        let caller = auth.require(Scope::Approver)?;
        let approval = self
            .approvals
            .decide(&caller.tenant_id, &caller.key_id, id, choice, note)
            .await?;
        Ok(Json(Data::new(approval.into())))
    }
}
