//! RFC-0013 governance policies on intents: who may write to an intent (`write_scope`,
//! `allowed_agents`), what completing it takes (`completion_mode`: an approved approval
//! request for `complete`, or a quorum of them), a cost ceiling and mandatory status reasons.
//!
//! Every rule is checked on the verified acting agent, under the intent's row lock, inside
//! the change it guards. A refusal is a 403, and a `governance.violation` event records it;
//! that event is written after the refused change has rolled back (it cannot share the
//! transaction being refused), by its own unit of work.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{intents::bump, Caller, Change, Context, Intents, NewEvent, Version};
use crate::{
    error::{Error, Result},
    governance::approvals::subjects,
    store::{
        approvals as approval_rows,
        openintent::{graph as graph_rows, intents as intent_rows, intents::IntentRow},
    },
    work::Writer,
};

pub const COMPLETION_MODES: [&str; 3] = ["auto", "require_approval", "quorum"];
pub const WRITE_SCOPES: [&str; 2] = ["any", "assigned_only"];
const DEFAULT_QUORUM: f64 = 0.6;
const MAX_ALLOWED_AGENTS: usize = 1000;
/// The approval action that gates completion.
pub const COMPLETE_ACTION: &str = "complete";

/// An intent's policy as enforced: the stored policy with defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub completion_mode: String,
    pub quorum_threshold: f64,
    pub write_scope: String,
    pub allowed_agents: Vec<String>,
    pub max_cost: Option<f64>,
    pub require_status_reason: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            completion_mode: "auto".into(),
            quorum_threshold: DEFAULT_QUORUM,
            write_scope: "any".into(),
            allowed_agents: Vec::new(),
            max_cost: None,
            require_status_reason: false,
        }
    }
}

impl Policy {
    /// Reads and checks a policy as sent (400 naming the field); keys it does not know are
    /// kept as sent and ignored.
    pub fn parse(raw: &Value) -> Result<Policy> {
        let Some(object) = raw.as_object() else {
            return Err(Error::invalid(&["governance_policy"], "must be an object"));
        };
        let policy: Policy = serde_json::from_value(Value::Object(object.clone()))
            .map_err(|err| Error::invalid(&["governance_policy"], err.to_string()))?;
        if !COMPLETION_MODES.contains(&policy.completion_mode.as_str()) {
            return Err(Error::invalid(
                &["completion_mode"],
                format!("must be one of {}", COMPLETION_MODES.join(", ")),
            ));
        }
        if !WRITE_SCOPES.contains(&policy.write_scope.as_str()) {
            return Err(Error::invalid(
                &["write_scope"],
                format!("must be one of {}", WRITE_SCOPES.join(", ")),
            ));
        }
        if !(policy.quorum_threshold > 0.0 && policy.quorum_threshold <= 1.0) {
            return Err(Error::invalid(
                &["quorum_threshold"],
                "must be above 0 and at most 1",
            ));
        }
        if policy
            .max_cost
            .is_some_and(|cost| !cost.is_finite() || cost < 0.0)
        {
            return Err(Error::invalid(
                &["max_cost"],
                "must be a non-negative number",
            ));
        }
        if policy.allowed_agents.len() > MAX_ALLOWED_AGENTS {
            return Err(Error::invalid(
                &["allowed_agents"],
                format!("at most {MAX_ALLOWED_AGENTS} agents"),
            ));
        }
        for agent in &policy.allowed_agents {
            super::intents::check_agent_id(agent).map_err(|_| {
                Error::invalid(&["allowed_agents"], "agent ids are 1-200 characters")
            })?;
        }
        Ok(policy)
    }

    /// The policy in force on an intent (defaults when it has none).
    pub fn of(intent: &IntentRow) -> Policy {
        intent
            .governance_policy
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or_default()
    }

    fn is_default(&self) -> bool {
        *self == Policy::default()
    }
}

/// What `GET …/governance` answers.
#[derive(Debug, Serialize)]
pub struct GovernanceView {
    pub intent_id: String,
    /// The policy as set (`{}` when none is).
    pub governance_policy: Value,
    pub effective_policy: Policy,
}

/// A refused change, to be recorded as a `governance.violation` event once it rolled back.
struct Violation {
    rule: &'static str,
    detail: String,
}

impl Violation {
    fn new(rule: &'static str, detail: impl Into<String>) -> Self {
        Violation {
            rule,
            detail: detail.into(),
        }
    }
}

impl Change<'_> {
    /// 403 unless the governance policy lets the caller write to the intent. Admin keys and
    /// the intent's creator pass the write rules (as they pass closed ACLs).
    pub(super) async fn check_governed_write(&mut self, intent: &IntentRow) -> Result<()> {
        if intent.governance_policy.is_none()
            || self.caller.admin
            || intent.created_by == self.caller.agent_id
        {
            return Ok(());
        }
        let policy = Policy::of(intent);
        let agent = self.caller.agent_id.clone();
        if !policy.allowed_agents.is_empty() && !policy.allowed_agents.contains(&agent) {
            let detail = format!("agent '{agent}' is not among the intent's allowed_agents");
            return Err(self.violated(intent, Violation::new("allowed_agents", detail)));
        }
        if policy.write_scope == "assigned_only" {
            let tenant = self.caller.tenant.clone();
            if !graph_rows::is_assigned(self.tx(), &tenant, &intent.id, &agent).await? {
                let detail = format!(
                    "write_scope is assigned_only and agent '{agent}' is not assigned to the intent"
                );
                return Err(self.violated(intent, Violation::new("write_scope", detail)));
            }
        }
        Ok(())
    }

    /// 403 unless the policy allows assigning `agent_id` to the intent.
    pub(super) fn check_assignable(&mut self, intent: &IntentRow, agent_id: &str) -> Result<()> {
        let policy = Policy::of(intent);
        match policy.allowed_agents.is_empty()
            || policy.allowed_agents.iter().any(|a| a == agent_id)
        {
            true => Ok(()),
            false => {
                let detail = format!("agent '{agent_id}' is not among the intent's allowed_agents");
                Err(self.violated(intent, Violation::new("allowed_agents", detail)))
            }
        }
    }

    /// 403 unless the policy lets the intent be completed now, or take a status change
    /// without a reason.
    pub(super) async fn check_status_change(
        &mut self,
        intent: &IntentRow,
        completing: bool,
        reason: Option<&str>,
    ) -> Result<()> {
        let policy = Policy::of(intent);
        if policy.require_status_reason && reason.is_none_or(|r| r.trim().is_empty()) {
            let detail = "the governance policy requires a reason for every status change";
            return Err(self.violated(intent, Violation::new("require_status_reason", detail)));
        }
        if !completing || policy.completion_mode == "auto" {
            return Ok(());
        }
        let tenant = self.caller.tenant.clone();
        let approved = approval_rows::count_approved(
            self.tx(),
            &tenant,
            subjects::PROTOCOL_APPROVAL,
            &intent.id,
            COMPLETE_ACTION,
        )
        .await?;
        let required = match policy.completion_mode.as_str() {
            "quorum" => {
                let assigned = graph_rows::count_assigned(self.tx(), &tenant, &intent.id).await?;
                ((assigned as f64 * policy.quorum_threshold).floor() as i64).max(1)
            }
            _ => 1,
        };
        match approved >= required {
            true => Ok(()),
            false => {
                let detail = format!(
                    "completion_mode is {}: {approved} of {required} approved approval requests \
                     for action 'complete'",
                    policy.completion_mode
                );
                Err(self.violated(intent, Violation::new("completion_mode", detail)))
            }
        }
    }

    /// 403 when adding `amount` to the intent's `total` would pass its policy's `max`.
    pub(super) fn check_cost(
        &mut self,
        intent: &IntentRow,
        max: f64,
        total: f64,
        amount: f64,
    ) -> Result<()> {
        if total + amount <= max {
            return Ok(());
        }
        let detail =
            format!("max_cost is {max}: the intent has cost {total}, adding {amount} exceeds it");
        Err(self.violated(intent, Violation::new("max_cost", detail)))
    }

    /// The 403 for a violation, whose event is recorded once this change has rolled back.
    fn violated(&self, intent: &IntentRow, violation: Violation) -> Error {
        let message = format!("governance policy: {}", violation.detail);
        let caller = self.caller.clone();
        let writer = self.writer.clone();
        let intent_id = intent.id.clone();
        tokio::spawn(async move {
            if let Err(err) = record_violation(&writer, &caller, &intent_id, violation).await {
                tracing::warn!(intent = %intent_id, error = %err,
                    "cannot record a governance violation");
            }
        });
        Error::Forbidden(message)
    }
}

async fn record_violation(
    writer: &Writer,
    caller: &Caller,
    intent_id: &str,
    violation: Violation,
) -> Result<()> {
    let mut change = Change::new(writer, caller).await?;
    let payload = json!({ "rule": violation.rule, "detail": violation.detail,
                          "agent_id": caller.agent_id });
    change
        .record(NewEvent::new(intent_id, "governance.violation", payload))
        .await?;
    change.commit().await
}

impl Context {
    pub async fn governance(&self, caller: &Caller, intent_id: &str) -> Result<GovernanceView> {
        let intent = self.intent(caller, intent_id).await?;
        Ok(GovernanceView {
            governance_policy: intent
                .governance_policy
                .as_deref()
                .map(super::model::parse_json)
                .unwrap_or_else(|| json!({})),
            effective_policy: Policy::of(&intent),
            intent_id: intent.id,
        })
    }
}

impl Intents {
    /// Sets (`Some`) or removes the intent's policy at `version`; answers the intent.
    pub async fn set_governance(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        policy: Option<Value>,
    ) -> Result<super::model::Intent> {
        let parsed = policy.as_ref().map(Policy::parse).transpose()?;
        let mut change = self.change(caller).await?;
        let mut row = change.intent(self.store(), id).await?;
        super::intents::expect_version(&row, version)?;
        // A policy equal to the defaults governs nothing: stored as none.
        let kept = policy.filter(|_| parsed.as_ref().is_some_and(|p| !p.is_default()));
        row.governance_policy = kept.as_ref().map(Value::to_string);
        bump(&mut row);
        intent_rows::update(change.tx(), &row).await?;
        let (event_type, payload) = match parsed {
            Some(_) => (
                "governance.policy_set",
                json!({ "governance_policy": kept.unwrap_or_else(|| json!({})), "version": row.version }),
            ),
            None => (
                "governance.policy_removed",
                json!({ "version": row.version }),
            ),
        };
        change
            .record(NewEvent::new(id, event_type, payload))
            .await?;
        change.commit().await?;
        super::model::Intent::from_row(&row)
    }
}
