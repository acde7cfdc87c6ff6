//! The resources of the OpenIntent face as the document shows them. The core builds the JSON
//! (`crate::openintent::views` and the record modules); these types document it, handlers
//! answer the core's JSON through [`Documented`](crate::api::types::Documented).

use std::collections::BTreeMap;

use poem_openapi::{types::Example, Object};
use serde_json::{json, Value};

use super::vocab::{
    AccessRequestStatus, AclPolicy, ArbitrationStatus, EdgeType, IntentStatus, LeaseStatus,
    MembershipRole, Permission, PortfolioStatus, RetryStrategy,
};
use crate::api::{
    schema::{example, example_json, examples, AnyOf, Word},
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
        "created_at": "2024-01-15T10:42:00.000Z"
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
