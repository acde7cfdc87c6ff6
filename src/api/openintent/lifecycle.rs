//! RFC-0016 routes: agent registration, heartbeats, status.

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    Object, OpenApi,
};
use serde::Deserialize;

use super::{
    created_document, document, documents, parse, reader, writer, Body, DocAnswer, DocCreated,
    DocList, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, vocabularies, Word},
        security::TenantKey,
        types::JsonObject,
    },
    openintent::{
        lifecycle::{self, HeartbeatInput, RegistrationInput},
        Lifecycle,
    },
};

vocabularies! {
    /// Missed heartbeats make an agent `unhealthy`, then `dead`; a heartbeat makes an
    /// unhealthy agent `active` again.
    AgentLifecycleStatus => lifecycle::STATUSES;
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct HeartbeatConfigDoc {
    interval_seconds: i64,
    unhealthy_after_seconds: i64,
    dead_after_seconds: i64,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct CapacityDoc {
    max_concurrent_tasks: i64,
    current_load: i64,
}

/// An agent of `/v1/agents` as RFC-0016 shows it.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AgentRecordDoc {
    agent_id: String,
    status: Word<AgentLifecycleStatus>,
    /// The registry's name.
    name: String,
    role_id: Option<String>,
    capabilities: Vec<String>,
    capacity: CapacityDoc,
    endpoint: Option<String>,
    heartbeat_config: HeartbeatConfigDoc,
    metadata: JsonObject,
    registered_at: String,
    last_heartbeat_at: Option<String>,
    drain_timeout_seconds: Option<i64>,
    tasks_in_progress: Vec<String>,
    version: i64,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct HeartbeatAckDoc {
    agent_id: String,
    status: Word<AgentLifecycleStatus>,
    last_heartbeat_at: String,
    next_heartbeat_due: String,
    version: i64,
}

/// A registration of an agent of `/v1/agents` (409 while it is registered and live).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RegistrationIn {
    agent_id: String,
    role_id: Option<String>,
    capabilities: Option<Vec<String>>,
    capacity: Option<CapacityDoc>,
    endpoint: Option<String>,
    heartbeat_config: Option<HeartbeatConfigDoc>,
    metadata: Option<JsonObject>,
    drain_timeout_seconds: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct HeartbeatIn {
    /// Ignored: a heartbeat keeps or restores `active`.
    status: Option<String>,
    current_load: Option<i64>,
    tasks_in_progress: Option<Vec<String>>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct AgentStatusIn {
    /// `draining`, `active` (from draining) or `deregistered`.
    status: Word<AgentLifecycleStatus>,
}

examples! {
    HeartbeatConfigDoc => {"interval_seconds": 30, "unhealthy_after_seconds": 90, "dead_after_seconds": 300}
    CapacityDoc => {"max_concurrent_tasks": 5, "current_load": 1}
    AgentRecordDoc => {
        "agent_id": "research-agent",
        "status": "active",
        "name": "research-agent",
        "capabilities": ["search"],
        "capacity": {"max_concurrent_tasks": 5, "current_load": 0},
        "heartbeat_config": {"interval_seconds": 30, "unhealthy_after_seconds": 90, "dead_after_seconds": 300},
        "metadata": {},
        "registered_at": "2026-02-07T10:00:00.000+00:00",
        "last_heartbeat_at": "2026-02-07T10:00:00.000+00:00",
        "tasks_in_progress": [],
        "version": 1
    }
    HeartbeatAckDoc => {
        "agent_id": "research-agent",
        "status": "active",
        "last_heartbeat_at": "2026-02-07T10:00:30.000+00:00",
        "next_heartbeat_due": "2026-02-07T10:01:00.000+00:00",
        "version": 1
    }
    RegistrationIn => {"agent_id": "research-agent", "capabilities": ["search"]}
    HeartbeatIn => {"status": "active", "current_load": 1, "tasks_in_progress": []}
    AgentStatusIn => {"status": "draining"}
}

#[derive(Deserialize)]
struct StatusChange {
    status: String,
}

pub struct LifecycleOi(pub Lifecycle);

#[OpenApi(tag = "OiTag::Lifecycle")]
impl LifecycleOi {
    /// Register an agent of `/v1/agents` with the protocol.
    #[oai(
        path = "/agents/register",
        method = "post",
        operation_id = "oi_register_agent"
    )]
    async fn register(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<RegistrationIn>,
    ) -> OiResult<DocCreated<AgentRecordDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<RegistrationInput, _>(body)?;
        created_document(self.0.register_agent(&caller, input).await)
    }

    /// The tenant's registered agents, oldest first (a bare array).
    #[oai(
        path = "/agents",
        method = "get",
        operation_id = "oi_list_agent_records"
    )]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        status: Query<Option<Word<AgentLifecycleStatus>>>,
        role_id: Query<Option<String>>,
    ) -> OiResult<DocList<AgentRecordDoc>> {
        let status = status.0.map(|s| s.value);
        let agents = self
            .0
            .list_agents(&reader(&key, req)?, status.as_deref(), role_id.0.as_deref())
            .await;
        documents(agents)
    }

    #[oai(
        path = "/agents/:agent_id/record",
        method = "get",
        operation_id = "oi_get_agent_record"
    )]
    async fn record(
        &self,
        key: TenantKey,
        req: &Request,
        agent_id: Path<String>,
    ) -> OiResult<DocAnswer<AgentRecordDoc>> {
        document(
            self.0
                .get_agent_record(&reader(&key, req)?, &agent_id)
                .await,
        )
    }

    /// A heartbeat (410 for a deregistered or dead agent).
    #[oai(
        path = "/agents/:agent_id/heartbeat",
        method = "post",
        operation_id = "oi_agent_heartbeat"
    )]
    async fn heartbeat(
        &self,
        key: TenantKey,
        req: &Request,
        agent_id: Path<String>,
        body: Body<HeartbeatIn>,
    ) -> OiResult<DocAnswer<HeartbeatAckDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<HeartbeatInput, _>(body)?;
        document(self.0.heartbeat(&caller, &agent_id, input).await)
    }

    /// Drain, undrain or deregister an agent.
    #[oai(
        path = "/agents/:agent_id/status",
        method = "patch",
        operation_id = "oi_set_agent_status"
    )]
    async fn set_status(
        &self,
        key: TenantKey,
        req: &Request,
        agent_id: Path<String>,
        body: Body<AgentStatusIn>,
    ) -> OiResult<DocAnswer<AgentRecordDoc>> {
        let caller = writer(&key, req)?;
        let StatusChange { status } = parse(body)?;
        document(self.0.set_status(&caller, &agent_id, &status).await)
    }
}
