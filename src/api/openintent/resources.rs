//! The resources of the OpenIntent face on the wire: what handlers answer and what the
//! document shows, built from the core's types (`crate::openintent::model`, the record
//! kinds) with the face's conventions: snake_case names, ISO 8601 times, statuses as words.

use std::collections::BTreeMap;

use poem_openapi::{types::Example, Object};
use serde_json::{json, Value};

use super::vocab::{
    AccessRequestStatus, AclPolicy, ArbitrationStatus, EdgeType, IntentStatus, LeaseStatus,
    MembershipRole, Permission, PortfolioStatus, RetryStrategy,
};
use crate::{
    api::{
        schema::{example, example_json, examples, AnyOf, Word},
        types::{Documented, JsonObject},
    },
    openintent::{
        access, model,
        records::{arbitration, attachments, costs, retries, Record},
        subscriptions,
    },
    time::protocol_instant,
};

/// `constraints`: the SDK sends a list of strings; an object is kept as sent.
pub type Constraints = Documented<AnyOf<Vec<String>, JsonObject>>;

/// A coordination intent (RFC-0001).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Intent {
    id: String,
    title: String,
    description: Option<String>,
    /// The agent that created it.
    created_by: String,
    status: Word<IntentStatus>,
    /// Shared state, changed by patches at the current `version`.
    state: JsonObject,
    constraints: Constraints,
    governance_policy: Option<JsonObject>,
    parent_intent_id: Option<String>,
    /// Intents this one waits for (RFC-0002).
    depends_on: Vec<String>,
    confidence: Option<i64>,
    /// Incremented by every change; send it back in `If-Match`.
    version: i64,
    created_at: String,
    updated_at: String,
}

/// One entry of an intent's event log (RFC-0001, RFC-0020 tracing).
#[derive(Debug, Object)]
#[oai(example)]
pub struct IntentEvent {
    id: String,
    intent_id: String,
    /// `intent_created`, `state_patched`, `status_changed`, `comment`, … or an agent's own type.
    event_type: String,
    /// The agent that caused it.
    actor: String,
    payload: JsonObject,
    trace_id: Option<String>,
    parent_event_id: Option<String>,
    created_at: String,
    /// RFC-0019: the position of the event's audit record in the tenant's hash chain
    /// (increasing along the log, with gaps for the tenant's other records).
    sequence: Option<i64>,
    /// RFC-0019: the hash of that audit record, `sha256:<base64url>`.
    event_hash: Option<String>,
    /// RFC-0019: the `event_hash` of the event before it in the log; null for the first (and
    /// in answers to writes).
    previous_event_hash: Option<String>,
}

/// An agent assigned to an intent.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Assignment {
    intent_id: String,
    agent_id: String,
    /// `worker` unless another role was given.
    role: String,
    assigned_at: String,
}

/// A scope lease (RFC-0003).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Lease {
    id: String,
    intent_id: String,
    agent_id: String,
    /// The leased scope: a top-level state key others may not patch meanwhile.
    scope: String,
    status: Word<LeaseStatus>,
    expires_at: String,
    acquired_at: String,
    created_at: String,
    released_at: Option<String>,
}

/// How far a set of intents is: counts per status, share completed.
#[derive(Debug, Object)]
pub struct AggregateStatus {
    total: i64,
    /// Intents per status; statuses with none are left out.
    by_status: BTreeMap<String, i64>,
    /// Completed intents, in whole percent of `total`.
    completion_percentage: i64,
}

/// A portfolio of intents (RFC-0007).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Portfolio {
    id: String,
    name: String,
    description: Option<String>,
    created_by: String,
    status: Word<PortfolioStatus>,
    metadata: JsonObject,
    /// Rules such as `require_all_completed`, kept as sent.
    governance_policy: JsonObject,
    created_at: String,
    updated_at: String,
}

/// A portfolio with its member intents (highest priority first) and their aggregate status.
#[derive(Debug, Object)]
#[oai(example)]
pub struct PortfolioDetail {
    #[oai(flatten)]
    portfolio: Portfolio,
    intents: Vec<Intent>,
    aggregate_status: AggregateStatus,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct PortfolioIntents {
    intents: Vec<Intent>,
    aggregate_status: AggregateStatus,
}

/// An intent's membership of a portfolio.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Membership {
    id: String,
    portfolio_id: String,
    intent_id: String,
    role: Word<MembershipRole>,
    /// Higher comes first.
    priority: i64,
    added_at: String,
}

#[derive(Debug, Object)]
pub struct GraphEdge {
    from: String,
    to: String,
    #[oai(rename = "type")]
    edge_type: Word<EdgeType>,
}

/// The tree under an intent (RFC-0002).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Graph {
    root_id: String,
    /// The root and every descendant the caller may read.
    nodes: Vec<Intent>,
    edges: Vec<GraphEdge>,
    aggregate_status: AggregateStatus,
}

/// A request for arbitration (RFC-0004).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Arbitration {
    id: String,
    intent_id: String,
    requester_id: String,
    reason: String,
    context: JsonObject,
    status: Word<ArbitrationStatus>,
    created_at: String,
}

/// A recorded decision (RFC-0004).
#[derive(Debug, Object)]
#[oai(example)]
pub struct DecisionRecord {
    id: String,
    intent_id: String,
    decision_maker_id: String,
    decision_type: String,
    outcome: String,
    reasoning: String,
    created_at: String,
}

/// A file attached by reference (RFC-0005).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Attachment {
    id: String,
    intent_id: String,
    filename: String,
    mime_type: String,
    /// Bytes.
    size: i64,
    storage_url: String,
    metadata: JsonObject,
    uploaded_by: String,
    created_at: String,
}

/// A cost incurred for an intent (RFC-0009).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Cost {
    id: String,
    intent_id: String,
    agent_id: String,
    cost_type: String,
    amount: f64,
    unit: String,
    provider: Option<String>,
    metadata: JsonObject,
    created_at: String,
}

#[derive(Debug, Object)]
pub struct CostSummary {
    total: f64,
    by_type: BTreeMap<String, f64>,
    by_agent: BTreeMap<String, f64>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct Costs {
    costs: Vec<Cost>,
    summary: CostSummary,
}

/// An intent's retry policy (RFC-0010).
#[derive(Debug, Object)]
#[oai(example)]
pub struct RetryPolicy {
    id: String,
    intent_id: String,
    strategy: Word<RetryStrategy>,
    max_retries: i64,
    base_delay_ms: i64,
    max_delay_ms: i64,
    fallback_agent_id: Option<String>,
    failure_threshold: i64,
    created_at: String,
}

/// A failed attempt (RFC-0010).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Failure {
    id: String,
    intent_id: String,
    agent_id: String,
    attempt_number: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    error_type: String,
    recoverable: bool,
    retry_scheduled_at: Option<String>,
    resolved_at: Option<String>,
    metadata: JsonObject,
    created_at: String,
}

/// A subscription record (RFC-0006); events are delivered over the SSE streams.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Subscription {
    id: String,
    intent_id: Option<String>,
    portfolio_id: Option<String>,
    subscriber_id: String,
    /// Empty: every type.
    event_types: Vec<String>,
    /// Events are also POSTed here, signed (`x-intendedops-signature`), with retries.
    webhook_url: Option<String>,
    /// The `/v1/webhooks` endpoint that delivers to `webhook_url` (its delivery log, retries).
    webhook_endpoint_id: Option<String>,
    /// The signing secret of the deliveries: in the creation's answer only.
    webhook_secret: Option<String>,
    active: bool,
    expires_at: Option<String>,
    created_at: String,
}

/// An intent's access control list (RFC-0011).
#[derive(Debug, Object)]
#[oai(example)]
pub struct Acl {
    intent_id: String,
    default_policy: Word<AclPolicy>,
    entries: Vec<AclEntry>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct AclEntry {
    id: String,
    intent_id: String,
    principal_id: String,
    /// `agent` unless given.
    principal_type: String,
    permission: Word<Permission>,
    granted_by: String,
    granted_at: String,
    expires_at: Option<String>,
    reason: Option<String>,
    created_at: String,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct AccessRequest {
    id: String,
    intent_id: String,
    principal_id: String,
    principal_type: String,
    requested_permission: Word<Permission>,
    reason: String,
    capabilities: Vec<String>,
    status: Word<AccessRequestStatus>,
    decided_by: Option<String>,
    decided_at: Option<String>,
    decision_reason: Option<String>,
    created_at: String,
}

/// RFC-0026: what the server runs with.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ServerConfig {
    /// The OpenIntent protocol version spoken.
    protocol_version: String,
    suspension: SuspensionConfig,
}

#[derive(Debug, Object)]
pub struct SuspensionConfig {
    /// The platform's default human retry policy; null when none is configured.
    default_retry_policy: Option<JsonObject>,
}

impl ServerConfig {
    /// This server: the protocol version it speaks, no default retry policy.
    pub fn of_this_server(protocol_version: &str) -> ServerConfig {
        ServerConfig {
            protocol_version: protocol_version.to_string(),
            suspension: SuspensionConfig {
                default_retry_policy: None,
            },
        }
    }
}

fn word<V>(word: impl Into<String>) -> Word<V> {
    Documented::new(word.into())
}

impl From<model::Intent> for Intent {
    fn from(intent: model::Intent) -> Intent {
        Intent {
            id: intent.id,
            title: intent.title,
            description: Some(intent.description),
            created_by: intent.created_by,
            status: word(intent.status.as_str()),
            state: JsonObject(intent.state),
            constraints: Documented::new(intent.constraints),
            governance_policy: intent.governance_policy.map(JsonObject),
            parent_intent_id: intent.parent_id,
            depends_on: intent.depends_on,
            confidence: Some(intent.confidence),
            version: intent.version,
            created_at: protocol_instant(intent.created_at),
            updated_at: protocol_instant(intent.updated_at),
        }
    }
}

impl From<model::Event> for IntentEvent {
    fn from(event: model::Event) -> IntentEvent {
        IntentEvent {
            id: event.id,
            intent_id: event.intent_id,
            event_type: event.event_type,
            actor: event.actor,
            payload: JsonObject(event.payload),
            trace_id: event.trace_id,
            parent_event_id: event.parent_event_id,
            created_at: protocol_instant(event.created_at),
            sequence: event.sequence,
            event_hash: event.event_hash,
            previous_event_hash: event.previous_event_hash,
        }
    }
}

impl From<model::Assignment> for Assignment {
    fn from(assignment: model::Assignment) -> Assignment {
        Assignment {
            intent_id: assignment.intent_id,
            agent_id: assignment.agent_id,
            role: assignment.role,
            assigned_at: protocol_instant(assignment.assigned_at),
        }
    }
}

impl From<model::Lease> for Lease {
    fn from(lease: model::Lease) -> Lease {
        Lease {
            id: lease.id,
            intent_id: lease.intent_id,
            agent_id: lease.agent_id,
            scope: lease.scope,
            status: word(lease.status.as_str()),
            expires_at: protocol_instant(lease.expires_at),
            acquired_at: protocol_instant(lease.acquired_at),
            created_at: protocol_instant(lease.created_at),
            released_at: lease.released_at.map(protocol_instant),
        }
    }
}

impl From<model::Aggregate> for AggregateStatus {
    fn from(aggregate: model::Aggregate) -> AggregateStatus {
        AggregateStatus {
            total: aggregate.total,
            by_status: aggregate
                .by_status
                .into_iter()
                .map(|(status, count)| (status.to_string(), count))
                .collect(),
            completion_percentage: aggregate.completion_percentage,
        }
    }
}

impl From<model::Portfolio> for Portfolio {
    fn from(portfolio: model::Portfolio) -> Portfolio {
        Portfolio {
            id: portfolio.id,
            name: portfolio.name,
            description: portfolio.description,
            created_by: portfolio.created_by,
            status: word(portfolio.status),
            metadata: JsonObject(portfolio.metadata),
            governance_policy: JsonObject(portfolio.governance_policy),
            created_at: protocol_instant(portfolio.created_at),
            updated_at: protocol_instant(portfolio.updated_at),
        }
    }
}

impl From<model::PortfolioDetail> for PortfolioDetail {
    fn from(detail: model::PortfolioDetail) -> PortfolioDetail {
        let PortfolioIntents {
            intents,
            aggregate_status,
        } = detail.members.into();
        PortfolioDetail {
            portfolio: detail.portfolio.into(),
            intents,
            aggregate_status,
        }
    }
}

impl From<model::Members> for PortfolioIntents {
    fn from(members: model::Members) -> PortfolioIntents {
        PortfolioIntents {
            intents: members.intents.into_iter().map(Intent::from).collect(),
            aggregate_status: members.aggregate.into(),
        }
    }
}

impl From<model::Membership> for Membership {
    fn from(membership: model::Membership) -> Membership {
        Membership {
            id: membership.id,
            portfolio_id: membership.portfolio_id,
            intent_id: membership.intent_id,
            role: word(membership.role),
            priority: membership.priority,
            added_at: protocol_instant(membership.added_at),
        }
    }
}

impl From<model::Graph> for Graph {
    fn from(graph: model::Graph) -> Graph {
        Graph {
            root_id: graph.root_id,
            nodes: graph.nodes.into_iter().map(Intent::from).collect(),
            edges: graph
                .edges
                .into_iter()
                .map(|edge| GraphEdge {
                    from: edge.from,
                    to: edge.to,
                    edge_type: word(edge.kind.as_str()),
                })
                .collect(),
            aggregate_status: graph.aggregate.into(),
        }
    }
}

impl From<Record<arbitration::Arbitration>> for Arbitration {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<arbitration::Arbitration>,
    ) -> Self {
        Arbitration {
            id,
            intent_id: fields.intent_id,
            requester_id: fields.requester_id,
            reason: fields.reason,
            context: JsonObject(fields.context),
            status: word(fields.status),
            created_at,
        }
    }
}

impl From<Record<arbitration::Decision>> for DecisionRecord {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<arbitration::Decision>,
    ) -> Self {
        DecisionRecord {
            id,
            intent_id: fields.intent_id,
            decision_maker_id: fields.decision_maker_id,
            decision_type: fields.decision_type,
            outcome: fields.outcome,
            reasoning: fields.reasoning,
            created_at,
        }
    }
}

impl From<Record<attachments::Attachment>> for Attachment {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<attachments::Attachment>,
    ) -> Self {
        Attachment {
            id,
            intent_id: fields.intent_id,
            filename: fields.filename,
            mime_type: fields.mime_type,
            size: i64::try_from(fields.size).unwrap_or(i64::MAX),
            storage_url: fields.storage_url,
            metadata: JsonObject(fields.metadata),
            uploaded_by: fields.uploaded_by,
            created_at,
        }
    }
}

impl From<Record<costs::Cost>> for Cost {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<costs::Cost>,
    ) -> Self {
        Cost {
            id,
            intent_id: fields.intent_id,
            agent_id: fields.agent_id,
            cost_type: fields.cost_type,
            amount: fields.amount,
            unit: fields.unit,
            provider: fields.provider,
            metadata: JsonObject(fields.metadata),
            created_at,
        }
    }
}

impl From<costs::Costs> for Costs {
    fn from(costs: costs::Costs) -> Costs {
        Costs {
            costs: costs.costs.into_iter().map(Cost::from).collect(),
            summary: CostSummary {
                total: costs.summary.total,
                by_type: costs.summary.by_type,
                by_agent: costs.summary.by_agent,
            },
        }
    }
}

impl From<Record<retries::RetryPolicy>> for RetryPolicy {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<retries::RetryPolicy>,
    ) -> Self {
        RetryPolicy {
            id,
            intent_id: fields.intent_id,
            strategy: word(fields.strategy),
            max_retries: fields.max_retries.into(),
            base_delay_ms: i64::try_from(fields.base_delay_ms).unwrap_or(i64::MAX),
            max_delay_ms: i64::try_from(fields.max_delay_ms).unwrap_or(i64::MAX),
            fallback_agent_id: fields.fallback_agent_id,
            failure_threshold: fields.failure_threshold.into(),
            created_at,
        }
    }
}

impl From<Record<retries::Failure>> for Failure {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<retries::Failure>,
    ) -> Self {
        Failure {
            id,
            intent_id: fields.intent_id,
            agent_id: fields.agent_id,
            attempt_number: fields.attempt_number.into(),
            error_code: fields.error_code,
            error_message: fields.error_message,
            error_type: fields.error_type,
            recoverable: fields.recoverable,
            retry_scheduled_at: fields.retry_scheduled_at,
            resolved_at: fields.resolved_at,
            metadata: JsonObject(fields.metadata),
            created_at,
        }
    }
}

impl From<Record<subscriptions::Subscription>> for Subscription {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<subscriptions::Subscription>,
    ) -> Self {
        Subscription {
            id,
            intent_id: fields.intent_id,
            portfolio_id: fields.portfolio_id,
            subscriber_id: fields.subscriber_id,
            event_types: fields.event_types,
            webhook_url: fields.webhook_url,
            webhook_endpoint_id: fields.webhook_endpoint_id,
            webhook_secret: None,
            active: fields.active,
            expires_at: fields.expires_at,
            created_at,
        }
    }
}

impl From<subscriptions::NewSubscription> for Subscription {
    fn from(new: subscriptions::NewSubscription) -> Subscription {
        Subscription {
            webhook_secret: new.webhook_secret,
            ..new.subscription.into()
        }
    }
}

impl From<access::Acl> for Acl {
    fn from(acl: access::Acl) -> Acl {
        Acl {
            intent_id: acl.intent_id,
            default_policy: word(acl.default_policy),
            entries: acl.entries.into_iter().map(AclEntry::from).collect(),
        }
    }
}

impl From<Record<access::AclEntry>> for AclEntry {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<access::AclEntry>,
    ) -> Self {
        AclEntry {
            id,
            intent_id: fields.intent_id,
            principal_id: fields.principal_id,
            principal_type: fields.principal_type,
            permission: word(fields.permission),
            granted_by: fields.granted_by,
            granted_at: fields.granted_at,
            expires_at: fields.expires_at,
            reason: fields.reason,
            created_at,
        }
    }
}

impl From<Record<access::AccessRequest>> for AccessRequest {
    fn from(
        Record {
            id,
            fields,
            created_at,
        }: Record<access::AccessRequest>,
    ) -> Self {
        AccessRequest {
            id,
            intent_id: fields.intent_id,
            principal_id: fields.principal_id,
            principal_type: fields.principal_type,
            requested_permission: word(fields.requested_permission),
            reason: fields.reason,
            capabilities: fields.capabilities,
            status: word(fields.status),
            decided_by: fields.decided_by,
            decided_at: fields.decided_at,
            decision_reason: fields.decision_reason,
            created_at,
        }
    }
}

const INTENT: &str = "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G";

examples! {
    /// The seed client's research intent, half done.
    Intent => {
        "id": INTENT,
        "title": "Research market trends",
        "description": "Analyze Q4 market data and identify patterns",
        "created_by": "research-agent",
        "status": "active",
        "state": {"progress": 0.5},
        "constraints": ["Use public data only"],
        "governance_policy": null,
        "parent_intent_id": null,
        "depends_on": [],
        "confidence": null,
        "version": 3,
        "created_at": "2024-01-15T10:30:00.000Z",
        "updated_at": "2024-01-15T10:42:00.000Z"
    }
    IntentEvent => {
        "id": "oev_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "intent_id": INTENT,
        "event_type": "state_patched",
        "actor": "research-agent",
        "payload": {"patches": [{"op": "set", "path": "progress", "value": 0.5}], "version": 3},
        "trace_id": null,
        "parent_event_id": null,
        "created_at": "2024-01-15T10:42:00.000Z",
        "sequence": 42,
        "event_hash": "sha256:O34fmlwtjktqDxw-XXuaLE5viguxPF5_mitsbY4PGjs",
        "previous_event_hash": "sha256:nyxOCnsdP15qjAstT26KDBs9f56hw-W305Gjxee50R8"
    }
    Assignment => {
        "intent_id": INTENT,
        "agent_id": "research-agent",
        "role": "worker",
        "assigned_at": "2024-01-15T10:31:00.000Z"
    }
    /// The seed client's `client.lease(intent_id, "analysis")`.
    Lease => {
        "id": "lse_01HN4XA2B3C4D5E6F7G8H9J0K1",
        "intent_id": INTENT,
        "agent_id": "research-agent",
        "scope": "analysis",
        "status": "active",
        "expires_at": "2024-01-15T10:47:00.000Z",
        "acquired_at": "2024-01-15T10:42:00.000Z",
        "created_at": "2024-01-15T10:42:00.000Z",
        "released_at": null
    }
    Portfolio => {
        "id": "pfo_01HN4XB3C4D5E6F7G8H9J0K1L2",
        "name": "Q4 market research",
        "description": "Every intent of the Q4 research effort",
        "created_by": "research-agent",
        "status": "active",
        "metadata": {},
        "governance_policy": {"require_all_completed": true},
        "created_at": "2024-01-15T10:35:00.000Z",
        "updated_at": "2024-01-15T10:35:00.000Z"
    }
    Membership => {
        "id": "pfm_01HN4XC4D5E6F7G8H9J0K1L2M3",
        "portfolio_id": "pfo_01HN4XB3C4D5E6F7G8H9J0K1L2",
        "intent_id": INTENT,
        "role": "primary",
        "priority": 10,
        "added_at": "2024-01-15T10:36:00.000Z"
    }
    Arbitration => {
        "id": "arb_01HN4XD5E6F7G8H9J0K1L2M3N4",
        "intent_id": INTENT,
        "requester_id": "research-agent",
        "reason": "Agents disagree on the Q4 growth estimate",
        "context": {"estimates": {"research-agent": 0.12, "synth-agent": 0.08}},
        "status": "pending",
        "created_at": "2024-01-15T10:50:00.000Z"
    }
    DecisionRecord => {
        "id": "dec_01HN4XE6F7G8H9J0K1L2M3N4P5",
        "intent_id": INTENT,
        "decision_maker_id": "lead-agent",
        "decision_type": "arbitration",
        "outcome": "use 0.10",
        "reasoning": "Midpoint of both estimates; both sources are credible",
        "created_at": "2024-01-15T10:55:00.000Z"
    }
    Attachment => {
        "id": "att_01HN4XF7G8H9J0K1L2M3N4P5Q6",
        "intent_id": INTENT,
        "filename": "q4-report.pdf",
        "mime_type": "application/pdf",
        "size": 482113,
        "storage_url": "https://files.example.com/q4-report.pdf",
        "metadata": {"pages": 12},
        "uploaded_by": "research-agent",
        "created_at": "2024-01-15T11:00:00.000Z"
    }
    Cost => {
        "id": "cst_01HN4XG8H9J0K1L2M3N4P5Q6R7",
        "intent_id": INTENT,
        "agent_id": "research-agent",
        "cost_type": "tokens",
        "amount": 1523.0,
        "unit": "tokens",
        "provider": "openai",
        "metadata": {"model": "gpt-4o"},
        "created_at": "2024-01-15T10:45:00.000Z"
    }
    RetryPolicy => {
        "id": "rtp_01HN4XH9J0K1L2M3N4P5Q6R7S8",
        "intent_id": INTENT,
        "strategy": "exponential",
        "max_retries": 3,
        "base_delay_ms": 1000,
        "max_delay_ms": 60000,
        "fallback_agent_id": null,
        "failure_threshold": 3,
        "created_at": "2024-01-15T10:32:00.000Z"
    }
    Failure => {
        "id": "fail_01HN4XJ0K1L2M3N4P5Q6R7S8T9",
        "intent_id": INTENT,
        "agent_id": "research-agent",
        "attempt_number": 1,
        "error_code": "TIMEOUT",
        "error_message": "search API timed out after 30 s",
        "error_type": "error",
        "recoverable": true,
        "retry_scheduled_at": null,
        "resolved_at": null,
        "metadata": {},
        "created_at": "2024-01-15T10:40:00.000Z"
    }
    Subscription => {
        "id": "sub_01HN4XK1L2M3N4P5Q6R7S8T9U0",
        "intent_id": INTENT,
        "portfolio_id": null,
        "subscriber_id": "watcher",
        "event_types": ["state_patched", "status_changed"],
        "webhook_url": null,
        "webhook_endpoint_id": null,
        "webhook_secret": null,
        "active": true,
        "expires_at": null,
        "created_at": "2024-01-15T10:33:00.000Z"
    }
    AclEntry => {
        "id": "ace_01HN4XL2M3N4P5Q6R7S8T9U0V1",
        "intent_id": INTENT,
        "principal_id": "synth-agent",
        "principal_type": "agent",
        "permission": "write",
        "granted_by": "research-agent",
        "granted_at": "2024-01-15T10:34:00.000Z",
        "expires_at": null,
        "reason": "writes the synthesis",
        "created_at": "2024-01-15T10:34:00.000Z"
    }
    AccessRequest => {
        "id": "acr_01HN4XM3N4P5Q6R7S8T9U0V1W2",
        "intent_id": INTENT,
        "principal_id": "synth-agent",
        "principal_type": "agent",
        "requested_permission": "write",
        "reason": "needs to record the synthesis",
        "capabilities": ["synthesis"],
        "status": "pending",
        "decided_by": null,
        "decided_at": null,
        "decision_reason": null,
        "created_at": "2024-01-15T10:37:00.000Z"
    }
    ServerConfig => {"protocol_version": "0.1", "suspension": {"default_retry_policy": null}}
}

/// One intent of two completed.
fn half_done() -> Value {
    json!({"total": 2, "by_status": {"active": 1, "completed": 1}, "completion_percentage": 50})
}

impl Example for PortfolioDetail {
    fn example() -> Self {
        let mut detail = example_json::<Portfolio>();
        detail["intents"] = json!([example_json::<Intent>()]);
        detail["aggregate_status"] = half_done();
        example(detail)
    }
}

impl Example for PortfolioIntents {
    fn example() -> Self {
        example(json!({ "intents": [example_json::<Intent>()], "aggregate_status": half_done() }))
    }
}

/// A root with one child.
impl Example for Graph {
    fn example() -> Self {
        let root = example_json::<Intent>();
        let mut child = root.clone();
        child["id"] = json!("oin_01HN4X8B2C3D4E5F6G7H8J9K0L");
        child["title"] = json!("Collect Q4 sales data");
        child["parent_intent_id"] = json!(INTENT);
        child["status"] = json!("completed");
        example(json!({
            "root_id": INTENT,
            "nodes": [root, child],
            "edges": [{"from": INTENT, "to": child["id"], "type": "parent_child"}],
            "aggregate_status": half_done()
        }))
    }
}

impl Example for Costs {
    fn example() -> Self {
        example(json!({
            "costs": [example_json::<Cost>()],
            "summary": {
                "total": 1523.0,
                "by_type": {"tokens": 1523.0},
                "by_agent": {"research-agent": 1523.0}
            }
        }))
    }
}

impl Example for Acl {
    fn example() -> Self {
        example(json!({
            "intent_id": INTENT,
            "default_policy": "closed",
            "entries": [example_json::<AclEntry>()]
        }))
    }
}

/// A list answered wrapped in an object named after what it holds, as the SDK reads it.
pub trait Listing {
    type Item;
    fn wrap(items: Vec<Self::Item>) -> Self;
}

/// Declares `{"<key>": [Item]}` list bodies.
macro_rules! listings {
    ($($(#[$doc:meta])* $name:ident { $key:ident: $item:ty })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Object)]
        pub struct $name {
            $key: Vec<$item>,
        }

        impl Listing for $name {
            type Item = $item;
            fn wrap($key: Vec<$item>) -> Self {
                $name { $key }
            }
        }
    )*};
}

listings! {
    IntentList { intents: Intent }
    EventList { events: IntentEvent }
    AssignmentList { agents: Assignment }
    ChildList { children: Intent }
    DescendantList { descendants: Intent }
    /// Parent first, root last.
    AncestorList { ancestors: Intent }
    /// What the intent waits for.
    DependencyList { dependencies: Intent }
    /// What waits for the intent.
    DependentList { dependents: Intent }
    /// Open children whose dependencies are all completed.
    ReadyList { ready: Intent }
    /// Open children still waiting for a dependency.
    BlockedList { blocked: Intent }
    /// Newest first.
    LeaseList { leases: Lease }
    DecisionList { decisions: DecisionRecord }
    AttachmentList { attachments: Attachment }
    FailureList { failures: Failure }
    PortfolioList { portfolios: Portfolio }
    AccessRequestList { access_requests: AccessRequest }
    SubscriptionList { subscriptions: Subscription }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;

    /// Events and leases also leave the core as JSON (bus, webhooks, a 409's envelope): that
    /// form and the face's answer must be one shape.
    #[test]
    fn published_events_and_leases_are_the_wire_objects() {
        let event = model::Event {
            id: "oev_1".into(),
            intent_id: INTENT.into(),
            event_type: "state_patched".into(),
            actor: "research-agent".into(),
            payload: json!({"version": 2}),
            trace_id: Some("trace-1".into()),
            parent_event_id: None,
            created_at: 1_705_314_600_000,
            sequence: Some(7),
            event_hash: Some("sha256:O34fmlwtjktqDxw-XXuaLE5viguxPF5_mitsbY4PGjs".into()),
            previous_event_hash: None,
        };
        assert_eq!(
            IntentEvent::from(event.clone()).to_json(),
            Some(serde_json::to_value(&event).unwrap())
        );
        let lease = model::Lease {
            id: "lse_1".into(),
            intent_id: INTENT.into(),
            agent_id: "research-agent".into(),
            scope: "analysis".into(),
            status: model::LeaseStatus::Released,
            expires_at: 1_705_314_900_000,
            acquired_at: 1_705_314_600_000,
            created_at: 1_705_314_600_000,
            released_at: Some(1_705_314_700_000),
        };
        assert_eq!(
            Lease::from(lease.clone()).to_json(),
            Some(serde_json::to_value(&lease).unwrap())
        );
    }
}
