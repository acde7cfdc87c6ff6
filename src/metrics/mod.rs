//! Prometheus metrics, rendered by `GET /metrics` in the OpenMetrics text format.
//!
//! Services record what happened after their transaction commits, so a rolled-back change
//! never moves a counter. Gauges that describe stored state (pending approvals, agents per
//! tier, trust scores) are read from the database at every scrape instead of being kept in
//! memory, so they are right after a restart and across instances. docs/METRICS.md lists
//! every metric with its labels.

mod governance;
mod http;

use std::{sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use governance::{
    AgentLabels, AttemptLabels, DecisionLabels, DomainLabels, GovernanceMetrics, IntentLabels,
    IntentStatusLabels, JobLabels, TenantDomainLabels, TenantLabels, TierLabels, ValueTypeLabels,
    WebhookEventLabels,
};
pub use http::HttpMethod;
use http::{LimitLabels, MethodLabels, RequestLabels};

/// Which intent a governance metric is about.
pub struct IntentFacts<'a> {
    pub tenant: &'a str,
    pub domain: &'a str,
    pub intent_type: &'a str,
}

impl IntentFacts<'_> {
    fn labels(&self) -> IntentLabels {
        IntentLabels {
            tenantId: self.tenant.to_string(),
            domain: self.domain.to_string(),
            intentType: self.intent_type.to_string(),
        }
    }

    fn with_status(&self, status: &'static str) -> IntentStatusLabels {
        IntentStatusLabels {
            tenantId: self.tenant.to_string(),
            domain: self.domain.to_string(),
            intentType: self.intent_type.to_string(),
            status,
        }
    }

    fn decision(&self, status: &'static str, decider: &'static str) -> DecisionLabels {
        DecisionLabels {
            tenantId: self.tenant.to_string(),
            domain: self.domain.to_string(),
            status,
            decider,
        }
    }
}

/// Who settled an intent's governance.
#[derive(Debug, Clone, Copy)]
pub enum Decider {
    Policy,
    Human,
    Expiry,
}

impl Decider {
    fn as_str(self) -> &'static str {
        match self {
            Decider::Policy => "policy",
            Decider::Human => "human",
            Decider::Expiry => "expiry",
        }
    }
}

/// Stored state behind the gauges, read at scrape time.
#[derive(Debug, Default)]
pub struct StoredState {
    /// `(tenant, pending approvals)`.
    pub pending_approvals: Vec<(String, i64)>,
    /// `(tenant, tier, agents)`.
    pub agents_by_tier: Vec<(String, String, i64)>,
    /// `(tenant, agent, trust score)`.
    pub trust_scores: Vec<(String, String, f64)>,
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<MethodLabels, Histogram>,
    /// argon2 verifications of API keys (a cache miss each): should stay near the number of keys.
    pub key_verifications: Counter,
    /// Store lookups of presented API keys (verified-key cache misses that passed the format
    /// and checksum checks).
    pub key_lookups: Counter,
    /// Presented keys refused by their checksum, before any lookup.
    pub key_checksum_failures: Counter,
    rate_limit_decisions: Family<LimitLabels, Counter>,
    /// 1 while Redis is configured but unreachable and limits are counted in process.
    pub ratelimit_redis_degraded: Gauge,
    pub ratelimit_redis_errors: Counter,
    governance: GovernanceMetrics,
    webhooks_received: Family<WebhookEventLabels, Counter>,
    webhook_attempts: Family<AttemptLabels, Counter>,
    worker_restarts: Family<JobLabels, Counter>,
    /// Held while gauges are rewritten and encoded, so a scrape never sees them half set.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "intendedops_http_requests",
            "HTTP requests served, by method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "intendedops_http_request_duration_seconds",
            "HTTP request latency, by method",
            http_duration.clone(),
        );
        let key_verifications = Counter::default();
        registry.register(
            "intendedops_auth_key_verifications",
            "argon2 verifications of presented API keys (verified-key cache misses)",
            key_verifications.clone(),
        );
        let key_lookups = Counter::default();
        registry.register(
            "intendedops_auth_key_lookups",
            "Store lookups of presented API keys (cache misses past the format and checksum checks)",
            key_lookups.clone(),
        );
        let key_checksum_failures = Counter::default();
        registry.register(
            "intendedops_auth_key_checksum_failures",
            "Presented API keys refused because their checksum does not match, before any lookup",
            key_checksum_failures.clone(),
        );
        let rate_limit_decisions = Family::<LimitLabels, Counter>::default();
        registry.register(
            "intendedops_ratelimit_decisions",
            "Rate limiter rulings, by bucket (key, address) and outcome (allowed, limited)",
            rate_limit_decisions.clone(),
        );
        let ratelimit_redis_degraded = Gauge::default();
        registry.register(
            "intendedops_ratelimit_redis_degraded",
            "1 while Redis is unreachable and rate limits are counted in process",
            ratelimit_redis_degraded.clone(),
        );
        let ratelimit_redis_errors = Counter::default();
        registry.register(
            "intendedops_ratelimit_redis_errors",
            "Rate limiter calls to Redis that failed or timed out",
            ratelimit_redis_errors.clone(),
        );
        let governance = GovernanceMetrics::register(&mut registry);
        let webhooks_received = Family::<WebhookEventLabels, Counter>::default();
        registry.register(
            "intendedops_webhooks_received",
            "Webhook events taken up for delivery (at each delivery's first attempt), by tenant and event",
            webhooks_received.clone(),
        );
        let webhook_attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "intendedops_webhook_attempts",
            "Webhook delivery attempts, by result: delivered, retrying, dead",
            webhook_attempts.clone(),
        );
        let worker_restarts = Family::<JobLabels, Counter>::default();
        registry.register(
            "intendedops_worker_restarts",
            "Background workers restarted by the supervisor after a failure or panic, by job",
            worker_restarts.clone(),
        );
        Metrics {
            worker_restarts,
            webhooks_received,
            webhook_attempts,
            registry,
            http_requests,
            http_duration,
            key_verifications,
            key_lookups,
            key_checksum_failures,
            rate_limit_decisions,
            ratelimit_redis_degraded,
            ratelimit_redis_errors,
            governance,
            scrape: Mutex::new(()),
        }
    }

    pub fn observe_http(&self, method: HttpMethod, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&RequestLabels { method, status })
            .inc();
        self.http_duration
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }

    /// `bucket`: `key`, `address`, `hashing` (wrong secrets per address) or `argon2_slots`.
    pub fn rate_limit_ruled(&self, bucket: &'static str, allowed: bool) {
        let outcome = if allowed { "allowed" } else { "limited" };
        self.rate_limit_decisions
            .get_or_create(&LimitLabels { bucket, outcome })
            .inc();
    }

    /// A new intent was stored with `status` (`approved`, `pending_approval` or `blocked`)
    /// after `evaluation` spent validating it and evaluating policy.
    pub fn intent_submitted(
        &self,
        intent: &IntentFacts,
        status: &'static str,
        evaluation: Duration,
    ) {
        let g = &self.governance;
        g.intents_submitted.get_or_create(&intent.labels()).inc();
        g.intents_evaluated
            .get_or_create(&intent.with_status(status))
            .inc();
        g.evaluation_duration
            .get_or_create(&DomainLabels {
                domain: intent.domain.to_string(),
            })
            .observe(evaluation.as_secs_f64());
        match status {
            "blocked" => {
                g.intents_blocked.get_or_create(&intent.labels()).inc();
                self.intent_decided(intent, status, Decider::Policy);
            }
            "approved" => self.intent_decided(intent, status, Decider::Policy),
            _ => {}
        }
    }

    /// An intent's governance was settled: `status` is `approved`, `rejected`, `blocked` or
    /// `expired`.
    pub fn intent_decided(&self, intent: &IntentFacts, status: &'static str, decider: Decider) {
        self.governance
            .governance_decisions
            .get_or_create(&intent.decision(status, decider.as_str()))
            .inc();
    }

    /// The agent reported `status` (`completed` or `failed`) `since_approval` after the intent
    /// was approved; a completion may report value, counted under its category too.
    pub fn intent_executed(
        &self,
        intent: &IntentFacts,
        status: &'static str,
        since_approval: Duration,
        value: Option<(i64, Option<&'static str>)>,
    ) {
        let g = &self.governance;
        g.intents_executed
            .get_or_create(&intent.with_status(status))
            .inc();
        g.execution_duration
            .get_or_create(&DomainLabels {
                domain: intent.domain.to_string(),
            })
            .observe(since_approval.as_secs_f64());
        let Some((cents, category)) = value else {
            return;
        };
        let cents = u64::try_from(cents).unwrap_or(0);
        g.value_generated_cents
            .get_or_create(&TenantDomainLabels {
                tenantId: intent.tenant.to_string(),
                domain: intent.domain.to_string(),
            })
            .inc_by(cents);
        if let Some(category) = category {
            g.value_by_type_cents
                .get_or_create(&ValueTypeLabels {
                    tenantId: intent.tenant.to_string(),
                    valueType: category,
                })
                .inc_by(cents);
        }
    }

    /// An agent's tier moved to `tier`, up (`promoted`) or down.
    pub fn trust_moved(&self, tenant: &str, tier: &str, promoted: bool) {
        let labels = TierLabels {
            tenantId: tenant.to_string(),
            trustTier: tier.to_string(),
        };
        let family = if promoted {
            &self.governance.trust_progressions
        } else {
            &self.governance.trust_demotions
        };
        family.get_or_create(&labels).inc();
    }

    /// The delivery worker made the first attempt of a delivery of `event` of `tenant`.
    pub fn webhook_received(&self, tenant: &str, event: &str) {
        self.webhooks_received
            .get_or_create(&WebhookEventLabels {
                tenantId: tenant.to_string(),
                event: event.to_string(),
            })
            .inc();
    }

    /// A delivery attempt ended with the delivery `status`: `delivered`, `pending` (to be
    /// retried) or `dead`.
    pub fn webhook_attempted(&self, status: &str) {
        let result = match status {
            "delivered" => "delivered",
            "dead" => "dead",
            _ => "retrying",
        };
        self.webhook_attempts
            .get_or_create(&AttemptLabels { result })
            .inc();
    }

    /// One run of background job `job` ended, well or not.
    pub fn job_ran(&self, job: &'static str, succeeded: bool) {
        let family = if succeeded {
            &self.governance.jobs_processed
        } else {
            &self.governance.jobs_failed
        };
        family.get_or_create(&JobLabels { job }).inc();
    }

    /// The supervisor restarted background worker `job` after it failed or panicked.
    pub fn worker_restarted(&self, job: &'static str) {
        self.worker_restarts.get_or_create(&JobLabels { job }).inc();
    }

    /// The exposition text, with the stored-state gauges set from `state`.
    pub fn render(&self, state: &StoredState) -> String {
        let _one_scrape_at_a_time = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.set_gauges(state);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    fn set_gauges(&self, state: &StoredState) {
        let g = &self.governance;
        g.pending_approval.clear();
        for (tenant, count) in &state.pending_approvals {
            g.pending_approval
                .get_or_create(&TenantLabels {
                    tenantId: tenant.clone(),
                })
                .set(*count);
        }
        g.agents_by_tier.clear();
        for (tenant, tier, count) in &state.agents_by_tier {
            g.agents_by_tier
                .get_or_create(&TierLabels {
                    tenantId: tenant.clone(),
                    trustTier: tier.clone(),
                })
                .set(*count);
        }
        g.trust_score.clear();
        for (tenant, agent, score) in &state.trust_scores {
            g.trust_score
                .get_or_create(&AgentLabels {
                    tenantId: tenant.clone(),
                    agentId: agent.clone(),
                })
                .set(*score);
        }
    }
}
