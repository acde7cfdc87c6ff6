//! The protocol's resources as the core hands them out: parsed, typed, times in
//! milliseconds. The `/api/v1` face turns them into its wire objects
//! (`api::openintent::resources`); events and leases also have a published JSON form
//! (`Serialize`), because they leave the process as JSON: on the bus to other instances, in
//! webhook deliveries, inside a 409's envelope.

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::CoordinationStatus;
use crate::{
    error::{Error, Result},
    store::openintent::{
        event_log::EventRow, intents::IntentRow, leases::LeaseRow, portfolios::PortfolioRow,
    },
    time::{now_ms, protocol_instant, Millis},
};

pub use super::graph::{Aggregate, Edge, EdgeKind, Graph};
pub use crate::store::openintent::{
    graph::AssignmentRow as Assignment, portfolios::MemberRow as Membership,
};

/// A stored JSON column; a corrupt value reads as `null` rather than failing the read.
pub(crate) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A coordination intent (RFC-0001).
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub title: String,
    pub description: String,
    pub created_by: String,
    pub status: CoordinationStatus,
    /// A JSON object.
    pub state: Value,
    /// A list of strings or an object, kept as sent.
    pub constraints: Value,
    pub governance_policy: Option<Value>,
    pub parent_id: Option<String>,
    pub depends_on: Vec<String>,
    pub confidence: i64,
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Intent {
    pub(crate) fn from_row(row: &IntentRow) -> Result<Intent> {
        let status = CoordinationStatus::from_stored(&row.status).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "intent {} has an unknown stored status {:?}",
                row.id,
                row.status
            ))
        })?;
        Ok(Intent {
            id: row.id.clone(),
            title: row.title.clone(),
            description: row.description.clone(),
            created_by: row.created_by.clone(),
            status,
            state: parse_json(&row.state),
            constraints: parse_json(&row.constraints),
            governance_policy: row.governance_policy.as_deref().map(parse_json),
            parent_id: row.parent_id.clone(),
            depends_on: depends_on(row),
            confidence: row.confidence,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The ids an intent depends on.
pub(crate) fn depends_on(row: &IntentRow) -> Vec<String> {
    serde_json::from_str(&row.depends_on).unwrap_or_default()
}

fn instant<S: Serializer>(ms: &Millis, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&protocol_instant(*ms))
}

fn optional_instant<S: Serializer>(
    ms: &Option<Millis>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => instant(ms, serializer),
        None => serializer.serialize_none(),
    }
}

/// One entry of an intent's event log (RFC-0001, RFC-0020 tracing). Its published form is
/// what SSE subscribers and RFC-0006 webhooks receive.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub intent_id: String,
    pub event_type: String,
    pub actor: String,
    pub payload: Value,
    pub trace_id: Option<String>,
    pub parent_event_id: Option<String>,
    #[serde(serialize_with = "instant")]
    pub created_at: Millis,
    /// RFC-0019: the position of the event's audit record in the tenant's chain (increasing
    /// along the intent's log), that record's hash as `sha256:<base64url>`, and the hash of the
    /// event before it in the log (listings; null for the first).
    pub sequence: Option<i64>,
    pub event_hash: Option<String>,
    pub previous_event_hash: Option<String>,
}

impl Event {
    pub(crate) fn from_row(row: &EventRow) -> Event {
        Event::with_payload(row, parse_json(&row.payload))
    }

    /// An event whose payload the caller holds already parsed (no second parse on writes).
    pub(crate) fn with_payload(row: &EventRow, payload: Value) -> Event {
        Event {
            id: row.id.clone(),
            intent_id: row.intent_id.clone(),
            event_type: row.event_type.clone(),
            actor: row.actor.clone(),
            payload,
            trace_id: row.trace_id.clone(),
            parent_event_id: row.parent_event_id.clone(),
            created_at: row.created_at,
            sequence: row.audit_sequence,
            event_hash: row.event_hash.as_deref().map(super::verifiable::event_hash),
            previous_event_hash: row
                .previous_event_hash
                .as_deref()
                .map(super::verifiable::event_hash),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What became of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseStatus {
    Active,
    Released,
    /// Lapsed: shown as soon as its time is up, before any sweep marks it.
    Expired,
    /// Its holder lost access to the intent.
    Revoked,
}

impl LeaseStatus {
    pub const ALL: [LeaseStatus; 4] = [
        LeaseStatus::Active,
        LeaseStatus::Released,
        LeaseStatus::Expired,
        LeaseStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeaseStatus::Active => "active",
            LeaseStatus::Released => "released",
            LeaseStatus::Expired => "expired",
            LeaseStatus::Revoked => "revoked",
        }
    }
}

/// A scope lease (RFC-0003).
#[derive(Debug, Clone, Serialize)]
pub struct Lease {
    pub id: String,
    pub intent_id: String,
    pub agent_id: String,
    pub scope: String,
    pub status: LeaseStatus,
    #[serde(serialize_with = "instant")]
    pub expires_at: Millis,
    #[serde(serialize_with = "instant")]
    pub acquired_at: Millis,
    /// The same instant as `acquired_at`, under the name SDK clients read.
    #[serde(serialize_with = "instant")]
    pub created_at: Millis,
    #[serde(serialize_with = "optional_instant")]
    pub released_at: Option<Millis>,
}

impl From<&LeaseRow> for Lease {
    fn from(row: &LeaseRow) -> Lease {
        let status = match row.status.as_str() {
            "active" if row.expires_at <= now_ms() => LeaseStatus::Expired,
            "active" => LeaseStatus::Active,
            "released" => LeaseStatus::Released,
            "revoked" => LeaseStatus::Revoked,
            _ => LeaseStatus::Expired,
        };
        Lease {
            id: row.id.clone(),
            intent_id: row.intent_id.clone(),
            agent_id: row.agent_id.clone(),
            scope: row.scope.clone(),
            status,
            expires_at: row.expires_at,
            acquired_at: row.acquired_at,
            created_at: row.acquired_at,
            released_at: row.released_at,
        }
    }
}

/// A portfolio of intents (RFC-0007).
#[derive(Debug, Clone)]
pub struct Portfolio {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_by: String,
    pub status: String,
    pub metadata: Value,
    pub governance_policy: Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl From<&PortfolioRow> for Portfolio {
    fn from(row: &PortfolioRow) -> Portfolio {
        Portfolio {
            id: row.id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            created_by: row.created_by.clone(),
            status: row.status.clone(),
            metadata: parse_json(&row.metadata),
            governance_policy: parse_json(&row.governance_policy),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A portfolio's member intents (highest priority first) and how far they are.
#[derive(Debug, Clone)]
pub struct Members {
    pub intents: Vec<Intent>,
    pub aggregate: Aggregate,
}

/// A portfolio with its members.
#[derive(Debug, Clone)]
pub struct PortfolioDetail {
    pub portfolio: Portfolio,
    pub members: Members,
}
