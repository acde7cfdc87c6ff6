//! `/v1/agents`: agent registration and administration.

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    types::{Example, MaybeUndefined},
    ApiResponse, Object, OpenApi,
};

use crate::{
    api::{
        error::ApiResult,
        schema::{examples, Word},
        security::Credential,
        types::{patch, Data, Documented, ListPage},
        v1::vocab::{AgentStatus, TrustTier},
        Tag,
    },
    auth::Scope,
    governance::{
        agents::{Agent, AgentQuery, AgentService, AgentUpdate, Registration},
        trust,
    },
    pagination::PageRequest,
    time::rfc3339,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct IntentCounts {
    total: i64,
    /// Intents per status; statuses with none are left out.
    by_status: Documented<CountsByStatus, std::collections::BTreeMap<String, i64>>,
}

/// Intents per status (documentation of a count map keyed by status).
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct CountsByStatus {
    pending: Option<i64>,
    pending_approval: Option<i64>,
    approved: Option<i64>,
    rejected: Option<i64>,
    blocked: Option<i64>,
    expired: Option<i64>,
    cancelled: Option<i64>,
    completed: Option<i64>,
    failed: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct AgentOut {
    id: String,
    name: String,
    description: Option<String>,
    /// Domains the agent may act in; empty = any.
    domains: Vec<String>,
    /// Intent types the agent may submit; empty = any in its domains.
    intent_types: Vec<String>,
    /// The tier in force: the pinned one, if an admin pinned it.
    trust_tier: Word<TrustTier>,
    /// Set when an admin fixed the tier.
    pinned_tier: Option<Word<TrustTier>>,
    trust_score: f64,
    status: Word<AgentStatus>,
    intent_counts: IntentCounts,
    created_at: String,
    updated_at: String,
}

impl From<Agent> for AgentOut {
    fn from(agent: Agent) -> Self {
        AgentOut {
            id: agent.id,
            name: agent.name,
            description: agent.description,
            domains: agent.domains,
            intent_types: agent.intent_types,
            trust_tier: Word::new(agent.trust_tier.as_str().into()),
            pinned_tier: agent.pinned_tier.map(|t| Word::new(t.as_str().into())),
            trust_score: agent.trust_score,
            status: Word::new(agent.status.as_str().into()),
            intent_counts: IntentCounts {
                total: agent.intent_counts.values().sum(),
                by_status: Documented::new(agent.intent_counts),
            },
            created_at: rfc3339(agent.created_at),
            updated_at: rfc3339(agent.updated_at),
        }
    }
}

examples! {
    /// The seed's billing agent after its first completed invoice.
    AgentOut => {
        "id": "billing-agent",
        "name": "Billing Agent",
        "description": "Handles billing operations",
        "domains": ["billing"],
        "intentTypes": ["billing.send_invoice", "billing.collect_payment"],
        "trustTier": "T0",
        "pinnedTier": null,
        "trustScore": 0.05,
        "status": "active",
        "intentCounts": {"total": 2, "byStatus": {"completed": 1, "pending_approval": 1}},
        "createdAt": "2024-01-15T10:00:00.000Z",
        "updatedAt": "2024-01-15T11:00:00.000Z"
    }
}

#[derive(Debug, Object)]
#[oai(
    rename_all = "camelCase",
    deny_unknown_fields,
    example,
    skip_serializing_if_is_none
)]
pub struct RegisterAgentIn {
    name: String,
    description: Option<String>,
    /// Restrict the agent to these domains.
    #[oai(default)]
    domains: Vec<String>,
    /// Restrict the agent to these intent types.
    #[oai(default)]
    intent_types: Vec<String>,
    /// Defaults to the slug of `name` (`Billing Agent` → `billing-agent`).
    id: Option<String>,
}

/// The seed's billing agent: registered as `billing-agent`, the `POST /v1/intents` example's.
impl Example for RegisterAgentIn {
    fn example() -> Self {
        RegisterAgentIn {
            name: "Billing Agent".into(),
            description: Some("Handles billing operations".into()),
            domains: vec!["billing".into()],
            intent_types: vec![
                "billing.send_invoice".into(),
                "billing.collect_payment".into(),
            ],
            id: None,
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
pub struct UpdateAgentIn {
    name: Option<String>,
    /// null clears it.
    description: MaybeUndefined<String>,
    domains: Option<Vec<String>>,
    intent_types: Option<Vec<String>>,
    /// A suspended agent's submissions are refused.
    status: Option<AgentStatusIn>,
    /// Fix the agent's tier regardless of its record; null returns it to the earned tier.
    pinned_tier: MaybeUndefined<TierIn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum AgentStatusIn {
    Active,
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
pub enum TierIn {
    T0,
    T1,
    T2,
    T3,
    T4,
}

/// Lets the billing agent refund too, and pins it at `T1` while it proves itself.
impl Example for UpdateAgentIn {
    fn example() -> Self {
        UpdateAgentIn {
            name: None,
            description: MaybeUndefined::Undefined,
            domains: None,
            intent_types: Some(vec![
                "billing.send_invoice".into(),
                "billing.collect_payment".into(),
                "billing.process_refund".into(),
            ]),
            status: None,
            pinned_tier: MaybeUndefined::Value(TierIn::T1),
        }
    }
}

impl From<TierIn> for trust::TrustTier {
    fn from(tier: TierIn) -> Self {
        match tier {
            TierIn::T0 => trust::TrustTier::T0,
            TierIn::T1 => trust::TrustTier::T1,
            TierIn::T2 => trust::TrustTier::T2,
            TierIn::T3 => trust::TrustTier::T3,
            TierIn::T4 => trust::TrustTier::T4,
        }
    }
}

#[derive(ApiResponse)]
pub enum RegisterAgentResponse {
    /// The agent is registered at trust tier `T0`.
    #[oai(status = 201)]
    Created(Json<Data<AgentOut>>),
}

pub struct AgentsApi {
    agents: Arc<AgentService>,
}

impl AgentsApi {
    pub fn new(agents: Arc<AgentService>) -> Self {
        Self { agents }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Agents")]
impl AgentsApi {
    /// Register an agent. An existing id answers 409 `CONFLICT`.
    #[oai(path = "/agents", method = "post", operation_id = "register_agent")]
    async fn register(
        &self,
        auth: Credential,
        body: Json<RegisterAgentIn>,
    ) -> ApiResult<RegisterAgentResponse> {
        let caller = auth.require(Scope::Agent)?;
        let body = body.0;
        let registration = Registration {
            name: body.name,
            description: body.description,
            domains: body.domains,
            intent_types: body.intent_types,
            id: body.id,
        };
        let agent = self
            .agents
            .register(&caller.tenant_id, &caller.key_id, registration)
            .await?;
        Ok(RegisterAgentResponse::Created(Json(Data::new(
            agent.into(),
        ))))
    }

    /// The tenant's agents in registration order; `status` and `trustTier` narrow the list.
    #[oai(path = "/agents", method = "get", operation_id = "list_agents")]
    async fn list(
        &self,
        auth: Credential,
        status: Query<Option<Word<AgentStatus>>>,
        #[oai(name = "trustTier")] trust_tier: Query<Option<Word<TrustTier>>>,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<AgentOut>>>> {
        let caller = auth.require(Scope::Read)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let query = AgentQuery {
            status: status.0.map(|s| s.value.parse()).transpose()?,
            trust_tier: trust_tier.0.map(|t| t.value.parse()).transpose()?,
        };
        let agents = self.agents.list(&caller.tenant_id, query, request).await?;
        Ok(Json(Data::new(ListPage::from_page(agents, AgentOut::from))))
    }

    /// One agent.
    #[oai(path = "/agents/:id", method = "get", operation_id = "get_agent")]
    async fn get(&self, auth: Credential, id: Path<String>) -> ApiResult<Json<Data<AgentOut>>> {
        let caller = auth.require(Scope::Read)?;
        Ok(Json(Data::new(
            self.agents.get(&caller.tenant_id, &id).await?.into(),
        )))
    }

    /// Update an agent: its scope, suspend or reactivate it, pin or unpin its trust tier.
    #[oai(path = "/agents/:id", method = "patch", operation_id = "update_agent")]
    async fn update(
        &self,
        auth: Credential,
        id: Path<String>,
        body: Json<UpdateAgentIn>,
    ) -> ApiResult<Json<Data<AgentOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let body = body.0;
        let update = AgentUpdate {
            name: body.name,
            description: patch(body.description, |d| d),
            domains: body.domains,
            intent_types: body.intent_types,
            suspended: body.status.map(|s| s == AgentStatusIn::Suspended),
            pinned_tier: patch(body.pinned_tier, trust::TrustTier::from),
        };
        let agent = self
            .agents
            .update(&caller.tenant_id, &caller.key_id, &id, update)
            .await?;
        Ok(Json(Data::new(agent.into())))
    }
}
