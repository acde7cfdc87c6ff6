//! RFC-0017 event triggers: a trigger of type `event` fires for each logged protocol event
//! of its `condition.event` whose payload matches `condition.filter` (exact values, or
//! strings with `*` wildcards; the payload's keys plus `intent_id` and `actor`).
//!
//! Event types are the intent log's (`state_patched`, `trigger.fired`, `channel.created`, …)
//! and three of the RFC's names: `intent.created`, `intent.state_changed` (`from_state`,
//! `to_state` in its payload) and `intent.resolved` (a change to `completed`).
//!
//! The scheduler's sweep reads each event trigger's events after its cursor (the last event
//! id it considered) from the durable log, and fires inside one change that also moves the
//! cursor, under the trigger's row lock: every matching event fires a trigger once, on one
//! instance, and nothing is lost to a crash. Events are considered once [`SETTLE_MS`] old, so
//! a write that committed after a later one is not skipped. A chain of triggers firing on
//! each other's intents stops at depth [`CASCADE_LIMIT`] with `trigger.cascade_limit`.

use serde_json::{json, Map, Value};

use super::{
    documents::{from_row, Document},
    model,
    triggers::{fire, scheduler_caller, Lineage, Trigger},
    NewEvent, Triggers,
};
use crate::{
    error::{Error, Result},
    ids::TenantId,
    store::openintent::{
        documents as rows,
        event_log::{self, EventRow},
        intents as intent_rows,
    },
    time::{now_ms, Millis},
};

/// How deep a chain of triggers may go.
pub const CASCADE_LIMIT: i64 = 10;
/// How old an event must be before a trigger considers it.
pub const SETTLE_MS: Millis = 2_000;
const EVENTS_PER_PASS: i64 = 200;
/// How far a quiet trigger's cursor may fall behind before it is moved on.
const IDLE_ADVANCE_MS: Millis = 60_000;

/// The instant an event id (a cursor) was made at: event ids are ULIDs, which begin with it.
fn cursor_time(cursor: &str) -> Option<Millis> {
    let ulid = cursor.rsplit('_').next()?;
    let ms = ulid::Ulid::from_string(ulid).ok()?.timestamp_ms();
    Millis::try_from(ms).ok()
}

/// A cursor after every event made before `at` and before every event made after it.
fn cursor_at(at: Millis) -> String {
    let ulid = ulid::Ulid::from_parts(u64::try_from(at).unwrap_or(0), 0);
    format!("{}_{ulid}", super::prefixes::EVENT)
}

/// What an event trigger listens for.
pub struct Listener {
    /// The log's event type.
    log_type: String,
    /// For `intent.resolved`: only changes to `completed`.
    resolved_only: bool,
    filter: Map<String, Value>,
}

impl Listener {
    /// Reads (and checks) an event trigger's condition.
    pub fn of(condition: &Value) -> Result<Listener> {
        let event = condition
            .get("event")
            .and_then(Value::as_str)
            .filter(|event| !event.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    &["condition", "event"],
                    "an event trigger names its event type",
                )
            })?;
        let filter = match condition.get("filter") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(filter)) => filter.clone(),
            Some(_) => {
                return Err(Error::invalid(
                    &["condition", "filter"],
                    "must be an object",
                ))
            }
        };
        let (log_type, resolved_only) = match event {
            "intent.created" => ("intent_created", false),
            "intent.state_changed" => ("status_changed", false),
            "intent.resolved" => ("status_changed", true),
            other => (other, false),
        };
        Ok(Listener {
            log_type: log_type.to_string(),
            resolved_only,
            filter,
        })
    }

    fn accepts(&self, event: &EventRow) -> bool {
        let mut facts = match model::parse_json(&event.payload) {
            Value::Object(payload) => payload,
            _ => Map::new(),
        };
        facts.insert("intent_id".into(), Value::from(event.intent_id.as_str()));
        facts.insert("actor".into(), Value::from(event.actor.as_str()));
        if event.event_type == "status_changed" {
            let (from, to) = (facts.get("from").cloned(), facts.get("status").cloned());
            facts.insert("from_state".into(), from.unwrap_or(Value::Null));
            facts.insert("to_state".into(), to.unwrap_or(Value::Null));
        }
        if self.resolved_only && facts.get("to_state") != Some(&json!("completed")) {
            return false;
        }
        self.filter
            .iter()
            .all(|(key, wanted)| facts.get(key).is_some_and(|value| fits(wanted, value)))
    }
}

/// Whether `value` is what a filter wants: equal, or a string matching a `*` pattern.
fn fits(wanted: &Value, value: &Value) -> bool {
    match (wanted, value) {
        (Value::String(pattern), Value::String(text)) if pattern.contains('*') => {
            glob(pattern, text)
        }
        _ => wanted == value,
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// How deep in a chain of triggers the intent an event is about sits (0: not made by one).
async fn depth_of(
    triggers: &Triggers,
    tenant: &TenantId,
    intent_id: &str,
) -> Result<(i64, Vec<Value>)> {
    let Some(intent) = intent_rows::get(triggers.store(), tenant, intent_id).await? else {
        return Ok((0, Vec::new()));
    };
    let lineage = model::parse_json(&intent.state)["trigger_lineage"].clone();
    let depth = lineage["trigger_depth"].as_i64().unwrap_or(0);
    let chain = lineage["trigger_chain"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok((depth, chain))
}

impl Triggers {
    /// One pass over the event triggers: fires each for the matching events logged since its
    /// cursor. Returns how many intents were created.
    pub async fn fire_on_events(&self) -> Result<usize> {
        let mut fired = 0;
        // A trigger's status column is its type.
        for row in rows::of_kind(self.store(), Trigger::KIND, Some("event")).await? {
            let trigger: Trigger = from_row(&row)?;
            if !trigger.enabled {
                continue;
            }
            match self.react(&row.tenant_id, trigger).await {
                Ok(count) => fired += count,
                Err(err) => {
                    tracing::warn!(trigger = %row.id, error = %err, "an event trigger did not run")
                }
            }
        }
        Ok(fired)
    }

    async fn react(&self, tenant: &TenantId, seen: Trigger) -> Result<usize> {
        let listener = Listener::of(&seen.condition)?;
        let cursor = seen.event_cursor.clone().unwrap_or_default();
        let now = now_ms();
        let events = event_log::of_type_after(
            self.store(),
            tenant,
            &listener.log_type,
            &cursor,
            now - SETTLE_MS,
            EVENTS_PER_PASS,
        )
        .await?;
        let through = match events.last() {
            Some(last) => last.id.clone(),
            // Nothing of its type for a while: the cursor moves up to the horizon anyway, so
            // a quiet trigger does not rescan a growing stretch of the log every second (and
            // writes only once per IDLE_ADVANCE_MS).
            None if cursor_time(&cursor).is_none_or(|at| at < now - IDLE_ADVANCE_MS) => {
                cursor_at(now - SETTLE_MS)
            }
            None => return Ok(0),
        };
        let caller = scheduler_caller(tenant, &seen.created_by);
        let mut change = self.change(&caller).await?;
        let mut trigger: Trigger = match change.document(self.store(), &seen.trigger_id).await {
            Err(Error::NotFound { .. }) => return Ok(0),
            other => other?,
        };
        // Another instance (or a change of the trigger) moved it on since it was read.
        if trigger.event_cursor != seen.event_cursor || !trigger.enabled {
            return Ok(0);
        }
        let mut fired = 0;
        for event in events.iter().filter(|event| listener.accepts(event)) {
            let (depth, mut chain) = depth_of(self, tenant, &event.intent_id).await?;
            if depth >= CASCADE_LIMIT {
                let payload = json!({
                    "trigger_id": trigger.trigger_id, "event_id": event.id, "depth": depth + 1,
                    "limit": CASCADE_LIMIT,
                });
                change
                    .record(NewEvent::new(
                        &event.intent_id,
                        "trigger.cascade_limit",
                        payload,
                    ))
                    .await?;
                continue;
            }
            chain.push(Value::from(trigger.trigger_id.as_str()));
            let lineage = Lineage {
                depth: depth + 1,
                chain,
                source_event_id: Some(event.id.clone()),
            };
            let firing = fire(
                &mut change,
                self.store(),
                &mut trigger,
                "event",
                now,
                lineage,
            )
            .await?;
            fired += usize::from(firing.fired);
        }
        let expected = trigger.version;
        trigger.event_cursor = Some(through.clone());
        change.save_document(&trigger, expected, now).await?;
        change
            .audit(
                "trigger.events_considered",
                &trigger.trigger_id,
                json!({ "through": through, "fired": fired }),
            )
            .await?;
        change.commit().await?;
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, payload: Value) -> EventRow {
        EventRow {
            tenant_id: TenantId::parse("t").unwrap(),
            id: "oev_1".into(),
            intent_id: "oin_1".into(),
            event_type: event_type.into(),
            actor: "agent-a".into(),
            payload: payload.to_string(),
            trace_id: None,
            parent_event_id: None,
            created_at: 0,
            audit_sequence: None,
            event_hash: None,
            previous_event_hash: None,
        }
    }

    #[test]
    fn cursors_carry_their_time() {
        let at = 1_765_000_000_000;
        assert_eq!(cursor_time(&cursor_at(at)), Some(at));
        let later = crate::ids::new_id(crate::openintent::prefixes::EVENT);
        assert!(later > cursor_at(at) && cursor_time(&later).unwrap() > at);
        assert_eq!(cursor_time("garbage"), None);
    }

    #[test]
    fn patterns_match_with_wildcards() {
        assert!(glob("billing.*", "billing.refund"));
        assert!(glob("*.refund", "billing.refund"));
        assert!(glob("b*g.*d", "billing.refund"));
        assert!(glob("*", ""));
        assert!(!glob("billing.*", "identity.user"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn listeners_read_rfc_names_and_filters() {
        let resolved = Listener::of(&json!({"event": "intent.resolved"})).unwrap();
        assert_eq!(resolved.log_type, "status_changed");
        assert!(resolved.accepts(&event(
            "status_changed",
            json!({"from": "active", "status": "completed"})
        )));
        assert!(!resolved.accepts(&event(
            "status_changed",
            json!({"from": "draft", "status": "active"})
        )));
        let filtered = Listener::of(&json!({
            "event": "state_patched", "filter": {"actor": "agent-*", "intent_id": "oin_1"}
        }))
        .unwrap();
        assert!(filtered.accepts(&event("state_patched", json!({}))));
        let other =
            Listener::of(&json!({"event": "state_patched", "filter": {"actor": "bot"}})).unwrap();
        assert!(!other.accepts(&event("state_patched", json!({}))));
        assert!(Listener::of(&json!({})).is_err());
        assert!(Listener::of(&json!({"event": "x", "filter": [1]})).is_err());
    }
}
