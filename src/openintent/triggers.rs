//! Triggers (RFC-0017): standing declarations that create an intent from a template, fired
//! by hand (`POST /triggers/{id}/fire`), on a schedule (a cron expression, or once `at`
//! an instant) or on logged events ([`super::event_triggers`]). A due trigger is fired by exactly one instance: the firing moves the
//! trigger's next firing time from the value the sweep read, inside the change, and an
//! instance that finds it moved already leaves it.
//!
//! Deduplication: `allow` fires every time; `skip` (and `queue`, which this server treats as
//! `skip`) does not create an intent while the one the trigger created last is still open.

use std::{str::FromStr, sync::Arc};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    documents::{expect_version, identified_by, Columns, Document},
    intents::{insert_intent, NewIntent},
    Caller, Change, NewEvent, Triggers, Version,
};
use crate::{
    auth::{Principal, Scope},
    error::{Error, Result},
    ids::{self, TenantId},
    openintent::records::{object, one_of, require_text},
    store::openintent::{
        documents::{self as rows, DocumentQuery},
        intents as intent_rows,
    },
    time::{now_ms, parse_instant, protocol_instant, DayBound, Millis},
};

pub const TYPES: [&str; 2] = ["schedule", "event"];
pub const DEDUPLICATION: [&str; 3] = ["allow", "skip", "queue"];
/// Most triggers one tenant may hold, and most one listing returns.
pub const MAX_TRIGGERS: i64 = 1_000;
/// The shortest time between two firings of a schedule.
pub const MIN_SCHEDULE_GAP_MS: Millis = 10_000;

/// The template of the intent a firing creates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IntentTemplate {
    #[serde(default, rename = "type")]
    pub intent_type: String,
    #[serde(default)]
    pub title: String,
    #[serde(default = "medium")]
    pub priority: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default)]
    pub context: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn medium() -> String {
    "medium".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trigger {
    pub trigger_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub trigger_type: String,
    pub enabled: bool,
    /// `cron` (5 or 6 fields, UTC) or `at`, with optional `starts_at` / `ends_at`; for
    /// event triggers, `event` and `filter`, kept as sent.
    pub condition: Value,
    pub intent_template: IntentTemplate,
    pub deduplication: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub fire_count: i64,
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fired_at: Option<String>,
    /// When the schedule fires next (none for event triggers, disabled or finished ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_fire_at: Option<String>,
    /// The intent the last firing created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_intent_id: Option<String>,
    /// Event triggers: the last logged event considered (see [`super::event_triggers`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_cursor: Option<String>,
}

/// Where a firing sits in a chain of triggers (RFC-0017 §3.3), as its intent records it.
pub struct Lineage {
    pub depth: i64,
    pub chain: Vec<Value>,
    /// The event an event trigger fired for.
    pub source_event_id: Option<String>,
}

impl Lineage {
    /// A firing that starts a chain (by hand, or on schedule).
    fn first(trigger_id: &str) -> Self {
        Lineage {
            depth: 1,
            chain: vec![Value::from(trigger_id)],
            source_event_id: None,
        }
    }
}

impl Trigger {
    fn next_fire_ms(&self) -> Option<Millis> {
        self.next_fire_at
            .as_deref()
            .and_then(|at| parse_instant(at, DayBound::Start))
    }
}

impl Document for Trigger {
    const KIND: &'static str = "trigger";
    const WHAT: &'static str = "trigger";

    identified_by!(trigger_id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: String::new(),
            status: self.trigger_type.clone(),
            namespace: self.namespace.clone(),
            due_at: self.next_fire_ms().filter(|_| self.enabled),
            ..Columns::default()
        }
    }
}

/// `POST /triggers` and, all optional, `PATCH /triggers/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct TriggerInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub trigger_type: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub condition: Option<Value>,
    #[serde(default)]
    pub intent_template: Option<IntentTemplate>,
    #[serde(default)]
    pub deduplication: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// What a firing answers.
#[derive(Debug, Clone, Serialize)]
pub struct Firing {
    pub trigger_id: String,
    pub fired: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// Why nothing was created (`deduplicated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub fire_count: i64,
    pub fired_at: String,
}

/// A cron expression of 5 fields (minute first) or 6 (seconds first), in UTC.
fn schedule(raw: &str) -> Result<cron::Schedule> {
    let expression = match raw.split_whitespace().count() {
        5 => format!("0 {raw}"),
        6 => raw.to_string(),
        _ => {
            return Err(Error::invalid(
                &["condition", "cron"],
                "must be a cron expression of 5 fields (or 6 with seconds first)",
            ))
        }
    };
    cron::Schedule::from_str(&expression).map_err(|err| {
        Error::invalid(
            &["condition", "cron"],
            format!("is not a cron expression: {err}"),
        )
    })
}

fn instant_field(condition: &Value, field: &str) -> Result<Option<Millis>> {
    match condition.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => parse_instant(raw, DayBound::Start)
            .map(Some)
            .ok_or_else(|| Error::invalid(&["condition", field], "must be an ISO 8601 instant")),
        Some(_) => Err(Error::invalid(
            &["condition", field],
            "must be an ISO 8601 instant",
        )),
    }
}

/// When a schedule trigger fires next after `after` (exclusive), or `None` when it is done.
fn next_firing(trigger_type: &str, condition: &Value, after: Millis) -> Result<Option<Millis>> {
    if trigger_type != "schedule" {
        return Ok(None);
    }
    let starts = instant_field(condition, "starts_at")?.unwrap_or(Millis::MIN);
    let ends = instant_field(condition, "ends_at")?.unwrap_or(Millis::MAX);
    if let Some(zone) = condition.get("timezone").and_then(Value::as_str) {
        if zone != "UTC" {
            return Err(Error::invalid(
                &["condition", "timezone"],
                "only UTC schedules are served",
            ));
        }
    }
    let next = match (
        condition.get("cron").and_then(Value::as_str),
        instant_field(condition, "at")?,
    ) {
        (Some(cron), _) => {
            let schedule = schedule(cron)?;
            let from = DateTime::<Utc>::from_timestamp_millis(after.max(starts.saturating_sub(1)))
                .unwrap_or_default();
            let mut upcoming = schedule.after(&from).map(|at| at.timestamp_millis());
            let next = upcoming.next();
            if let (Some(first), Some(second)) = (next, upcoming.next()) {
                if second - first < MIN_SCHEDULE_GAP_MS {
                    return Err(Error::invalid(
                        &["condition", "cron"],
                        "fires more often than every 10 seconds",
                    ));
                }
            }
            next
        }
        (None, Some(at)) => (at > after).then_some(at),
        (None, None) => {
            return Err(Error::invalid(
                &["condition"],
                "a schedule trigger needs `cron` or `at`",
            ))
        }
    };
    Ok(next.filter(|at| *at <= ends))
}

fn check_condition(trigger_type: &str, condition: &Value) -> Result<()> {
    if trigger_type == "event" {
        super::event_triggers::Listener::of(condition)?;
    }
    Ok(())
}

/// Where an event trigger starts reading the log: now (it fires for what happens from now on).
fn cursor_from_now(trigger_type: &str) -> Option<String> {
    (trigger_type == "event").then(|| ids::new_id(super::prefixes::EVENT))
}

impl Triggers {
    pub async fn create_trigger(&self, caller: &Caller, input: TriggerInput) -> Result<Trigger> {
        let name = input.name.unwrap_or_default();
        require_text(&name, "name", 200)?;
        let trigger_type = input.trigger_type.unwrap_or_default();
        one_of(&trigger_type, &TYPES, "type")?;
        let condition = object(input.condition.unwrap_or_default(), "condition")?;
        check_condition(&trigger_type, &condition)?;
        next_firing(&trigger_type, &condition, now_ms())?;
        let deduplication = input.deduplication.unwrap_or_else(|| "allow".into());
        one_of(&deduplication, &DEDUPLICATION, "deduplication")?;
        let template = check_template(input.intent_template.unwrap_or_default(), &name)?;
        let now = now_ms();
        let trigger = Trigger {
            trigger_id: ids::new_id(super::prefixes::TRIGGER),
            name,
            next_fire_at: next_firing(&trigger_type, &condition, now)?.map(protocol_instant),
            event_cursor: cursor_from_now(&trigger_type),
            trigger_type,
            enabled: input.enabled.unwrap_or(true),
            condition,
            intent_template: template,
            deduplication,
            namespace: input.namespace,
            fire_count: 0,
            version: 1,
            created_by: caller.agent_id.clone(),
            created_at: protocol_instant(now),
            updated_at: protocol_instant(now),
            last_fired_at: None,
            last_intent_id: None,
        };
        let mut change = self.change(caller).await?;
        if change.count_documents::<Trigger>("").await? >= MAX_TRIGGERS {
            return Err(Error::Conflict(format!(
                "the tenant already holds {MAX_TRIGGERS} triggers"
            )));
        }
        change
            .insert_document(&trigger, now, "trigger already exists")
            .await?;
        let data = json!({ "name": trigger.name, "type": trigger.trigger_type });
        change
            .audit("trigger.created", &trigger.trigger_id, data)
            .await?;
        change.commit().await?;
        Ok(trigger)
    }

    pub async fn get_trigger(&self, caller: &Caller, id: &str) -> Result<Trigger> {
        self.document(caller, id).await
    }

    pub async fn list_triggers(
        &self,
        caller: &Caller,
        namespace: Option<&str>,
        trigger_type: Option<&str>,
    ) -> Result<Vec<Trigger>> {
        if let Some(trigger_type) = trigger_type {
            one_of(trigger_type, &TYPES, "type")?;
        }
        self.documents(
            caller,
            &DocumentQuery {
                kind: Trigger::KIND,
                status: trigger_type,
                namespace,
                limit: MAX_TRIGGERS,
                ..DocumentQuery::default()
            },
        )
        .await
    }

    pub async fn update_trigger(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        input: TriggerInput,
    ) -> Result<Trigger> {
        if let Some(deduplication) = &input.deduplication {
            one_of(deduplication, &DEDUPLICATION, "deduplication")?;
        }
        let mut change = self.change(caller).await?;
        let mut trigger: Trigger = change.document(self.store(), id).await?;
        expect_version(&trigger, version)?;
        if input
            .trigger_type
            .as_deref()
            .is_some_and(|t| t != trigger.trigger_type)
        {
            return Err(Error::invalid(
                &["type"],
                "a trigger's type does not change",
            ));
        }
        if let Some(name) = input.name {
            require_text(&name, "name", 200)?;
            trigger.name = name;
        }
        if let Some(condition) = input.condition {
            trigger.condition = object(condition, "condition")?;
            check_condition(&trigger.trigger_type, &trigger.condition)?;
        }
        if let Some(template) = input.intent_template {
            trigger.intent_template = check_template(template, &trigger.name)?;
        }
        if let Some(enabled) = input.enabled {
            // Re-enabled, it fires for what happens from now on, not for what it missed.
            if enabled && !trigger.enabled {
                trigger.event_cursor = cursor_from_now(&trigger.trigger_type);
            }
            trigger.enabled = enabled;
        }
        if let Some(deduplication) = input.deduplication {
            trigger.deduplication = deduplication;
        }
        if let Some(namespace) = input.namespace {
            trigger.namespace = Some(namespace);
        }
        let now = now_ms();
        trigger.next_fire_at =
            next_firing(&trigger.trigger_type, &trigger.condition, now)?.map(protocol_instant);
        trigger.version += 1;
        trigger.updated_at = protocol_instant(now);
        change.save_document(&trigger, version.0, now).await?;
        let data = json!({ "version": trigger.version, "enabled": trigger.enabled });
        change.audit("trigger.updated", id, data).await?;
        change.commit().await?;
        Ok(trigger)
    }

    pub async fn delete_trigger(&self, caller: &Caller, id: &str) -> Result<()> {
        let mut change = self.change(caller).await?;
        change.delete_document::<Trigger>(id).await?;
        change.audit("trigger.deleted", id, json!({})).await?;
        change.commit().await
    }

    /// Fires a trigger by hand (a disabled one too: the caller asked for it).
    pub async fn fire_trigger(&self, caller: &Caller, id: &str) -> Result<Firing> {
        let mut change = self.change(caller).await?;
        let mut trigger: Trigger = change.document(self.store(), id).await?;
        let lineage = Lineage::first(&trigger.trigger_id);
        let firing = fire(
            &mut change,
            self.store(),
            &mut trigger,
            "manual",
            now_ms(),
            lineage,
        )
        .await?;
        change.commit().await?;
        Ok(firing)
    }

    /// One pass of the scheduler: fires every enabled schedule trigger that is due, and the
    /// event triggers for the events logged since their last pass, each once across
    /// instances. Returns how many fired.
    pub async fn fire_due(&self) -> Result<usize> {
        let now = now_ms();
        let mut fired = 0;
        for row in rows::due(self.store(), Trigger::KIND, now, 100).await? {
            fired += usize::from(
                self.fire_scheduled(&row.tenant_id, &row.id, row.due_at, now)
                    .await?,
            );
        }
        Ok(fired + self.fire_on_events().await?)
    }

    async fn fire_scheduled(
        &self,
        tenant: &TenantId,
        id: &str,
        due_at: Option<Millis>,
        now: Millis,
    ) -> Result<bool> {
        let Ok(seen) = rows::get(self.store(), tenant, Trigger::KIND, id).await else {
            return Ok(false);
        };
        let Some(seen) = seen else { return Ok(false) };
        let trigger: Trigger = super::documents::from_row(&seen)?;
        let caller = scheduler_caller(tenant, &trigger.created_by);
        let mut change = self.change(&caller).await?;
        let mut trigger: Trigger = match change.document(self.store(), id).await {
            Err(Error::NotFound { .. }) => return Ok(false),
            other => other?,
        };
        // Another instance fired it (or it was changed) since the sweep read it.
        if !trigger.enabled || trigger.next_fire_ms() != due_at {
            return Ok(false);
        }
        let lineage = Lineage::first(&trigger.trigger_id);
        fire(
            &mut change,
            self.store(),
            &mut trigger,
            "schedule",
            now,
            lineage,
        )
        .await?;
        change.commit().await?;
        Ok(true)
    }
}

/// Who a scheduled firing acts as: the trigger's creator, through the service itself.
pub(super) fn scheduler_caller(tenant: &TenantId, created_by: &str) -> Caller {
    Caller {
        tenant: tenant.clone(),
        agent_id: created_by.to_string(),
        admin: false,
        principal: Arc::new(Principal::for_key(
            tenant.clone(),
            crate::audit::actors::SYSTEM,
            vec![Scope::Agent],
        )),
        trace_id: None,
    }
}

fn check_template(mut template: IntentTemplate, name: &str) -> Result<IntentTemplate> {
    if template.title.trim().is_empty() {
        template.title = name.to_string();
    }
    require_text(&template.title, "intent_template.title", 500)?;
    template.context = object(template.context, "intent_template.context")?;
    super::documents::check_tags(&template.tags, "intent_template.tags")?;
    Ok(template)
}

/// Fires: creates the template's intent (unless deduplication says the last one is still
/// open), logs `trigger.fired` on it, counts the firing and moves the schedule on.
pub(super) async fn fire(
    change: &mut Change<'_>,
    store: &crate::store::Store,
    trigger: &mut Trigger,
    how: &str,
    now: Millis,
    lineage: Lineage,
) -> Result<Firing> {
    let expected = trigger.version;
    let open_intent = match (&trigger.last_intent_id, trigger.deduplication.as_str()) {
        (Some(last), "skip" | "queue") => intent_rows::get(store, change.tenant(), last)
            .await?
            .filter(|intent| {
                !matches!(
                    intent.status.as_str(),
                    "completed" | "abandoned" | "cancelled"
                )
            }),
        _ => None,
    };
    let intent_id = match open_intent {
        Some(open) => {
            let data = json!({ "reason": "deduplicated", "open_intent_id": open.id, "how": how });
            change
                .audit("trigger.skipped", &trigger.trigger_id, data)
                .await?;
            None
        }
        None => {
            let lineage = json!({
                "created_by": "trigger",
                "trigger_id": trigger.trigger_id,
                "trigger_type": trigger.trigger_type,
                "trigger_depth": lineage.depth,
                "trigger_chain": lineage.chain,
                "source_event_id": lineage.source_event_id,
            });
            let template = &trigger.intent_template;
            let mut state = template.context.clone();
            state["trigger_lineage"] = lineage.clone();
            let input = NewIntent {
                title: template.title.clone(),
                description: Some(format!("created by trigger '{}'", trigger.name)),
                state,
                ..NewIntent::default()
            };
            let intent = insert_intent(change, trigger.created_by.clone(), input).await?;
            change
                .record(NewEvent::new(
                    &intent.id,
                    "trigger.fired",
                    json!({ "trigger_id": trigger.trigger_id, "how": how, "lineage": lineage }),
                ))
                .await?;
            trigger.fire_count += 1;
            trigger.last_fired_at = Some(protocol_instant(now));
            trigger.last_intent_id = Some(intent.id.clone());
            Some(intent.id)
        }
    };
    trigger.next_fire_at =
        next_firing(&trigger.trigger_type, &trigger.condition, now)?.map(protocol_instant);
    trigger.updated_at = protocol_instant(now);
    change.save_document(&*trigger, expected, now).await?;
    Ok(Firing {
        trigger_id: trigger.trigger_id.clone(),
        fired: intent_id.is_some(),
        reason: intent_id.is_none().then(|| "deduplicated".to_string()),
        intent_id,
        fire_count: trigger.fire_count,
        fired_at: protocol_instant(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_five_or_six_fields_and_refuse_rapid_fire() {
        let at = 1_705_314_600_000; // 2024-01-15T10:30:00Z
        let every_hour = json!({ "cron": "0 * * * *" });
        assert_eq!(
            next_firing("schedule", &every_hour, at).unwrap(),
            Some(at + 1_800_000)
        );
        let with_seconds = json!({ "cron": "30 0 * * * *" });
        assert_eq!(
            next_firing("schedule", &with_seconds, at).unwrap(),
            Some(at + 1_830_000)
        );
        assert!(next_firing("schedule", &json!({ "cron": "* * * * * *" }), at).is_err());
        assert!(next_firing("schedule", &json!({ "cron": "not cron" }), at).is_err());
        assert!(next_firing("schedule", &json!({}), at).is_err());
    }

    #[test]
    fn a_one_shot_fires_once_and_ends_bound_schedules() {
        let at = 1_705_314_600_000;
        let once = json!({ "at": "2024-01-15T10:31:00Z" });
        assert_eq!(
            next_firing("schedule", &once, at).unwrap(),
            Some(at + 60_000)
        );
        assert_eq!(next_firing("schedule", &once, at + 60_000).unwrap(), None);
        let bounded = json!({ "cron": "0 * * * *", "ends_at": "2024-01-15T10:45:00Z" });
        assert_eq!(next_firing("schedule", &bounded, at).unwrap(), None);
        assert!(next_firing(
            "schedule",
            &json!({ "cron": "0 * * * *", "timezone": "Europe/Paris" }),
            at
        )
        .is_err());
        assert_eq!(next_firing("event", &json!({}), at).unwrap(), None);
    }
}
