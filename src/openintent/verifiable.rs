//! RFC-0019 verifiable event logs, on the audit trail's machinery rather than beside it.
//!
//! Every logged event has one audit record, and the statement appending the record stamps the
//! event with the record's `sequence` and `hash` ([`crate::store::audit`]). So an event's
//! `event_hash` is its audit record's hash (as `sha256:<base64url>`), covered by the tenant's
//! hash chain and its signed RFC 9162 checkpoints; `previous_event_hash` links each event to
//! the one before it in the intent's log.
//!
//! - `verify_event_chain` recomputes each event's audit record from the chain and checks that
//!   it is this event (id, type, actor, payload) and that every checkpoint of the intent still
//!   holds its events' hashes; a break names the event.
//! - An intent checkpoint seals the events logged since the previous one: a Merkle root over
//!   their hashes in the SDK's convention ([`Hashing::Unprefixed`], RFC 9162's tree shape, per-
//!   step sibling sides), signed with the server's checkpoint key (`signed_by` is its did:key).
//! - Consistency between two checkpoints of an intent: the later batch starts with the event
//!   right after the earlier one's last, linked to it, and both still hold.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    documents::{identified_by, Columns, Document},
    model::parse_json,
    Caller, Verifiable,
};
use crate::{
    audit::{
        merkle::{self, Edge, Hash, Hashing, Ranges},
        AuditRecord,
    },
    canonical,
    error::{Error, Result},
    ids, signing,
    store::{
        audit as audit_rows,
        openintent::{
            documents::DocumentQuery,
            event_log::{self, EventFilter, EventRow},
        },
    },
    time::{now_ms, protocol_instant},
};

/// Events one verification or checkpoint covers at most.
pub const MAX_EVENTS: i64 = 100_000;
const HASHING: Hashing = Hashing::Unprefixed;

/// An audit record hash (hex) as an RFC-0019 hash: `sha256:<base64url of the 32 bytes>`.
pub fn event_hash(record_hash: &str) -> String {
    match merkle::from_hex(record_hash) {
        Some(bytes) => hash_text(&bytes),
        None => format!("sha256:{record_hash}"),
    }
}

fn hash_text(hash: &Hash) -> String {
    format!("sha256:{}", signing::base64url(hash))
}

fn hash_bytes(text: &str) -> Option<Hash> {
    let encoded = text.strip_prefix("sha256:").unwrap_or(text);
    signing::decode_base64(encoded)?.try_into().ok()
}

/// A sealed batch of an intent's events, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogCheckpoint {
    pub checkpoint_id: String,
    pub version: i64,
    pub intent_id: String,
    pub merkle_root: String,
    pub event_count: i64,
    pub first_sequence: i64,
    pub last_sequence: i64,
    pub created_at: String,
    pub signed_by: String,
    pub signature: String,
    /// The sealed events: ids and hashes, in log order (kept for proofs; not shown).
    pub events: Vec<String>,
    pub leaves: Vec<String>,
}

impl Document for LogCheckpoint {
    const KIND: &'static str = "log_checkpoint";
    const WHAT: &'static str = "checkpoint";

    identified_by!(checkpoint_id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.intent_id.clone(),
            status: "intent".into(),
            ..Columns::default()
        }
    }
}

impl LogCheckpoint {
    /// The checkpoint as the face shows it (the SDK's `LogCheckpoint`).
    pub fn view(&self) -> Value {
        let mut view = self.signed_fields();
        view["signature"] = json!(self.signature);
        view
    }

    /// Every shown field but `signature`: what the signature covers (canonical JSON).
    fn signed_fields(&self) -> Value {
        json!({
            "checkpoint_id": self.checkpoint_id,
            "intent_id": self.intent_id,
            "scope": "intent",
            "merkle_root": self.merkle_root,
            "event_count": self.event_count,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "created_at": self.created_at,
            "signed_by": self.signed_by,
            "anchor": null,
        })
    }

    fn leaf_hashes(&self) -> Option<Vec<Hash>> {
        self.leaves.iter().map(|leaf| hash_bytes(leaf)).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCheckpoint {
    pub intent_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// One event's outcome in a chain verification.
#[derive(Debug, Clone, Serialize)]
pub struct EventCheck {
    pub event_id: String,
    pub sequence: Option<i64>,
    pub event_hash: Option<String>,
    pub previous_event_hash: Option<String>,
    pub verified: bool,
}

/// A break: the event whose stored form no longer matches what its audit record sealed.
#[derive(Debug, Clone, Serialize)]
pub struct ChainBreak {
    pub sequence: Option<i64>,
    pub event_id: String,
    pub expected_hash: Option<String>,
    pub actual_hash: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainVerification {
    pub intent_id: String,
    pub valid: bool,
    pub chain_valid: bool,
    pub event_count: i64,
    pub first_sequence: i64,
    pub last_sequence: i64,
    pub breaks: Vec<ChainBreak>,
    pub events: Vec<EventCheck>,
}

/// Whether the audit record sealed exactly this event; the reason when not.
fn sealed_as(event: &EventRow, record: Option<&AuditRecord>) -> std::result::Result<(), String> {
    let record = record.ok_or("its audit record is missing")?;
    if record.computed_hash() != record.hash {
        return Err("its audit record was altered".into());
    }
    if event.event_hash.as_deref() != Some(record.hash.as_str()) {
        return Err("its hash is not its audit record's".into());
    }
    let data = record.data_value();
    let payload = canonical::to_canonical(&parse_json(&event.payload));
    let same = record.subject == event.intent_id
        && record.actor == event.actor
        && record.event_type == format!("openintent.{}", event.event_type)
        && data["eventId"] == json!(event.id)
        && canonical::to_canonical(&data["payload"]) == payload;
    match same {
        true => Ok(()),
        false => Err("it differs from what its audit record sealed".into()),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProofEntry {
    pub hash: String,
    pub position: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventProof {
    pub event_id: String,
    pub event_hash: String,
    pub checkpoint_id: String,
    pub merkle_root: String,
    pub proof_hashes: Vec<ProofEntry>,
    pub leaf_index: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Consistency {
    pub from_checkpoint: String,
    pub to_checkpoint: String,
    pub consistent: bool,
    pub boundary_event: Option<Value>,
}

/// Checkpoints are listed at most this many at a time.
const MAX_CHECKPOINTS: i64 = 1000;

fn checkpoint_query(intent_id: Option<&str>) -> DocumentQuery<'_> {
    DocumentQuery {
        kind: LogCheckpoint::KIND,
        parent: intent_id,
        status: None,
        namespace: None,
        tags: &[],
        live_at: None,
        limit: MAX_CHECKPOINTS,
        offset: 0,
    }
}

impl Verifiable {
    /// Every logged event of the intent, oldest first.
    async fn events(&self, caller: &Caller, intent_id: &str) -> Result<Vec<EventRow>> {
        self.intent(caller, intent_id).await?;
        let filter = EventFilter {
            limit: MAX_EVENTS,
            ..EventFilter::default()
        };
        Ok(event_log::list(self.store(), &caller.tenant, intent_id, &filter).await?)
    }

    /// The audit records of `events`, by sequence.
    async fn records(
        &self,
        caller: &Caller,
        events: &[EventRow],
    ) -> Result<HashMap<i64, AuditRecord>> {
        let sequences: Vec<i64> = events.iter().filter_map(|e| e.audit_sequence).collect();
        let rows = audit_rows::records_at(self.store(), &caller.tenant, &sequences).await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.sequence, AuditRecord::from_row(row)))
            .collect())
    }

    /// RFC-0019 §2: checks every event of the intent against its audit record and its
    /// checkpoints.
    pub async fn verify_chain(
        &self,
        caller: &Caller,
        intent_id: &str,
    ) -> Result<ChainVerification> {
        let events = self.events(caller, intent_id).await?;
        let records = self.records(caller, &events).await?;
        let mut sealed: HashMap<String, String> = HashMap::new();
        for checkpoint in self.intent_checkpoints(caller, intent_id).await? {
            sealed.extend(checkpoint.events.into_iter().zip(checkpoint.leaves));
        }
        let mut breaks = Vec::new();
        let mut checks = Vec::new();
        for event in &events {
            let record = event
                .audit_sequence
                .and_then(|sequence| records.get(&sequence));
            let current = event.event_hash.as_deref().map(event_hash);
            let outcome = sealed_as(event, record).and_then(|()| match sealed.get(&event.id) {
                Some(leaf) if Some(leaf) != current.as_ref() => {
                    Err("it no longer has the hash its checkpoint sealed".to_string())
                }
                _ => Ok(()),
            });
            if let Err(reason) = &outcome {
                breaks.push(ChainBreak {
                    sequence: event.audit_sequence,
                    event_id: event.id.clone(),
                    expected_hash: record
                        .map(|r| event_hash(&r.hash))
                        .or_else(|| sealed.get(&event.id).cloned()),
                    actual_hash: current.clone(),
                    reason: reason.clone(),
                });
            }
            checks.push(EventCheck {
                event_id: event.id.clone(),
                sequence: event.audit_sequence,
                event_hash: current,
                previous_event_hash: event.previous_event_hash.as_deref().map(event_hash),
                verified: outcome.is_ok(),
            });
        }
        let sequences = || events.iter().filter_map(|e| e.audit_sequence);
        Ok(ChainVerification {
            intent_id: intent_id.to_string(),
            valid: breaks.is_empty(),
            chain_valid: breaks.is_empty(),
            event_count: events.len() as i64,
            first_sequence: sequences().min().unwrap_or(0),
            last_sequence: sequences().max().unwrap_or(0),
            breaks,
            events: checks,
        })
    }

    async fn intent_checkpoints(
        &self,
        caller: &Caller,
        intent_id: &str,
    ) -> Result<Vec<LogCheckpoint>> {
        let query = checkpoint_query(Some(intent_id));
        let mut checkpoints: Vec<LogCheckpoint> = self.documents(caller, &query).await?;
        checkpoints.sort_by_key(|c| c.first_sequence);
        Ok(checkpoints)
    }

    /// Seals the intent's events since its last checkpoint (409 when there are none).
    pub async fn create_checkpoint(
        &self,
        caller: &Caller,
        input: NewCheckpoint,
    ) -> Result<LogCheckpoint> {
        if !caller.admin {
            return Err(Error::Forbidden(
                "checkpoints are made with an admin key".into(),
            ));
        }
        if input
            .scope
            .as_deref()
            .is_some_and(|scope| scope != "intent")
        {
            return Err(Error::invalid(
                &["scope"],
                "only `intent` checkpoints are made here; the tenant-wide log is sealed by \
                 /v1/audit/checkpoints",
            ));
        }
        let intent_id = input
            .intent_id
            .ok_or_else(|| Error::invalid(&["intent_id"], "the intent to seal"))?;
        let previous = self.intent_checkpoints(caller, &intent_id).await?;
        let after = previous.last().map_or(0, |c| c.last_sequence);
        let batch: Vec<EventRow> = self
            .events(caller, &intent_id)
            .await?
            .into_iter()
            .filter(|event| {
                event
                    .audit_sequence
                    .is_some_and(|sequence| sequence > after)
            })
            .collect();
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Err(Error::Conflict(
                "no event was logged since the last checkpoint".into(),
            ));
        };
        let leaves: Vec<String> = batch
            .iter()
            .filter_map(|event| event.event_hash.as_deref().map(event_hash))
            .collect();
        let hashes: Vec<Hash> = leaves.iter().filter_map(|leaf| hash_bytes(leaf)).collect();
        let now = now_ms();
        let mut checkpoint = LogCheckpoint {
            checkpoint_id: ids::new_id("chk"),
            version: 1,
            intent_id: intent_id.clone(),
            merkle_root: hash_text(&merkle::root_of(HASHING, &hashes)),
            event_count: batch.len() as i64,
            first_sequence: first.audit_sequence.unwrap_or_default(),
            last_sequence: last.audit_sequence.unwrap_or_default(),
            created_at: protocol_instant(now),
            signed_by: signing::did_key(&self.signer().public_key()),
            signature: String::new(),
            events: batch.iter().map(|event| event.id.clone()).collect(),
            leaves,
        };
        let signed = canonical::to_canonical(&checkpoint.signed_fields());
        checkpoint.signature = signing::base64url(&self.signer().sign_bytes(signed.as_bytes()));
        let mut change = self.change(caller).await?;
        change
            .insert_document(&checkpoint, now, "this checkpoint exists already")
            .await?;
        // Audited, not logged on the intent: a logged event would be the next batch's only
        // event, and no checkpoint would ever find nothing new to seal.
        change
            .audit(
                "log.checkpoint.created",
                &intent_id,
                json!({
                    "checkpointId": checkpoint.checkpoint_id,
                    "merkleRoot": checkpoint.merkle_root,
                    "eventCount": checkpoint.event_count,
                }),
            )
            .await?;
        change.commit().await?;
        Ok(checkpoint)
    }

    /// Checkpoints, of one intent or of every intent the caller reads.
    pub async fn checkpoints(
        &self,
        caller: &Caller,
        intent_id: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Vec<LogCheckpoint>> {
        if scope.is_some_and(|scope| scope != "intent") {
            return Ok(Vec::new());
        }
        match intent_id {
            Some(intent_id) => {
                self.intent(caller, intent_id).await?;
                self.intent_checkpoints(caller, intent_id).await
            }
            None => {
                let query = checkpoint_query(None);
                let mut readable = Vec::new();
                for checkpoint in self.documents::<LogCheckpoint>(caller, &query).await? {
                    if self.intent(caller, &checkpoint.intent_id).await.is_ok() {
                        readable.push(checkpoint);
                    }
                }
                Ok(readable)
            }
        }
    }

    /// A checkpoint of an intent the caller reads, or 404.
    pub async fn checkpoint(&self, caller: &Caller, id: &str) -> Result<LogCheckpoint> {
        let checkpoint: LogCheckpoint = self.document(caller, id).await?;
        self.intent(caller, &checkpoint.intent_id)
            .await
            .map_err(|_| Error::NotFound { what: "checkpoint" })?;
        Ok(checkpoint)
    }

    /// The Merkle proof of one sealed event, as the SDK's `MerkleProof.verify()` folds it.
    pub async fn proof(&self, caller: &Caller, id: &str, event_id: &str) -> Result<EventProof> {
        let checkpoint = self.checkpoint(caller, id).await?;
        let index = checkpoint
            .events
            .iter()
            .position(|sealed| sealed == event_id)
            .ok_or(Error::NotFound {
                what: "event in this checkpoint",
            })?;
        let leaves = checkpoint
            .leaf_hashes()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a checkpoint's leaves are damaged")))?;
        let mut edge = Edge::default();
        let known = leaves
            .iter()
            .flat_map(|leaf| edge.push(HASHING, *leaf))
            .collect();
        let (m, n) = (index as u64, leaves.len() as u64);
        let path = Ranges::inclusion(m, n)
            .hashes(HASHING, &known)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a checkpoint's tree is incomplete")))?;
        let proof_hashes = path
            .iter()
            .zip(merkle::inclusion_sides(m, n))
            .map(|(hash, left)| ProofEntry {
                hash: hash_text(hash),
                position: if left { "left" } else { "right" },
            })
            .collect();
        Ok(EventProof {
            event_id: event_id.to_string(),
            event_hash: checkpoint.leaves[index].clone(),
            checkpoint_id: checkpoint.checkpoint_id.clone(),
            merkle_root: checkpoint.merkle_root.clone(),
            proof_hashes,
            leaf_index: index,
        })
    }

    /// Whether checkpoint `to` goes on from checkpoint `from` of the same intent: its first
    /// event is the one right after `from`'s last, linked to it, and neither batch changed.
    pub async fn consistency(&self, caller: &Caller, from: &str, to: &str) -> Result<Consistency> {
        let earlier = self.checkpoint(caller, from).await?;
        let later = self.checkpoint(caller, to).await?;
        let events = self.events(caller, &later.intent_id).await?;
        let current: HashMap<&str, Option<String>> = events
            .iter()
            .map(|e| (e.id.as_str(), e.event_hash.as_deref().map(event_hash)))
            .collect();
        let holds = |checkpoint: &LogCheckpoint| {
            checkpoint
                .events
                .iter()
                .zip(&checkpoint.leaves)
                .all(|(id, leaf)| current.get(id.as_str()).and_then(|h| h.as_ref()) == Some(leaf))
        };
        let boundary = later
            .events
            .first()
            .and_then(|first| events.iter().find(|e| &e.id == first));
        let next_after = events
            .iter()
            .position(|e| Some(&e.id) == earlier.events.last())
            .and_then(|last| events.get(last + 1));
        let linked = boundary.is_some_and(|b| {
            next_after.is_some_and(|next| next.id == b.id)
                && b.previous_event_hash.as_deref().map(event_hash).as_ref()
                    == earlier.leaves.last()
        });
        Ok(Consistency {
            from_checkpoint: earlier.checkpoint_id.clone(),
            to_checkpoint: later.checkpoint_id.clone(),
            consistent: earlier.intent_id == later.intent_id
                && linked
                && holds(&earlier)
                && holds(&later),
            boundary_event: boundary.map(|b| {
                json!({
                    "sequence": b.audit_sequence,
                    "event_hash": b.event_hash.as_deref().map(event_hash),
                    "previous_event_hash": b.previous_event_hash.as_deref().map(event_hash),
                })
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_base64url_of_the_record_hash() {
        let hex = "00".repeat(31) + "ff";
        let text = event_hash(&hex);
        assert_eq!(text, "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP8");
        assert_eq!(hash_bytes(&text).map(|h| merkle::hex(&h)), Some(hex));
    }
}
