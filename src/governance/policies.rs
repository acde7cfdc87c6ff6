//! Which policy governs a tenant, and storing new versions of it.
//!
//! A tenant without a document of its own is governed by the shipped default (version 0).
//! Compiled policies are cached per tenant: a `PUT` takes effect at once on the instance that
//! stored it and within [`CACHE_TTL`] on the others.

use std::{sync::Arc, time::Duration};

use chrono::{Datelike, Timelike};
use serde_json::{json, Value};

use super::{
    agents::Agent,
    catalog::{Catalog, IntentType},
    policy::{Decision, Facts, Policy},
};
use crate::{
    audit::{self, canonical, AuditEvent},
    auth::TenantId,
    error::{Error, Result},
    store::{self, policies, Store},
    time::{now_ms, Millis},
};

/// How long another instance may keep deciding with a replaced policy.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

pub const POLICY_UPDATED: &str = "policy.updated";

/// A policy as stored: its version and who stored it when (`None` for the shipped default).
pub struct PolicyVersion {
    pub policy: Arc<Policy>,
    pub stored: Option<(String, Millis)>,
}

pub struct PolicyService {
    store: Store,
    catalog: Arc<Catalog>,
    shipped: Arc<Policy>,
    cache: moka::future::Cache<String, Arc<PolicyVersion>>,
}

impl PolicyService {
    pub fn new(store: Store, catalog: Arc<Catalog>) -> anyhow::Result<Self> {
        let shipped = Policy::shipped(&catalog).map_err(|errors| {
            let faults: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.path.join("."), e.message))
                .collect();
            anyhow::anyhow!("policies/default.json is invalid: {}", faults.join("; "))
        })?;
        Ok(Self {
            store,
            catalog,
            shipped: Arc::new(shipped),
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
        })
    }

    /// The policy in force for `tenant`.
    pub async fn current(&self, tenant: &TenantId) -> Result<Arc<PolicyVersion>> {
        self.cache
            .try_get_with(tenant.to_string(), self.load(tenant))
            .await
            .map_err(|err| Error::Internal(anyhow::anyhow!("loading the policy failed: {err}")))
    }

    async fn load(&self, tenant: &TenantId) -> anyhow::Result<Arc<PolicyVersion>> {
        let Some(row) = policies::current(&self.store, tenant.as_str()).await? else {
            return Ok(Arc::new(PolicyVersion {
                policy: self.shipped.clone(),
                stored: None,
            }));
        };
        let document: Value = serde_json::from_str(&row.document)?;
        let policy = Policy::compile(document, row.version, &self.catalog).map_err(|errors| {
            anyhow::anyhow!(
                "stored policy v{} no longer compiles: {errors:?}",
                row.version
            )
        })?;
        Ok(Arc::new(PolicyVersion {
            policy: Arc::new(policy),
            stored: Some((row.created_by, row.created_at)),
        }))
    }

    /// Validates and stores `document` as the tenant's next version, audited.
    pub async fn put(
        &self,
        tenant: &TenantId,
        actor: &str,
        document: Value,
    ) -> Result<Arc<PolicyVersion>> {
        // Compile first: an invalid document is refused with every fault.
        Policy::compile(document.clone(), 0, &self.catalog).map_err(Error::Validation)?;
        let text = canonical::to_canonical(&document);
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let version = match policies::insert_next(&mut tx, tenant.as_str(), &text, actor, now).await
        {
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
        audit::append(&mut tx, tenant, event).await?;
        tx.commit().await?;
        self.cache.invalidate(tenant.as_str()).await;
        self.current(tenant).await
    }

    /// Decides `params` of `intent_type` for `agent` under `policy`.
    pub fn decide(
        policy: &Policy,
        intent_type: &IntentType,
        agent: &Agent,
        params: &Value,
        now: Millis,
    ) -> Decision {
        let agent_facts = json!({
            "id": agent.id,
            "trustTier": agent.trust_tier.as_str(),
            "trustScore": agent.trust_score,
            "domains": agent.domains,
        });
        let intent_facts = json!({
            "type": intent_type.name,
            "domain": intent_type.domain,
            "risk": intent_type.risk.as_str(),
            "valueCategory": intent_type.value_category.map(|c| c.as_str()),
        });
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now).unwrap_or_default();
        let time_facts = json!({
            "hour": at.hour(),
            "weekday": at.weekday().num_days_from_monday(),
            "date": at.format("%Y-%m-%d").to_string(),
            "epochMs": now,
        });
        policy.evaluate(&Facts {
            domain: &intent_type.domain,
            intent_type: &intent_type.name,
            risk: intent_type.risk,
            tier: agent.trust_tier,
            params,
            agent: &agent_facts,
            intent: &intent_facts,
            time: &time_facts,
        })
    }
}
