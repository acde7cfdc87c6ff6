//! `/v1/policies`: the tenant's governance policy and its simulation.

use std::sync::Arc;

use poem_openapi::{
    payload::Json,
    types::{Example, ParseFromJSON},
    Object, OpenApi,
};
use serde_json::json;

use crate::{
    api::{
        error::ApiResult,
        schema::{example, example_json, Word},
        security::Credential,
        types::{Data, Documented},
        v1::intents::{PolicyDecision, SubmitIntentIn},
        v1::vocab::{IntentStatus, Outcome, PolicySource, Risk, TrustTier},
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
#[oai(rename_all = "camelCase", example)]
pub struct PolicyOut {
    /// 0 for the shipped default; 1, 2, … for the tenant's stored versions.
    version: i64,
    source: Word<PolicySource>,
    description: Option<String>,
    /// The document as written.
    document: Documented<PolicyDocument>,
    created_by: Option<String>,
    created_at: Option<String>,
}

impl From<&PolicyVersion> for PolicyOut {
    fn from(current: &PolicyVersion) -> Self {
        PolicyOut {
            version: current.policy.version,
            source: Word::new(
                if current.stored.is_some() {
                    "tenant"
                } else {
                    "default"
                }
                .into(),
            ),
            description: current.policy.description.clone(),
            document: Documented::new(current.policy.document.clone()),
            created_by: current.stored.as_ref().map(|(by, _)| by.clone()),
            created_at: current.stored.as_ref().map(|(_, at)| rfc3339(*at)),
        }
    }
}

/// A policy document: rules tried in order, the first match decides, else `default`.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct PolicyDocument {
    description: Option<String>,
    rules: Vec<PolicyRule>,
    /// The outcome when no rule matches.
    default: PolicyOutcome,
}

/// The shipped default policy.
impl Example for PolicyDocument {
    fn example() -> Self {
        let document = serde_json::from_str(include_str!("../../../policies/default.json"))
            .expect("the shipped policy is JSON");
        PolicyDocument::parse_from_json(Some(document))
            .unwrap_or_else(|err| panic!("the shipped policy fits its schema: {}", err.message()))
    }
}

/// One rule: it matches when every `match` list given and the `condition` hold.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PolicyRule {
    /// Unique within the document; decisions name it.
    name: String,
    #[oai(rename = "match")]
    matches: Option<PolicyMatch>,
    /// A CEL expression over `params`, `agent`, `intent` and `time`.
    condition: Option<String>,
    outcome: PolicyOutcome,
}

/// What a rule applies to; an absent or empty list matches anything.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PolicyMatch {
    domains: Option<Vec<String>>,
    /// Intent types, `billing.*` patterns allowed.
    types: Option<Vec<String>>,
    tiers: Option<Vec<Word<TrustTier>>>,
    risks: Option<Vec<Word<Risk>>>,
}

/// A rule's (or the default's) outcome.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct PolicyOutcome {
    #[oai(rename = "type")]
    outcome: Word<Outcome>,
    /// `require_approval`: distinct approvers needed (1-10).
    approvers: Option<u32>,
    /// `require_approval`: roles an approver must hold.
    roles: Option<Vec<String>>,
    /// `require_approval`: how long the approval stays open, e.g. `72h` (at most 30 days).
    expires_in: Option<String>,
    /// `block`: why, told to the agent.
    reason: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TraceStepOut {
    rule: String,
    matched: bool,
    detail: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct SimulationOut {
    /// The decision a submission would get.
    decision: Documented<PolicyDecision>,
    /// The status the intent would start in.
    status: Word<IntentStatus>,
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
            decision: Documented::new(decision.to_json()),
            status: Word::new(status.into()),
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

/// The shipped default in force.
impl Example for PolicyOut {
    fn example() -> Self {
        let document = example_json::<PolicyDocument>();
        example(json!({
            "version": 0,
            "source": "default",
            "description": document["description"],
            "document": document,
            "createdBy": null,
            "createdAt": null
        }))
    }
}

/// The seed's invoice from a new (`T0`) agent under the shipped default.
impl Example for SimulationOut {
    fn example() -> Self {
        example(json!({
            "decision": example_json::<PolicyDecision>(),
            "status": "pending_approval",
            "trace": [
                {"rule": "critical-needs-two-approvers", "matched": false, "detail": "risk low is not one of critical"},
                {"rule": "new-agents-are-reviewed", "matched": true, "detail": "matched"}
            ]
        }))
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
    async fn get(&self, auth: Credential) -> ApiResult<Json<Data<PolicyOut>>> {
        let caller = auth.require(Scope::Read)?;
        let current = self.policies.current(&caller.tenant_id).await?;
        Ok(Json(Data::new(current.as_ref().into())))
    }

    /// Store a new version of the tenant's policy. An invalid document is refused with every
    /// fault, each naming the rule and field.
    #[oai(path = "/policies", method = "put", operation_id = "put_policy")]
    async fn put(
        &self,
        auth: Credential,
        body: Json<Documented<PolicyDocument>>,
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
        auth: Credential,
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
