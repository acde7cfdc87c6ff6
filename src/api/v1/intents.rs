//! `/v1/intents`: governed intent submission, queries, and the agent's outcome reports.

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    types::{Example, ToJSON},
    ApiResponse, Object, OpenApi,
};

use crate::{
    api::v1::approvals::ApprovalOut,
    api::{
        error::ApiResult,
        schema::JsonValue,
        schema::Word,
        security::Credential,
        types::{Data, Documented, JsonObject, ListPage, OptionalJson},
        v1::vocab::{IntentStatus, Outcome},
        Tag,
    },
    auth::Scope,
    error::Error,
    governance::{
        approvals::ApprovalService,
        intents::{Completion, IntentQuery, IntentService, Submitted},
        lifecycle::Intent,
    },
    ids::IntentId,
    pagination::PageRequest,
    time::{rfc3339, TimeRange},
};

/// The submission body (documentation; the service reports every failing field).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example, skip_serializing_if_is_none)]
pub struct SubmitIntentIn {
    /// `domain.action`, e.g. `billing.send_invoice`.
    #[oai(rename = "type")]
    intent_type: String,
    domain: String,
    /// A registered agent of the tenant.
    agent_id: String,
    /// Validated against the intent type's JSON Schema (`GET /v1/domains/{domain}/intent-types/{type}`).
    params: Option<JsonObject>,
    description: Option<String>,
    justification: Option<String>,
    /// Same key and body within the tenant → the same intent (200); different body → 409.
    idempotency_key: Option<String>,
}

/// The seed's invoice, from `billing-agent`: the agent the `POST /v1/agents` example registers.
impl Example for SubmitIntentIn {
    fn example() -> Self {
        SubmitIntentIn {
            intent_type: "billing.send_invoice".into(),
            domain: "billing".into(),
            agent_id: "billing-agent".into(),
            params: Some(JsonObject(serde_json::json!({
                "customerId": "cust_123",
                "amount": 99.99
            }))),
            description: Some("Send monthly subscription invoice".into()),
            justification: None,
            idempotency_key: Some("invoice-cust_123-2024-01".into()),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct SubmittedOut {
    intent_id: String,
    status: Word<IntentStatus>,
    created_at: String,
}

impl From<&Intent> for SubmittedOut {
    fn from(intent: &Intent) -> Self {
        SubmittedOut {
            intent_id: intent.id.clone(),
            status: Word::new(intent.status.as_str().into()),
            created_at: rfc3339(intent.created_at),
        }
    }
}

impl Example for SubmittedOut {
    fn example() -> Self {
        SubmittedOut {
            intent_id: "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G".into(),
            status: Word::new("pending_approval".into()),
            created_at: "2024-01-15T10:30:00.000Z".into(),
        }
    }
}

/// A policy decision as stored with the intent.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PolicyDecision {
    outcome: Word<Outcome>,
    /// The rule that matched; null when the policy's default decided.
    rule: Option<String>,
    /// Why, in words.
    reason: String,
    /// The block rule's reason, given only when `outcome` is `block`.
    #[oai(skip_serializing_if_is_none)]
    block_reason: Option<String>,
    /// The policy version that decided (0 = the shipped default).
    policy_version: i64,
    /// Lowercase hex SHA-256 of the canonical JSON of `{agentId, domain, params, type}`: what
    /// was decided on, for an executor to check before it acts (absent on intents stored
    /// before receipts).
    #[oai(skip_serializing_if_is_none)]
    action_digest: Option<String>,
    /// Distinct approvers needed; only when `outcome` is `require_approval`.
    #[oai(skip_serializing_if_is_none)]
    required_approvals: Option<i64>,
    /// Roles an approver must hold; only when `outcome` is `require_approval`.
    #[oai(skip_serializing_if_is_none)]
    roles: Option<Vec<String>>,
}

impl Example for PolicyDecision {
    fn example() -> Self {
        PolicyDecision {
            outcome: Word::new("require_approval".into()),
            rule: Some("new-agents-are-reviewed".into()),
            reason: "rule 'new-agents-are-reviewed' matched".into(),
            block_reason: None,
            policy_version: 0,
            action_digest: Some(
                "3f1c9b0d8e2a7c4f6b5d1e9a0c8f7b2d4e6a1c3f5b7d9e0a2c4f6b8d0e1a3c5f".into(),
            ),
            required_approvals: Some(1),
            roles: Some(Vec::new()),
        }
    }
}

#[derive(ApiResponse)]
pub enum SubmitResponse {
    /// A new intent.
    #[oai(status = 201)]
    Created(Json<Data<SubmittedOut>>),
    /// An idempotent replay: the intent this key and body created before.
    #[oai(status = 200)]
    Replayed(Json<Data<SubmittedOut>>),
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct IntentOut {
    id: String,
    #[oai(rename = "type")]
    intent_type: String,
    domain: String,
    agent_id: String,
    status: Word<IntentStatus>,
    params: JsonObject,
    description: Option<String>,
    justification: Option<String>,
    idempotency_key: Option<String>,
    /// The policy decision; null until decided.
    decision: Option<Documented<PolicyDecision>>,
    /// What the agent reported on completion.
    result: Option<Documented<JsonValue>>,
    value_cents: Option<i64>,
    /// What the agent reported on failure.
    error: Option<String>,
    created_at: String,
    updated_at: String,
    completed_at: Option<String>,
}

impl From<Intent> for IntentOut {
    fn from(intent: Intent) -> Self {
        IntentOut {
            id: intent.id,
            intent_type: intent.intent_type,
            domain: intent.domain,
            agent_id: intent.agent_id,
            status: Word::new(intent.status.as_str().into()),
            params: JsonObject(intent.params),
            description: intent.description,
            justification: intent.justification,
            idempotency_key: intent.idempotency_key,
            decision: intent.decision.map(Documented::new),
            result: intent.result.map(Documented::new),
            value_cents: intent.value_cents,
            error: intent.error,
            created_at: rfc3339(intent.created_at),
            updated_at: rfc3339(intent.updated_at),
            completed_at: intent.completed_at.map(rfc3339),
        }
    }
}

impl Example for IntentOut {
    fn example() -> Self {
        let submitted = SubmitIntentIn::example();
        IntentOut {
            id: "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G".into(),
            intent_type: submitted.intent_type,
            domain: submitted.domain,
            agent_id: submitted.agent_id,
            status: Word::new("pending_approval".into()),
            params: submitted.params.unwrap_or_default(),
            description: submitted.description,
            justification: None,
            idempotency_key: submitted.idempotency_key,
            decision: PolicyDecision::example().to_json().map(Documented::new),
            result: None,
            value_cents: None,
            error: None,
            created_at: "2024-01-15T10:30:00.000Z".into(),
            updated_at: "2024-01-15T10:30:00.000Z".into(),
            completed_at: None,
        }
    }
}

/// An intent with its approvals.
#[derive(Debug, Object)]
#[oai(example)]
pub struct IntentDetailOut {
    #[oai(flatten)]
    intent: IntentOut,
    /// The approvals policy asked for, oldest first.
    approvals: Vec<ApprovalOut>,
}

/// The seed's invoice waiting for its approver.
impl Example for IntentDetailOut {
    fn example() -> Self {
        IntentDetailOut {
            intent: IntentOut::example(),
            approvals: vec![ApprovalOut::example()],
        }
    }
}

#[derive(Debug, Object)]
#[oai(
    rename_all = "camelCase",
    deny_unknown_fields,
    example,
    skip_serializing_if_is_none
)]
pub struct CompleteIn {
    /// Anything the agent wants to record about the outcome (stored as sent).
    result: Option<Documented<JsonValue>>,
    /// Value generated, in cents of the tenant's currency.
    value_cents: Option<i64>,
}

impl Example for CompleteIn {
    fn example() -> Self {
        CompleteIn {
            result: Some(Documented::new(
                serde_json::json!({ "invoiceId": "inv_20240115_0042", "sentTo": "billing@acme.com" }),
            )),
            value_cents: Some(9999),
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct FailIn {
    /// What went wrong.
    error: String,
}

impl Example for FailIn {
    fn example() -> Self {
        FailIn {
            error: "payment provider timed out after 3 attempts".into(),
        }
    }
}

pub struct IntentsApi {
    intents: Arc<IntentService>,
    approvals: Arc<ApprovalService>,
}

impl IntentsApi {
    pub fn new(intents: Arc<IntentService>, approvals: Arc<ApprovalService>) -> Self {
        Self { intents, approvals }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Intents")]
impl IntentsApi {
    /// Submit an intent. Its `params` are validated against the type's schema; every failing
    /// field is listed in `VALIDATION_ERROR` details. The example names `billing-agent`:
    /// register it first with the `POST /v1/agents` example.
    #[oai(path = "/intents", method = "post", operation_id = "submit_intent")]
    async fn submit(
        &self,
        auth: Credential,
        body: Json<Documented<SubmitIntentIn>>,
    ) -> ApiResult<SubmitResponse> {
        let caller = auth.require(Scope::Agent)?;
        Ok(match self.intents.submit(caller, &body.0.value).await? {
            Submitted::Created(intent) => {
                SubmitResponse::Created(Json(Data::new((&intent).into())))
            }
            Submitted::Replayed(intent) => {
                SubmitResponse::Replayed(Json(Data::new((&intent).into())))
            }
        })
    }

    /// The tenant's intents, newest first. `from`/`to` filter on creation time (RFC 3339 or
    /// `YYYY-MM-DD`, inclusive).
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/intents", method = "get", operation_id = "list_intents")]
    async fn list(
        &self,
        auth: Credential,
        status: Query<Option<Word<IntentStatus>>>,
        #[oai(name = "agentId")] agent_id: Query<Option<String>>,
        domain: Query<Option<String>>,
        #[oai(name = "type")] intent_type: Query<Option<String>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<IntentOut>>>> {
        let caller = auth.require(Scope::Read)?;
        let status = status.0.map(|s| s.value);
        let query = parse_query(status, agent_id.0, domain.0, intent_type.0, from.0, to.0)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let intents = self.intents.list(&caller.tenant_id, query, request).await?;
        Ok(Json(Data::new(ListPage::from_page(
            intents,
            IntentOut::from,
        ))))
    }

    /// One intent with its policy decision (rule and reason), approvals and outcome.
    #[oai(path = "/intents/:id", method = "get", operation_id = "get_intent")]
    async fn get(
        &self,
        auth: Credential,
        id: Path<IntentId>,
    ) -> ApiResult<Json<Data<IntentDetailOut>>> {
        let caller = auth.require(Scope::Read)?;
        let intent = self.intents.get(&caller.tenant_id, &id).await?;
        let approvals = match intent.asked_for_approval() {
            true => self.approvals.for_intent(&caller.tenant_id, &id).await?,
            false => Vec::new(),
        };
        Ok(Json(Data::new(IntentDetailOut {
            intent: intent.into(),
            approvals: approvals.into_iter().map(ApprovalOut::from).collect(),
        })))
    }

    /// Withdraw an intent that is still pending or awaiting approval.
    #[oai(
        path = "/intents/:id/cancel",
        method = "post",
        operation_id = "cancel_intent"
    )]
    async fn cancel(
        &self,
        auth: Credential,
        id: Path<IntentId>,
    ) -> ApiResult<Json<Data<IntentOut>>> {
        let caller = auth.require(Scope::Agent)?;
        Ok(Json(Data::new(
            self.intents.cancel(caller, &id).await?.into(),
        )))
    }

    /// The agent reports that it carried out an approved intent.
    #[oai(
        path = "/intents/:id/complete",
        method = "post",
        operation_id = "complete_intent"
    )]
    async fn complete(
        &self,
        auth: Credential,
        id: Path<IntentId>,
        body: OptionalJson<CompleteIn>,
    ) -> ApiResult<Json<Data<IntentOut>>> {
        let caller = auth.require(Scope::Agent)?;
        let completion = body
            .0
            .map(|b| Completion {
                result: b.result.map(|r| r.value),
                value_cents: b.value_cents,
            })
            .unwrap_or_default();
        let intent = self.intents.complete(caller, &id, completion).await?;
        Ok(Json(Data::new(intent.into())))
    }

    /// The agent reports that carrying out an approved intent failed.
    #[oai(
        path = "/intents/:id/fail",
        method = "post",
        operation_id = "fail_intent"
    )]
    async fn fail(
        &self,
        auth: Credential,
        id: Path<IntentId>,
        body: Json<FailIn>,
    ) -> ApiResult<Json<Data<IntentOut>>> {
        let caller = auth.require(Scope::Agent)?;
        let intent = self.intents.fail(caller, &id, &body.error).await?;
        Ok(Json(Data::new(intent.into())))
    }
}

fn parse_query(
    status: Option<String>,
    agent_id: Option<String>,
    domain: Option<String>,
    intent_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<IntentQuery, Error> {
    let status = status.as_deref().map(str::parse).transpose();
    let created = TimeRange::parse(from.as_deref(), to.as_deref(), ("from", "to"));
    let (status, created) = match (status, created) {
        (Ok(status), Ok(created)) => (status, created),
        (Err(Error::Validation(mut first)), Err(Error::Validation(second))) => {
            first.extend(second);
            return Err(Error::Validation(first));
        }
        (Err(err), _) | (_, Err(err)) => return Err(err),
    };
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    Ok(IntentQuery {
        status,
        agent_id: non_empty(agent_id),
        domain: non_empty(domain),
        intent_type: non_empty(intent_type),
        created,
    })
}
