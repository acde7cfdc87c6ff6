//! Discovery documents (`/.well-known/openintent.json`, `…-compat.json`) and RFC-0026's
//! `/api/v1/server/config`. They list only what this server really serves.

use poem::{handler, web::Json as PoemJson};
use poem_openapi::{payload::Json, OpenApi};
use serde_json::{json, Value};

use super::{resources::ServerConfig, Answer, OiTag};

/// The OpenIntent protocol version spoken.
pub const PROTOCOL_VERSION: &str = "0.1";

/// Support per RFC. `partial`: RFC-0006 stores webhook subscriptions but delivers events
/// only over SSE; RFC-0013 serves governance policies, approval requests and escalations (in
/// the `/v1` approval queue), coordinator leases with heartbeats and decision records, not
/// guardrail enforcement, supervisor actions or handoffs; RFC-0014 serves vaults,
/// credentials, grants (delegation, suspension, cascading revocation), invocations and the
/// tool proxy (REST, OAuth2 and webhook adapters) and each agent's granted tools, not the tool
/// registry (`GET /tools`, `/tools/{service}`),
/// `requires_tools` lease checks or automatic delegation; RFC-0021 serves channels, messages,
/// request/reply and closing with the intent, not implicit channel creation, the channel SSE
/// stream, task-scoped closing or departure notices; RFC-0012 keeps plan conditions without evaluating them; RFC-0015 has no
/// batch or namespace routes and keeps `task_lifetime` entries until deleted; RFC-0017 serves schedule and event triggers and manual firing,
/// not webhook triggers or namespace policies; RFC-0018 serves key registration by signed
/// challenge, did:key identifiers, signature checks and rotation, not signed events (`proof`)
/// or agent discovery by key; RFC-0019 serves event hashes (its audit records'), chain
/// verification, signed intent checkpoints, Merkle proofs and consistency, not automatic intent
/// checkpoints or external anchoring; RFC-0020 takes a W3C `traceparent` onto the events a call logs and
/// onto the webhook deliveries of traced events and traced tool calls (a span id of their
/// own), but records no spans; RFC-0026
/// serves the server configuration and suspension responses, not the suspension-aware
/// container aggregates or task mirroring.
const RFC_COMPLIANCE: [(&str, &str); 22] = [
    ("RFC-0001", "full"),
    ("RFC-0002", "full"),
    ("RFC-0003", "full"),
    ("RFC-0004", "full"),
    ("RFC-0005", "full"),
    ("RFC-0006", "partial"),
    ("RFC-0007", "full"),
    ("RFC-0008", "full"),
    ("RFC-0009", "full"),
    ("RFC-0010", "full"),
    ("RFC-0011", "full"),
    ("RFC-0012", "partial"),
    ("RFC-0013", "partial"),
    ("RFC-0014", "partial"),
    ("RFC-0015", "partial"),
    ("RFC-0016", "full"),
    ("RFC-0017", "partial"),
    ("RFC-0018", "partial"),
    ("RFC-0019", "partial"),
    ("RFC-0020", "partial"),
    ("RFC-0021", "partial"),
    ("RFC-0026", "partial"),
];

const CAPABILITIES: [&str; 29] = [
    "intents",
    "events",
    "agents",
    "state-patches",
    "optimistic-concurrency",
    "intent-graphs",
    "leasing",
    "arbitration",
    "attachments",
    "subscriptions",
    "sse",
    "portfolios",
    "llm-events",
    "cost-tracking",
    "retry-policies",
    "access-control",
    "tracing",
    "tasks",
    "plans",
    "memory",
    "agent-lifecycle",
    "triggers",
    "governance",
    "coordinators",
    "credential-vaults",
    "tool-proxy",
    "channels",
    "agent-identity",
    "verifiable-logs",
];

#[handler]
pub fn discovery() -> PoemJson<Value> {
    PoemJson(json!({
        "protocol": "OpenIntent Coordination Protocol",
        "version": PROTOCOL_VERSION,
        "implementation": "IntendedOps",
        "implementationVersion": env!("CARGO_PKG_VERSION"),
        "baseUrl": "/api/v1",
        "rfcUrls": RFC_COMPLIANCE
            .iter()
            .map(|(rfc, _)| format!("/rfc/{}", rfc.trim_start_matches("RFC-")))
            .collect::<Vec<_>>(),
        "capabilities": CAPABILITIES,
        "endpoints": {
            "intents": "/api/v1/intents",
            "portfolios": "/api/v1/portfolios",
            "subscriptions": "/api/v1/subscriptions",
            "tasks": "/api/v1/tasks",
            "plans": "/api/v1/plans",
            "memory": "/api/v1/memory",
            "agents": "/api/v1/agents",
            "triggers": "/api/v1/triggers",
            "coordinators": "/api/v1/coordinators",
            "escalations": "/api/v1/escalations",
            "serverConfig": "/api/v1/server/config",
        },
        "authentication": { "type": "api_key", "header": "X-API-Key", "agentHeader": "X-Agent-ID" },
        "openApiUrl": "/api/v1/openapi.json",
    }))
}

#[handler]
pub fn compatibility() -> PoemJson<Value> {
    let compliance: serde_json::Map<String, Value> = RFC_COMPLIANCE
        .iter()
        .map(|(rfc, level)| (rfc.to_string(), json!(level)))
        .collect();
    PoemJson(json!({
        "implementation": "IntendedOps",
        "version": env!("CARGO_PKG_VERSION"),
        "protocolVersion": PROTOCOL_VERSION,
        "rfcCompliance": compliance,
        "features": {
            "intents": true,
            "events": true,
            "agents": true,
            "statePatches": true,
            "optimisticConcurrency": true,
            "intentGraphs": true,
            "leasing": true,
            "arbitration": true,
            "attachments": true,
            "subscriptions": true,
            "sse": true,
            "sseResume": true,
            "portfolios": true,
            "costTracking": true,
            "retryPolicies": true,
            "accessControl": true,
            "tracing": true,
            "governance": true,
            "coordinators": true,
            "tasks": true,
            "plans": true,
            "agentLifecycle": true,
            "tools": false,
            "memory": true,
            "triggers": true,
            "federation": false,
        },
    }))
}

pub struct ServerOi;

#[OpenApi(tag = "OiTag::Server")]
impl ServerOi {
    /// RFC-0026: the protocol version and the platform's default suspension retry policy
    /// (none configured).
    #[oai(
        path = "/server/config",
        method = "get",
        operation_id = "oi_server_config"
    )]
    async fn config(&self) -> Answer<ServerConfig> {
        Json(ServerConfig::of_this_server(PROTOCOL_VERSION))
    }
}
