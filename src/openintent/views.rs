//! Resources as the OpenIntent face shows them: snake_case JSON, ISO 8601 times.

use serde_json::{json, Value};

use crate::{
    store::openintent::{
        events::EventRow, graph::AssignmentRow, intents::IntentRow, leases::LeaseRow,
        portfolios::MemberRow, portfolios::PortfolioRow,
    },
    time::{now_ms, rfc3339},
};

/// A stored JSON column; a corrupt value shows as `null` rather than failing the read.
pub(crate) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The ids an intent depends on.
pub fn depends_on(row: &IntentRow) -> Vec<String> {
    serde_json::from_str(&row.depends_on).unwrap_or_default()
}

pub fn intent(row: &IntentRow) -> Value {
    json!({
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "created_by": row.created_by,
        "status": row.status,
        "state": parse_json(&row.state),
        "constraints": parse_json(&row.constraints),
        "governance_policy": row.governance_policy.as_deref().map(parse_json),
        "parent_intent_id": row.parent_id,
        "depends_on": parse_json(&row.depends_on),
        "confidence": row.confidence,
        "version": row.version,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

pub fn event(row: &EventRow) -> Value {
    event_with_payload(row, parse_json(&row.payload))
}

/// An event whose payload the caller holds already parsed (no second parse on writes).
pub fn event_with_payload(row: &EventRow, payload: Value) -> Value {
    json!({
        "id": row.id,
        "intent_id": row.intent_id,
        "event_type": row.event_type,
        "actor": row.actor,
        "payload": payload,
        "trace_id": row.trace_id,
        "parent_event_id": row.parent_event_id,
        "created_at": rfc3339(row.created_at),
    })
}

pub fn assignment(row: &AssignmentRow) -> Value {
    json!({
        "intent_id": row.intent_id,
        "agent_id": row.agent_id,
        "role": row.role,
        "assigned_at": rfc3339(row.assigned_at),
    })
}

/// A lease; an `active` lease past its expiry shows as `expired` even before it is swept.
pub fn lease(row: &LeaseRow) -> Value {
    let status = match row.status.as_str() {
        "active" if row.expires_at <= now_ms() => "expired",
        other => other,
    };
    json!({
        "id": row.id,
        "intent_id": row.intent_id,
        "agent_id": row.agent_id,
        "scope": row.scope,
        "status": status,
        "expires_at": rfc3339(row.expires_at),
        "acquired_at": rfc3339(row.acquired_at),
        "created_at": rfc3339(row.acquired_at),
        "released_at": row.released_at.map(rfc3339),
    })
}

pub fn portfolio(row: &PortfolioRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "created_by": row.created_by,
        "status": row.status,
        "metadata": parse_json(&row.metadata),
        "governance_policy": parse_json(&row.governance_policy),
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

pub fn membership(row: &MemberRow) -> Value {
    json!({
        "id": row.id,
        "portfolio_id": row.portfolio_id,
        "intent_id": row.intent_id,
        "role": row.role,
        "priority": row.priority,
        "added_at": rfc3339(row.added_at),
    })
}
