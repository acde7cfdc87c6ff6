//! The request bodies of the OpenIntent face as the document shows them, with the examples
//! Swagger UI sends. Handlers receive the raw JSON and the core parses it into its own inputs
//! (`crate::openintent`), so unknown fields sent by newer SDKs stay ignored.

use poem_openapi::Object;

use super::{
    resources::Constraints,
    vocab::{AclPolicy, IntentStatus, MembershipRole, PatchOp, Permission, PortfolioStatus},
};
use crate::api::{
    schema::{examples, JsonValue, Word},
    types::{Documented, JsonObject},
};

/// A new intent (`status` defaults to `draft`).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct NewIntentIn {
    /// 1-500 characters.
    title: String,
    description: Option<String>,
    /// Defaults to the caller's agent.
    created_by: Option<String>,
    status: Option<Word<IntentStatus>>,
    /// The initial state (at most 1 MiB as JSON).
    state: Option<JsonObject>,
    constraints: Option<Constraints>,
    governance_policy: Option<JsonObject>,
    /// Also read as `parent_id`.
    parent_intent_id: Option<String>,
    depends_on: Option<Vec<String>>,
    confidence: Option<i64>,
}

/// A state change at the `If-Match` version: `patches`, or a `state` whose top-level keys are
/// each set.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct StateChangeIn {
    patches: Option<Vec<StatePatchIn>>,
    state: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StatePatchIn {
    op: Word<PatchOp>,
    /// A top-level key (`progress`) or a JSON pointer (`/results/0/score`).
    path: String,
    /// Any JSON value; absent for `remove`.
    value: Option<Documented<JsonValue>>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct StatusIn {
    status: Word<IntentStatus>,
    reason: Option<String>,
}

/// An event for the intent's log (RFC-0001; RFC-0020 `trace_id`, `parent_event_id`).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct EventIn {
    /// 1-100 letters, digits, `_`, `.`, `:` or `-`.
    event_type: String,
    payload: Option<JsonObject>,
    trace_id: Option<String>,
    parent_event_id: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AssignIn {
    agent_id: String,
    /// Defaults to `worker`.
    role: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct DependencyIn {
    dependency_id: String,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AcquireLeaseIn {
    /// The scope (a top-level state key) to hold.
    scope: String,
    /// Defaults to 300.
    duration_seconds: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RenewLeaseIn {
    /// From now; defaults to 300.
    duration_seconds: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ArbitrationIn {
    reason: String,
    context: Option<JsonObject>,
    /// Defaults to the caller's agent.
    requested_by: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct DecisionIn {
    /// E.g. `arbitration`, `escalation`.
    decision_type: String,
    outcome: String,
    reasoning: Option<String>,
    /// Defaults to the caller's agent.
    decided_by: Option<String>,
}

/// A file by reference (the async SDK's `content_type`, `url`, `size_bytes` are read too).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AttachmentIn {
    filename: String,
    mime_type: String,
    size: Option<i64>,
    storage_url: String,
    metadata: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CostIn {
    /// Defaults to the caller's agent.
    agent_id: Option<String>,
    cost_type: String,
    /// Not negative.
    amount: f64,
    unit: String,
    provider: Option<String>,
    metadata: Option<JsonObject>,
}

/// A retry policy; absent fields take their defaults.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RetryPolicyIn {
    /// Defaults to `exponential`.
    strategy: Option<Word<super::vocab::RetryStrategy>>,
    /// Defaults to 3.
    max_retries: Option<i64>,
    /// Defaults to 1000; at most `max_delay_ms`.
    base_delay_ms: Option<i64>,
    /// Defaults to 60000.
    max_delay_ms: Option<i64>,
    fallback_agent_id: Option<String>,
    /// Defaults to 3.
    failure_threshold: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct FailureIn {
    /// Defaults to the caller's agent.
    agent_id: Option<String>,
    attempt_number: Option<i64>,
    error_code: Option<String>,
    error_message: Option<String>,
    /// Defaults to `error`.
    error_type: Option<String>,
    /// Defaults to true.
    recoverable: Option<bool>,
    retry_scheduled_at: Option<String>,
    metadata: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct NewPortfolioIn {
    name: String,
    description: Option<String>,
    /// Defaults to the caller's agent.
    created_by: Option<String>,
    metadata: Option<JsonObject>,
    governance_policy: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct PortfolioStatusIn {
    status: Word<PortfolioStatus>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct MemberIn {
    intent_id: String,
    /// Defaults to `member`.
    role: Option<Word<MembershipRole>>,
    /// Higher comes first; defaults to 0.
    priority: Option<i64>,
}

/// An ACL entry to grant.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AclEntryIn {
    principal_id: String,
    /// Defaults to `agent`.
    principal_type: Option<String>,
    /// Defaults to `read`.
    permission: Option<Word<Permission>>,
    reason: Option<String>,
    expires_at: Option<String>,
}

/// A whole ACL, replacing the intent's.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AclIn {
    /// Defaults to `open`.
    default_policy: Option<Word<AclPolicy>>,
    entries: Option<Vec<AclEntryIn>>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AccessRequestIn {
    principal_id: String,
    /// Defaults to `agent`.
    principal_type: Option<String>,
    /// Defaults to `read`.
    requested_permission: Option<Word<Permission>>,
    reason: Option<String>,
    capabilities: Option<Vec<String>>,
}

/// How to decide an access request; every field is optional.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AccessDecisionIn {
    /// Defaults to the caller's agent.
    decided_by: Option<String>,
    /// On approval: the permission granted, by default the one requested.
    permission: Option<Word<Permission>>,
    /// On approval: when the granted entry lapses.
    expires_at: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SubscriptionIn {
    intent_id: Option<String>,
    portfolio_id: Option<String>,
    /// Defaults to the caller's agent.
    subscriber_id: Option<String>,
    /// Empty or absent: every type.
    event_types: Option<Vec<String>>,
    /// Also deliver the events by signed POST here (a public address; the answer carries the
    /// signing secret once, as `webhook_secret`).
    webhook_url: Option<String>,
    expires_at: Option<String>,
}

examples! {
    /// The seed client's `create_intent`.
    NewIntentIn => {
        "title": "Research market trends",
        "description": "Analyze Q4 market data and identify patterns",
        "constraints": ["Use public data only"],
        "state": {"progress": 0}
    }
    /// The seed client's `update_state(intent.id, intent.version, {"progress": 0.5})`.
    StateChangeIn => {"patches": [{"op": "set", "path": "progress", "value": 0.5}]}
    StatusIn => {"status": "active"}
    /// The seed client's comment.
    EventIn => {"event_type": "comment", "payload": {"note": "Starting analysis"}}
    AssignIn => {"agent_id": "research-agent", "role": "worker"}
    DependencyIn => {"dependency_id": "oin_01HN4X8B2C3D4E5F6G7H8J9K0L"}
    /// The seed client's `client.lease(intent_id, "analysis")`.
    AcquireLeaseIn => {"scope": "analysis", "duration_seconds": 300}
    RenewLeaseIn => {"duration_seconds": 300}
    ArbitrationIn => {
        "reason": "Agents disagree on the Q4 growth estimate",
        "context": {"estimates": {"research-agent": 0.12, "synth-agent": 0.08}}
    }
    DecisionIn => {
        "decision_type": "arbitration",
        "outcome": "use 0.10",
        "reasoning": "Midpoint of both estimates; both sources are credible"
    }
    AttachmentIn => {
        "filename": "q4-report.pdf",
        "mime_type": "application/pdf",
        "size": 482113,
        "storage_url": "https://files.example.com/q4-report.pdf",
        "metadata": {"pages": 12}
    }
    CostIn => {
        "cost_type": "tokens",
        "amount": 1523,
        "unit": "tokens",
        "provider": "openai",
        "metadata": {"model": "gpt-4o"}
    }
    RetryPolicyIn => {"strategy": "exponential", "max_retries": 3, "base_delay_ms": 1000, "max_delay_ms": 60000}
    FailureIn => {
        "attempt_number": 1,
        "error_code": "TIMEOUT",
        "error_message": "search API timed out after 30 s",
        "recoverable": true
    }
    NewPortfolioIn => {
        "name": "Q4 market research",
        "description": "Every intent of the Q4 research effort",
        "governance_policy": {"require_all_completed": true}
    }
    PortfolioStatusIn => {"status": "completed"}
    MemberIn => {"intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G", "role": "primary", "priority": 10}
    AclEntryIn => {"principal_id": "synth-agent", "permission": "write", "reason": "writes the synthesis"}
    AclIn => {
        "default_policy": "closed",
        "entries": [{"principal_id": "synth-agent", "permission": "write"}]
    }
    AccessRequestIn => {
        "principal_id": "synth-agent",
        "requested_permission": "write",
        "reason": "needs to record the synthesis",
        "capabilities": ["synthesis"]
    }
    AccessDecisionIn => {"permission": "read", "reason": "read access is enough for review"}
    SubscriptionIn => {
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "event_types": ["state_patched", "status_changed"]
    }
}
