//! RFC-0013 coordinator leases and decision records.
//!
//! A coordinator lease gives one agent the coordinator role over an intent (or a portfolio).
//! It is exclusive: while a live lease holds a target, another is refused with 409; the
//! store's unique key on the target (`live:<target>`, cleared when the lease ends) makes that
//! hold across concurrent requests and instances. A lease whose holder misses two heartbeats
//! reads as `unresponsive`, and a new lease on its target takes over from it (`failed_over`);
//! one past its `expires_at` reads as `completed`. Both are worked out on read from the
//! heartbeat times, so no sweep has to run for them.
//!
//! Decision records are the coordinator's account of what it decided and why: only the
//! agent holding a live lease on the intent records them, each logged as
//! `coordinator.decision` on the intent.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    documents::{identified_by, Columns, Document},
    prefixes, Caller, Change, Coordinators, NewEvent,
};
use crate::{
    error::{Error, Result},
    ids,
    openintent::records::{instant, one_of, require_text},
    store::openintent::{documents::DocumentQuery, portfolios as portfolio_rows},
    time::{now_ms, parse_instant, protocol_instant, DayBound, Millis},
};

pub const TYPES: [&str; 4] = ["llm", "human", "composite", "system"];
pub const SCOPES: [&str; 2] = ["intent", "portfolio"];
/// Stored states; `unresponsive` and an expiry's `completed` are worked out on read.
pub const STATUSES: [&str; 7] = [
    "registering",
    "active",
    "paused",
    "unresponsive",
    "failed_over",
    "completing",
    "completed",
];
pub const DECISION_TYPES: [&str; 10] = [
    "plan_created",
    "plan_modified",
    "task_assigned",
    "task_delegated",
    "escalation_initiated",
    "escalation_resolved",
    "checkpoint_evaluated",
    "failure_handled",
    "guardrail_approached",
    "coordinator_handoff",
];
/// Heartbeats missed before a lease reads as unresponsive.
const MISSED_HEARTBEATS: i64 = 2;
const MAX_LIST: i64 = 1_000;

#[derive(Debug, Deserialize)]
pub struct LeaseIn {
    pub agent_id: String,
    #[serde(default)]
    pub intent_id: Option<String>,
    #[serde(default)]
    pub portfolio_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub supervisor_id: Option<String>,
    #[serde(default, alias = "type")]
    pub coordinator_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub guardrails: Option<Map<String, Value>>,
    #[serde(default)]
    pub heartbeat_interval_seconds: Option<i64>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoordinatorLease {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portfolio_id: Option<String>,
    pub agent_id: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor_id: Option<String>,
    pub coordinator_type: String,
    pub scope: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Map<String, Value>>,
    pub heartbeat_interval_seconds: i64,
    pub last_heartbeat: String,
    pub granted_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub version: i64,
    pub metadata: Map<String, Value>,
}

impl CoordinatorLease {
    fn target(&self) -> &str {
        self.intent_id
            .as_deref()
            .or(self.portfolio_id.as_deref())
            .unwrap_or_default()
    }

    /// Whether the lease still holds its target (stored so, whatever its timers say).
    fn holds(&self) -> bool {
        matches!(self.status.as_str(), "registering" | "active" | "paused")
    }

    /// The lease as it stands at `now`: an expired one has completed, a silent one is
    /// unresponsive.
    fn observed(mut self, now: Millis) -> Self {
        if !self.holds() {
            return self;
        }
        let at = |raw: &str| parse_instant(raw, DayBound::Start);
        if self
            .expires_at
            .as_deref()
            .and_then(at)
            .is_some_and(|end| end <= now)
        {
            self.status = "completed".into();
        } else if self.status == "active"
            && at(&self.last_heartbeat).is_some_and(|last| {
                now - last > MISSED_HEARTBEATS * self.heartbeat_interval_seconds * 1000
            })
        {
            self.status = "unresponsive".into();
        }
        self
    }
}

impl Document for CoordinatorLease {
    const KIND: &'static str = "coordinator";
    const WHAT: &'static str = "coordinator lease";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.target().to_string(),
            status: self.status.clone(),
            unique_key: self.holds().then(|| format!("live:{}", self.target())),
            ..Columns::default()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionIn {
    pub coordinator_id: String,
    pub intent_id: String,
    pub decision_type: String,
    pub summary: String,
    #[serde(default)]
    pub rationale: String,
    #[serde(default)]
    pub alternatives_considered: Vec<Map<String, Value>>,
    #[serde(default)]
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub record_type: String,
    /// The lease the decision was made under.
    pub coordinator_id: String,
    pub agent_id: String,
    pub intent_id: String,
    pub decision_type: String,
    pub summary: String,
    pub rationale: String,
    pub alternatives_considered: Vec<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    pub timestamp: String,
}

impl Document for DecisionRecord {
    const KIND: &'static str = "coordinator_decision";
    const WHAT: &'static str = "decision record";

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> i64 {
        1
    }

    fn columns(&self) -> Columns {
        Columns {
            parent: self.intent_id.clone(),
            status: self.decision_type.clone(),
            ..Columns::default()
        }
    }
}

/// What a heartbeat answers.
#[derive(Debug, Serialize)]
pub struct HeartbeatAck {
    pub status: &'static str,
    pub lease_id: String,
    pub coordinator_status: String,
    pub next_heartbeat_at: String,
}

fn optional_text(value: &Option<String>, field: &str) -> Result<()> {
    value
        .as_deref()
        .map_or(Ok(()), |v| require_text(v, field, 200))
}

impl Coordinators {
    /// Grants a lease; 409 while another live lease holds the target. A lease that went
    /// unresponsive is taken over (`failed_over`).
    pub async fn create_lease(&self, caller: &Caller, input: LeaseIn) -> Result<CoordinatorLease> {
        let scope = input.scope.clone().unwrap_or_else(|| "intent".into());
        one_of(&scope, &SCOPES, "scope")?;
        let coordinator_type = input
            .coordinator_type
            .clone()
            .unwrap_or_else(|| "llm".into());
        one_of(&coordinator_type, &TYPES, "coordinator_type")?;
        optional_text(&input.role, "role")?;
        optional_text(&input.supervisor_id, "supervisor_id")?;
        let interval = input.heartbeat_interval_seconds.unwrap_or(60);
        if !(1..=86_400).contains(&interval) {
            return Err(Error::invalid(
                &["heartbeat_interval_seconds"],
                "must be 1-86400",
            ));
        }
        let expires_at = instant(input.expires_at.as_deref(), "expires_at")?;
        let now = now_ms();
        if expires_at
            .as_deref()
            .and_then(|e| parse_instant(e, DayBound::Start))
            .is_some_and(|end| end <= now)
        {
            return Err(Error::invalid(&["expires_at"], "must be in the future"));
        }
        let agent_id = self.attributed(caller, Some(input.agent_id)).await?;
        let (intent_id, portfolio_id) = match scope.as_str() {
            "intent" => (
                Some(input.intent_id.ok_or_else(|| {
                    Error::invalid(&["intent_id"], "an intent-scoped lease names its intent")
                })?),
                None,
            ),
            _ => {
                let portfolio = input.portfolio_id.ok_or_else(|| {
                    Error::invalid(
                        &["portfolio_id"],
                        "a portfolio-scoped lease names its portfolio",
                    )
                })?;
                portfolio_rows::get(self.store(), &caller.tenant, &portfolio)
                    .await?
                    .ok_or(Error::NotFound { what: "portfolio" })?;
                (None, Some(portfolio))
            }
        };
        let stamp = protocol_instant(now);
        let lease = CoordinatorLease {
            id: ids::new_id(prefixes::COORDINATOR),
            intent_id,
            portfolio_id,
            agent_id,
            role: input.role.unwrap_or_else(|| "coordinator".into()),
            supervisor_id: input.supervisor_id,
            coordinator_type,
            scope,
            status: "active".into(),
            guardrails: input.guardrails,
            heartbeat_interval_seconds: interval,
            last_heartbeat: stamp.clone(),
            granted_at: stamp,
            expires_at,
            version: 1,
            metadata: input.metadata.unwrap_or_default(),
        };
        let mut change = self.change(caller).await?;
        if let Some(intent_id) = &lease.intent_id {
            change.intent(self.store(), intent_id).await?;
        }
        let replaced = change.end_lapsed_lease(lease.target(), now).await?;
        let duplicate = format!("{} already has a live coordinator lease", lease.target());
        change.insert_document(&lease, now, &duplicate).await?;
        if let Some(intent_id) = &lease.intent_id {
            if let Some(old) = &replaced {
                let payload = json!({ "old_coordinator_id": old.id, "old_agent_id": old.agent_id,
                                      "new_coordinator_id": lease.id, "new_agent_id": lease.agent_id });
                change
                    .announce(NewEvent::new(intent_id, "coordinator.failed_over", payload))
                    .await?;
            }
            let payload = json!({ "coordinator_id": lease.id, "agent_id": lease.agent_id,
                                  "supervisor_id": lease.supervisor_id,
                                  "coordinator_type": lease.coordinator_type });
            change
                .announce(NewEvent::new(intent_id, "coordinator.assigned", payload))
                .await?;
        } else {
            change
                .audit("coordinator.assigned", &lease.id, json!({ "lease": lease }))
                .await?;
        }
        change.commit().await?;
        Ok(lease)
    }

    pub async fn lease(&self, caller: &Caller, id: &str) -> Result<CoordinatorLease> {
        let lease: CoordinatorLease = self.document(caller, id).await?;
        if let Some(intent_id) = &lease.intent_id {
            self.intent(caller, intent_id).await?;
        }
        Ok(lease.observed(now_ms()))
    }

    /// The intent's coordinator leases, oldest first (a bare array).
    pub async fn leases_of_intent(
        &self,
        caller: &Caller,
        intent_id: &str,
    ) -> Result<Vec<CoordinatorLease>> {
        self.intent(caller, intent_id).await?;
        let query = DocumentQuery {
            kind: CoordinatorLease::KIND,
            parent: Some(intent_id),
            status: None,
            namespace: None,
            tags: &[],
            live_at: None,
            limit: MAX_LIST,
            offset: 0,
        };
        let now = now_ms();
        let leases: Vec<CoordinatorLease> = self.documents(caller, &query).await?;
        Ok(leases.into_iter().map(|l| l.observed(now)).collect())
    }

    /// The holder's heartbeat (403 for anyone else, 410 once the lease has ended). It brings
    /// an unresponsive lease back to active.
    pub async fn heartbeat(&self, caller: &Caller, id: &str) -> Result<HeartbeatAck> {
        let mut change = self.change(caller).await?;
        let stored: CoordinatorLease = change.document(self.store(), id).await?;
        if let Some(intent_id) = &stored.intent_id {
            change.intent(self.store(), intent_id).await?;
        }
        if stored.agent_id != caller.agent_id && !caller.admin {
            return Err(Error::Forbidden(format!(
                "coordinator lease {id} is held by agent '{}'",
                stored.agent_id
            )));
        }
        let now = now_ms();
        let observed = stored.clone().observed(now);
        if !matches!(
            observed.status.as_str(),
            "active" | "paused" | "registering" | "unresponsive"
        ) {
            return Err(Error::Gone(format!(
                "coordinator lease {id} has ended ({})",
                observed.status
            )));
        }
        let mut lease = stored;
        lease.last_heartbeat = protocol_instant(now);
        lease.version += 1;
        change.save_document(&lease, lease.version - 1, now).await?;
        let payload = json!({ "coordinator_id": lease.id, "agent_id": lease.agent_id });
        match &lease.intent_id {
            Some(intent_id) => {
                change
                    .record(NewEvent::new(intent_id, "coordinator.heartbeat", payload))
                    .await?;
            }
            None => {
                change
                    .audit("coordinator.heartbeat", &lease.id, payload)
                    .await?
            }
        }
        change.commit().await?;
        Ok(HeartbeatAck {
            status: "ok",
            next_heartbeat_at: protocol_instant(now + lease.heartbeat_interval_seconds * 1000),
            coordinator_status: lease.status.clone(),
            lease_id: lease.id,
        })
    }

    /// Records a decision; the caller must hold a live lease on the intent, named by
    /// `coordinator_id` (the lease id, or the holding agent's id).
    pub async fn record_decision(
        &self,
        caller: &Caller,
        input: DecisionIn,
    ) -> Result<DecisionRecord> {
        one_of(&input.decision_type, &DECISION_TYPES, "decision_type")?;
        require_text(&input.summary, "summary", 2_000)?;
        if input.rationale.chars().count() > 10_000 {
            return Err(Error::invalid(
                &["rationale"],
                "must be at most 10000 characters",
            ));
        }
        if input.alternatives_considered.len() > 100 {
            return Err(Error::invalid(
                &["alternatives_considered"],
                "at most 100 alternatives",
            ));
        }
        if input.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(Error::invalid(&["confidence"], "must be between 0 and 1"));
        }
        let mut change = self.change(caller).await?;
        change.intent(self.store(), &input.intent_id).await?;
        let now = now_ms();
        let live = change
            .documents_of::<CoordinatorLease>(&input.intent_id)
            .await?
            .into_iter()
            .map(|lease| lease.observed(now))
            .find(|lease| lease.status == "active" || lease.status == "paused");
        let lease = live
            .filter(|lease| {
                lease.id == input.coordinator_id || lease.agent_id == input.coordinator_id
            })
            .ok_or_else(|| {
                Error::Forbidden(format!(
                    "'{}' holds no live coordinator lease on intent {}",
                    input.coordinator_id, input.intent_id
                ))
            })?;
        if lease.agent_id != caller.agent_id && !caller.admin {
            return Err(Error::Forbidden(format!(
                "coordinator lease {} is held by agent '{}'",
                lease.id, lease.agent_id
            )));
        }
        let record = DecisionRecord {
            id: ids::new_id(prefixes::DECISION_RECORD),
            record_type: "coordinator.decision".into(),
            coordinator_id: lease.id,
            agent_id: lease.agent_id,
            intent_id: input.intent_id,
            decision_type: input.decision_type,
            summary: input.summary,
            rationale: input.rationale,
            alternatives_considered: input.alternatives_considered,
            confidence: input.confidence,
            timestamp: protocol_instant(now),
        };
        change
            .insert_document(&record, now, "duplicate decision record")
            .await?;
        let payload = json!({ "decision_id": record.id, "coordinator_id": record.coordinator_id,
                              "decision_type": record.decision_type, "summary": record.summary,
                              "rationale": record.rationale, "confidence": record.confidence });
        change
            .record(NewEvent::new(
                &record.intent_id,
                "coordinator.decision",
                payload,
            ))
            .await?;
        change.commit().await?;
        Ok(record)
    }

    /// The intent's decision records, oldest first, at most `limit` (a bare array).
    pub async fn decisions(
        &self,
        caller: &Caller,
        intent_id: &str,
        limit: i64,
    ) -> Result<Vec<DecisionRecord>> {
        self.intent(caller, intent_id).await?;
        let query = DocumentQuery {
            kind: DecisionRecord::KIND,
            parent: Some(intent_id),
            status: None,
            namespace: None,
            tags: &[],
            live_at: None,
            limit: limit.clamp(1, MAX_LIST),
            offset: 0,
        };
        self.documents(caller, &query).await
    }
}

impl Change<'_> {
    /// Ends the lease holding `target` if it has lapsed (unresponsive: `failed_over`;
    /// expired: `completed`), freeing the target; answers the lease it took over from.
    async fn end_lapsed_lease(
        &mut self,
        target: &str,
        now: Millis,
    ) -> Result<Option<CoordinatorLease>> {
        let holding = self
            .documents_of::<CoordinatorLease>(target)
            .await?
            .into_iter()
            .find(CoordinatorLease::holds);
        let Some(stored) = holding else {
            return Ok(None);
        };
        let observed = stored.clone().observed(now);
        let ended = match observed.status.as_str() {
            "unresponsive" => "failed_over",
            "completed" => "completed",
            _ => return Ok(None),
        };
        let mut lease = stored;
        lease.status = ended.into();
        lease.version += 1;
        self.save_document(&lease, lease.version - 1, now).await?;
        Ok((ended == "failed_over").then_some(lease))
    }
}
