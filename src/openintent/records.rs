//! Per-intent records kept whole (RFC-0004 arbitrations and decisions, RFC-0005 attachments,
//! RFC-0009 costs, RFC-0010 retry policies and failures; RFC-0006 subscriptions are stored
//! here too, by [`super::subscriptions`]).
//! Each is validated here, stored as the JSON the API shows, and read back by intent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{views::parse_json, Caller, Change, NewEvent, OpenIntent};
use crate::{
    error::{Error, Result},
    ids,
    store::openintent::{records as record_rows, records::RecordRow},
    time::{now_ms, parse_instant, rfc3339, DayBound},
};

/// The kinds of record, with their id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Arbitration,
    Decision,
    Attachment,
    Cost,
    RetryPolicy,
    Failure,
    Subscription,
    AclEntry,
    AccessRequest,
}

impl RecordKind {
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Arbitration => "arbitration",
            RecordKind::Decision => "decision",
            RecordKind::Attachment => "attachment",
            RecordKind::Cost => "cost",
            RecordKind::RetryPolicy => "retry_policy",
            RecordKind::Failure => "failure",
            RecordKind::Subscription => "subscription",
            RecordKind::AclEntry => "acl_entry",
            RecordKind::AccessRequest => "access_request",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            RecordKind::Arbitration => "arb",
            RecordKind::Decision => "dec",
            RecordKind::Attachment => "att",
            RecordKind::Cost => "cst",
            RecordKind::RetryPolicy => "rtp",
            RecordKind::Failure => "fail",
            RecordKind::Subscription => "sub",
            RecordKind::AclEntry => "ace",
            RecordKind::AccessRequest => "acr",
        }
    }
}

/// Deepest a request body of this face may nest: room for the fields around a state at its
/// limit. Whatever the face stores (states, event payloads, records) is part of a body, or
/// wraps one in a few levels, so it stays well within what the JSON parser reads back and
/// what an audit record may hold.
pub const MAX_BODY_DEPTH: usize = super::patch::MAX_STATE_DEPTH + 8;

/// Reads a request body into a typed input; serde's message becomes a 400.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: Value) -> Result<T> {
    crate::audit::depth::check(&body, MAX_BODY_DEPTH, &[])
        .map_err(|error| Error::Validation(vec![error]))?;
    serde_json::from_value(body).map_err(|err| Error::invalid(&[], err.to_string()))
}

pub(crate) fn require_text(value: &str, field: &str, max: usize) -> Result<()> {
    match !value.trim().is_empty() && value.chars().count() <= max {
        true => Ok(()),
        false => Err(Error::invalid(
            &[field],
            format!("must be 1-{max} characters"),
        )),
    }
}

pub(crate) fn object(value: Value, field: &str) -> Result<Value> {
    match value {
        Value::Null => Ok(json!({})),
        Value::Object(_) => Ok(value),
        _ => Err(Error::invalid(&[field], "must be an object")),
    }
}

/// An optional ISO 8601 instant, normalized.
pub(crate) fn instant(raw: Option<&str>, field: &str) -> Result<Option<String>> {
    raw.map(|raw| {
        parse_instant(raw, DayBound::Start)
            .map(rfc3339)
            .ok_or_else(|| Error::invalid(&[field], "must be an ISO 8601 date-time"))
    })
    .transpose()
}

#[derive(Debug, Deserialize)]
pub struct ArbitrationIn {
    pub reason: String,
    #[serde(default)]
    pub context: Value,
    #[serde(default)]
    pub requested_by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DecisionIn {
    pub decision_type: String,
    pub outcome: String,
    #[serde(default)]
    pub reasoning: String,
    #[serde(default)]
    pub decided_by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AttachmentIn {
    pub filename: String,
    /// The async SDK client names the fields `content_type`, `url` and `size_bytes`.
    #[serde(alias = "content_type")]
    pub mime_type: String,
    #[serde(default, alias = "size_bytes")]
    pub size: u64,
    #[serde(alias = "url")]
    pub storage_url: String,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Deserialize)]
pub struct CostIn {
    #[serde(default)]
    pub agent_id: Option<String>,
    pub cost_type: String,
    pub amount: f64,
    pub unit: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Deserialize)]
pub struct RetryPolicyIn {
    #[serde(default = "default_strategy")]
    pub strategy: String,
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_base_delay")]
    pub base_delay_ms: u64,
    #[serde(default = "default_max_delay")]
    pub max_delay_ms: u64,
    #[serde(default)]
    pub fallback_agent_id: Option<String>,
    #[serde(default = "default_max_retries")]
    pub failure_threshold: u32,
}

fn default_strategy() -> String {
    "exponential".into()
}
fn default_max_retries() -> u32 {
    3
}
fn default_base_delay() -> u64 {
    1000
}
fn default_max_delay() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
pub struct FailureIn {
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub attempt_number: u32,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub recoverable: Option<bool>,
    #[serde(default)]
    pub retry_scheduled_at: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

/// A record to store: its kind, owner, fields, and the intent event announcing it.
struct NewRecord<'a> {
    kind: RecordKind,
    intent_id: Option<&'a str>,
    fields: Value,
    event: Option<&'a str>,
    /// Whether this record replaces the intent's earlier ones of its kind (one per intent).
    replaces: bool,
}

/// Inserts a record in the change's transaction: `fields` plus `id`, `intent_id` and
/// `created_at`. Answers the id and the stored body.
pub(crate) async fn store_record(
    change: &mut Change<'_>,
    kind: RecordKind,
    intent_id: Option<&str>,
    fields: Value,
) -> Result<(String, Value)> {
    let now = now_ms();
    let id = ids::new_id(kind.prefix());
    let mut body = Map::new();
    body.insert("id".into(), json!(id));
    if let Some(intent_id) = intent_id {
        body.insert("intent_id".into(), json!(intent_id));
    }
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    body.insert("created_at".into(), json!(rfc3339(now)));
    let body = Value::Object(body);
    let row = RecordRow {
        id: id.clone(),
        intent_id: intent_id.map(str::to_string),
        body: body.to_string(),
        created_at: now,
    };
    let tenant = change.tenant().to_string();
    record_rows::insert(change.tx(), &tenant, kind.name(), &row).await?;
    Ok((id, body))
}

impl OpenIntent {
    /// Stores a record (with `id`, `intent_id` and `created_at` added) and its event.
    async fn add_record(&self, caller: &Caller, record: NewRecord<'_>) -> Result<Value> {
        let mut change = self.change(caller).await?;
        if let Some(intent_id) = record.intent_id {
            change.intent(self.store(), intent_id).await?;
            if record.replaces {
                record_rows::delete_for_intent(
                    change.tx(),
                    caller.tenant.as_str(),
                    record.kind.name(),
                    intent_id,
                )
                .await?;
            }
        }
        let (id, body) =
            store_record(&mut change, record.kind, record.intent_id, record.fields).await?;
        match (record.event, record.intent_id) {
            (Some(event_type), Some(intent_id)) => {
                let payload = json!({ format!("{}_id", record.kind.name()): id, "record": body });
                change
                    .announce(NewEvent::new(intent_id, event_type, payload))
                    .await?;
            }
            _ => {
                change
                    .audit(
                        &format!("{}_created", record.kind.name()),
                        &id,
                        body.clone(),
                    )
                    .await?
            }
        }
        change.commit().await?;
        Ok(body)
    }

    /// An intent's records of one kind, oldest first.
    pub async fn records(
        &self,
        caller: &Caller,
        kind: RecordKind,
        intent_id: &str,
    ) -> Result<Vec<Value>> {
        self.intent(caller, intent_id).await?;
        self.records_of(caller, kind, Some(intent_id)).await
    }

    pub(crate) async fn records_of(
        &self,
        caller: &Caller,
        kind: RecordKind,
        intent_id: Option<&str>,
    ) -> Result<Vec<Value>> {
        let rows =
            record_rows::list(self.store(), caller.tenant.as_str(), kind.name(), intent_id).await?;
        Ok(rows.iter().map(|row| parse_json(&row.body)).collect())
    }

    /// Deletes one record of an intent (`intent_id` None: a tenant-level record), with its event.
    pub async fn delete_record(
        &self,
        caller: &Caller,
        kind: RecordKind,
        intent_id: Option<&str>,
        id: &str,
        event: &str,
    ) -> Result<()> {
        let tenant = caller.tenant.as_str();
        let mut change = self.change(caller).await?;
        if let Some(intent_id) = intent_id {
            change.intent(self.store(), intent_id).await?;
        }
        let found = record_rows::get_in(change.tx(), tenant, kind.name(), id).await?;
        if found.as_ref().map(|row| row.intent_id.as_deref()) != Some(intent_id) {
            return Err(Error::NotFound { what: "record" });
        }
        record_rows::delete(change.tx(), tenant, kind.name(), id).await?;
        if kind == RecordKind::Subscription {
            change.forget_webhook(id).await?;
        }
        match intent_id {
            Some(intent_id) => {
                let payload = json!({ format!("{}_id", kind.name()): id });
                change
                    .announce(NewEvent::new(intent_id, event, payload))
                    .await?;
            }
            None => change.audit(event, id, json!({})).await?,
        }
        change.commit().await
    }

    pub async fn request_arbitration(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: ArbitrationIn,
    ) -> Result<Value> {
        require_text(&input.reason, "reason", 10_000)?;
        let fields = json!({
            "requester_id": self.attributed(caller, input.requested_by).await?,
            "reason": input.reason,
            "context": object(input.context, "context")?,
            "status": "pending",
        });
        let record = NewRecord {
            kind: RecordKind::Arbitration,
            intent_id: Some(intent_id),
            fields,
            event: Some("arbitration_requested"),
            replaces: false,
        };
        self.add_record(caller, record).await
    }

    pub async fn record_decision(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: DecisionIn,
    ) -> Result<Value> {
        require_text(&input.decision_type, "decision_type", 200)?;
        require_text(&input.outcome, "outcome", 10_000)?;
        let fields = json!({
            "decision_maker_id": self.attributed(caller, input.decided_by).await?,
            "decision_type": input.decision_type,
            "outcome": input.outcome,
            "reasoning": input.reasoning,
        });
        let record = NewRecord {
            kind: RecordKind::Decision,
            intent_id: Some(intent_id),
            fields,
            event: Some("decision_recorded"),
            replaces: false,
        };
        self.add_record(caller, record).await
    }

    pub async fn add_attachment(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: AttachmentIn,
    ) -> Result<Value> {
        require_text(&input.filename, "filename", 1000)?;
        require_text(&input.mime_type, "mime_type", 200)?;
        require_text(&input.storage_url, "storage_url", 4000)?;
        let fields = json!({
            "filename": input.filename,
            "mime_type": input.mime_type,
            "size": input.size,
            "storage_url": input.storage_url,
            "metadata": object(input.metadata, "metadata")?,
            "uploaded_by": caller.agent_id,
        });
        let record = NewRecord {
            kind: RecordKind::Attachment,
            intent_id: Some(intent_id),
            fields,
            event: Some("attachment_added"),
            replaces: false,
        };
        self.add_record(caller, record).await
    }

    pub async fn record_cost(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: CostIn,
    ) -> Result<Value> {
        require_text(&input.cost_type, "cost_type", 200)?;
        require_text(&input.unit, "unit", 100)?;
        if !input.amount.is_finite() || input.amount < 0.0 {
            return Err(Error::invalid(&["amount"], "must be a non-negative number"));
        }
        let fields = json!({
            "agent_id": self.attributed(caller, input.agent_id).await?,
            "cost_type": input.cost_type,
            "amount": input.amount,
            "unit": input.unit,
            "provider": input.provider,
            "metadata": object(input.metadata, "metadata")?,
        });
        let record = NewRecord {
            kind: RecordKind::Cost,
            intent_id: Some(intent_id),
            fields,
            event: Some("cost_recorded"),
            replaces: false,
        };
        self.add_record(caller, record).await
    }

    /// `{"costs": [...], "summary": {"total", "by_type", "by_agent"}}`.
    pub async fn costs(&self, caller: &Caller, intent_id: &str) -> Result<Value> {
        let costs = self.records(caller, RecordKind::Cost, intent_id).await?;
        let mut total = 0.0;
        let mut by_type: BTreeMap<String, f64> = BTreeMap::new();
        let mut by_agent: BTreeMap<String, f64> = BTreeMap::new();
        for cost in &costs {
            let amount = cost["amount"].as_f64().unwrap_or(0.0);
            total += amount;
            *by_type
                .entry(cost["cost_type"].as_str().unwrap_or("").to_string())
                .or_default() += amount;
            *by_agent
                .entry(cost["agent_id"].as_str().unwrap_or("").to_string())
                .or_default() += amount;
        }
        Ok(
            json!({ "costs": costs, "summary": { "total": total, "by_type": by_type, "by_agent": by_agent } }),
        )
    }

    /// Sets the intent's retry policy, replacing any previous one.
    pub async fn set_retry_policy(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: RetryPolicyIn,
    ) -> Result<Value> {
        if !["none", "fixed", "exponential", "linear"].contains(&input.strategy.as_str()) {
            return Err(Error::invalid(
                &["strategy"],
                "must be one of none, fixed, exponential, linear",
            ));
        }
        if input.base_delay_ms > input.max_delay_ms {
            return Err(Error::invalid(
                &["base_delay_ms"],
                "must not exceed max_delay_ms",
            ));
        }
        let fields = json!({
            "strategy": input.strategy,
            "max_retries": input.max_retries,
            "base_delay_ms": input.base_delay_ms,
            "max_delay_ms": input.max_delay_ms,
            "fallback_agent_id": input.fallback_agent_id,
            "failure_threshold": input.failure_threshold,
        });
        let record = NewRecord {
            kind: RecordKind::RetryPolicy,
            intent_id: Some(intent_id),
            fields,
            event: Some("retry_policy_set"),
            replaces: true,
        };
        self.add_record(caller, record).await
    }

    /// The intent's retry policy, or 404 when none is set.
    pub async fn retry_policy(&self, caller: &Caller, intent_id: &str) -> Result<Value> {
        self.records(caller, RecordKind::RetryPolicy, intent_id)
            .await?
            .pop()
            .ok_or(Error::NotFound {
                what: "retry policy",
            })
    }

    pub async fn record_failure(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: FailureIn,
    ) -> Result<Value> {
        let fields = json!({
            "agent_id": self.attributed(caller, input.agent_id).await?,
            "attempt_number": input.attempt_number,
            "error_code": input.error_code,
            "error_message": input.error_message,
            "error_type": input.error_type.unwrap_or_else(|| "error".into()),
            "recoverable": input.recoverable.unwrap_or(true),
            "retry_scheduled_at": instant(input.retry_scheduled_at.as_deref(), "retry_scheduled_at")?,
            "resolved_at": null,
            "metadata": object(input.metadata, "metadata")?,
        });
        let record = NewRecord {
            kind: RecordKind::Failure,
            intent_id: Some(intent_id),
            fields,
            event: Some("failure_recorded"),
            replaces: false,
        };
        self.add_record(caller, record).await
    }
}
