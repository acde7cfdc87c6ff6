//! Tasks (RFC-0012): bounded units of work under an intent, with a status machine, versioned
//! updates (`If-Match`) and dependencies between tasks of one intent. Every change logs a
//! `task.*` event on the intent. Changes lock the intent, so the tasks of one intent change
//! one at a time and a completion promotes exactly the dependents it frees.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A JSON object field: anything else is refused when the body is read.
type JsonMap = Map<String, Value>;

use super::{
    documents::{check_tags, expect_version, identified_by, Columns, Document, OfIntent},
    plans, Caller, Change, NewEvent, Tasks, Version,
};
use crate::{
    error::{Error, Result},
    ids,
    openintent::records::{object, require_text},
    store::openintent::documents::DocumentQuery,
    time::{now_ms, protocol_instant},
};

/// Most tasks one intent may hold.
pub const MAX_TASKS_PER_INTENT: i64 = 1_000;
pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "critical"];

/// The RFC's task statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Ready,
    Claimed,
    Running,
    Blocked,
    Completed,
    Failed,
    Cancelled,
    Skipped,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 9] = [
        TaskStatus::Pending,
        TaskStatus::Ready,
        TaskStatus::Claimed,
        TaskStatus::Running,
        TaskStatus::Blocked,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Ready => "ready",
            TaskStatus::Claimed => "claimed",
            TaskStatus::Running => "running",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Skipped => "skipped",
        }
    }

    /// Reads a status a client sent (400 naming `field` and the statuses).
    pub fn parse(raw: &str, field: &str) -> Result<TaskStatus> {
        TaskStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| {
                let all: Vec<_> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
                Error::invalid(&[field], format!("must be one of {}", all.join(", ")))
            })
    }

    fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Cancelled | TaskStatus::Skipped
        )
    }

    /// Whether a dependent may start once this dependency is here.
    fn satisfies_dependents(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Skipped)
    }

    /// The event a move from `self` to `to` logs, or `None` when the machine forbids it.
    fn transition(self, to: TaskStatus) -> Option<&'static str> {
        use TaskStatus::*;
        Some(match (self, to) {
            (Pending, Ready) => "task.ready",
            (Pending, Skipped) => "task.skipped",
            (Ready, Claimed) => "task.claimed",
            (Claimed, Running) => "task.started",
            (Running, Completed) => "task.completed",
            (Running, Failed) => "task.failed",
            (Running, Blocked) => "task.blocked",
            (Blocked, Running) => "task.unblocked",
            (Failed, Ready) => "task.retrying",
            (from, Cancelled) if !from.is_terminal() => "task.cancelled",
            _ => return None,
        })
    }
}

/// A task as the face answers it and the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub intent_id: String,
    pub name: String,
    pub version: i64,
    pub status: TaskStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub priority: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<JsonMap>,
    pub artifacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    pub capabilities_required: Vec<String>,
    pub depends_on: Vec<String>,
    /// Tasks that depend on this one (kept by the server).
    pub blocks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub permissions: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<JsonMap>,
    pub requires_tools: Vec<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub metadata: Value,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

impl OfIntent for Task {
    fn intent_id(&self) -> &str {
        &self.intent_id
    }
}

impl Document for Task {
    const KIND: &'static str = "task";
    const WHAT: &'static str = "task";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.intent_id.clone(),
            status: self.status.as_str().to_string(),
            namespace: self.plan_id.clone(),
            ..Columns::default()
        }
    }
}

/// `POST /tasks`.
#[derive(Debug, Deserialize)]
pub struct NewTask {
    pub intent_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub artifacts: Vec<String>,
    #[serde(default)]
    pub assigned_agent: Option<String>,
    #[serde(default)]
    pub capabilities_required: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub parent_task_id: Option<String>,
    #[serde(default)]
    pub retry_policy: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    #[serde(default)]
    pub max_attempts: Option<i64>,
    #[serde(default)]
    pub permissions: Option<String>,
    #[serde(default)]
    pub memory_policy: Option<JsonMap>,
    #[serde(default)]
    pub requires_tools: Vec<JsonMap>,
    #[serde(default)]
    pub metadata: Value,
}

/// `PATCH /tasks/{id}`: the fields to change; absent ones stay.
#[derive(Debug, Default, Deserialize)]
pub struct TaskChange {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub output: Option<JsonMap>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub blocked_reason: Option<String>,
    #[serde(default)]
    pub assigned_agent: Option<String>,
    #[serde(default)]
    pub lease_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub artifacts: Option<Vec<String>>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

fn check_priority(raw: Option<String>) -> Result<String> {
    let priority = raw.unwrap_or_else(|| "normal".into());
    match PRIORITIES.contains(&priority.as_str()) {
        true => Ok(priority),
        false => Err(Error::invalid(
            &["priority"],
            format!("must be one of {}", PRIORITIES.join(", ")),
        )),
    }
}

fn check_positive(value: Option<i64>, field: &str, max: i64) -> Result<()> {
    match value {
        Some(v) if !(1..=max).contains(&v) => Err(Error::invalid(
            &[field],
            format!("must be between 1 and {max}"),
        )),
        _ => Ok(()),
    }
}

/// What a list of an intent's tasks selects.
#[derive(Debug, Default)]
pub struct TaskFilter {
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

impl Tasks {
    pub async fn create_task(&self, caller: &Caller, input: NewTask) -> Result<Task> {
        require_text(&input.name, "name", 500)?;
        let status = match input.status.as_deref() {
            None => TaskStatus::Pending,
            Some(raw) => match TaskStatus::parse(raw, "status")? {
                status @ (TaskStatus::Pending | TaskStatus::Ready) => status,
                _ => {
                    return Err(Error::invalid(
                        &["status"],
                        "a new task is pending or ready",
                    ))
                }
            },
        };
        check_positive(input.max_attempts, "max_attempts", 100)?;
        check_positive(input.timeout_seconds, "timeout_seconds", 7 * 86_400)?;
        check_tags(&input.capabilities_required, "capabilities_required")?;
        let priority = check_priority(input.priority)?;
        let input_value = object(input.input, "input")?;
        let metadata = object(input.metadata, "metadata")?;
        let assigned_agent = match input.assigned_agent {
            Some(agent) => Some(self.attributed(caller, Some(agent)).await?),
            None => None,
        };
        let mut change = self.change(caller).await?;
        change.intent(self.store(), &input.intent_id).await?;
        if change.count_documents::<Task>(&input.intent_id).await? >= MAX_TASKS_PER_INTENT {
            return Err(Error::Conflict(format!(
                "the intent already holds {MAX_TASKS_PER_INTENT} tasks"
            )));
        }
        if let Some(plan_id) = &input.plan_id {
            change
                .document_of_intent::<plans::Plan>(
                    self.store(),
                    plan_id,
                    &input.intent_id,
                    "plan_id",
                )
                .await?;
        }
        if let Some(parent) = &input.parent_task_id {
            change
                .document_of_intent::<Task>(
                    self.store(),
                    parent,
                    &input.intent_id,
                    "parent_task_id",
                )
                .await?;
        }
        let now = now_ms();
        let id = ids::new_id(super::prefixes::TASK);
        let mut dependencies = Vec::with_capacity(input.depends_on.len());
        for dependency in &input.depends_on {
            dependencies.push(
                change
                    .document_of_intent::<Task>(
                        self.store(),
                        dependency,
                        &input.intent_id,
                        "depends_on",
                    )
                    .await?,
            );
        }
        let task = Task {
            id: id.clone(),
            intent_id: input.intent_id,
            name: input.name.trim().to_string(),
            version: 1,
            status,
            plan_id: input.plan_id,
            description: input.description,
            priority,
            input: input_value,
            output: None,
            artifacts: input.artifacts,
            assigned_agent,
            lease_id: None,
            capabilities_required: input.capabilities_required,
            depends_on: input.depends_on,
            blocks: Vec::new(),
            parent_task_id: input.parent_task_id,
            retry_policy: input.retry_policy,
            timeout_seconds: input.timeout_seconds,
            attempt: 1,
            max_attempts: input.max_attempts.unwrap_or(3),
            permissions: input.permissions.unwrap_or_else(|| "inherit".into()),
            memory_policy: input.memory_policy,
            requires_tools: input.requires_tools,
            blocked_reason: None,
            error: None,
            metadata,
            created_by: caller.agent_id.clone(),
            created_at: protocol_instant(now),
            updated_at: protocol_instant(now),
            started_at: None,
            completed_at: None,
        };
        // The dependencies learn what they block (bookkeeping: their version stays).
        for mut dependency in dependencies {
            if !dependency.blocks.contains(&id) {
                dependency.blocks.push(id.clone());
                let version = dependency.version;
                change.save_document(&dependency, version, now).await?;
            }
        }
        change
            .insert_document(&task, now, "task already exists")
            .await?;
        change
            .record(NewEvent::new(
                &task.intent_id,
                "task.created",
                json!({ "task_id": task.id, "name": task.name, "status": task.status }),
            ))
            .await?;
        change.commit().await?;
        Ok(task)
    }

    pub async fn get_task(&self, caller: &Caller, id: &str) -> Result<Task> {
        self.intent_document(caller, id).await
    }

    pub async fn list_tasks(
        &self,
        caller: &Caller,
        intent_id: &str,
        filter: TaskFilter,
    ) -> Result<Vec<Task>> {
        if let Some(status) = &filter.status {
            TaskStatus::parse(status, "status")?;
        }
        self.intent(caller, intent_id).await?;
        self.documents(
            caller,
            &DocumentQuery {
                kind: Task::KIND,
                parent: Some(intent_id),
                status: filter.status.as_deref(),
                limit: filter.limit.clamp(1, super::intents::MAX_LIST),
                offset: filter.offset.max(0),
                ..DocumentQuery::default()
            },
        )
        .await
    }

    /// Changes a task at the `If-Match` version: fields, and a status move the machine
    /// allows (else 409). Completing a task readies the dependents it was the last to free
    /// and may reach a plan's checkpoint.
    pub async fn update_task(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        input: TaskChange,
    ) -> Result<Task> {
        let to = input
            .status
            .as_deref()
            .map(|raw| TaskStatus::parse(raw, "status"))
            .transpose()?;
        let priority = input
            .priority
            .map(|p| check_priority(Some(p)))
            .transpose()?;
        let metadata = input.metadata.map(|m| object(m, "metadata")).transpose()?;
        let mut change = self.change(caller).await?;
        let mut task: Task = change.document(self.store(), id).await?;
        change.intent(self.store(), &task.intent_id).await?;
        expect_version(&task, version)?;
        let now = now_ms();
        let from = task.status;
        let event = match to {
            Some(to) if to != from => {
                let event = from.transition(to).ok_or_else(|| {
                    Error::Conflict(format!(
                        "a task cannot move from {} to {}",
                        from.as_str(),
                        to.as_str()
                    ))
                })?;
                self.move_task(caller, &mut task, to, input.assigned_agent.clone())
                    .await?;
                event
            }
            _ => "task.progress",
        };
        if let Some(output) = input.output {
            task.output = Some(output);
        }
        if let Some(error) = input.error {
            task.error = Some(error);
        }
        if let Some(reason) = input.blocked_reason {
            task.blocked_reason = Some(reason);
        }
        if let Some(lease_id) = input.lease_id {
            task.lease_id = Some(lease_id);
        }
        if let Some(description) = input.description {
            task.description = Some(description);
        }
        if let Some(priority) = priority {
            task.priority = priority;
        }
        if let Some(artifacts) = input.artifacts {
            task.artifacts = artifacts;
        }
        if let Some(metadata) = metadata {
            task.metadata = metadata;
        }
        match task.status {
            TaskStatus::Running if task.started_at.is_none() => {
                task.started_at = Some(protocol_instant(now))
            }
            status if status.is_terminal() && task.completed_at.is_none() => {
                task.completed_at = Some(protocol_instant(now))
            }
            _ => {}
        }
        task.version += 1;
        task.updated_at = protocol_instant(now);
        change.save_document(&task, version.0, now).await?;
        change
            .record(NewEvent::new(
                &task.intent_id,
                event,
                json!({
                    "task_id": task.id,
                    "from": from,
                    "to": task.status,
                    "version": task.version,
                    "attempt": task.attempt,
                }),
            ))
            .await?;
        if task.status == TaskStatus::Completed || task.status == TaskStatus::Skipped {
            ready_dependents(&mut change, self.store(), &task, now).await?;
        }
        if task.status == TaskStatus::Completed {
            plans::reach_checkpoints(&mut change, &task, now).await?;
        }
        change.commit().await?;
        Ok(task)
    }

    /// Applies the rules of a status move: who may make it, the claim, the retry budget.
    async fn move_task(
        &self,
        caller: &Caller,
        task: &mut Task,
        to: TaskStatus,
        assignee: Option<String>,
    ) -> Result<()> {
        let holder_only = matches!(
            task.status,
            TaskStatus::Claimed | TaskStatus::Running | TaskStatus::Blocked
        ) && to != TaskStatus::Cancelled;
        if holder_only && !caller.admin && task.assigned_agent.as_deref() != Some(&caller.agent_id)
        {
            return Err(Error::Forbidden(format!(
                "the task is claimed by agent '{}'",
                task.assigned_agent.as_deref().unwrap_or("")
            )));
        }
        match to {
            TaskStatus::Claimed => {
                task.assigned_agent = Some(self.attributed(caller, assignee).await?);
            }
            TaskStatus::Ready if task.status == TaskStatus::Failed => {
                if task.attempt >= task.max_attempts {
                    return Err(Error::Conflict(format!(
                        "the task has used all {} attempts",
                        task.max_attempts
                    )));
                }
                task.attempt += 1;
                task.assigned_agent = None;
                task.error = None;
                task.completed_at = None;
            }
            TaskStatus::Running => task.blocked_reason = None,
            _ => {}
        }
        task.status = to;
        Ok(())
    }
}

/// Moves the pending tasks `done` blocks whose dependencies are now all satisfied to
/// `ready`, each with a `task.ready` event.
async fn ready_dependents(
    change: &mut Change<'_>,
    store: &crate::store::Store,
    done: &Task,
    now: crate::time::Millis,
) -> Result<()> {
    if done.blocks.is_empty() {
        return Ok(());
    }
    let siblings: Vec<Task> = change.documents_of(&done.intent_id).await?;
    let satisfied = |id: &String| {
        siblings
            .iter()
            .any(|t| &t.id == id && t.status.satisfies_dependents())
    };
    for id in &done.blocks {
        let mut dependent: Task = change.document(store, id).await?;
        if dependent.status != TaskStatus::Pending || !dependent.depends_on.iter().all(satisfied) {
            continue;
        }
        let version = dependent.version;
        dependent.status = TaskStatus::Ready;
        dependent.version += 1;
        dependent.updated_at = protocol_instant(now);
        change.save_document(&dependent, version, now).await?;
        change
            .record(NewEvent::new(
                &dependent.intent_id,
                "task.ready",
                json!({ "task_id": dependent.id, "from": "pending", "to": "ready", "version": dependent.version, "released_by": done.id }),
            ))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::*;

    #[test]
    fn the_machine_allows_the_rfc_transitions_only() {
        assert_eq!(Pending.transition(Ready), Some("task.ready"));
        assert_eq!(Ready.transition(Claimed), Some("task.claimed"));
        assert_eq!(Claimed.transition(Running), Some("task.started"));
        assert_eq!(Running.transition(Completed), Some("task.completed"));
        assert_eq!(Blocked.transition(Running), Some("task.unblocked"));
        assert_eq!(Failed.transition(Ready), Some("task.retrying"));
        assert_eq!(Running.transition(Cancelled), Some("task.cancelled"));
        assert_eq!(Pending.transition(Running), None);
        assert_eq!(Ready.transition(Completed), None);
        assert_eq!(Completed.transition(Cancelled), None);
        assert_eq!(Skipped.transition(Ready), None);
        assert_eq!(Cancelled.transition(Ready), None);
    }
}
