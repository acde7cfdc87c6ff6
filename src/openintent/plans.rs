//! Plans (RFC-0012): how an intent's tasks are carried out, with a state machine and
//! checkpoints. A checkpoint after a task pauses its active plan when that task completes
//! (`plan.checkpoint_reached`); resuming the plan approves it, failing the plan rejects it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    documents::{expect_version, identified_by, Columns, Document, OfIntent},
    tasks::Task,
    Caller, Change, NewEvent, Plans, Version,
};
use crate::{
    error::{Error, Result},
    ids,
    openintent::records::{object, one_of},
    store::{openintent::documents::DocumentQuery, Store},
    time::{now_ms, protocol_instant, Millis},
};

/// Most plans one intent may hold, and most tasks and checkpoints one plan may name.
pub const MAX_PLANS_PER_INTENT: i64 = 100;
pub const MAX_PLAN_ENTRIES: usize = 1_000;
pub const FAILURE_ACTIONS: [&str; 3] = ["pause_and_escalate", "notify", "fail"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    Draft,
    Active,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl PlanState {
    const ALL: [PlanState; 6] = [
        PlanState::Draft,
        PlanState::Active,
        PlanState::Paused,
        PlanState::Completed,
        PlanState::Failed,
        PlanState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "draft",
            PlanState::Active => "active",
            PlanState::Paused => "paused",
            PlanState::Completed => "completed",
            PlanState::Failed => "failed",
            PlanState::Cancelled => "cancelled",
        }
    }

    fn parse(raw: &str) -> Result<PlanState> {
        PlanState::ALL
            .into_iter()
            .find(|state| state.as_str() == raw)
            .ok_or_else(|| {
                let all: Vec<_> = PlanState::ALL.iter().map(|s| s.as_str()).collect();
                Error::invalid(&["state"], format!("must be one of {}", all.join(", ")))
            })
    }

    /// The event a move logs, or `None` when the machine forbids it. `plan.cancelled` is
    /// not an SDK event type: it is audited and streamed, not listed.
    fn transition(self, to: PlanState) -> Option<&'static str> {
        use PlanState::*;
        Some(match (self, to) {
            (Draft, Active) => "plan.activated",
            (Active, Paused) => "plan.paused",
            (Paused, Active) => "plan.resumed",
            (Active | Paused, Completed) => "plan.completed",
            (Active | Paused, Failed) => "plan.failed",
            (Draft | Active | Paused, Cancelled) => "plan.cancelled",
            _ => return None,
        })
    }
}

/// A named gate after a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, alias = "after")]
    pub after_task: String,
    #[serde(default = "yes")]
    pub requires_approval: bool,
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_hours: Option<i64>,
    #[serde(default = "escalate")]
    pub on_timeout: String,
    /// `pending`, then `reached`, then `approved` or `rejected` (kept by the server).
    #[serde(default = "pending")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
}

fn yes() -> bool {
    true
}

fn escalate() -> String {
    "escalate".into()
}

fn pending() -> String {
    "pending".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub intent_id: String,
    pub version: i64,
    pub state: PlanState,
    pub tasks: Vec<String>,
    pub checkpoints: Vec<Checkpoint>,
    pub conditions: Vec<Map<String, Value>>,
    pub on_failure: String,
    pub on_complete: String,
    pub metadata: Value,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl OfIntent for Plan {
    fn intent_id(&self) -> &str {
        &self.intent_id
    }
}

impl Document for Plan {
    const KIND: &'static str = "plan";
    const WHAT: &'static str = "plan";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.intent_id.clone(),
            status: self.state.as_str().to_string(),
            ..Columns::default()
        }
    }
}

/// `POST /plans` and, every field optional, `PATCH /plans/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct PlanInput {
    #[serde(default)]
    pub intent_id: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
    #[serde(default)]
    pub checkpoints: Option<Vec<Checkpoint>>,
    #[serde(default)]
    pub conditions: Option<Vec<Map<String, Value>>>,
    #[serde(default)]
    pub on_failure: Option<String>,
    #[serde(default)]
    pub on_complete: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

fn check_failure_action(raw: &str) -> Result<()> {
    one_of(raw, &FAILURE_ACTIONS, "on_failure")
}

/// Checks the tasks and checkpoints a plan names against its intent; numbers checkpoints
/// sent without an id and resets the status a client may not set.
async fn check_entries(
    change: &mut Change<'_>,
    store: &Store,
    intent_id: &str,
    tasks: &[String],
    checkpoints: &mut [Checkpoint],
) -> Result<()> {
    if tasks.len() > MAX_PLAN_ENTRIES || checkpoints.len() > MAX_PLAN_ENTRIES {
        return Err(Error::invalid(
            &["tasks"],
            format!("a plan names at most {MAX_PLAN_ENTRIES} tasks and checkpoints"),
        ));
    }
    for task in tasks {
        change
            .document_of_intent::<Task>(store, task, intent_id, "tasks")
            .await?;
    }
    for (n, checkpoint) in checkpoints.iter_mut().enumerate() {
        if !tasks.contains(&checkpoint.after_task) {
            return Err(Error::invalid(
                &["checkpoints", &n.to_string(), "after_task"],
                "must name a task of the plan",
            ));
        }
        if checkpoint.id.is_empty() {
            checkpoint.id = format!("cp_{}", n + 1);
        }
        if !matches!(
            checkpoint.status.as_str(),
            "reached" | "approved" | "rejected"
        ) {
            checkpoint.status = pending();
        }
    }
    Ok(())
}

/// After `task` completes: each active plan with a pending checkpoint after it pauses there.
pub(crate) async fn reach_checkpoints(
    change: &mut Change<'_>,
    task: &Task,
    now: Millis,
) -> Result<()> {
    let plans: Vec<Plan> = change.documents_of(&task.intent_id).await?;
    for mut plan in plans {
        if plan.state != PlanState::Active {
            continue;
        }
        let Some(checkpoint) = plan
            .checkpoints
            .iter_mut()
            .find(|c| c.after_task == task.id && c.status == "pending")
        else {
            continue;
        };
        checkpoint.status = "reached".into();
        let checkpoint_id = checkpoint.id.clone();
        let version = plan.version;
        plan.state = PlanState::Paused;
        plan.version += 1;
        plan.updated_at = protocol_instant(now);
        change.save_document(&plan, version, now).await?;
        change
            .record(NewEvent::new(
                &plan.intent_id,
                "plan.checkpoint_reached",
                json!({ "plan_id": plan.id, "checkpoint_id": checkpoint_id, "task_id": task.id, "version": plan.version }),
            ))
            .await?;
    }
    Ok(())
}

impl Plans {
    pub async fn create_plan(&self, caller: &Caller, input: PlanInput) -> Result<Plan> {
        let intent_id = input
            .intent_id
            .ok_or_else(|| Error::invalid(&["intent_id"], "is required"))?;
        let state = match input.state.as_deref() {
            None => PlanState::Draft,
            Some(raw) => match PlanState::parse(raw)? {
                state @ (PlanState::Draft | PlanState::Active) => state,
                _ => return Err(Error::invalid(&["state"], "a new plan is draft or active")),
            },
        };
        let on_failure = input
            .on_failure
            .unwrap_or_else(|| FAILURE_ACTIONS[0].into());
        check_failure_action(&on_failure)?;
        let metadata = object(input.metadata.unwrap_or_default(), "metadata")?;
        let tasks = input.tasks.unwrap_or_default();
        let mut checkpoints = input.checkpoints.unwrap_or_default();
        let mut change = self.change(caller).await?;
        change.intent(self.store(), &intent_id).await?;
        if change.count_documents::<Plan>(&intent_id).await? >= MAX_PLANS_PER_INTENT {
            return Err(Error::Conflict(format!(
                "the intent already holds {MAX_PLANS_PER_INTENT} plans"
            )));
        }
        check_entries(
            &mut change,
            self.store(),
            &intent_id,
            &tasks,
            &mut checkpoints,
        )
        .await?;
        let now = now_ms();
        let plan = Plan {
            id: ids::new_id(super::prefixes::PLAN),
            intent_id,
            version: 1,
            state,
            tasks,
            checkpoints,
            conditions: input.conditions.unwrap_or_default(),
            on_failure,
            on_complete: input.on_complete.unwrap_or_else(|| "notify".into()),
            metadata,
            created_by: caller.agent_id.clone(),
            created_at: protocol_instant(now),
            updated_at: protocol_instant(now),
        };
        change
            .insert_document(&plan, now, "plan already exists")
            .await?;
        change
            .record(NewEvent::new(
                &plan.intent_id,
                "plan.created",
                json!({ "plan_id": plan.id, "state": plan.state, "tasks": plan.tasks }),
            ))
            .await?;
        change.commit().await?;
        Ok(plan)
    }

    pub async fn get_plan(&self, caller: &Caller, id: &str) -> Result<Plan> {
        self.intent_document(caller, id).await
    }

    pub async fn list_plans(&self, caller: &Caller, intent_id: &str) -> Result<Vec<Plan>> {
        self.intent(caller, intent_id).await?;
        self.documents(
            caller,
            &DocumentQuery {
                kind: Plan::KIND,
                parent: Some(intent_id),
                limit: MAX_PLANS_PER_INTENT,
                ..DocumentQuery::default()
            },
        )
        .await
    }

    /// Changes a plan at the `If-Match` version. Resuming a plan paused at a checkpoint
    /// approves the checkpoint; failing it rejects the checkpoint.
    pub async fn update_plan(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        input: PlanInput,
    ) -> Result<Plan> {
        let to = input.state.as_deref().map(PlanState::parse).transpose()?;
        if let Some(action) = &input.on_failure {
            check_failure_action(action)?;
        }
        let metadata = input.metadata.map(|m| object(m, "metadata")).transpose()?;
        let mut change = self.change(caller).await?;
        let mut plan: Plan = change.document(self.store(), id).await?;
        change.intent(self.store(), &plan.intent_id).await?;
        expect_version(&plan, version)?;
        if input.tasks.is_some() || input.checkpoints.is_some() {
            let tasks = input.tasks.unwrap_or_else(|| plan.tasks.clone());
            let mut checkpoints = input
                .checkpoints
                .unwrap_or_else(|| plan.checkpoints.clone());
            check_entries(
                &mut change,
                self.store(),
                &plan.intent_id,
                &tasks,
                &mut checkpoints,
            )
            .await?;
            plan.tasks = tasks;
            plan.checkpoints = checkpoints;
        }
        if let Some(conditions) = input.conditions {
            plan.conditions = conditions;
        }
        if let Some(action) = input.on_failure {
            plan.on_failure = action;
        }
        if let Some(action) = input.on_complete {
            plan.on_complete = action;
        }
        if let Some(metadata) = metadata {
            plan.metadata = metadata;
        }
        let now = now_ms();
        let mut events = Vec::new();
        if let Some(to) = to.filter(|to| *to != plan.state) {
            let event = plan.state.transition(to).ok_or_else(|| {
                Error::Conflict(format!(
                    "a plan cannot move from {} to {}",
                    plan.state.as_str(),
                    to.as_str()
                ))
            })?;
            let verdict = match to {
                PlanState::Active => Some(("approved", "plan.checkpoint_approved")),
                PlanState::Failed | PlanState::Cancelled => {
                    Some(("rejected", "plan.checkpoint_rejected"))
                }
                _ => None,
            };
            if let Some((status, checkpoint_event)) = verdict {
                for checkpoint in plan
                    .checkpoints
                    .iter_mut()
                    .filter(|c| c.status == "reached")
                {
                    checkpoint.status = status.into();
                    checkpoint.approved_by = Some(caller.agent_id.clone());
                    checkpoint.approved_at = Some(protocol_instant(now));
                    events.push((checkpoint_event, json!({ "checkpoint_id": checkpoint.id })));
                }
            }
            events.push((event, json!({ "from": plan.state, "to": to })));
            plan.state = to;
        }
        plan.version += 1;
        plan.updated_at = protocol_instant(now);
        change.save_document(&plan, version.0, now).await?;
        if events.is_empty() {
            events.push(("plan.updated", json!({})));
        }
        for (event_type, mut payload) in events {
            payload["plan_id"] = json!(plan.id);
            payload["version"] = json!(plan.version);
            change
                .announce(NewEvent::new(&plan.intent_id, event_type, payload))
                .await?;
        }
        change.commit().await?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::PlanState::*;

    #[test]
    fn plans_move_as_the_rfc_says() {
        assert_eq!(Draft.transition(Active), Some("plan.activated"));
        assert_eq!(Paused.transition(Active), Some("plan.resumed"));
        assert_eq!(Active.transition(Completed), Some("plan.completed"));
        assert_eq!(Draft.transition(Completed), None);
        assert_eq!(Completed.transition(Active), None);
        assert_eq!(Cancelled.transition(Draft), None);
    }
}
