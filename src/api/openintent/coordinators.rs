//! RFC-0013 routes: coordinator leases and decision records.

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    Object, OpenApi,
};

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
        coordinators::{self, DecisionIn, LeaseIn},
        Coordinators,
    },
};

vocabularies! {
    CoordinatorType => coordinators::TYPES;
    /// A lease covers one intent or a portfolio.
    CoordinatorScope => coordinators::SCOPES;
    /// `unresponsive`: two heartbeats missed (a new lease takes over, leaving it
    /// `failed_over`); `completed`: past its `expires_at`.
    CoordinatorStatus => coordinators::STATUSES;
    DecisionType => coordinators::DECISION_TYPES;
}

/// A coordinator lease: the coordinator role over an intent or portfolio, exclusive while live.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CoordinatorLeaseDoc {
    id: String,
    intent_id: Option<String>,
    portfolio_id: Option<String>,
    agent_id: String,
    role: String,
    supervisor_id: Option<String>,
    coordinator_type: Word<CoordinatorType>,
    scope: Word<CoordinatorScope>,
    status: Word<CoordinatorStatus>,
    /// Kept as sent.
    guardrails: Option<JsonObject>,
    heartbeat_interval_seconds: i64,
    last_heartbeat: String,
    granted_at: String,
    expires_at: Option<String>,
    version: i64,
    metadata: JsonObject,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CoordinatorLeaseBody {
    /// The coordinator (a key bound to agents may name only its own).
    agent_id: String,
    /// Required for scope `intent` (the default).
    intent_id: Option<String>,
    /// Required for scope `portfolio`.
    portfolio_id: Option<String>,
    role: Option<String>,
    supervisor_id: Option<String>,
    /// Default `llm`.
    coordinator_type: Option<Word<CoordinatorType>>,
    scope: Option<Word<CoordinatorScope>>,
    guardrails: Option<JsonObject>,
    /// Default 60; two missed make the lease unresponsive.
    heartbeat_interval_seconds: Option<i64>,
    expires_at: Option<String>,
    metadata: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct CoordinatorHeartbeatDoc {
    /// `ok`.
    status: String,
    lease_id: String,
    coordinator_status: Word<CoordinatorStatus>,
    next_heartbeat_at: String,
}

/// A coordinator's decision, with why and what else it weighed.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct DecisionRecordDoc {
    id: String,
    /// `coordinator.decision`.
    #[oai(rename = "type")]
    record_type: String,
    /// The lease it was made under.
    coordinator_id: String,
    agent_id: String,
    intent_id: String,
    decision_type: Word<DecisionType>,
    summary: String,
    rationale: String,
    alternatives_considered: Vec<JsonObject>,
    /// 0 to 1.
    confidence: Option<f64>,
    timestamp: String,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct DecisionRecordBody {
    /// The live lease on the intent (its id, or its agent's id); the caller must hold it.
    coordinator_id: String,
    intent_id: String,
    decision_type: Word<DecisionType>,
    summary: String,
    rationale: Option<String>,
    alternatives_considered: Option<Vec<JsonObject>>,
    confidence: Option<f64>,
}

examples! {
    CoordinatorLeaseDoc => {
        "id": "clease_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "agent_id": "planner-agent",
        "role": "coordinator",
        "supervisor_id": "ops-lead",
        "coordinator_type": "llm",
        "scope": "intent",
        "status": "active",
        "guardrails": {"max_budget_usd": 50.0},
        "heartbeat_interval_seconds": 60,
        "last_heartbeat": "2026-02-07T10:15:00.000+00:00",
        "granted_at": "2026-02-07T10:00:00.000+00:00",
        "version": 3,
        "metadata": {}
    }
    CoordinatorLeaseBody => {
        "agent_id": "planner-agent",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "supervisor_id": "ops-lead",
        "heartbeat_interval_seconds": 60
    }
    CoordinatorHeartbeatDoc => {
        "status": "ok",
        "lease_id": "clease_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "coordinator_status": "active",
        "next_heartbeat_at": "2026-02-07T10:16:00.000+00:00"
    }
    DecisionRecordDoc => {
        "id": "drec_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "type": "coordinator.decision",
        "coordinator_id": "clease_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "agent_id": "planner-agent",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "decision_type": "plan_created",
        "summary": "Four tasks: gather, analyse, draft, review",
        "rationale": "No single agent has every capability",
        "alternatives_considered": [{"description": "one task", "rejected_reason": "too broad"}],
        "confidence": 0.85,
        "timestamp": "2026-02-07T10:01:00.000+00:00"
    }
    DecisionRecordBody => {
        "coordinator_id": "clease_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "decision_type": "plan_created",
        "summary": "Four tasks: gather, analyse, draft, review",
        "rationale": "No single agent has every capability",
        "confidence": 0.85
    }
}

pub struct CoordinatorsOi(pub Coordinators);

#[OpenApi(tag = "OiTag::Governance")]
impl CoordinatorsOi {
    /// Grant a coordinator lease (409 while a live lease holds the intent or portfolio).
    #[oai(
        path = "/coordinators",
        method = "post",
        operation_id = "oi_create_coordinator_lease"
    )]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<CoordinatorLeaseBody>,
    ) -> OiResult<DocCreated<CoordinatorLeaseDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<LeaseIn, _>(body)?;
        created_document(self.0.create_lease(&caller, input).await)
    }

    #[oai(
        path = "/coordinators/:id",
        method = "get",
        operation_id = "oi_get_coordinator_lease"
    )]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<CoordinatorLeaseDoc>> {
        document(self.0.lease(&reader(&key, req)?, &id).await)
    }

    /// The intent's coordinator leases, oldest first (a bare array).
    #[oai(
        path = "/intents/:id/coordinators",
        method = "get",
        operation_id = "oi_list_coordinator_leases"
    )]
    async fn of_intent(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocList<CoordinatorLeaseDoc>> {
        documents(self.0.leases_of_intent(&reader(&key, req)?, &id).await)
    }

    /// The holder's heartbeat (403 for another agent, 410 once the lease has ended).
    #[oai(
        path = "/coordinators/:id/heartbeat",
        method = "post",
        operation_id = "oi_coordinator_heartbeat"
    )]
    async fn heartbeat(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<CoordinatorHeartbeatDoc>> {
        let caller = writer(&key, req)?;
        document(self.0.heartbeat(&caller, &id).await)
    }

    /// Record a coordinator's decision (403 unless the caller holds the live lease).
    #[oai(
        path = "/decisions",
        method = "post",
        operation_id = "oi_create_decision_record"
    )]
    async fn decide(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<DecisionRecordBody>,
    ) -> OiResult<DocCreated<DecisionRecordDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<DecisionIn, _>(body)?;
        created_document(self.0.record_decision(&caller, input).await)
    }

    /// The intent's decision records, oldest first (a bare array).
    #[oai(
        path = "/intents/:id/coordinator-decisions",
        method = "get",
        operation_id = "oi_list_decision_records"
    )]
    async fn decisions(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Default 50, at most 1000.
        limit: Query<Option<i64>>,
    ) -> OiResult<DocList<DecisionRecordDoc>> {
        let caller = reader(&key, req)?;
        documents(self.0.decisions(&caller, &id, limit.0.unwrap_or(50)).await)
    }
}
