//! Records kept whole, one JSON body each, read back by intent: RFC-0004 arbitrations and
//! decisions ([`arbitration`]), RFC-0005 attachments ([`attachments`]), RFC-0009 costs
//! ([`costs`]), RFC-0010 retry policies and failures ([`retries`]); RFC-0011 ACL entries and
//! access requests and RFC-0006 subscriptions are stored the same way by
//! [`super::access`] and [`super::subscriptions`]. Each kind is a typed [`RecordFields`].

pub mod arbitration;
pub mod attachments;
pub mod costs;
pub mod retries;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Caller, Change, Context, NewEvent};
use crate::{
    error::{Error, Result},
    ids,
    store::openintent::{records as record_rows, records::RecordRow},
    time::{now_ms, parse_instant, protocol_instant, DayBound},
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

/// `raw` is one of a closed vocabulary, or a 400 naming `field` and the vocabulary.
pub(crate) fn one_of(raw: &str, allowed: &[&str], field: &str) -> Result<()> {
    match allowed.contains(&raw) {
        true => Ok(()),
        false => Err(Error::invalid(
            &[field],
            format!("must be one of {}", allowed.join(", ")),
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
            .map(protocol_instant)
            .ok_or_else(|| Error::invalid(&[field], "must be an ISO 8601 date-time"))
    })
    .transpose()
}

/// The fields of one kind of record, stored as the JSON the API shows (with the record's
/// `id` and `created_at` around them).
pub trait RecordFields: Serialize + DeserializeOwned {
    const KIND: RecordKind;
    /// The intent owning the record; `None` for a tenant-level record (subscriptions).
    fn owner(&self) -> Option<&str>;

    /// What the record adds to its intent's costs (RFC-0009), which a governance policy's
    /// `max_cost` bounds.
    fn cost(&self) -> Option<f64> {
        None
    }
}

/// Declares record kinds that belong to an intent (their `intent_id` field).
macro_rules! intent_records {
    ($($fields:ty => $kind:ident;)*) => {$(
        impl $crate::openintent::records::RecordFields for $fields {
            const KIND: $crate::openintent::records::RecordKind =
                $crate::openintent::records::RecordKind::$kind;

            fn owner(&self) -> Option<&str> {
                Some(&self.intent_id)
            }
        }
    )*};
}
pub(crate) use intent_records;

/// A stored record: its id, its kind's fields, when it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record<T> {
    pub id: String,
    #[serde(flatten)]
    pub fields: T,
    pub created_at: String,
}

/// A stored record's body read back; a body that no longer reads as its kind is an internal
/// error (they are written only here).
pub(crate) fn decode<T: RecordFields>(row: &RecordRow) -> Result<Record<T>> {
    serde_json::from_str(&row.body).map_err(|err| {
        Error::Internal(anyhow::anyhow!(
            "stored {} {} does not read back: {err}",
            T::KIND.name(),
            row.id
        ))
    })
}

/// Inserts a record in the change's transaction.
pub(crate) async fn store_record<T: RecordFields>(
    change: &mut Change<'_>,
    fields: T,
) -> Result<Record<T>> {
    let now = now_ms();
    let record = Record {
        id: ids::new_id(T::KIND.prefix()),
        fields,
        created_at: protocol_instant(now),
    };
    let row = RecordRow {
        id: record.id.clone(),
        intent_id: record.fields.owner().map(str::to_string),
        body: serde_json::to_string(&record).map_err(|err| Error::Internal(err.into()))?,
        created_at: now,
    };
    let tenant = change.tenant().clone();
    record_rows::insert(change.tx(), &tenant, T::KIND.name(), &row).await?;
    Ok(record)
}

/// How a new record enters an intent's history.
pub(crate) struct Announced<'a> {
    /// The intent event that announces it.
    pub event: &'a str,
    /// Whether it replaces the intent's earlier records of its kind (one per intent).
    pub replaces: bool,
}

impl Context {
    /// Stores a record of an intent and the event announcing it.
    pub(crate) async fn add_record<T: RecordFields>(
        &self,
        caller: &Caller,
        fields: T,
        announced: Announced<'_>,
    ) -> Result<Record<T>> {
        let intent_id = fields.owner().map(str::to_string).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("an announced record belongs to an intent"))
        })?;
        let mut change = self.change(caller).await?;
        let intent = change.intent(self.store(), &intent_id).await?;
        // The intent's costs are read only when a policy caps them.
        let ceiling = super::governance::Policy::of(&intent).max_cost;
        if let (Some(amount), Some(max)) = (fields.cost(), ceiling) {
            let recorded = self
                .records_of::<costs::Cost>(caller, Some(&intent_id))
                .await?;
            let total = costs::CostSummary::of(&recorded).total;
            change.check_cost(&intent, max, total, amount)?;
        }
        if announced.replaces {
            record_rows::delete_for_intent(change.tx(), &caller.tenant, T::KIND.name(), &intent_id)
                .await?;
        }
        let record = store_record(&mut change, fields).await?;
        let payload = json!({ format!("{}_id", T::KIND.name()): record.id, "record": record });
        change
            .announce(NewEvent::new(&intent_id, announced.event, payload))
            .await?;
        change.commit().await?;
        Ok(record)
    }

    /// An intent's records of one kind, oldest first.
    pub async fn records<T: RecordFields>(
        &self,
        caller: &Caller,
        intent_id: &str,
    ) -> Result<Vec<Record<T>>> {
        self.intent(caller, intent_id).await?;
        self.records_of(caller, Some(intent_id)).await
    }

    /// Records of one kind of an intent, or the tenant-level ones (`None`), unchecked.
    pub(crate) async fn records_of<T: RecordFields>(
        &self,
        caller: &Caller,
        intent_id: Option<&str>,
    ) -> Result<Vec<Record<T>>> {
        let rows =
            record_rows::list(self.store(), &caller.tenant, T::KIND.name(), intent_id).await?;
        rows.iter().map(decode).collect()
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
        let tenant = &caller.tenant;
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
}
