//! The resources of the OpenIntent face as the document shows them. The core builds the JSON
//! (`crate::openintent::views` and the record modules); these types document it, handlers
//! answer the core's JSON through [`Documented`](crate::api::types::Documented).

use std::collections::BTreeMap;

use poem_openapi::{types::Example, Object};
use serde_json::json;

use super::vocab::{
    AccessRequestStatus, AclPolicy, ArbitrationStatus, EdgeType, IntentStatus, LeaseStatus,
    MembershipRole, Permission, PortfolioStatus, RetryStrategy,
};
use crate::api::{
    schema::{example, AnyOf, Word},
    types::{Documented, JsonObject},
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

/// The seed client's research intent, half done.
impl Example for Intent {
    fn example() -> Self {
        example(json!({
            "id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
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
        }))
    }
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
}

impl Example for IntentEvent {
    fn example() -> Self {
        example(json!({
            "id": "oev_01HN4X9A1B2C3D4E5F6G7H8J9K",
            "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
            "event_type": "state_patched",
            "actor": "research-agent",
            "payload": {"patches": [{"op": "set", "path": "progress", "value": 0.5}], "version": 3},
            "trace_id": null,
            "parent_event_id": null,
            "created_at": "2024-01-15T10:42:00.000Z"
        }))
    }
}

/// An agent assigned to an intent.
#[derive(Debug, Object)]
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

impl Example for Lease {
    fn example() -> Self {
        example(json!({
            "id": "lse_01HN4XA2B3C4D5E6F7G8H9J0K1",
            "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
            "agent_id": "research-agent",
            "scope": "analysis",
            "status": "active",
            "expires_at": "2024-01-15T10:47:00.000Z",
            "acquired_at": "2024-01-15T10:42:00.000Z",
            "created_at": "2024-01-15T10:42:00.000Z",
            "released_at": null
        }))
    }
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
pub struct PortfolioDetail {
    #[oai(flatten)]
    portfolio: Portfolio,
    intents: Vec<Intent>,
    aggregate_status: AggregateStatus,
}

#[derive(Debug, Object)]
pub struct PortfolioIntents {
    intents: Vec<Intent>,
    aggregate_status: AggregateStatus,
}

/// An intent's membership of a portfolio.
#[derive(Debug, Object)]
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
pub struct Graph {
    root_id: String,
    /// The root and every descendant the caller may read.
    nodes: Vec<Intent>,
    edges: Vec<GraphEdge>,
    aggregate_status: AggregateStatus,
}

/// A request for arbitration (RFC-0004).
#[derive(Debug, Object)]
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
pub struct Costs {
    costs: Vec<Cost>,
    summary: CostSummary,
}

/// An intent's retry policy (RFC-0010).
#[derive(Debug, Object)]
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
pub struct Subscription {
    id: String,
    intent_id: Option<String>,
    portfolio_id: Option<String>,
    subscriber_id: String,
    /// Empty: every type.
    event_types: Vec<String>,
    webhook_url: Option<String>,
    active: bool,
    expires_at: Option<String>,
    created_at: String,
}

/// An intent's access control list (RFC-0011).
#[derive(Debug, Object)]
pub struct Acl {
    intent_id: String,
    default_policy: Word<AclPolicy>,
    entries: Vec<AclEntry>,
}

#[derive(Debug, Object)]
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

/// A list answered wrapped in an object under [`Listing::KEY`], as the SDK reads it.
pub trait Listing {
    const KEY: &'static str;
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
            const KEY: &'static str = stringify!($key);
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
