//! Tenant statistics and per-agent metrics.

use std::{collections::HashMap, sync::Arc};

use serde_json::Value;

use super::agents::{event_types::AGENT_TRUST_CHANGED, Agent, AgentService};
use crate::{
    auth::TenantId,
    error::Result,
    store::{stats, Store},
    time::{now_ms, Millis},
};

const MS_PER_DAY: Millis = 86_400_000;
const TRUST_HISTORY_LIMIT: i64 = 100;

/// The dashboard numbers of the seed's `GET /v1/stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantStats {
    /// Intents created since 00:00 UTC.
    pub intents_today: i64,
    pub pending_approvals: i64,
    pub active_agents: i64,
    /// From completed intents' `valueCents`, in currency units.
    pub value_generated: f64,
}

#[derive(Debug, Clone)]
pub struct AgentMetrics {
    pub agent: Agent,
    /// Of the intents policy or people decided: the share approved (null before any).
    pub approval_rate: Option<f64>,
    /// Of the approved intents the agent reported on: the share completed (null before any).
    pub success_rate: Option<f64>,
    pub value_generated: f64,
    /// `agent.trust.changed` records, oldest first: `(time, data)`.
    pub trust_history: Vec<(Millis, Value)>,
}

pub struct StatsService {
    store: Store,
    agents: Arc<AgentService>,
}

impl StatsService {
    pub fn new(store: Store, agents: Arc<AgentService>) -> Self {
        Self { store, agents }
    }

    pub async fn tenant(&self, tenant: &TenantId) -> Result<TenantStats> {
        let start_of_day = now_ms() / MS_PER_DAY * MS_PER_DAY;
        let (intents_today, pending_approvals, active_agents, cents) =
            stats::tenant_totals(&self.store, tenant, start_of_day).await?;
        Ok(TenantStats {
            intents_today,
            pending_approvals,
            active_agents,
            value_generated: cents as f64 / 100.0,
        })
    }

    /// Intents created on each of the last `days` days (UTC, today last), zeros included:
    /// `(first millisecond of the day, count)`.
    pub async fn intents_per_day(
        &self,
        tenant: &TenantId,
        days: u32,
    ) -> Result<Vec<(Millis, i64)>> {
        let today = now_ms() / MS_PER_DAY;
        let first = today - i64::from(days.max(1)) + 1;
        let counted: HashMap<i64, i64> =
            stats::intents_per_day(&self.store, tenant, first * MS_PER_DAY)
                .await?
                .into_iter()
                .collect();
        Ok((first..=today)
            .map(|day| (day * MS_PER_DAY, counted.get(&day).copied().unwrap_or(0)))
            .collect())
    }

    pub async fn agent(&self, tenant: &TenantId, agent_id: &str) -> Result<AgentMetrics> {
        let agent = self.agents.get(tenant, agent_id).await?;
        let count = |statuses: &[&str]| -> i64 {
            statuses
                .iter()
                .map(|s| agent.intent_counts.get(*s).copied().unwrap_or(0))
                .sum()
        };
        let approved = count(&["approved", "completed", "failed"]);
        let refused = count(&["rejected", "blocked", "expired"]);
        let (completed, failed) = (count(&["completed"]), count(&["failed"]));
        let cents = stats::agent_value_cents(&self.store, tenant, agent_id).await?;
        let history = stats::audit_history(
            &self.store,
            tenant,
            AGENT_TRUST_CHANGED,
            agent_id,
            TRUST_HISTORY_LIMIT,
        )
        .await?
        .into_iter()
        .map(|(data, at)| (at, serde_json::from_str(&data).unwrap_or_default()))
        .collect();
        Ok(AgentMetrics {
            approval_rate: ratio(approved, approved + refused),
            success_rate: ratio(completed, completed + failed),
            value_generated: cents as f64 / 100.0,
            trust_history: history,
            agent,
        })
    }
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
