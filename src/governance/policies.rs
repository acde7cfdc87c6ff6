//! Which policy governs a tenant, and storing new versions of it.
//!
//! A tenant without a document of its own is governed by the shipped default (version 0).
//! Compiled policies are cached per tenant and kept until a newer version exists: a `PUT` takes
//! effect at once on the instance that stored it, and every instance asks the store for the
//! current version number (one indexed `MAX`, no document) at most every [`RECHECK_AFTER`],
//! compiling again only when it changed. Compiling and deciding are CPU work whose cost the
//! tenant's document sets, so they run on the blocking pool, at most one per core at a time:
//! a slow policy delays other policy work, never the async workers serving everyone else.

use std::{
    num::NonZeroUsize,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};

use chrono::{Datelike, Timelike};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::{
    agents::Agent,
    catalog::{Catalog, IntentType},
    policy::{Decision, Facts, Policy},
    trust::TrustTier,
};
use crate::{
    audit::AuditEvent,
    auth::TenantId,
    canonical,
    error::{Error, FieldError, Result},
    store::{self, policies},
    time::{now_ms, Millis},
    work::Writer,
};

/// How long another instance may keep deciding with a replaced policy.
pub const RECHECK_AFTER: Duration = Duration::from_secs(2);

pub const POLICY_UPDATED: &str = "policy.updated";

/// A policy as stored: its version and who stored it when (`None` for the shipped default).
pub struct PolicyVersion {
    pub policy: Arc<Policy>,
    pub stored: Option<(String, Millis)>,
}

/// A compiled policy and when the store last confirmed it is the newest version.
struct Cached {
    version: Arc<PolicyVersion>,
    confirmed_at: AtomicI64,
}

pub struct PolicyService {
    writer: Writer,
    catalog: Arc<Catalog>,
    shipped: Arc<PolicyVersion>,
    cache: moka::future::Cache<String, Arc<Cached>>,
    /// One slot per core for compiling and deciding.
    slots: Arc<Semaphore>,
}

impl PolicyService {
    pub fn new(writer: Writer, catalog: Arc<Catalog>) -> anyhow::Result<Self> {
        let shipped = Policy::shipped(&catalog).map_err(|errors| {
            let faults: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.path.join("."), e.message))
                .collect();
            anyhow::anyhow!("policies/default.json is invalid: {}", faults.join("; "))
        })?;
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(Self {
            writer,
            catalog,
            shipped: Arc::new(PolicyVersion {
                policy: Arc::new(shipped),
                stored: None,
            }),
            cache: moka::future::Cache::builder().max_capacity(10_000).build(),
            slots: Arc::new(Semaphore::new(cores)),
        })
    }

    /// The policy in force for `tenant`.
    pub async fn current(&self, tenant: &TenantId) -> Result<Arc<PolicyVersion>> {
        let key = tenant.as_str();
        if let Some(cached) = self.cache.get(key).await {
            let now = now_ms();
            let recheck_ms = RECHECK_AFTER.as_millis() as i64;
            if now - cached.confirmed_at.load(Ordering::Relaxed) < recheck_ms {
                return Ok(cached.version.clone());
            }
            let newest = policies::current_version(self.writer.store(), tenant).await?;
            if newest == cached.version.policy.version {
                cached.confirmed_at.store(now, Ordering::Relaxed);
                return Ok(cached.version.clone());
            }
            self.cache.invalidate(key).await;
        }
        let cached = self
            .cache
            .try_get_with(key.to_string(), self.load(tenant))
            .await
            .map_err(|err| Error::Internal(anyhow::anyhow!("loading the policy failed: {err}")))?;
        Ok(cached.version.clone())
    }

    async fn load(&self, tenant: &TenantId) -> anyhow::Result<Arc<Cached>> {
        let confirmed_at = AtomicI64::new(now_ms());
        let Some(row) = policies::current(self.writer.store(), tenant).await? else {
            return Ok(Arc::new(Cached {
                version: self.shipped.clone(),
                confirmed_at,
            }));
        };
        let document: Value = serde_json::from_str(&row.document)?;
        let version = row.version;
        let compiled = self.compile(document, version).await?;
        let policy = compiled.map_err(|errors| {
            anyhow::anyhow!("stored policy v{version} no longer compiles: {errors:?}")
        })?;
        Ok(Arc::new(Cached {
            version: Arc::new(PolicyVersion {
                policy: Arc::new(policy),
                stored: Some((row.created_by, row.created_at)),
            }),
            confirmed_at,
        }))
    }

    /// [`Policy::compile`], off the async workers.
    async fn compile(
        &self,
        document: Value,
        version: i64,
    ) -> Result<std::result::Result<Policy, Vec<FieldError>>> {
        let catalog = self.catalog.clone();
        self.off_worker(move || Policy::compile(document, version, &catalog))
            .await
    }

    /// Runs `work` on the blocking pool once a slot is free; the slot is held until the work
    /// ends, even if the request waiting for it is dropped.
    async fn off_worker<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| Error::Internal(err.into()))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|err| Error::Internal(anyhow::anyhow!("policy work failed: {err}")))
    }

    /// Validates and stores `document` as the tenant's next version, audited.
    pub async fn put(
        &self,
        tenant: &TenantId,
        actor: &str,
        document: Value,
    ) -> Result<Arc<PolicyVersion>> {
        // Compile first: an invalid document is refused with every fault.
        let mut policy = self
            .compile(document.clone(), 0)
            .await?
            .map_err(Error::Validation)?;
        let text = canonical::to_canonical(&document);
        let now = now_ms();
        let mut work = self.writer.begin(tenant).await?;
        let version = match policies::insert_next(&mut work, tenant, &text, actor, now).await {
            Err(err) if store::is_unique_violation(&err) => {
                return Err(Error::Conflict(
                    "another policy version was stored at the same time; retry".into(),
                ))
            }
            other => other?,
        };
        let event = AuditEvent {
            event_type: POLICY_UPDATED,
            actor,
            subject: &format!("policy:v{version}"),
            data: json!({"version": version, "document": document}),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        policy.version = version;
        let stored = Arc::new(PolicyVersion {
            policy: Arc::new(policy),
            stored: Some((actor.to_string(), now)),
        });
        let cached = Cached {
            version: stored.clone(),
            confirmed_at: AtomicI64::new(now_ms()),
        };
        self.cache
            .insert(tenant.to_string(), Arc::new(cached))
            .await;
        Ok(stored)
    }

    /// Decides `params` of `intent_type` for `agent` under `policy`: off the async workers when
    /// a condition (whose cost the tenant's document sets) has to run, inline otherwise (the
    /// shipped default has none), so the common case neither copies `params` nor hops threads.
    pub async fn decide(
        &self,
        policy: Arc<Policy>,
        intent_type: Arc<IntentType>,
        agent: &Agent,
        params: &Value,
        now: Millis,
    ) -> Result<Decision> {
        let facts = ConditionFacts::new(&intent_type, agent, now);
        if !policy.has_conditions() {
            return Ok(policy.evaluate(&facts.with(&intent_type, params)));
        }
        let params = params.clone();
        self.off_worker(move || policy.evaluate(&facts.with(&intent_type, &params)))
            .await
    }
}

/// What a decision sees besides `params`: the agent (and its tier), the intent type, the time.
struct ConditionFacts {
    tier: TrustTier,
    agent: Value,
    intent: Value,
    time: Value,
}

impl ConditionFacts {
    fn new(intent_type: &IntentType, agent: &Agent, now: Millis) -> Self {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now).unwrap_or_default();
        ConditionFacts {
            tier: agent.trust_tier,
            agent: json!({
                "id": agent.id,
                "trustTier": agent.trust_tier.as_str(),
                "trustScore": agent.trust_score,
                "domains": agent.domains,
            }),
            intent: json!({
                "type": intent_type.name,
                "domain": intent_type.domain,
                "risk": intent_type.risk.as_str(),
                "valueCategory": intent_type.value_category.map(|c| c.as_str()),
            }),
            time: json!({
                "hour": at.hour(),
                "weekday": at.weekday().num_days_from_monday(),
                "date": at.format("%Y-%m-%d").to_string(),
                "epochMs": now,
            }),
        }
    }

    fn with<'a>(&'a self, intent_type: &'a IntentType, params: &'a Value) -> Facts<'a> {
        Facts {
            domain: &intent_type.domain,
            intent_type: &intent_type.name,
            risk: intent_type.risk,
            tier: self.tier,
            params,
            agent: &self.agent,
            intent: &self.intent,
            time: &self.time,
        }
    }
}
