//! RFC-0012 routes: tasks and plans. Answers are the core's documents as they serialize,
//! documented by the shapes here (the examples test holds them to one another); lists are
//! bare arrays, as the SDK reads them.

use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    Object, OpenApi,
};

use super::{
    created_document, document, documents, parse, reader, versioned, writer, Body, DocAnswer,
    DocCreated, DocList, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, vocabularies, Word},
        security::TenantKey,
        types::JsonObject,
    },
    openintent::{
        plans::{self, PlanInput},
        tasks::{self, NewTask, TaskChange, TaskFilter},
        Plans, Tasks,
    },
};

vocabularies! {
    /// pending → ready → claimed → running → completed | failed | blocked; failed → ready
    /// (retry); blocked → running; pending → skipped; any open status → cancelled.
    TaskStatus => tasks::TaskStatus::ALL.map(tasks::TaskStatus::as_str);
    TaskPriority => tasks::PRIORITIES;
    /// draft → active ⇄ paused → completed | failed; any open state → cancelled.
    PlanState => ["draft", "active", "paused", "completed", "failed", "cancelled"];
    PlanFailureAction => plans::FAILURE_ACTIONS;
}

/// A task (RFC-0012).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct TaskDoc {
    id: String,
    intent_id: String,
    name: String,
    /// Starts at 1; every change adds one (send it as `If-Match`).
    version: i64,
    status: Word<TaskStatus>,
    plan_id: Option<String>,
    description: Option<String>,
    priority: Word<TaskPriority>,
    input: JsonObject,
    output: Option<JsonObject>,
    artifacts: Vec<String>,
    /// Set when an agent claims the task; only that agent moves it on.
    assigned_agent: Option<String>,
    lease_id: Option<String>,
    capabilities_required: Vec<String>,
    /// Tasks of the same intent this one waits for: when the last completes, a pending
    /// task becomes ready.
    depends_on: Vec<String>,
    /// Tasks that wait for this one (kept by the server).
    blocks: Vec<String>,
    parent_task_id: Option<String>,
    retry_policy: Option<String>,
    timeout_seconds: Option<i64>,
    /// Which attempt this is; a retry (failed → ready) adds one, up to `max_attempts`.
    attempt: i64,
    max_attempts: i64,
    permissions: String,
    memory_policy: Option<JsonObject>,
    requires_tools: Vec<JsonObject>,
    blocked_reason: Option<String>,
    error: Option<String>,
    metadata: JsonObject,
    created_by: String,
    created_at: String,
    updated_at: String,
    started_at: Option<String>,
    completed_at: Option<String>,
}

/// A new task of an intent.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct NewTaskIn {
    intent_id: String,
    /// 1-500 characters.
    name: String,
    description: Option<String>,
    /// `pending` (default) or `ready`.
    status: Option<Word<TaskStatus>>,
    plan_id: Option<String>,
    priority: Option<Word<TaskPriority>>,
    input: Option<JsonObject>,
    artifacts: Option<Vec<String>>,
    assigned_agent: Option<String>,
    capabilities_required: Option<Vec<String>>,
    depends_on: Option<Vec<String>>,
    parent_task_id: Option<String>,
    retry_policy: Option<String>,
    /// 1 to 604800.
    timeout_seconds: Option<i64>,
    /// 1 to 100; default 3.
    max_attempts: Option<i64>,
    permissions: Option<String>,
    memory_policy: Option<JsonObject>,
    requires_tools: Option<Vec<JsonObject>>,
    metadata: Option<JsonObject>,
}

/// A change of a task at the `If-Match` version; absent fields stay.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct TaskChangeIn {
    /// A move the status machine allows (else 409).
    status: Option<Word<TaskStatus>>,
    output: Option<JsonObject>,
    error: Option<String>,
    blocked_reason: Option<String>,
    /// On a claim: the claiming agent (default the caller).
    assigned_agent: Option<String>,
    lease_id: Option<String>,
    description: Option<String>,
    priority: Option<Word<TaskPriority>>,
    artifacts: Option<Vec<String>>,
    /// Replaces the metadata.
    metadata: Option<JsonObject>,
}

/// A gate after a task: when the task completes, the active plan pauses here until it is
/// resumed (approved) or failed (rejected).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CheckpointDoc {
    /// Default `cp_<n>`.
    id: String,
    name: String,
    /// A task of the plan.
    after_task: String,
    requires_approval: bool,
    approvers: Vec<String>,
    timeout_hours: Option<i64>,
    on_timeout: String,
    /// `pending`, `reached`, `approved` or `rejected` (kept by the server).
    status: String,
    approved_by: Option<String>,
    approved_at: Option<String>,
}

/// A plan (RFC-0012).
#[derive(Debug, Object)]
#[oai(example)]
pub struct PlanDoc {
    id: String,
    intent_id: String,
    version: i64,
    state: Word<PlanState>,
    /// Tasks of the intent, in order.
    tasks: Vec<String>,
    checkpoints: Vec<CheckpointDoc>,
    conditions: Vec<JsonObject>,
    on_failure: Word<PlanFailureAction>,
    on_complete: String,
    metadata: JsonObject,
    created_by: String,
    created_at: String,
    updated_at: String,
}

/// A new plan (`intent_id` required), or a change of one at the `If-Match` version.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct PlanIn {
    intent_id: Option<String>,
    /// A new plan is `draft` (default) or `active`.
    state: Option<Word<PlanState>>,
    tasks: Option<Vec<String>>,
    checkpoints: Option<Vec<JsonObject>>,
    conditions: Option<Vec<JsonObject>>,
    on_failure: Option<Word<PlanFailureAction>>,
    on_complete: Option<String>,
    metadata: Option<JsonObject>,
}

examples! {
    TaskDoc => {
        "id": "tsk_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "name": "fetch_financials",
        "version": 3,
        "status": "running",
        "priority": "normal",
        "input": {"quarter": "Q1-2026"},
        "artifacts": [],
        "assigned_agent": "research-agent",
        "capabilities_required": ["finance"],
        "depends_on": [],
        "blocks": [],
        "attempt": 1,
        "max_attempts": 3,
        "permissions": "inherit",
        "requires_tools": [],
        "metadata": {},
        "created_by": "research-agent",
        "created_at": "2026-02-07T10:00:00.000+00:00",
        "updated_at": "2026-02-07T10:01:00.000+00:00",
        "started_at": "2026-02-07T10:01:00.000+00:00"
    }
    NewTaskIn => {
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "name": "fetch_financials",
        "input": {"quarter": "Q1-2026"},
        "capabilities_required": ["finance"]
    }
    TaskChangeIn => {"status": "ready"}
    CheckpointDoc => {
        "id": "cp_1",
        "name": "review numbers",
        "after_task": "tsk_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "requires_approval": true,
        "approvers": [],
        "on_timeout": "escalate",
        "status": "pending"
    }
    PlanDoc => {
        "id": "pln_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "version": 1,
        "state": "draft",
        "tasks": ["tsk_01HN4X7KQZ8Y1A2B3C4D5E6F7G"],
        "checkpoints": [],
        "conditions": [],
        "on_failure": "pause_and_escalate",
        "on_complete": "notify",
        "metadata": {},
        "created_by": "research-agent",
        "created_at": "2026-02-07T10:00:00.000+00:00",
        "updated_at": "2026-02-07T10:00:00.000+00:00"
    }
    PlanIn => {"intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G", "metadata": {"owner": "research"}}
}

pub struct TasksOi(pub Tasks, pub Plans);

#[OpenApi(tag = "OiTag::Tasks")]
impl TasksOi {
    /// Create a task of an intent.
    #[oai(path = "/tasks", method = "post", operation_id = "oi_create_task")]
    async fn create_task(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<NewTaskIn>,
    ) -> OiResult<DocCreated<TaskDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .create_task(&caller, parse::<NewTask, _>(body)?)
                .await,
        )
    }

    #[oai(path = "/tasks/:id", method = "get", operation_id = "oi_get_task")]
    async fn get_task(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<TaskDoc>> {
        document(self.0.get_task(&reader(&key, req)?, &id).await)
    }

    /// Change a task at the `If-Match` version.
    #[oai(path = "/tasks/:id", method = "patch", operation_id = "oi_update_task")]
    async fn update_task(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        #[oai(name = "If-Match")] _version: Header<Option<String>>,
        body: Body<TaskChangeIn>,
    ) -> OiResult<DocAnswer<TaskDoc>> {
        let (caller, version, change) = versioned::<TaskChange, _>(&key, req, body)?;
        document(self.0.update_task(&caller, &id, version, change).await)
    }

    /// The intent's tasks, oldest first (a bare array).
    #[oai(
        path = "/intents/:id/tasks",
        method = "get",
        operation_id = "oi_list_tasks"
    )]
    async fn list_tasks(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        status: Query<Option<Word<TaskStatus>>>,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
    ) -> OiResult<DocList<TaskDoc>> {
        let filter = TaskFilter {
            status: status.0.map(|s| s.value),
            limit: limit.0.unwrap_or(100),
            offset: offset.0.unwrap_or(0),
        };
        documents(self.0.list_tasks(&reader(&key, req)?, &id, filter).await)
    }

    /// Create a plan of an intent.
    #[oai(path = "/plans", method = "post", operation_id = "oi_create_plan")]
    async fn create_plan(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<PlanIn>,
    ) -> OiResult<DocCreated<PlanDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.1
                .create_plan(&caller, parse::<PlanInput, _>(body)?)
                .await,
        )
    }

    #[oai(path = "/plans/:id", method = "get", operation_id = "oi_get_plan")]
    async fn get_plan(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<PlanDoc>> {
        document(self.1.get_plan(&reader(&key, req)?, &id).await)
    }

    /// Change a plan at the `If-Match` version (its state, tasks, checkpoints, …).
    #[oai(path = "/plans/:id", method = "patch", operation_id = "oi_update_plan")]
    async fn update_plan(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        #[oai(name = "If-Match")] _version: Header<Option<String>>,
        body: Body<PlanIn>,
    ) -> OiResult<DocAnswer<PlanDoc>> {
        let (caller, version, change) = versioned::<PlanInput, _>(&key, req, body)?;
        document(self.1.update_plan(&caller, &id, version, change).await)
    }

    /// The intent's plans, oldest first (a bare array).
    #[oai(
        path = "/intents/:id/plans",
        method = "get",
        operation_id = "oi_list_plans"
    )]
    async fn list_plans(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocList<PlanDoc>> {
        documents(self.1.list_plans(&reader(&key, req)?, &id).await)
    }
}
