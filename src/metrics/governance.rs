//! The governance metrics of seed `004_…`. Labels are the seed's (`tenantId`, `agentId`,
//! `domain`, `intentType`, `status`, `trustTier`) where they apply; every label's values come
//! from a closed set (the catalog, the status and tier enums) or from tenants' own registered
//! ids, so cardinality is bounded by the catalog and the tenants' agents. docs/METRICS.md lists
//! which labels each metric carries.
#![allow(non_snake_case)] // label names are the seed's camelCase

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntentLabels {
    pub tenantId: String,
    pub domain: String,
    pub intentType: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntentStatusLabels {
    pub tenantId: String,
    pub domain: String,
    pub intentType: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub tenantId: String,
    pub domain: String,
    /// The decided intent's status: `approved`, `blocked`, `rejected`, `expired`.
    pub status: &'static str,
    /// `policy`, `human` or `expiry`.
    pub decider: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DomainLabels {
    pub domain: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantDomainLabels {
    pub tenantId: String,
    pub domain: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ValueTypeLabels {
    pub tenantId: String,
    /// The intent type's value category: `efficiency`, `revenue`, `risk_mitigation`, `cost_savings`.
    pub valueType: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenantId: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabels {
    pub tenantId: String,
    pub trustTier: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentLabels {
    pub tenantId: String,
    pub agentId: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookEventLabels {
    pub tenantId: String,
    pub event: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: &'static str,
}

/// Buckets from 100 µs (a policy evaluation) to hours (an agent carrying out an intent).
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 10.0, 60.0, 600.0,
        3600.0, 86400.0,
    ])
}

pub struct GovernanceMetrics {
    pub intents_submitted: Family<IntentLabels, Counter>,
    pub intents_evaluated: Family<IntentStatusLabels, Counter>,
    pub intents_executed: Family<IntentStatusLabels, Counter>,
    pub intents_blocked: Family<IntentLabels, Counter>,
    pub evaluation_duration: Family<DomainLabels, Histogram, fn() -> Histogram>,
    pub execution_duration: Family<DomainLabels, Histogram, fn() -> Histogram>,
    pub governance_decisions: Family<DecisionLabels, Counter>,
    pub trust_progressions: Family<TierLabels, Counter>,
    pub trust_demotions: Family<TierLabels, Counter>,
    pub value_generated_cents: Family<TenantDomainLabels, Counter>,
    pub value_by_type_cents: Family<ValueTypeLabels, Counter>,
    pub jobs_processed: Family<JobLabels, Counter>,
    pub jobs_failed: Family<JobLabels, Counter>,
    /// Derived from the database at every scrape (so right after a restart too).
    pub pending_approval: Family<TenantLabels, Gauge>,
    pub agents_by_tier: Family<TierLabels, Gauge>,
    pub trust_score: Family<AgentLabels, Gauge<f64, AtomicU64>>,
}

impl GovernanceMetrics {
    /// The families, registered in `registry` under `intendedops_…`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            intents_submitted: Family::default(),
            intents_evaluated: Family::default(),
            intents_executed: Family::default(),
            intents_blocked: Family::default(),
            evaluation_duration: Family::new_with_constructor(duration_histogram),
            execution_duration: Family::new_with_constructor(duration_histogram),
            governance_decisions: Family::default(),
            trust_progressions: Family::default(),
            trust_demotions: Family::default(),
            value_generated_cents: Family::default(),
            value_by_type_cents: Family::default(),
            jobs_processed: Family::default(),
            jobs_failed: Family::default(),
            pending_approval: Family::default(),
            agents_by_tier: Family::default(),
            trust_score: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("intendedops");
        r.register(
            "intents_submitted",
            "Intents submitted (new ones, not idempotent replays)",
            metrics.intents_submitted.clone(),
        );
        r.register(
            "intents_evaluated",
            "Intents evaluated by governance policy, by resulting status",
            metrics.intents_evaluated.clone(),
        );
        r.register(
            "intents_executed",
            "Intents carried out by their agent: status completed (success) or failed",
            metrics.intents_executed.clone(),
        );
        r.register(
            "intents_blocked",
            "Intents blocked by policy",
            metrics.intents_blocked.clone(),
        );
        r.register(
            "intents_pending_approval",
            "Intents currently pending human approval",
            metrics.pending_approval.clone(),
        );
        r.register(
            "intent_evaluation_duration_seconds",
            "Time to validate an intent and evaluate policy on it",
            metrics.evaluation_duration.clone(),
        );
        r.register(
            "intent_execution_duration_seconds",
            "Time from an intent's approval to its agent's completion or failure report",
            metrics.execution_duration.clone(),
        );
        r.register(
            "trust_progressions",
            "Trust tier promotions, by the tier reached",
            metrics.trust_progressions.clone(),
        );
        r.register(
            "trust_demotions",
            "Trust tier demotions, by the tier reached",
            metrics.trust_demotions.clone(),
        );
        r.register(
            "trust_score",
            "Current trust score by agent",
            metrics.trust_score.clone(),
        );
        r.register(
            "agents_by_tier",
            "Registered agents per trust tier",
            metrics.agents_by_tier.clone(),
        );
        r.register(
            "value_generated_cents",
            "Value reported by completed intents, in cents",
            metrics.value_generated_cents.clone(),
        );
        r.register(
            "value_by_type_cents",
            "Value reported by completed intents per value category, in cents",
            metrics.value_by_type_cents.clone(),
        );
        r.register(
            "jobs_processed",
            "Background job runs that succeeded",
            metrics.jobs_processed.clone(),
        );
        r.register(
            "jobs_failed",
            "Background job runs that failed",
            metrics.jobs_failed.clone(),
        );
        r.register(
            "governance_decisions",
            "Decisions that settled an intent, by policy, a human, or expiry",
            metrics.governance_decisions.clone(),
        );
        metrics
    }
}
