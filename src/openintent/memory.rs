//! Agent memory (RFC-0015): entries keyed by (agent, namespace, key), or (namespace, key) for
//! shared semantic memory, each versioned (`If-Match`), tagged and optionally expiring.
//! Working and episodic memory is private to its agent: another agent gets 404, as if the
//! entry were not there. Semantic memory is readable by every agent of the tenant. Only the
//! owner (or an admin key) changes or deletes an entry.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    documents::{check_tags, expect_version, identified_by, Columns, Document},
    Caller, Change, Memory, NewEvent, Version,
};
use crate::{
    audit::{actors, AuditEvent},
    error::{Error, Result},
    ids,
    openintent::records::{object, one_of, require_text},
    store::openintent::documents::{self as rows, DocumentQuery},
    time::{now_ms, parse_instant, protocol_instant, DayBound, Millis},
};

/// Most entries one agent may hold.
pub const MAX_ENTRIES_PER_AGENT: i64 = 10_000;
pub const MAX_TAGS: usize = 50;
pub const TYPES: [&str; 3] = ["working", "episodic", "semantic"];
pub const PRIORITIES: [&str; 3] = ["low", "normal", "high"];
pub const SENSITIVITIES: [&str; 4] = ["public", "internal", "confidential", "restricted"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub id: String,
    pub agent_id: String,
    pub namespace: String,
    pub key: String,
    pub value: Value,
    pub memory_type: String,
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Value>,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    pub pinned: bool,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curated_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl MemoryEntry {
    fn expires_ms(&self) -> Option<Millis> {
        self.expires_at
            .as_deref()
            .and_then(|at| parse_instant(at, DayBound::Start))
    }

    fn is_private(&self) -> bool {
        self.memory_type != "semantic"
    }

    fn unique_key(&self) -> String {
        match self.is_private() {
            true => json!([self.agent_id, self.namespace, self.key]).to_string(),
            false => json!([self.namespace, self.key]).to_string(),
        }
    }

    /// The intent the entry's scope names, if any (its events go on that intent's log).
    fn scoped_intent(&self) -> Option<String> {
        self.scope
            .as_ref()
            .and_then(|scope| scope.get("intent_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

impl Document for MemoryEntry {
    const KIND: &'static str = "memory";
    const WHAT: &'static str = "memory entry";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.agent_id.clone(),
            status: self.memory_type.clone(),
            namespace: Some(self.namespace.clone()),
            tags: self.tags.clone(),
            unique_key: Some(self.unique_key()),
            due_at: self.expires_ms(),
        }
    }
}

/// `POST /memory` and, all optional, `PATCH /memory/{id}` (identity fields are ignored
/// there: agent, namespace, key and type do not change).
#[derive(Debug, Default, Deserialize)]
pub struct MemoryInput {
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub memory_type: Option<String>,
    #[serde(default)]
    pub scope: Option<Value>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub ttl: Option<String>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub sensitivity: Option<String>,
    #[serde(default)]
    pub curated_by: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// What a listing of one agent's memory selects.
#[derive(Debug, Default)]
pub struct MemoryFilter {
    pub namespace: Option<String>,
    pub memory_type: Option<String>,
    pub tags: Vec<String>,
    pub limit: i64,
    pub offset: i64,
}

/// An ISO 8601 duration of days, hours, minutes and seconds (`P1D`, `PT24H`, `PT90S`), in
/// milliseconds.
fn iso_duration_ms(raw: &str) -> Option<Millis> {
    let rest = raw.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) => (days, Some(time)),
        None => (rest, None),
    };
    let mut total: Millis = 0;
    let mut add = |part: &str, units: &[(char, Millis)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            match c {
                '0'..='9' => number.push(c),
                unit => {
                    let scale = units.iter().find(|(u, _)| *u == unit)?.1;
                    total =
                        total.checked_add(number.parse::<Millis>().ok()?.checked_mul(scale)?)?;
                    number.clear();
                }
            }
        }
        number.is_empty().then_some(())
    };
    add(days, &[('W', 604_800_000), ('D', 86_400_000)])?;
    if let Some(time) = time {
        if time.is_empty() {
            return None;
        }
        add(time, &[('H', 3_600_000), ('M', 60_000), ('S', 1_000)])?;
    }
    (!rest.is_empty()).then_some(total)
}

/// When an entry expires: `expires_at` wins over `ttl` (`duration:<ISO 8601>`); no expiry
/// for `null` or `task_lifetime` (kept until deleted).
fn expiry(ttl: Option<&str>, expires_at: Option<&str>, now: Millis) -> Result<Option<Millis>> {
    if let Some(raw) = expires_at {
        return parse_instant(raw, DayBound::End)
            .map(Some)
            .ok_or_else(|| Error::invalid(&["expires_at"], "must be an ISO 8601 instant"));
    }
    match ttl {
        None | Some("task_lifetime") => Ok(None),
        Some(raw) => raw
            .strip_prefix("duration:")
            .and_then(iso_duration_ms)
            .filter(|ms| *ms > 0)
            .map(|ms| Some(now + ms))
            .ok_or_else(|| {
                Error::invalid(
                    &["ttl"],
                    "must be task_lifetime or duration:<ISO 8601 duration>, e.g. duration:PT24H",
                )
            }),
    }
}

fn check_fields(input: &MemoryInput) -> Result<()> {
    if let Some(tags) = &input.tags {
        check_tags(tags, "tags")?;
        if tags.len() > MAX_TAGS {
            return Err(Error::invalid(
                &["tags"],
                format!("at most {MAX_TAGS} tags"),
            ));
        }
    }
    if let Some(priority) = &input.priority {
        one_of(priority, &PRIORITIES, "priority")?;
    }
    if let Some(sensitivity) = &input.sensitivity {
        one_of(sensitivity, &SENSITIVITIES, "sensitivity")?;
    }
    if let Some(scope) = &input.scope {
        object(scope.clone(), "scope")?;
    }
    Ok(())
}

impl Memory {
    /// Whether the caller may read the entry (owners and admin keys always; others only
    /// shared semantic memory).
    fn may_read(caller: &Caller, entry: &MemoryEntry) -> bool {
        caller.admin || entry.agent_id == caller.agent_id || !entry.is_private()
    }

    fn may_change(caller: &Caller, entry: &MemoryEntry) -> Result<()> {
        match caller.admin || entry.agent_id == caller.agent_id {
            true => Ok(()),
            false => Err(Error::Forbidden(format!(
                "the entry belongs to agent '{}'",
                entry.agent_id
            ))),
        }
    }

    pub async fn create_memory(&self, caller: &Caller, input: MemoryInput) -> Result<MemoryEntry> {
        check_fields(&input)?;
        let namespace = input.namespace.clone().unwrap_or_default();
        let key = input.key.clone().unwrap_or_default();
        require_text(&namespace, "namespace", 200)?;
        require_text(&key, "key", 500)?;
        let memory_type = input
            .memory_type
            .clone()
            .unwrap_or_else(|| "working".into());
        one_of(&memory_type, &TYPES, "memory_type")?;
        let value = object(input.value.unwrap_or_default(), "value")?;
        let agent_id = self.attributed(caller, input.agent_id).await?;
        let now = now_ms();
        let expires_ms = expiry(input.ttl.as_deref(), input.expires_at.as_deref(), now)?;
        let entry = MemoryEntry {
            id: ids::new_id(super::prefixes::MEMORY),
            agent_id,
            namespace,
            key,
            value,
            memory_type,
            version: 1,
            scope: input.scope,
            tags: input.tags.unwrap_or_default(),
            ttl: input.ttl,
            pinned: input.pinned.unwrap_or(false),
            priority: input.priority.unwrap_or_else(|| "normal".into()),
            sensitivity: input.sensitivity,
            curated_by: input.curated_by,
            created_at: protocol_instant(now),
            updated_at: protocol_instant(now),
            expires_at: expires_ms.map(protocol_instant),
        };
        let mut change = self.change(caller).await?;
        if change
            .count_documents::<MemoryEntry>(&entry.agent_id)
            .await?
            >= MAX_ENTRIES_PER_AGENT
        {
            return Err(Error::Conflict(format!(
                "agent '{}' already holds {MAX_ENTRIES_PER_AGENT} memory entries",
                entry.agent_id
            )));
        }
        let duplicate = format!(
            "a {} memory entry with key '{}' already exists in namespace '{}'",
            entry.memory_type, entry.key, entry.namespace
        );
        change.insert_document(&entry, now, &duplicate).await?;
        log(&mut change, self, &entry, "memory.created").await?;
        change.commit().await?;
        Ok(entry)
    }

    /// An entry the caller may read; expired and other agents' private entries are 404.
    pub async fn get_memory(&self, caller: &Caller, id: &str) -> Result<MemoryEntry> {
        let entry: MemoryEntry = self.document(caller, id).await?;
        let expired = entry.expires_ms().is_some_and(|at| at <= now_ms());
        match !expired && Self::may_read(caller, &entry) {
            true => Ok(entry),
            false => Err(Error::NotFound {
                what: MemoryEntry::WHAT,
            }),
        }
    }

    /// One agent's live entries, oldest first; for another agent's memory, its semantic
    /// entries only.
    pub async fn list_memory(
        &self,
        caller: &Caller,
        agent_id: &str,
        filter: MemoryFilter,
    ) -> Result<Vec<MemoryEntry>> {
        if let Some(memory_type) = &filter.memory_type {
            one_of(memory_type, &TYPES, "memory_type")?;
        }
        check_tags(&filter.tags, "tags")?;
        let own = caller.admin || agent_id == caller.agent_id;
        let memory_type = match (own, filter.memory_type.as_deref()) {
            (true, requested) => requested,
            (false, None | Some("semantic")) => Some("semantic"),
            (false, Some(_)) => return Ok(Vec::new()),
        };
        self.documents(
            caller,
            &DocumentQuery {
                kind: MemoryEntry::KIND,
                parent: Some(agent_id),
                status: memory_type,
                namespace: filter.namespace.as_deref(),
                tags: &filter.tags,
                live_at: Some(now_ms()),
                limit: filter.limit.clamp(1, super::intents::MAX_LIST),
                offset: filter.offset.max(0),
            },
        )
        .await
    }

    /// Changes an entry at the `If-Match` version.
    pub async fn update_memory(
        &self,
        caller: &Caller,
        id: &str,
        version: Version,
        input: MemoryInput,
    ) -> Result<MemoryEntry> {
        check_fields(&input)?;
        let value = input.value.map(|v| object(v, "value")).transpose()?;
        let mut change = self.change(caller).await?;
        let mut entry: MemoryEntry = change.document(self.store(), id).await?;
        if !Self::may_read(caller, &entry) {
            return Err(Error::NotFound {
                what: MemoryEntry::WHAT,
            });
        }
        Self::may_change(caller, &entry)?;
        expect_version(&entry, version)?;
        let now = now_ms();
        if input.ttl.is_some() || input.expires_at.is_some() {
            entry.expires_at = expiry(input.ttl.as_deref(), input.expires_at.as_deref(), now)?
                .map(protocol_instant);
            entry.ttl = input.ttl;
        }
        if let Some(value) = value {
            entry.value = value;
        }
        if let Some(scope) = input.scope {
            entry.scope = Some(scope);
        }
        if let Some(tags) = input.tags {
            entry.tags = tags;
        }
        if let Some(pinned) = input.pinned {
            entry.pinned = pinned;
        }
        if let Some(priority) = input.priority {
            entry.priority = priority;
        }
        if let Some(sensitivity) = input.sensitivity {
            entry.sensitivity = Some(sensitivity);
        }
        if let Some(curated_by) = input.curated_by {
            entry.curated_by = Some(curated_by);
        }
        entry.version += 1;
        entry.updated_at = protocol_instant(now);
        change.save_document(&entry, version.0, now).await?;
        log(&mut change, self, &entry, "memory.updated").await?;
        change.commit().await?;
        Ok(entry)
    }

    pub async fn delete_memory(&self, caller: &Caller, id: &str) -> Result<()> {
        let mut change = self.change(caller).await?;
        let entry: MemoryEntry = change.document(self.store(), id).await?;
        if !Self::may_read(caller, &entry) {
            return Err(Error::NotFound {
                what: MemoryEntry::WHAT,
            });
        }
        Self::may_change(caller, &entry)?;
        change.delete_document::<MemoryEntry>(id).await?;
        log(&mut change, self, &entry, "memory.deleted").await?;
        change.commit().await
    }
}

impl Memory {
    /// One pass of the expiry sweep: deletes entries past their expiry (reads hide them at
    /// once), each audited as `memory.expired`. A delete that finds the row gone (another
    /// instance was first) audits nothing. Returns how many it deleted.
    pub async fn purge_expired(&self) -> Result<usize> {
        let mut purged = 0;
        for row in rows::due(self.store(), MemoryEntry::KIND, now_ms(), 500).await? {
            let mut work = self.writer.begin(&row.tenant_id).await?;
            if !rows::delete(&mut work, &row.tenant_id, MemoryEntry::KIND, &row.id).await? {
                continue;
            }
            let data = json!({ "agent_id": row.parent, "namespace": row.namespace });
            work.audit(AuditEvent {
                event_type: "openintent.memory.expired",
                actor: actors::SYSTEM,
                subject: &row.id,
                data,
            })
            .await?;
            work.commit().await?.publish();
            purged += 1;
        }
        Ok(purged)
    }
}

/// Logs a memory event on the intent the entry's scope names (the caller must be allowed to
/// write it), else audits it only. Values are not copied into the log: it names the entry.
async fn log(
    change: &mut Change<'_>,
    memory: &Memory,
    entry: &MemoryEntry,
    event_type: &str,
) -> Result<()> {
    let payload = json!({
        "memory_id": entry.id,
        "agent_id": entry.agent_id,
        "namespace": entry.namespace,
        "key": entry.key,
        "memory_type": entry.memory_type,
        "version": entry.version,
    });
    let scoped = match entry.scoped_intent() {
        // A scope naming an intent that is gone (or never was) leaves the audit trail only.
        Some(intent_id) => match change.intent(memory.store(), &intent_id).await {
            Ok(_) => Some(intent_id),
            Err(Error::NotFound { .. }) => None,
            Err(other) => return Err(other),
        },
        None => None,
    };
    match scoped {
        Some(intent_id) => {
            change
                .record(NewEvent::new(&intent_id, event_type, payload))
                .await?;
        }
        None => change.audit(event_type, &entry.id, payload).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_iso_8601() {
        assert_eq!(iso_duration_ms("PT24H"), Some(86_400_000));
        assert_eq!(iso_duration_ms("P1DT30M"), Some(86_400_000 + 1_800_000));
        assert_eq!(iso_duration_ms("PT90S"), Some(90_000));
        assert_eq!(iso_duration_ms("P2W"), Some(2 * 604_800_000));
        assert_eq!(iso_duration_ms("24H"), None);
        assert_eq!(iso_duration_ms("PT"), None);
        assert_eq!(iso_duration_ms("PT5X"), None);
        assert_eq!(iso_duration_ms("PT5"), None);
    }

    #[test]
    fn expires_at_wins_and_task_lifetime_keeps() {
        let now = 1_000;
        assert_eq!(
            expiry(Some("duration:PT1S"), None, now).unwrap(),
            Some(2_000)
        );
        assert_eq!(expiry(Some("task_lifetime"), None, now).unwrap(), None);
        assert!(expiry(Some("forever"), None, now).is_err());
        assert_eq!(
            expiry(Some("duration:PT1S"), Some("2024-01-15T10:30:00Z"), now).unwrap(),
            Some(1_705_314_600_000)
        );
    }
}
