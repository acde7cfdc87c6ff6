//! Intents (RFC-0001): create, read, list, delete, state patches, status transitions, the
//! event log (with RFC-0020 trace ids) and agent assignment.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    model::{self, Assignment, Event, Intent},
    patch::{self, StatePatch},
    prefixes, Caller, Context, CoordinationStatus, Intents, NewEvent, Version,
};
use crate::{
    audit::depth,
    error::{Error, FieldError, Result},
    ids,
    store::approvals as approval_rows,
    store::openintent::{
        event_log::{self as event_rows, EventFilter},
        graph as graph_rows,
        intents::{self as intent_rows, IntentRow},
        leases as lease_rows,
    },
    time::now_ms,
};

/// A new intent, validated by [`NewIntent::check`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewIntent {
    pub title: String,
    pub description: Option<String>,
    pub created_by: Option<String>,
    pub status: Option<CoordinationStatus>,
    pub state: Value,
    pub constraints: Value,
    pub governance_policy: Option<Value>,
    #[serde(alias = "parent_id")]
    pub parent_intent_id: Option<String>,
    pub depends_on: Vec<String>,
    pub confidence: Option<i64>,
}

/// What `GET …/events` returns.
#[derive(Debug, Default)]
pub struct EventQuery {
    pub event_type: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

/// A logged event (RFC-0001 §events, RFC-0020 tracing).
#[derive(Debug, Deserialize)]
pub struct LoggedEvent {
    pub event_type: String,
    #[serde(default)]
    pub payload: Value,
    pub trace_id: Option<String>,
    pub parent_event_id: Option<String>,
}

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_LIST: i64 = 1000;
/// Largest state an intent may hold, as JSON: patches add up, requests alone would not bound it.
pub const MAX_STATE_BYTES: usize = 1 << 20;

impl NewIntent {
    fn check(&mut self) -> Result<()> {
        for value in [&mut self.state, &mut self.constraints] {
            if value.is_null() {
                *value = json!({});
            }
        }
        let mut errors = Vec::new();
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            errors.push(FieldError::new(&["title"], "must be 1-500 characters"));
        }
        if !self.state.is_object() {
            errors.push(FieldError::new(&["state"], "must be an object"));
        } else if self.state.to_string().len() > MAX_STATE_BYTES {
            errors.push(FieldError::new(&["state"], "must be at most 1 MiB"));
        } else if let Err(error) = depth::check(&self.state, patch::MAX_STATE_DEPTH, &["state"]) {
            errors.push(error);
        }
        if !(self.constraints.is_object() || self.constraints.is_array()) {
            errors.push(FieldError::new(
                &["constraints"],
                "must be an object or an array",
            ));
        }
        if let Some(confidence) = self.confidence {
            if !(0..=100).contains(&confidence) {
                errors.push(FieldError::new(
                    &["confidence"],
                    "must be between 0 and 100",
                ));
            }
        }
        if let Some(status) = self.status {
            if !matches!(
                status,
                CoordinationStatus::Draft | CoordinationStatus::Active
            ) {
                errors.push(FieldError::new(
                    &["status"],
                    "a new intent is draft or active",
                ));
            }
        }
        match errors.is_empty() {
            true => Ok(()),
            false => Err(Error::Validation(errors)),
        }
    }
}

/// Event types are short dotted or underscored names (`state_patched`, `task.created`).
pub fn check_event_type(raw: &str) -> Result<()> {
    let valid = (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    match valid {
        true => Ok(()),
        false => Err(Error::invalid(
            &["event_type"],
            "must be 1-100 characters of letters, digits, '_', '.', ':' and '-'",
        )),
    }
}

impl Context {
    /// The intents the caller may read (closed ones it may not are left out).
    pub(crate) async fn readable(
        &self,
        caller: &Caller,
        rows: &[IntentRow],
    ) -> Result<Vec<Intent>> {
        let mut readable = Vec::with_capacity(rows.len());
        for row in rows {
            match super::access::check_access(self.store(), caller, row, false).await {
                Ok(()) => readable.push(row),
                Err(Error::Forbidden(_)) => {}
                Err(err) => return Err(err),
            }
        }
        readable.into_iter().map(Intent::from_row).collect()
    }
}

impl Intents {
    pub async fn create_intent(&self, caller: &Caller, input: NewIntent) -> Result<Intent> {
        let created_by = self.attributed(caller, input.created_by.clone()).await?;
        let mut change = self.change(caller).await?;
        let row = insert_intent(&mut change, created_by, input).await?;
        change.commit().await?;
        Intent::from_row(&row)
    }

    pub async fn get_intent(&self, caller: &Caller, id: &str) -> Result<Intent> {
        Intent::from_row(&self.intent(caller, id).await?)
    }

    pub async fn list_intents(
        &self,
        caller: &Caller,
        status: Option<CoordinationStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Intent>> {
        let rows = intent_rows::list(
            self.store(),
            &caller.tenant,
            status.map(CoordinationStatus::as_str),
            (!caller.admin).then_some(intent_rows::Reader {
                agent_id: &caller.agent_id,
                acl_kind: super::records::RecordKind::AclEntry.name(),
            }),
            limit.clamp(1, MAX_LIST),
            offset.max(0),
        )
        .await?;
        self.readable(caller, &rows).await
    }

    /// Deletes the intent with its events, edges, leases, memberships and records.
    pub async fn delete_intent(&self, caller: &Caller, id: &str) -> Result<()> {
        let mut change = self.change(caller).await?;
        change.intent(self.store(), id).await?;
        let tenant = caller.tenant.clone();
        // Intents that depended on this one drop it from their lists (the edges go below).
        for dependent in graph_rows::dependents_of(change.tx(), &tenant, id).await? {
            let store = self.store();
            if let Some(mut row) =
                intent_rows::get_for_update(change.tx(), store, &tenant, &dependent).await?
            {
                let remaining: Vec<String> = model::depends_on(&row)
                    .into_iter()
                    .filter(|d| d != id)
                    .collect();
                row.depends_on = json!(remaining).to_string();
                intent_rows::update(change.tx(), &row).await?;
            }
        }
        if !intent_rows::delete_cascade(change.tx(), &caller.tenant, id).await? {
            return Err(Error::NotFound { what: "intent" });
        }
        // Its approval requests and escalations leave the queue with it.
        approval_rows::resolve_pending_of_intent(
            change.tx(),
            &tenant,
            id,
            "cancelled",
            "intent deleted",
            now_ms(),
        )
        .await?;
        change.audit("intent_deleted", id, json!({})).await?;
        change.commit().await
    }

    /// Applies state patches at `version`; answers the intent at the next version.
    pub async fn patch_state(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        patches: Vec<StatePatch>,
    ) -> Result<Intent> {
        let mut change = self.change(caller).await?;
        let mut row = change.intent(self.store(), id).await?;
        expect_version(&row, version)?;
        let scopes: Vec<String> = patches
            .iter()
            .filter_map(|p| top_level_key(&p.path))
            .collect();
        lease_rows::expire_lapsed(change.tx(), &caller.tenant, id, now_ms()).await?;
        super::leases::ensure_scopes_free(&mut change, id, &scopes).await?;
        let mut state = model::parse_json(&row.state);
        if !state.is_object() {
            state = json!({});
        }
        patch::apply(&mut state, &patches)?;
        row.state = state.to_string();
        if row.state.len() > MAX_STATE_BYTES {
            return Err(Error::invalid(&["patches"], "the state would exceed 1 MiB"));
        }
        bump(&mut row);
        intent_rows::update(change.tx(), &row).await?;
        let described: Vec<Value> = patches
            .iter()
            .map(|p| json!({ "op": p.op.as_str(), "path": p.path, "value": p.value }))
            .collect();
        change
            .record(NewEvent::new(
                id,
                "state_patched",
                json!({ "patches": described, "version": row.version }),
            ))
            .await?;
        change.commit().await?;
        Intent::from_row(&row)
    }

    pub async fn set_status(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        next: CoordinationStatus,
        reason: Option<String>,
    ) -> Result<Intent> {
        let mut change = self.change(caller).await?;
        let mut row = change.intent(self.store(), id).await?;
        expect_version(&row, version)?;
        let completing = next == CoordinationStatus::Completed;
        change
            .check_status_change(&row, completing, reason.as_deref())
            .await?;
        let current = CoordinationStatus::parse(&row.status, "status")?;
        if !current.can_become(next) {
            return Err(Error::invalid(
                &["status"],
                format!(
                    "an intent that is {} cannot become {}",
                    current.as_str(),
                    next.as_str()
                ),
            ));
        }
        row.status = next.as_str().to_string();
        bump(&mut row);
        intent_rows::update(change.tx(), &row).await?;
        if matches!(
            next,
            CoordinationStatus::Completed | CoordinationStatus::Abandoned
        ) {
            change.close_channels_of(id).await?;
        }
        change
            .record(NewEvent::new(
                id,
                "status_changed",
                json!({ "from": current.as_str(), "status": next.as_str(), "reason": reason, "version": row.version }),
            ))
            .await?;
        change.commit().await?;
        Intent::from_row(&row)
    }

    pub async fn log_event(
        &self,
        caller: &Caller,
        id: &str,
        mut event: LoggedEvent,
    ) -> Result<Event> {
        check_event_type(&event.event_type)?;
        if event.payload.is_null() {
            event.payload = json!({});
        }
        if !event.payload.is_object() {
            return Err(Error::invalid(&["payload"], "must be an object"));
        }
        let mut change = self.change(caller).await?;
        change.intent(self.store(), id).await?;
        let logged = change
            .record(NewEvent {
                intent_id: id,
                event_type: &event.event_type,
                payload: event.payload,
                trace_id: event.trace_id,
                parent_event_id: event.parent_event_id,
            })
            .await?;
        change.commit().await?;
        Ok(logged)
    }

    pub async fn list_events(
        &self,
        caller: &Caller,
        id: &str,
        query: EventQuery,
    ) -> Result<Vec<Event>> {
        self.intent(caller, id).await?;
        let rows = event_rows::list(
            self.store(),
            &caller.tenant,
            id,
            &EventFilter {
                event_type: query.event_type.as_deref(),
                since: query.since,
                after_id: None,
                limit: query.limit.clamp(1, MAX_LIST),
            },
        )
        .await?;
        Ok(rows.iter().map(Event::from_row).collect())
    }

    /// Assigns an agent (idempotent: assigning twice answers the first assignment).
    pub async fn assign_agent(
        &self,
        caller: &Caller,
        id: &str,
        agent_id: &str,
        role: &str,
    ) -> Result<Assignment> {
        check_agent_id(agent_id)?;
        let mut change = self.change(caller).await?;
        let intent = change.intent(self.store(), id).await?;
        change.check_assignable(&intent, agent_id)?;
        let row = Assignment {
            intent_id: id.to_string(),
            agent_id: agent_id.to_string(),
            role: role.to_string(),
            assigned_at: now_ms(),
        };
        if graph_rows::assign(change.tx(), &caller.tenant, &row).await? {
            change
                .record(NewEvent::new(
                    id,
                    "agent_assigned",
                    json!({ "agent_id": agent_id, "role": role }),
                ))
                .await?;
        }
        change.commit().await?;
        Ok(row)
    }

    pub async fn unassign_agent(&self, caller: &Caller, id: &str, agent_id: &str) -> Result<()> {
        let mut change = self.change(caller).await?;
        change.intent(self.store(), id).await?;
        if !graph_rows::unassign(change.tx(), &caller.tenant, id, agent_id).await? {
            return Err(Error::NotFound { what: "assignment" });
        }
        change
            .record(NewEvent::new(
                id,
                "agent_unassigned",
                json!({ "agent_id": agent_id }),
            ))
            .await?;
        change.commit().await
    }

    pub async fn list_agents(&self, caller: &Caller, id: &str) -> Result<Vec<Assignment>> {
        self.intent(caller, id).await?;
        Ok(graph_rows::assignments(self.store(), &caller.tenant, id).await?)
    }
}

/// Inserts a new intent in a change: its row, its dependency edges and its
/// `intent_created` event (also how a trigger creates one).
pub(crate) async fn insert_intent(
    change: &mut super::Change<'_>,
    created_by: String,
    mut input: NewIntent,
) -> Result<IntentRow> {
    input.check()?;
    if let Some(policy) = &input.governance_policy {
        super::governance::Policy::parse(policy)?;
    }
    let mut depends_on = input.depends_on.clone();
    depends_on.sort();
    depends_on.dedup();
    let now = now_ms();
    let tenant = change.tenant().clone();
    let row = IntentRow {
        tenant_id: tenant.clone(),
        id: ids::new_id(prefixes::INTENT),
        title: input.title.trim().to_string(),
        description: input.description.unwrap_or_default(),
        created_by,
        status: input
            .status
            .unwrap_or(CoordinationStatus::Draft)
            .as_str()
            .to_string(),
        state: input.state.to_string(),
        constraints: input.constraints.to_string(),
        governance_policy: input.governance_policy.map(|policy| policy.to_string()),
        parent_id: input.parent_intent_id,
        depends_on: json!(depends_on).to_string(),
        confidence: input.confidence.unwrap_or(0),
        version: 1,
        acl_policy: "open".into(),
        created_at: now,
        updated_at: now,
    };
    if let Some(parent) = &row.parent_id {
        if !intent_rows::exists(change.tx(), &tenant, parent).await? {
            return Err(Error::NotFound {
                what: "parent intent",
            });
        }
    }
    intent_rows::insert(change.tx(), &row).await?;
    for target in &depends_on {
        if !intent_rows::exists(change.tx(), &tenant, target).await? {
            return Err(Error::NotFound {
                what: "dependency intent",
            });
        }
        graph_rows::add_dependency(change.tx(), &tenant, &row.id, target, now).await?;
    }
    change
        .record(NewEvent::new(
            &row.id,
            "intent_created",
            json!({ "title": row.title, "parent_intent_id": row.parent_id, "depends_on": input.depends_on }),
        ))
        .await?;
    Ok(row)
}

/// 409 with the current version unless `version` is it.
pub(crate) fn expect_version(row: &IntentRow, version: Version) -> Result<()> {
    match row.version == version.0 {
        true => Ok(()),
        false => Err(Error::VersionConflict {
            what: "intent",
            current: row.version,
        }),
    }
}

/// A successful write moves the intent to its next version.
pub(crate) fn bump(row: &mut IntentRow) {
    row.version += 1;
    row.updated_at = now_ms();
}

/// The scope a patch touches: its top-level key.
fn top_level_key(path: &str) -> Option<String> {
    let key = path.strip_prefix('/').unwrap_or(path).split('/').next()?;
    (!key.is_empty()).then(|| key.replace("~1", "/").replace("~0", "~"))
}

pub fn check_agent_id(raw: &str) -> Result<()> {
    match (1..=200).contains(&raw.len()) && !raw.chars().any(char::is_control) {
        true => Ok(()),
        false => Err(Error::invalid(
            &["agent_id"],
            "must be 1-200 printable characters",
        )),
    }
}
