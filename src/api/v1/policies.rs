//! `/v1/policies`: the tenant's governance policy and its simulation.

use std::sync::Arc;

use poem_openapi::{payload::Json, Object, OpenApi};

use crate::{
    api::{
        error::ApiResult,
        security::TenantKey,
        types::{Data, Documented},
        v1::intents::SubmitIntentIn,
        Tag,
    },
    auth::Scope,
    governance::{
        intents::IntentService,
        policies::{PolicyService, PolicyVersion},
        policy::Decision,
    },
    time::rfc3339,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PolicyOut {
    /// 0 for the shipped default; 1, 2, … for the tenant's stored versions.
    version: i64,
    /// `default` (shipped) or `tenant`.
    source: String,
    description: Option<String>,
    /// The document: `{description?, rules: [...], default}`.
    document: serde_json::Value,
    created_by: Option<String>,
    created_at: Option<String>,
}

impl From<&PolicyVersion> for PolicyOut {
    fn from(current: &PolicyVersion) -> Self {
        PolicyOut {
            version: current.policy.version,
            source: if current.stored.is_some() {
                "tenant"
            } else {
                "default"
            }
            .into(),
            description: current.policy.description.clone(),
            document: current.policy.document.clone(),
            created_by: current.stored.as_ref().map(|(by, _)| by.clone()),
            created_at: current.stored.as_ref().map(|(_, at)| rfc3339(*at)),
        }
    }
}

/// A policy document (see the README's Governance section for the format).
#[derive(Debug, Object)]
pub struct PolicyDocumentIn {
    description: Option<String>,
    rules: Vec<serde_json::Value>,
    default: serde_json::Value,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TraceStepOut {
    rule: String,
    matched: bool,
    detail: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SimulationOut {
    /// The decision a submission would get: outcome, rule, reason, policy version.
    decision: serde_json::Value,
    /// The status the intent would start in.
    status: String,
    /// Every rule tried, in order, and what it made of the intent.
    trace: Vec<TraceStepOut>,
}

impl From<Decision> for SimulationOut {
    fn from(decision: Decision) -> Self {
        let status = match decision.outcome.name() {
            "auto_approve" => "approved",
            "block" => "blocked",
            _ => "pending_approval",
        };
        SimulationOut {
            decision: decision.to_json(),
            status: status.into(),
            trace: decision
                .trace
                .into_iter()
                .map(|step| TraceStepOut {
                    rule: step.rule,
                    matched: step.matched,
                    detail: step.detail,
                })
                .collect(),
        }
    }
}

pub struct PoliciesApi {
    policies: Arc<PolicyService>,
    intents: Arc<IntentService>,
}

impl PoliciesApi {
    pub fn new(policies: Arc<PolicyService>, intents: Arc<IntentService>) -> Self {
        Self { policies, intents }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Policies")]
impl PoliciesApi {
    /// The policy in force: the tenant's latest version, or the shipped default.
    #[oai(path = "/policies", method = "get", operation_id = "get_policy")]
    async fn get(&self, auth: TenantKey) -> ApiResult<Json<Data<PolicyOut>>> {
        let caller = auth.require(Scope::Read)?;
        let current = self.policies.current(&caller.tenant_id).await?;
        Ok(Json(Data::new(current.as_ref().into())))
    }

    /// Store a new version of the tenant's policy. An invalid document is refused with every
    /// fault, each naming the rule and field.
    #[oai(path = "/policies", method = "put", operation_id = "put_policy")]
    async fn put(
        &self,
        auth: TenantKey,
        body: Json<Documented<PolicyDocumentIn>>,
    ) -> ApiResult<Json<Data<PolicyOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let stored = self
            .policies
            .put(&caller.tenant_id, &caller.key_id, body.0.value)
            .await?;
        Ok(Json(Data::new(stored.as_ref().into())))
    }

    /// What a submission of this body would be decided, with the trace of every rule tried.
    /// Nothing is stored.
    #[oai(
        path = "/policies/simulate",
        method = "post",
        operation_id = "simulate_policy"
    )]
    async fn simulate(
        &self,
        auth: TenantKey,
        body: Json<Documented<SubmitIntentIn>>,
    ) -> ApiResult<Json<Data<SimulationOut>>> {
        let caller = auth.require(Scope::Read)?;
        let decision = self
            .intents
            .simulate(&caller.tenant_id, &body.0.value)
            .await?;
        Ok(Json(Data::new(decision.into())))
    }
}
