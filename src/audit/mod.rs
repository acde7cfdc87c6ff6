//! The hash-chained, tamper-evident audit trail: one chain per tenant.
//!
//! [`append`] runs inside the caller's transaction, so a state change and its audit record
//! commit or roll back together. Each record carries a per-tenant `sequence` (1, 2, … without
//! gaps), the previous record's hash and its own hash (see [`canonical`] for the exact
//! definition). Verification walks the chain in batches and names the first record that
//! does not fit; an export (JSON Lines) can be verified offline with the same code.

pub mod checkpoints;
pub mod depth;
pub mod merkle;
pub mod verify;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{value::RawValue, Value};
use sqlx::AnyConnection;

pub use verify::{ChainCheck, CheckpointMatch, Verification};

use crate::{
    canonical,
    error::{Error, Result},
    ids::TenantId,
    pagination::{Page, PageRequest},
    store::{audit, audit::AuditFilter, audit::AuditRow, audit_tree, Store},
    time::{now_ms, rfc3339, TimeRange},
};

/// Event types recorded in the trail.
pub mod event_types {
    pub const TENANT_CREATED: &str = "tenant.created";
    pub const TENANT_RATE_LIMIT_CHANGED: &str = "tenant.rate_limit.changed";
    pub const TENANT_AGENT_REGISTRATION_CHANGED: &str = "tenant.agent_registration.changed";
    pub const KEY_CREATED: &str = "key.created";
    pub const KEY_REVOKED: &str = "key.revoked";
    /// A key was reported leaked (`POST /v1/keys/report-leak`) and revoked.
    pub const KEY_LEAK_REPORTED: &str = "key.leak_reported";
    /// A credential tried to act as an agent it is not bound to.
    pub const IDENTITY_REFUSED: &str = "identity.refused";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_UPDATED: &str = "user.updated";
    pub const USER_SIGNED_IN: &str = "user.signed_in";
    pub const USER_SIGNED_OUT: &str = "user.signed_out";
    /// Records below a checkpoint were removed by retention.
    pub const AUDIT_PRUNED: &str = "audit.pruned";
}

/// Who acts when no API key is involved.
pub mod actors {
    /// The operator CLI.
    pub const CLI: &str = "cli";
    /// The service itself (start-up seeding, background sweeps).
    pub const SYSTEM: &str = "system";
    /// Whoever reported a leaked key (a secret scanner, anyone holding the key).
    pub const LEAK_REPORT: &str = "leak-report";
}

/// What happened, to be appended to a tenant's chain.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub event_type: &'a str,
    /// A key id, user id, agent id, or one of [`actors`].
    pub actor: &'a str,
    /// The id of what was acted on.
    pub subject: &'a str,
    pub data: Value,
}

/// Deepest the `data` of a record may nest. A record is read back, exported (one level
/// deeper, inside its line) and sent in webhooks by parsers that read at most 127 levels; data
/// they cannot read back is refused when written rather than stored unreadable.
pub const MAX_DATA_DEPTH: usize = 100;

/// A record as the API and exports show it (the form its hash is computed over).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditRecord {
    pub sequence: i64,
    pub event_type: String,
    pub actor: String,
    pub subject: String,
    /// The canonical JSON text exactly as stored (and hashed): kept as text, so reading,
    /// exporting and verifying a record never depend on parsing it within a depth limit.
    pub data: Box<RawValue>,
    pub created_at: String,
    pub previous_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// A record with its hash computed from the other fields.
    #[cfg(test)]
    pub fn sealed(
        sequence: i64,
        event_type: String,
        actor: String,
        subject: String,
        data: &Value,
        created_at: String,
        previous_hash: String,
    ) -> Self {
        let mut record = AuditRecord {
            sequence,
            event_type,
            actor,
            subject,
            data: stored_data(canonical::to_canonical(data)),
            created_at,
            previous_hash,
            hash: String::new(),
        };
        record.hash = record.computed_hash();
        record
    }

    /// The hash this record's content calls for (compare with `hash` to detect tampering).
    pub fn computed_hash(&self) -> String {
        canonical::HashTemplate::new(&canonical::RecordContent {
            event_type: &self.event_type,
            actor: &self.actor,
            subject: &self.subject,
            data: self.data.get(),
            created_at: &self.created_at,
        })
        .hash(&self.previous_hash, self.sequence)
    }

    /// `data` as a value, for the API (a stored text that does not parse shows as a string).
    pub fn data_value(&self) -> Value {
        serde_json::from_str(self.data.get())
            .unwrap_or_else(|_| Value::String(self.data.get().to_string()))
    }

    pub(crate) fn from_row(row: AuditRow) -> Self {
        let data = stored_data(row.data);
        AuditRecord {
            sequence: row.sequence,
            event_type: row.event_type,
            actor: row.actor,
            subject: row.subject,
            data,
            created_at: rfc3339(row.created_at),
            previous_hash: row.previous_hash,
            hash: row.hash,
        }
    }
}

/// Stored data as the record's `data`, verbatim. Text that is not JSON any more, or not
/// exactly as written (a raw value drops surrounding whitespace), was tampered with: it is
/// kept as a JSON string, so the hash check fails on it instead of the whole walk failing.
fn stored_data(text: String) -> Box<RawValue> {
    match RawValue::from_string(text.clone()) {
        Ok(raw) if raw.get() == text => raw,
        _ => RawValue::from_string(Value::String(text).to_string()).expect("a JSON string is JSON"),
    }
}

/// Appends `event` to `tenant`'s chain inside the caller's transaction. Data nested deeper
/// than [`MAX_DATA_DEPTH`] is refused (a 400): the chain only holds what reads back.
pub async fn append(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    event: AuditEvent<'_>,
) -> Result<AuditRecord> {
    append_about(conn, tenant, event, None).await
}

/// [`append`], for a record about the OpenIntent event `oi_event_id` of this transaction:
/// the event is stamped with the record's sequence and hash (its RFC-0019 `sequence` and
/// `event_hash`) by the same statement.
pub async fn append_about(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    event: AuditEvent<'_>,
    oi_event_id: Option<&str>,
) -> Result<AuditRecord> {
    depth::check(&event.data, MAX_DATA_DEPTH, &[])
        .map_err(|error| Error::Validation(vec![error]))?;
    let created_at = now_ms();
    let created_at_text = rfc3339(created_at);
    let data = canonical::to_canonical(&event.data);
    let template = canonical::HashTemplate::new(&canonical::RecordContent {
        event_type: event.event_type,
        actor: event.actor,
        subject: event.subject,
        data: &data,
        created_at: &created_at_text,
    });
    let record = audit::NewRecord {
        event_type: event.event_type,
        actor: event.actor,
        subject: event.subject,
        data: &data,
        created_at,
        oi_event_id,
    };
    let (sequence, previous_hash, hash) = audit::append(conn, tenant, &record, &template).await?;
    Ok(AuditRecord {
        sequence,
        event_type: event.event_type.to_string(),
        actor: event.actor.to_string(),
        subject: event.subject.to_string(),
        data: stored_data(data),
        created_at: created_at_text,
        previous_hash,
        hash,
    })
}

/// Appends `event` in a transaction of its own: for refusals, which change nothing else but
/// must still be on the record.
pub async fn append_alone(store: &Store, tenant: &TenantId, event: AuditEvent<'_>) -> Result<()> {
    let mut tx = store.begin().await?;
    append(&mut tx, tenant, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Records read per round trip while walking a chain.
const VERIFY_BATCH: i64 = 1000;

/// Listing the filter of `/v1/audit` asks for.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub event_type: Option<String>,
    pub created: TimeRange,
}

/// Reading, verifying and exporting chains.
pub struct AuditLog {
    store: Store,
    checkpoints: Arc<checkpoints::Checkpoints>,
}

impl AuditLog {
    pub fn new(store: Store, checkpoints: Arc<checkpoints::Checkpoints>) -> Self {
        Self { store, checkpoints }
    }

    /// Signed checkpoints and proofs over the same chains.
    pub fn checkpoints(&self) -> &Arc<checkpoints::Checkpoints> {
        &self.checkpoints
    }

    /// Records matching `query`, oldest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>> {
        let filter = AuditFilter {
            event_type: query.event_type,
            from: query.created.from,
            to: query.created.to,
        };
        let (rows, total) =
            audit::list(&self.store, tenant, &filter, page.limit(), page.offset()).await?;
        Ok(Page {
            items: rows.into_iter().map(AuditRecord::from_row).collect(),
            total,
            request: page,
        })
    }

    /// Walks the tenant's chain in batches and checks it against the stored head (from
    /// where retention cut it, if it did) and against the latest signed checkpoint.
    pub async fn verify(&self, tenant: &TenantId) -> Result<Verification> {
        // Read the head first: records appended during the walk only extend the chain.
        let head = audit::head(self.store.reader(), tenant).await?;
        let pruned = audit_tree::tree(&self.store, tenant)
            .await?
            .and_then(|tree| tree.pruned_hash.map(|hash| (tree.pruned_through, hash)));
        let mut check = match pruned {
            Some((through, hash)) => ChainCheck::resuming(through, hash),
            None => ChainCheck::default(),
        };
        let mut root_check = self.checkpoints.root_check(tenant).await?;
        self.walk(
            tenant,
            head.as_ref().map(|(sequence, _)| *sequence),
            |record| {
                check.feed(&record);
                if let Some(root_check) = root_check.as_mut() {
                    root_check.feed(&record);
                }
                Ok(())
            },
        )
        .await?;
        let mut verification = check
            .finish(
                head.as_ref()
                    .map(|(sequence, hash)| (*sequence, hash.as_str())),
            )
            .with_checkpoint(root_check.map(checkpoints::RootCheck::finish));
        // The walk reads 1..head only; a record stored outside it (0, negative, or past the
        // head) was not appended by the chain and is a finding too.
        if let Some(stray) = audit::first_outside_chain(&self.store, tenant).await? {
            verification.break_at(stray);
        }
        Ok(verification)
    }

    /// Calls `visit` with every record up to `until` (all when `None`), in sequence order.
    pub async fn walk(
        &self,
        tenant: &TenantId,
        until: Option<i64>,
        mut visit: impl FnMut(AuditRecord) -> Result<()>,
    ) -> Result<()> {
        let mut after = 0;
        loop {
            let rows = audit::batch_after(self.store.reader(), tenant, after, VERIFY_BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = last.sequence;
            let done = rows.len() < VERIFY_BATCH as usize;
            for row in rows {
                if until.is_some_and(|limit| row.sequence > limit) {
                    return Ok(());
                }
                visit(AuditRecord::from_row(row))?;
            }
            if done {
                break;
            }
        }
        Ok(())
    }
}
