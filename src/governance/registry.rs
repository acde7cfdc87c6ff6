//! The one agent registry seen from the OpenIntent face: the agent an OpenIntent call names
//! with `X-Agent-ID` is an agent of `/v1/agents` (same table, same trust record). A call may
//! act as an agent only if its key's binding allows it, the agent is registered, and it is
//! active. Unknown agents are registered (at `T0`, audited) on first use only where the
//! tenant allows it: by default in development mode, otherwise only after
//! `intendedops tenant agent-registration <tenant> --on`.
//!
//! Admitted agents are cached briefly per instance, so the protocol's hot paths cost no
//! database read for identity; a suspension reaches every instance within [`CACHE_TTL`].

use std::{sync::Arc, time::Duration};

use moka::future::Cache;

use super::agents::{AgentService, AgentStatus, Registration};
use crate::{
    auth::{identity, Principal, TenantId},
    error::{Error, Result},
    store::{tenants, Store},
};

/// How long an instance trusts what it read about an agent or a tenant's setting.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_CAPACITY: u64 = 100_000;

fn short_lived<K, V>() -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(CACHE_CAPACITY)
        .time_to_live(CACHE_TTL)
        .build()
}

pub struct AgentRegistry {
    store: Store,
    agents: Arc<AgentService>,
    /// The default of the tenant setting: on in development mode.
    register_by_default: bool,
    admitted: Cache<(TenantId, Arc<str>), ()>,
    registers_on_first_use: Cache<TenantId, bool>,
}

impl AgentRegistry {
    pub fn new(store: Store, agents: Arc<AgentService>, register_by_default: bool) -> Self {
        Self {
            store,
            agents,
            register_by_default,
            admitted: short_lived(),
            registers_on_first_use: short_lived(),
        }
    }

    /// `Ok` when `principal` may act as `agent_id`: its key's binding allows it (a refusal is
    /// audited), and the agent is registered — now, if the tenant registers on first use —
    /// and active.
    pub async fn admit(&self, principal: &Principal, agent_id: &str) -> Result<()> {
        identity::check_acting_as(&self.store, principal, agent_id, "act").await?;
        let key = (principal.tenant_id.clone(), Arc::<str>::from(agent_id));
        if self.admitted.contains_key(&key) {
            return Ok(());
        }
        let agent = match self
            .agents
            .get_registration(&principal.tenant_id, agent_id)
            .await
        {
            Err(Error::NotFound { .. }) => self.register_on_first_use(principal, agent_id).await?,
            other => other?,
        };
        if agent.status != AgentStatus::Active {
            return Err(Error::Forbidden(format!(
                "agent '{agent_id}' is {}; it cannot act",
                agent.status.as_str()
            )));
        }
        self.admitted.insert(key, ()).await;
        Ok(())
    }

    async fn register_on_first_use(
        &self,
        principal: &Principal,
        agent_id: &str,
    ) -> Result<super::agents::Agent> {
        let tenant = &principal.tenant_id;
        if !self.registers_on_first_use(tenant).await? {
            return Err(Error::Forbidden(format!(
                "agent '{agent_id}' is not registered in this tenant; register it with \
                 POST /v1/agents (this tenant does not register agents on first use)"
            )));
        }
        let registration = Registration {
            name: agent_id.to_string(),
            description: Some("registered on first use through the OpenIntent face".into()),
            domains: Vec::new(),
            intent_types: Vec::new(),
            id: Some(agent_id.to_string()),
        };
        match self
            .agents
            .register(tenant, &principal.key_id, registration)
            .await
        {
            // A concurrent first use registered it: use that one.
            Err(Error::Conflict(_)) => self.agents.get_registration(tenant, agent_id).await,
            other => other,
        }
    }

    async fn registers_on_first_use(&self, tenant: &TenantId) -> Result<bool> {
        let store = &self.store;
        let default = self.register_by_default;
        self.registers_on_first_use
            .try_get_with_by_ref(tenant, async move {
                let mut conn = store.reader().acquire().await?;
                let setting = tenants::auto_register_agents(&mut conn, tenant).await?;
                Ok::<_, Error>(setting.flatten().unwrap_or(default))
            })
            .await
            .map_err(|err: Arc<Error>| {
                Error::Internal(anyhow::anyhow!("tenant setting lookup: {err}"))
            })
    }
}
