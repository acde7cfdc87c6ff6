//! `/v1/stats` and `/v1/agents/{id}/metrics`: what the dashboard shows.

use std::{collections::BTreeMap, sync::Arc};

use poem_openapi::{param::Path, payload::Json, types::Example, Object, OpenApi};

use crate::{
    api::{
        error::ApiResult,
        schema::{examples, Word},
        security::Credential,
        types::{Data, Documented},
        v1::agents::CountsByStatus,
        v1::vocab::{TrustCause, TrustTier},
        Tag,
    },
    auth::Scope,
    governance::stats::StatsService,
    time::rfc3339,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct StatsOut {
    /// Intents created since 00:00 UTC.
    intents_today: i64,
    pending_approvals: i64,
    /// Agents not suspended.
    active_agents: i64,
    /// Sum of completed intents' `valueCents`, in currency units.
    value_generated: f64,
}

/// The seed's dashboard.
impl Example for StatsOut {
    fn example() -> Self {
        StatsOut {
            intents_today: 145,
            pending_approvals: 12,
            active_agents: 5,
            value_generated: 5420.0,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TrustChangeOut {
    at: String,
    change: Documented<TrustChange>,
}

/// One move of an agent's trust: its cause, the tier and score before and after.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TrustChange {
    cause: Word<TrustCause>,
    /// The intent whose outcome moved it.
    intent_id: String,
    tier_before: Word<TrustTier>,
    tier: Word<TrustTier>,
    score_before: f64,
    score: f64,
    /// Completed intents on the agent's record.
    completed: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct AgentMetricsOut {
    agent_id: String,
    trust_tier: Word<TrustTier>,
    trust_score: f64,
    intents_by_status: Documented<CountsByStatus, BTreeMap<String, i64>>,
    /// approved / (approved + rejected + blocked + expired); null before any decision.
    approval_rate: Option<f64>,
    /// completed / (completed + failed); null before any report.
    success_rate: Option<f64>,
    value_generated: f64,
    trust_history: Vec<TrustChangeOut>,
}

examples! {
    AgentMetricsOut => {
        "agentId": "billing-agent",
        "trustTier": "T0",
        "trustScore": 0.05,
        "intentsByStatus": {"completed": 1, "pending_approval": 1},
        "approvalRate": 1.0,
        "successRate": 1.0,
        "valueGenerated": 99.99,
        "trustHistory": [{
            "at": "2024-01-15T11:00:00.000Z",
            "change": {
                "cause": "completed",
                "intentId": "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
                "tierBefore": "T0",
                "tier": "T0",
                "scoreBefore": 0.0,
                "score": 0.05,
                "completed": 1
            }
        }]
    }
}

pub struct StatsApi {
    stats: Arc<StatsService>,
}

impl StatsApi {
    pub fn new(stats: Arc<StatsService>) -> Self {
        Self { stats }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Agents")]
impl StatsApi {
    /// The tenant's dashboard numbers.
    #[oai(path = "/stats", method = "get", operation_id = "get_stats")]
    async fn stats(&self, auth: Credential) -> ApiResult<Json<Data<StatsOut>>> {
        let caller = auth.require(Scope::Read)?;
        let stats = self.stats.tenant(&caller.tenant_id).await?;
        Ok(Json(Data::new(StatsOut {
            intents_today: stats.intents_today,
            pending_approvals: stats.pending_approvals,
            active_agents: stats.active_agents,
            value_generated: stats.value_generated,
        })))
    }

    /// One agent's record: intents by status, approval and success rates, value, trust history.
    #[oai(
        path = "/agents/:id/metrics",
        method = "get",
        operation_id = "get_agent_metrics"
    )]
    async fn agent_metrics(
        &self,
        auth: Credential,
        id: Path<String>,
    ) -> ApiResult<Json<Data<AgentMetricsOut>>> {
        let caller = auth.require(Scope::Read)?;
        let metrics = self.stats.agent(&caller.tenant_id, &id).await?;
        Ok(Json(Data::new(AgentMetricsOut {
            agent_id: metrics.agent.id,
            trust_tier: Word::new(metrics.agent.trust_tier.as_str().into()),
            trust_score: metrics.agent.trust_score,
            intents_by_status: Documented::new(metrics.agent.intent_counts),
            approval_rate: metrics.approval_rate,
            success_rate: metrics.success_rate,
            value_generated: metrics.value_generated,
            trust_history: metrics
                .trust_history
                .into_iter()
                .map(|(at, change)| TrustChangeOut {
                    at: rfc3339(at),
                    change: Documented::new(change),
                })
                .collect(),
        })))
    }
}
