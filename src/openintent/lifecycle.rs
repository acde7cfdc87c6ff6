//! Agent lifecycle and health (RFC-0016) over the one agent registry: an agent of
//! `/v1/agents` registers through the protocol with its capabilities and heartbeat timing,
//! sends heartbeats, drains and deregisters. A sweep marks agents that stop sending
//! heartbeats `unhealthy`, then `dead`; each move is a conditional update, so with several
//! instances sweeping each agent moves once.
//!
//! Status machine: (unregistered | deregistered | dead) → active on registration;
//! active ⇄ draining; active | draining → unhealthy (missed heartbeats) → active (a
//! heartbeat) or dead; any registered status → deregistered. A deregistered or dead agent's
//! heartbeat is 410: it must register again.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Caller, Lifecycle};
use crate::{
    audit::{actors, AuditEvent},
    auth::identity,
    error::{Error, Result},
    ids::TenantId,
    openintent::records::{object, one_of},
    store::openintent::lifecycle::{self as rows, LifecycleChange, LifecycleRow, Silence},
    time::{now_ms, protocol_instant, Millis},
};

pub const STATUSES: [&str; 6] = [
    "registering",
    "active",
    "draining",
    "unhealthy",
    "dead",
    "deregistered",
];
/// Statuses of a registered, live agent: registering again is a 409.
const LIVE: [&str; 3] = ["active", "draining", "unhealthy"];
/// Statuses whose heartbeats are refused (410).
const GONE: [&str; 2] = ["dead", "deregistered"];
const MAX_CAPABILITIES: usize = 100;
/// Most agents one listing returns.
const MAX_LISTED: i64 = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatConfig {
    #[serde(default = "default_interval")]
    pub interval_seconds: i64,
    #[serde(default = "default_unhealthy")]
    pub unhealthy_after_seconds: i64,
    #[serde(default = "default_dead")]
    pub dead_after_seconds: i64,
}

fn default_interval() -> i64 {
    30
}
fn default_unhealthy() -> i64 {
    90
}
fn default_dead() -> i64 {
    300
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval_seconds: default_interval(),
            unhealthy_after_seconds: default_unhealthy(),
            dead_after_seconds: default_dead(),
        }
    }
}

impl HeartbeatConfig {
    fn check(&self) -> Result<()> {
        let ordered = 1 <= self.interval_seconds
            && self.interval_seconds <= self.unhealthy_after_seconds
            && self.unhealthy_after_seconds < self.dead_after_seconds
            && self.dead_after_seconds <= 7 * 86_400;
        match ordered {
            true => Ok(()),
            false => Err(Error::invalid(
                &["heartbeat_config"],
                "needs 1 <= interval_seconds <= unhealthy_after_seconds < dead_after_seconds <= 604800",
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Capacity {
    #[serde(default = "default_capacity")]
    pub max_concurrent_tasks: i64,
    #[serde(default)]
    pub current_load: i64,
}

fn default_capacity() -> i64 {
    5
}

/// What the lifecycle column keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Profile {
    #[serde(default)]
    role_id: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    capacity: Capacity,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    heartbeat_config: HeartbeatConfig,
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    drain_timeout_seconds: Option<i64>,
    #[serde(default)]
    tasks_in_progress: Vec<String>,
    #[serde(default)]
    registered_at: Millis,
}

/// An agent as RFC-0016 shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AgentRecord {
    pub agent_id: String,
    pub status: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    pub capabilities: Vec<String>,
    pub capacity: Capacity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub heartbeat_config: HeartbeatConfig,
    pub metadata: Value,
    pub registered_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_timeout_seconds: Option<i64>,
    pub tasks_in_progress: Vec<String>,
    pub version: i64,
}

/// What a heartbeat answers.
#[derive(Debug, Clone, Serialize)]
pub struct HeartbeatAck {
    pub agent_id: String,
    pub status: String,
    pub last_heartbeat_at: String,
    /// When the next heartbeat is due (`interval_seconds` from now).
    pub next_heartbeat_due: String,
    pub version: i64,
}

/// `POST /agents/register`.
#[derive(Debug, Deserialize)]
pub struct RegistrationInput {
    pub agent_id: String,
    #[serde(default)]
    pub role_id: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub capacity: Option<Capacity>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub heartbeat_config: Option<HeartbeatConfig>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub drain_timeout_seconds: Option<i64>,
}

/// `POST /agents/{id}/heartbeat`.
#[derive(Debug, Default, Deserialize)]
pub struct HeartbeatInput {
    #[serde(default)]
    pub current_load: Option<i64>,
    #[serde(default)]
    pub tasks_in_progress: Option<Vec<String>>,
}

fn profile_of(row: &LifecycleRow) -> Profile {
    row.lifecycle
        .as_deref()
        .and_then(|doc| serde_json::from_str(doc).ok())
        .unwrap_or_default()
}

fn record_of(row: &LifecycleRow) -> Option<AgentRecord> {
    let status = row.lifecycle_status.clone()?;
    let profile = profile_of(row);
    Some(AgentRecord {
        agent_id: row.id.clone(),
        status,
        name: row.name.clone(),
        role_id: profile.role_id,
        capabilities: profile.capabilities,
        capacity: profile.capacity,
        endpoint: profile.endpoint,
        heartbeat_config: profile.heartbeat_config,
        metadata: profile.metadata,
        registered_at: protocol_instant(profile.registered_at),
        last_heartbeat_at: row.last_heartbeat_at.map(protocol_instant),
        drain_timeout_seconds: profile.drain_timeout_seconds,
        tasks_in_progress: profile.tasks_in_progress,
        version: row.lifecycle_version,
    })
}

fn not_registered() -> Error {
    Error::NotFound {
        what: "agent lifecycle record",
    }
}

fn write_of<'a>(
    status: &'a str,
    doc: &'a str,
    version: i64,
    heartbeat: Option<Millis>,
    config: &HeartbeatConfig,
) -> LifecycleChange<'a> {
    LifecycleChange {
        status,
        lifecycle: doc,
        version,
        last_heartbeat_at: heartbeat,
        unhealthy_after_ms: config.unhealthy_after_seconds * 1000,
        dead_after_ms: config.dead_after_seconds * 1000,
        drain_deadline_at: None,
    }
}

impl Lifecycle {
    /// The registry row of an agent, read for update; 404 for an agent not in `/v1/agents`.
    /// The caller's right to act as it is checked first, outside the change
    /// ([`identity::check_acting_as`] audits a refusal on its own).
    async fn agent_row(
        &self,
        change: &mut super::Change<'_>,
        caller: &Caller,
        agent_id: &str,
    ) -> Result<LifecycleRow> {
        rows::get_for_update(change.tx(), self.store(), &caller.tenant, agent_id)
            .await?
            .ok_or_else(|| Error::AgentNotFound(agent_id.to_string()))
    }

    async fn may_manage(&self, caller: &Caller, agent_id: &str) -> Result<()> {
        identity::check_acting_as(self.store(), &caller.principal, agent_id, "lifecycle").await
    }

    pub async fn register_agent(
        &self,
        caller: &Caller,
        input: RegistrationInput,
    ) -> Result<AgentRecord> {
        let config = input.heartbeat_config.unwrap_or_default();
        config.check()?;
        if input.capabilities.len() > MAX_CAPABILITIES {
            return Err(Error::invalid(
                &["capabilities"],
                format!("at most {MAX_CAPABILITIES}"),
            ));
        }
        super::documents::check_tags(&input.capabilities, "capabilities")?;
        let metadata = object(input.metadata, "metadata")?;
        self.may_manage(caller, &input.agent_id).await?;
        let mut change = self.change(caller).await?;
        let row = self.agent_row(&mut change, caller, &input.agent_id).await?;
        if let Some(status) = row.lifecycle_status.as_deref().filter(|s| LIVE.contains(s)) {
            return Err(Error::Conflict(format!(
                "agent '{}' is already registered and {status}",
                row.id
            )));
        }
        let now = now_ms();
        let profile = Profile {
            role_id: input.role_id,
            capabilities: input.capabilities,
            capacity: input.capacity.unwrap_or(Capacity {
                max_concurrent_tasks: default_capacity(),
                current_load: 0,
            }),
            endpoint: input.endpoint,
            heartbeat_config: config.clone(),
            metadata,
            drain_timeout_seconds: input.drain_timeout_seconds,
            tasks_in_progress: Vec::new(),
            registered_at: now,
        };
        let doc = serde_json::to_string(&profile).map_err(|err| Error::Internal(err.into()))?;
        let version = row.lifecycle_version + 1;
        let write = write_of("active", &doc, version, Some(now), &config);
        rows::write(change.tx(), &caller.tenant, &row.id, &write, now).await?;
        let data =
            json!({ "status": "active", "capabilities": profile.capabilities, "version": version });
        change.audit("agent.registered", &row.id, data).await?;
        change.commit().await?;
        let mut registered = row;
        registered.lifecycle_status = Some("active".into());
        registered.lifecycle = Some(doc);
        registered.lifecycle_version = version;
        registered.last_heartbeat_at = Some(now);
        record_of(&registered).ok_or_else(not_registered)
    }

    pub async fn get_agent_record(&self, caller: &Caller, agent_id: &str) -> Result<AgentRecord> {
        rows::get(self.store(), &caller.tenant, agent_id)
            .await?
            .as_ref()
            .and_then(record_of)
            .ok_or_else(not_registered)
    }

    pub async fn list_agents(
        &self,
        caller: &Caller,
        status: Option<&str>,
        role_id: Option<&str>,
    ) -> Result<Vec<AgentRecord>> {
        if let Some(status) = status {
            check_status(status)?;
        }
        let rows = rows::list(self.store(), &caller.tenant, status, MAX_LISTED).await?;
        Ok(rows
            .iter()
            .filter_map(record_of)
            .filter(|record| role_id.is_none() || record.role_id.as_deref() == role_id)
            .collect())
    }

    /// Records a heartbeat. Heartbeats are not audited (one every few seconds per agent):
    /// they write the time directly; a heartbeat that revives an unhealthy agent is a change
    /// of status, audited in a unit of work.
    pub async fn heartbeat(
        &self,
        caller: &Caller,
        agent_id: &str,
        input: HeartbeatInput,
    ) -> Result<HeartbeatAck> {
        self.may_manage(caller, agent_id).await?;
        let row = rows::get(self.store(), &caller.tenant, agent_id)
            .await?
            .ok_or_else(|| Error::AgentNotFound(agent_id.to_string()))?;
        let seen = row.lifecycle_status.clone().ok_or_else(not_registered)?;
        if GONE.contains(&seen.as_str()) {
            return Err(Error::Gone(format!(
                "agent '{agent_id}' is {seen}; register it again"
            )));
        }
        let mut profile = profile_of(&row);
        let reported = input.current_load.is_some() || input.tasks_in_progress.is_some();
        if let Some(load) = input.current_load {
            profile.capacity.current_load = load.max(0);
        }
        if let Some(tasks) = input.tasks_in_progress {
            profile.tasks_in_progress = tasks;
        }
        let doc = match reported {
            true => {
                Some(serde_json::to_string(&profile).map_err(|err| Error::Internal(err.into()))?)
            }
            false => None,
        };
        let revived = seen == "unhealthy";
        let status = if revived { "active" } else { seen.as_str() };
        let version = row.lifecycle_version + i64::from(revived);
        let now = now_ms();
        let (tenant, doc) = (&caller.tenant, doc.as_deref());
        let written = match revived {
            true => {
                let mut change = self.change(caller).await?;
                let written = rows::heartbeat(
                    change.tx(),
                    tenant,
                    agent_id,
                    &seen,
                    status,
                    version,
                    doc,
                    now,
                )
                .await?;
                if written {
                    let data =
                        json!({ "from": "unhealthy", "to": "active", "reason": "heartbeat" });
                    change.audit("agent.status_changed", agent_id, data).await?;
                    change.commit().await?;
                }
                written
            }
            false => {
                let mut tx = self.store().begin().await?;
                let written =
                    rows::heartbeat(&mut tx, tenant, agent_id, &seen, status, version, doc, now)
                        .await?;
                tx.commit().await?;
                written
            }
        };
        if !written {
            // Its status changed meanwhile (deregistered, marked unhealthy): answer that.
            return Box::pin(self.heartbeat(caller, agent_id, HeartbeatInput::default())).await;
        }
        Ok(HeartbeatAck {
            agent_id: agent_id.to_string(),
            status: status.to_string(),
            last_heartbeat_at: protocol_instant(now),
            next_heartbeat_due: protocol_instant(
                now + profile.heartbeat_config.interval_seconds * 1000,
            ),
            version,
        })
    }

    /// Moves an agent to `draining`, back to `active`, or to `deregistered`.
    pub async fn set_status(
        &self,
        caller: &Caller,
        agent_id: &str,
        to: &str,
    ) -> Result<AgentRecord> {
        check_status(to)?;
        self.may_manage(caller, agent_id).await?;
        let mut change = self.change(caller).await?;
        let mut row = self.agent_row(&mut change, caller, agent_id).await?;
        let from = row.lifecycle_status.clone().ok_or_else(not_registered)?;
        let allowed = matches!(
            (from.as_str(), to),
            ("active", "draining")
                | ("draining", "active")
                | ("active" | "draining" | "unhealthy", "deregistered")
        ) || from == to;
        if !allowed {
            return Err(Error::Conflict(format!(
                "an agent cannot move from {from} to {to}"
            )));
        }
        if from != to {
            let profile = profile_of(&row);
            let doc = row.lifecycle.clone().unwrap_or_else(|| "{}".into());
            let version = row.lifecycle_version + 1;
            let now = now_ms();
            let mut write = write_of(
                to,
                &doc,
                version,
                row.last_heartbeat_at,
                &profile.heartbeat_config,
            );
            if to == "draining" {
                write.drain_deadline_at = profile
                    .drain_timeout_seconds
                    .map(|seconds| now + seconds.max(0) * 1000);
            }
            rows::write(change.tx(), &caller.tenant, agent_id, &write, now).await?;
            let data = json!({ "from": from, "to": to, "version": version });
            change.audit("agent.status_changed", agent_id, data).await?;
            change.commit().await?;
            row.lifecycle_status = Some(to.to_string());
            row.lifecycle_version = version;
        }
        record_of(&row).ok_or_else(not_registered)
    }

    /// One pass of the health sweep: silent agents become unhealthy, long-silent ones dead,
    /// and draining agents past their `drain_timeout_seconds` are deregistered. Returns how
    /// many moved.
    pub async fn sweep_health(&self) -> Result<usize> {
        let now = now_ms();
        let mut moved = 0;
        let passes = [
            ("active", "unhealthy", Silence::Unhealthy),
            ("draining", "unhealthy", Silence::Unhealthy),
            ("unhealthy", "dead", Silence::Dead),
            ("draining", "deregistered", Silence::DrainTimedOut),
        ];
        for (from, to, silence) in passes {
            for (tenant, agent_id) in rows::overdue(self.store(), from, silence, now, 500).await? {
                moved += usize::from(
                    self.mark(&tenant, &agent_id, from, to, silence, now)
                        .await?,
                );
            }
        }
        Ok(moved)
    }

    async fn mark(
        &self,
        tenant: &TenantId,
        agent_id: &str,
        from: &str,
        to: &str,
        silence: Silence,
        now: Millis,
    ) -> Result<bool> {
        let mut work = self.writer.begin(tenant).await?;
        if !rows::mark_overdue(&mut work, tenant, agent_id, from, to, silence, now).await? {
            return Ok(false);
        }
        let reason = match silence {
            Silence::DrainTimedOut => "drain timeout",
            Silence::Unhealthy | Silence::Dead => "missed heartbeats",
        };
        let data = json!({ "from": from, "to": to, "reason": reason });
        work.audit(AuditEvent {
            event_type: "openintent.agent.status_changed",
            actor: actors::SYSTEM,
            subject: agent_id,
            data,
        })
        .await?;
        work.commit().await?.publish();
        Ok(true)
    }
}

fn check_status(raw: &str) -> Result<()> {
    one_of(raw, &STATUSES, "status")
}
