//! Signed Merkle checkpoints over each tenant's audit chain, and the proofs they support.
//!
//! The leaves of a tenant's tree are its records in sequence order: leaf `sequence - 1` is
//! `SHA-256(0x00 ‖ record hash)` over the 32 bytes of the record's `hash` (RFC 9162 §2.1.1).
//! A checkpoint `{tenant, treeSize, rootHash, timestamp, keyId}` is signed with the server's
//! Ed25519 key over its canonical JSON ([`Checkpoint::signed_text`]); the public keys are
//! published (`GET /.well-known/intendedops/checkpoint-keys`, `intendedops audit keys`).
//!
//! # Why the tree grows behind the chain, not in the write
//!
//! A leaf depends on its record alone, so the tree can be extended after the record has
//! committed without weakening anything: the record's hash is already durable and chained. The
//! sealer ([`Checkpoints::seal`]) extends a tenant's tree from its stored right edge (nothing
//! is rebuilt), checking each record's hash and link as it goes, and signs a checkpoint every
//! [`SealPolicy::every_records`] records or [`SealPolicy::every`] (and on demand). The write
//! path pays nothing: one tenant's appends are serialized by its chain head, and adding the
//! tree to that critical section would slow every governed write.
//!
//! A checkpoint is never signed over a chain that breaks where the tree goes on, nor over a
//! tree that does not extend the previous checkpoint (checked with a consistency proof): a
//! rewritten history is refused by the server, and caught by anyone holding an earlier
//! checkpoint even if every table was rewritten.
//!
//! # What is stored
//!
//! Every perfect subtree of [`STORED_LEVEL`] and above (16 leaves or more: about n/8 rows),
//! so a proof costs a few indexed reads at any size; smaller subtrees are recomputed from the
//! records' hashes. Retention ([`Checkpoints::prune`]) removes whole 16-record blocks below a
//! checkpoint and keeps the leaf hashes of the blocks where a checkpoint's edge falls, so
//! proofs of every remaining record and consistency from every checkpoint still work.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    merkle::{self, Edge, Hash, Hashing, Node, Ranges},
    verify::CheckpointMatch,
    AuditEvent, AuditRecord,
};
use crate::{
    canonical,
    error::{Error, Result},
    ids::TenantId,
    pagination::{Page, PageRequest},
    signing::{self, Signer},
    store::{
        audit as audit_rows,
        audit_tree::{self, CheckpointRow, TreeRow},
        Store,
    },
    time::{now_ms, rfc3339},
    work::Writer,
};

/// The lowest level of stored subtrees: `2^4 = 16` leaves.
pub const STORED_LEVEL: u32 = 4;
/// Leaves per block: retention removes whole blocks.
const BLOCK: u64 = 1 << STORED_LEVEL;
/// Records one seal adds at most, so a transaction stays short on a long unsealed chain (the
/// next sweep goes on from there).
const MAX_SEAL_RECORDS: i64 = 50_000;
/// Records read per round trip while sealing.
const SEAL_BATCH: i64 = 1000;

/// The hash convention of audit trees.
const HASHING: Hashing = Hashing::Rfc9162;

/// The leaf of a record with hash `record_hash` (hex).
pub fn leaf_of(record_hash: &str) -> Hash {
    match merkle::from_hex(record_hash) {
        Some(bytes) => HASHING.leaf(&bytes),
        // Not a hash any more (tampered with): a leaf no honest record has.
        None => HASHING.leaf(record_hash.as_bytes()),
    }
}

/// When checkpoints are signed without being asked for.
#[derive(Debug, Clone, Copy)]
pub struct SealPolicy {
    /// After this many new records.
    pub every_records: i64,
    /// After this long with any new record; `None`: only by count and on demand.
    pub every: Option<Duration>,
}

impl Default for SealPolicy {
    fn default() -> Self {
        SealPolicy {
            every_records: 10_000,
            every: Some(Duration::from_secs(60)),
        }
    }
}

/// A signed statement that the tenant's tree of `tree_size` records has root `root_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    pub tenant: String,
    pub tree_size: i64,
    /// Hex.
    pub root_hash: String,
    /// RFC 3339, milliseconds.
    pub timestamp: String,
    pub key_id: String,
    /// Base64 Ed25519 signature over [`Checkpoint::signed_text`].
    pub signature: String,
}

impl Checkpoint {
    /// What the signature covers: the canonical JSON of every other member.
    pub fn signed_text(&self) -> String {
        canonical::to_canonical(&json!({
            "keyId": self.key_id,
            "rootHash": self.root_hash,
            "tenant": self.tenant,
            "timestamp": self.timestamp,
            "treeSize": self.tree_size,
        }))
    }

    /// Whether one of `keys` made the signature.
    pub fn signed_by(&self, keys: &[CheckpointKey]) -> bool {
        let Some(key) = keys.iter().find(|key| key.key_id == self.key_id) else {
            return false;
        };
        let Some(public) = key.public_key_bytes() else {
            return false;
        };
        let signature = signing::decode_base64(&self.signature).unwrap_or_default();
        signing::verify(&public, self.signed_text().as_bytes(), &signature)
    }

    fn from_row(tenant: &TenantId, row: CheckpointRow) -> Self {
        Checkpoint {
            tenant: tenant.to_string(),
            tree_size: row.tree_size,
            root_hash: row.root_hash,
            timestamp: rfc3339(row.created_at),
            key_id: row.key_id,
            signature: row.signature,
        }
    }
}

/// A published checkpoint-signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointKey {
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// Base64 of the 32-byte public key.
    pub public_key: String,
    pub did: String,
    pub first_seen_at: String,
}

impl CheckpointKey {
    fn public_key_bytes(&self) -> Option<signing::PublicKey> {
        signing::decode_base64(&self.public_key)?.try_into().ok()
    }
}

/// The keys document of the well-known URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<CheckpointKey>,
}

/// RFC 9162 inclusion proof of one record in the tree of `tree_size`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    pub sequence: i64,
    pub leaf_index: i64,
    pub tree_size: i64,
    /// The record as stored: a verifier recomputes its hash, then its leaf.
    pub record: AuditRecord,
    pub leaf_hash: String,
    /// Hex hashes, leaf upwards.
    pub path: Vec<String>,
    pub root_hash: String,
    /// The signed checkpoint of `tree_size`, when there is one.
    pub checkpoint: Option<Checkpoint>,
}

/// RFC 9162 consistency proof between two tree sizes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    pub from_size: i64,
    pub to_size: i64,
    pub from_root: String,
    pub to_root: String,
    pub path: Vec<String>,
    pub from_checkpoint: Option<Checkpoint>,
    pub to_checkpoint: Option<Checkpoint>,
}

/// Why an offline check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofFailure(pub String);

fn hashes(texts: &[String]) -> std::result::Result<Vec<Hash>, ProofFailure> {
    texts
        .iter()
        .map(|text| {
            merkle::from_hex(text).ok_or_else(|| ProofFailure(format!("'{text}' is not a hash")))
        })
        .collect()
}

fn hash(text: &str) -> std::result::Result<Hash, ProofFailure> {
    merkle::from_hex(text).ok_or_else(|| ProofFailure(format!("'{text}' is not a hash")))
}

/// The checkpoint a proof is checked against: the one the verifier kept, else the one the
/// proof carries; it must be signed by a published key and be of the proof's size and root.
fn trusted<'a>(
    kept: Option<&'a Checkpoint>,
    carried: Option<&'a Checkpoint>,
    size: i64,
    root: &str,
    keys: &[CheckpointKey],
) -> std::result::Result<&'a Checkpoint, ProofFailure> {
    let checkpoint = kept.or(carried).ok_or_else(|| {
        ProofFailure(format!(
            "no checkpoint of tree size {size} to check against"
        ))
    })?;
    if !checkpoint.signed_by(keys) {
        return Err(ProofFailure(format!(
            "the checkpoint of tree size {} is not signed by a published key",
            checkpoint.tree_size
        )));
    }
    if checkpoint.tree_size != size || checkpoint.root_hash != root {
        return Err(ProofFailure(format!(
            "the proof is for tree size {size} with root {root}; the checkpoint says tree size {} \
             has root {}",
            checkpoint.tree_size, checkpoint.root_hash
        )));
    }
    Ok(checkpoint)
}

impl InclusionProof {
    /// Checks the proof with nothing but `keys`: the record's content gives its hash, the
    /// hash its leaf, the path the root, and a signed checkpoint (`kept`, else the one the
    /// proof carries) vouches for the root.
    pub fn verify(
        &self,
        kept: Option<&Checkpoint>,
        keys: &[CheckpointKey],
    ) -> std::result::Result<(), ProofFailure> {
        let computed = self.record.computed_hash();
        if computed != self.record.hash {
            return Err(ProofFailure(format!(
                "record {}'s content does not match its hash",
                self.record.sequence
            )));
        }
        let leaf = leaf_of(&computed);
        let path = hashes(&self.path)?;
        let root = hash(&self.root_hash)?;
        let index = self.record.sequence - 1;
        if index < 0
            || self.tree_size < 1
            || !merkle::verify_inclusion(
                HASHING,
                index as u64,
                self.tree_size as u64,
                &leaf,
                &path,
                &root,
            )
        {
            return Err(ProofFailure(format!(
                "record {} is not in the tree of size {} with root {}",
                self.record.sequence, self.tree_size, self.root_hash
            )));
        }
        trusted(
            kept,
            self.checkpoint.as_ref(),
            self.tree_size,
            &self.root_hash,
            keys,
        )
        .map(|_| ())
    }
}

impl ConsistencyProof {
    /// Checks that the later tree extends the earlier one, and that signed checkpoints vouch
    /// for both roots (`kept`: the earlier checkpoint the verifier kept).
    pub fn verify(
        &self,
        kept: Option<&Checkpoint>,
        keys: &[CheckpointKey],
    ) -> std::result::Result<(), ProofFailure> {
        trusted(
            kept,
            self.from_checkpoint.as_ref(),
            self.from_size,
            &self.from_root,
            keys,
        )?;
        trusted(
            None,
            self.to_checkpoint.as_ref(),
            self.to_size,
            &self.to_root,
            keys,
        )?;
        let consistent = self.from_size >= 0
            && merkle::verify_consistency(
                HASHING,
                self.from_size as u64,
                self.to_size.max(0) as u64,
                &hash(&self.from_root)?,
                &hash(&self.to_root)?,
                &hashes(&self.path)?,
            );
        if !consistent {
            return Err(ProofFailure(format!(
                "the tree of size {} is not an extension of the tree of size {}",
                self.to_size, self.from_size
            )));
        }
        Ok(())
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    /// Records up to this sequence are gone.
    pub pruned_through: i64,
    pub records_removed: u64,
    /// The checkpoint the prune stayed below.
    pub checkpoint: Checkpoint,
}

/// Sealing, proving and pruning every tenant's tree.
pub struct Checkpoints {
    writer: Writer,
    signer: Arc<Signer>,
    policy: SealPolicy,
    /// Tenants whose last automatic seal was refused, and when.
    refused: std::sync::Mutex<HashMap<String, std::time::Instant>>,
}

/// How long the sweep leaves a tenant whose seal was refused.
const REFUSED_RETRY: Duration = Duration::from_secs(60);

impl Checkpoints {
    pub fn new(writer: Writer, signer: Arc<Signer>, policy: SealPolicy) -> Self {
        Checkpoints {
            writer,
            signer,
            policy,
            refused: Default::default(),
        }
    }

    fn store(&self) -> &Store {
        self.writer.store()
    }

    /// Publishes this instance's signing key (at start-up).
    pub async fn publish_key(&self) -> Result<()> {
        let public = signing::base64(&self.signer.public_key());
        audit_tree::register_key(self.store(), self.signer.key_id(), &public).await?;
        Ok(())
    }

    /// Every key that signed, or may sign, a checkpoint.
    pub async fn keys(&self) -> Result<KeySet> {
        let keys = audit_tree::keys(self.store()).await?;
        Ok(KeySet {
            keys: keys
                .into_iter()
                .map(|(key_id, public_key, first_seen)| {
                    let did = signing::decode_base64(&public_key)
                        .and_then(|bytes| <signing::PublicKey>::try_from(bytes).ok())
                        .map(|bytes| signing::did_key(&bytes))
                        .unwrap_or_default();
                    CheckpointKey {
                        key_id,
                        algorithm: "Ed25519".into(),
                        public_key,
                        did,
                        first_seen_at: rfc3339(first_seen),
                    }
                })
                .collect(),
        })
    }

    /// The background sweep: seals every tenant with [`SealPolicy::every_records`] unsealed
    /// records, or one older than [`SealPolicy::every`]. A tenant whose seal was refused (a
    /// broken chain) is tried again after [`REFUSED_RETRY`], not every sweep.
    pub async fn seal_due(&self) -> Result<()> {
        let now = now_ms();
        for (tenant, head, size, oldest_unsealed) in audit_tree::unsealed(self.store()).await? {
            let by_count = head - size >= self.policy.every_records;
            let by_time = self
                .policy
                .every
                .is_some_and(|every| now - oldest_unsealed >= every.as_millis() as i64);
            if !(by_count || by_time) || self.recently_refused(&tenant) {
                continue;
            }
            let Ok(tenant) = TenantId::parse(&tenant) else {
                continue;
            };
            if let Err(error) = self.seal(&tenant).await {
                tracing::error!(tenant = %tenant, error = %error, "audit checkpoint refused");
                self.refused
                    .lock()
                    .expect("refusals lock")
                    .insert(tenant.to_string(), std::time::Instant::now());
            }
        }
        Ok(())
    }

    fn recently_refused(&self, tenant: &str) -> bool {
        let mut refused = self.refused.lock().expect("refusals lock");
        refused.retain(|_, at| at.elapsed() < REFUSED_RETRY);
        refused.contains_key(tenant)
    }

    /// Extends the tenant's tree over its new records and signs a checkpoint of it; with no
    /// new record, the latest checkpoint (`None` for an empty chain).
    ///
    /// The records are read and hashed outside any write transaction (on SQLite the writer is
    /// shared by every tenant); the write only stores the result, under the tree's row lock,
    /// and gives way if another sealer moved the tree meanwhile.
    pub async fn seal(&self, tenant: &TenantId) -> Result<Option<Checkpoint>> {
        let tree = audit_tree::tree(self.store(), tenant)
            .await?
            .unwrap_or_else(TreeRow::empty);
        let head = audit_rows::head(self.store().reader(), tenant)
            .await?
            .map_or(0, |(sequence, _)| sequence);
        let target = head.min(tree.tree_size + MAX_SEAL_RECORDS);
        if target <= tree.tree_size {
            return self.checkpoint(tenant, None).await;
        }
        let mut edge = Edge {
            size: tree.tree_size as u64,
            hashes: audit_tree::parse_edge(&tree.edge)
                .ok_or_else(|| corrupt(tenant, "its stored tree edge is not a list of hashes"))?,
        };
        if edge.hashes.len() != edge.nodes().len() {
            return Err(corrupt(
                tenant,
                "its stored tree edge does not fit its size",
            ));
        }
        let mut last_hash = tree.last_hash.clone();
        let mut completed = Vec::new();
        while (edge.size as i64) < target {
            let after = edge.size as i64;
            let limit = SEAL_BATCH.min(target - after);
            let rows = audit_rows::batch_after(self.store().reader(), tenant, after, limit).await?;
            if rows.is_empty() {
                return Err(broken(tenant, after + 1));
            }
            for row in rows {
                let record = AuditRecord::from_row(row);
                let expected = edge.size as i64 + 1;
                if record.sequence != expected
                    || record.previous_hash != last_hash
                    || record.computed_hash() != record.hash
                {
                    return Err(broken(tenant, expected));
                }
                let leaf = leaf_of(&record.hash);
                completed.extend(
                    edge.push(HASHING, leaf)
                        .into_iter()
                        .filter(|(node, _)| node.level >= STORED_LEVEL)
                        .map(|(node, hash)| (node, merkle::hex(&hash))),
                );
                last_hash = record.hash;
            }
        }
        let started_at = tree.tree_size;
        let mut tx = self.store().begin().await?;
        let mut tree = audit_tree::tree_for_update(&mut tx, tenant).await?;
        if tree.tree_size != started_at {
            // Another instance sealed meanwhile: its checkpoint stands.
            tx.commit().await?;
            return self.checkpoint(tenant, None).await;
        }
        let previous = audit_tree::checkpoint(&mut tx, tenant, None).await?;
        tree.last_hash = last_hash;
        audit_tree::insert_nodes(&mut tx, tenant, &completed).await?;
        let root = edge.root(HASHING);
        if let Some(previous) = &previous {
            self.check_extends(&mut tx, tenant, previous, &edge, &root)
                .await?;
        }
        let created_at = now_ms();
        let mut checkpoint = Checkpoint {
            tenant: tenant.to_string(),
            tree_size: edge.size as i64,
            root_hash: merkle::hex(&root),
            timestamp: rfc3339(created_at),
            key_id: self.signer.key_id().to_string(),
            signature: String::new(),
        };
        checkpoint.signature = self.signer.sign(checkpoint.signed_text().as_bytes());
        tree.tree_size = edge.size as i64;
        tree.edge = audit_tree::edge_text(&edge.hashes);
        tree.sealed_at = created_at;
        audit_tree::save_tree(&mut tx, tenant, &tree).await?;
        let row = CheckpointRow {
            tree_size: checkpoint.tree_size,
            root_hash: checkpoint.root_hash.clone(),
            created_at,
            key_id: checkpoint.key_id.clone(),
            signature: checkpoint.signature.clone(),
        };
        audit_tree::insert_checkpoint(&mut tx, tenant, &row).await?;
        tx.commit().await?;
        Ok(Some(checkpoint))
    }

    /// Refuses to sign a tree that does not extend the previous signed one.
    async fn check_extends(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: &TenantId,
        previous: &CheckpointRow,
        edge: &Edge,
        root: &Hash,
    ) -> Result<()> {
        let (from, to) = (previous.tree_size as u64, edge.size);
        let ranges = Ranges::consistency(from, to);
        let known = subtree_hashes(conn, tenant, ranges.nodes()).await?;
        let extends = match (
            ranges.hashes(HASHING, &known),
            merkle::from_hex(&previous.root_hash),
        ) {
            (Some(path), Some(previous_root)) => {
                merkle::verify_consistency(HASHING, from, to, &previous_root, root, &path)
            }
            _ => false,
        };
        if extends {
            Ok(())
        } else {
            tracing::error!(tenant = %tenant, from, to, "audit tree does not extend its last checkpoint");
            Err(Error::Conflict(format!(
                "the audit trail no longer extends its checkpoint of tree size {from}: its history \
                 was rewritten; no checkpoint was signed"
            )))
        }
    }

    /// Checkpoints, newest first.
    pub async fn list(&self, tenant: &TenantId, page: PageRequest) -> Result<Page<Checkpoint>> {
        let (rows, total) =
            audit_tree::checkpoints(self.store(), tenant, page.limit(), page.offset()).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|row| Checkpoint::from_row(tenant, row))
                .collect(),
            total,
            request: page,
        })
    }

    /// The checkpoint of `tree_size`, or the latest.
    pub async fn checkpoint(
        &self,
        tenant: &TenantId,
        tree_size: Option<i64>,
    ) -> Result<Option<Checkpoint>> {
        let mut conn = self.store().reader().acquire().await?;
        let row = audit_tree::checkpoint(&mut conn, tenant, tree_size).await?;
        Ok(row.map(|row| Checkpoint::from_row(tenant, row)))
    }

    /// The size a proof may name at most: how far the tree reaches.
    async fn tree(&self, tenant: &TenantId) -> Result<TreeRow> {
        audit_tree::tree(self.store(), tenant)
            .await?
            .filter(|tree| tree.tree_size > 0)
            .ok_or_else(|| {
                Error::Conflict("no checkpoint has been signed for this audit trail yet".into())
            })
    }

    fn check_size(tree: &TreeRow, size: i64, field: &str) -> Result<()> {
        if size < 1 || size > tree.tree_size {
            return Err(Error::invalid(
                &[field],
                format!(
                    "must be a tree size from 1 to {} (the records checkpoints cover so far)",
                    tree.tree_size
                ),
            ));
        }
        Ok(())
    }

    /// The inclusion proof of record `sequence` in the tree of `tree_size` (the latest
    /// checkpoint's when `None`).
    pub async fn inclusion(
        &self,
        tenant: &TenantId,
        sequence: i64,
        tree_size: Option<i64>,
    ) -> Result<InclusionProof> {
        let tree = self.tree(tenant).await?;
        let checkpoint = match tree_size {
            Some(size) => {
                Self::check_size(&tree, size, "treeSize")?;
                self.checkpoint(tenant, Some(size)).await?
            }
            None => self.checkpoint(tenant, None).await?,
        };
        let size = tree_size
            .or(checkpoint.as_ref().map(|c| c.tree_size))
            .unwrap_or(tree.tree_size);
        if sequence < 1 || sequence > size {
            return Err(Error::invalid(
                &["sequence"],
                format!("must be a record of the tree: 1 to {size}"),
            ));
        }
        if sequence <= tree.pruned_through {
            return Err(Error::Gone(format!(
                "records up to sequence {} were pruned",
                tree.pruned_through
            )));
        }
        let mut conn = self.store().reader().acquire().await?;
        let row = audit_rows::batch_after(&mut *conn, tenant, sequence - 1, 1)
            .await?
            .into_iter()
            .find(|row| row.sequence == sequence)
            .ok_or(Error::NotFound {
                what: "audit record",
            })?;
        let (m, n) = ((sequence - 1) as u64, size as u64);
        let ranges = Ranges::inclusion(m, n);
        let mut needed = ranges.nodes();
        needed.extend(merkle::perfect_pieces(0, n));
        let known = subtree_hashes(&mut conn, tenant, needed).await?;
        let path = ranges.hashes(HASHING, &known).ok_or_else(missing_nodes)?;
        let root = merkle::range_hash(HASHING, 0, n, &known).ok_or_else(missing_nodes)?;
        Ok(InclusionProof {
            sequence,
            leaf_index: sequence - 1,
            tree_size: size,
            leaf_hash: merkle::hex(&leaf_of(&row.hash)),
            record: AuditRecord::from_row(row),
            path: path.iter().map(merkle::hex).collect(),
            root_hash: merkle::hex(&root),
            checkpoint: checkpoint.filter(|c| c.tree_size == size),
        })
    }

    /// The consistency proof from tree size `from` to `to` (the latest checkpoint's when
    /// `None`).
    pub async fn consistency(
        &self,
        tenant: &TenantId,
        from: i64,
        to: Option<i64>,
    ) -> Result<ConsistencyProof> {
        let tree = self.tree(tenant).await?;
        let to = match to {
            Some(to) => to,
            None => self
                .checkpoint(tenant, None)
                .await?
                .map_or(tree.tree_size, |c| c.tree_size),
        };
        Self::check_size(&tree, to, "to")?;
        Self::check_size(&tree, from, "from")?;
        if from > to {
            return Err(Error::invalid(&["from"], "must not be above `to`"));
        }
        let (m, n) = (from as u64, to as u64);
        let ranges = Ranges::consistency(m, n);
        let mut needed = ranges.nodes();
        needed.extend(merkle::perfect_pieces(0, m));
        needed.extend(merkle::perfect_pieces(0, n));
        let mut conn = self.store().reader().acquire().await?;
        let known = subtree_hashes(&mut conn, tenant, needed).await?;
        let path = ranges.hashes(HASHING, &known).ok_or_else(missing_nodes)?;
        let from_root = merkle::range_hash(HASHING, 0, m, &known).ok_or_else(missing_nodes)?;
        let to_root = merkle::range_hash(HASHING, 0, n, &known).ok_or_else(missing_nodes)?;
        let from_checkpoint = audit_tree::checkpoint(&mut conn, tenant, Some(from)).await?;
        let to_checkpoint = audit_tree::checkpoint(&mut conn, tenant, Some(to)).await?;
        Ok(ConsistencyProof {
            from_size: from,
            to_size: to,
            from_root: merkle::hex(&from_root),
            to_root: merkle::hex(&to_root),
            path: path.iter().map(merkle::hex).collect(),
            from_checkpoint: from_checkpoint.map(|row| Checkpoint::from_row(tenant, row)),
            to_checkpoint: to_checkpoint.map(|row| Checkpoint::from_row(tenant, row)),
        })
    }

    /// Removes the tenant's records up to `through` (rounded down to a whole block of 16, and
    /// at most the latest checkpoint's size), keeping what later proofs need; audited as
    /// `audit.pruned`.
    pub async fn prune(&self, tenant: &TenantId, through: i64, actor: &str) -> Result<Pruned> {
        let mut work = self.writer.begin(tenant).await?;
        let mut tree = audit_tree::tree_for_update(&mut work, tenant).await?;
        let latest = audit_tree::checkpoint(&mut work, tenant, None)
            .await?
            .ok_or_else(|| {
                Error::Conflict("records are pruned only below a signed checkpoint".into())
            })?;
        let cut = (through.min(latest.tree_size) as u64 / BLOCK * BLOCK) as i64;
        if cut <= tree.pruned_through {
            return Err(Error::Conflict(format!(
                "nothing to prune: records are pruned in whole blocks of {BLOCK} below the latest \
                 checkpoint (tree size {}), and records up to {} are already gone",
                latest.tree_size, tree.pruned_through
            )));
        }
        // Where a checkpoint's edge falls inside the pruned range, keep the leaves of its block:
        // consistency proofs from that checkpoint need them.
        let mut kept = Vec::new();
        for size in
            audit_tree::checkpoint_sizes(&mut work, tenant, tree.pruned_through, cut).await?
        {
            let block = size as u64 / BLOCK;
            if size as u64 % BLOCK == 0 {
                continue;
            }
            let (first, last) = ((block * BLOCK) as i64, ((block + 1) * BLOCK) as i64);
            for (sequence, hash) in
                audit_tree::record_hashes(&mut work, tenant, first, last).await?
            {
                let node = Node {
                    level: 0,
                    index: (sequence - 1) as u64,
                };
                kept.push((node, merkle::hex(&leaf_of(&hash))));
            }
        }
        audit_tree::insert_nodes(&mut work, tenant, &kept).await?;
        let anchor = audit_tree::record_hashes(&mut work, tenant, cut - 1, cut)
            .await?
            .pop()
            .map(|(_, hash)| hash)
            .ok_or(Error::NotFound {
                what: "audit record",
            })?;
        let removed = audit_tree::delete_records_through(&mut work, tenant, cut).await?;
        tree.pruned_through = cut;
        tree.pruned_hash = Some(anchor);
        audit_tree::save_tree(&mut work, tenant, &tree).await?;
        let checkpoint = Checkpoint::from_row(tenant, latest);
        work.audit(AuditEvent {
            event_type: super::event_types::AUDIT_PRUNED,
            actor,
            subject: tenant.as_str(),
            data: json!({
                "prunedThrough": cut,
                "recordsRemoved": removed,
                "checkpointTreeSize": checkpoint.tree_size,
                "checkpointRootHash": checkpoint.root_hash,
            }),
        })
        .await?;
        work.commit().await?.publish();
        Ok(Pruned {
            pruned_through: cut,
            records_removed: removed,
            checkpoint,
        })
    }
}

fn broken(tenant: &TenantId, sequence: i64) -> Error {
    tracing::error!(tenant = %tenant, sequence, "audit chain breaks where its tree goes on");
    Error::Conflict(format!(
        "the audit chain breaks at sequence {sequence}; no checkpoint was signed"
    ))
}

fn corrupt(tenant: &TenantId, what: &str) -> Error {
    Error::Internal(anyhow::anyhow!(
        "the audit tree of tenant {tenant} is damaged: {what}"
    ))
}

fn missing_nodes() -> Error {
    Error::Gone("the tree nodes this proof needs were pruned".into())
}

/// The hashes of `needed` perfect subtrees: stored ones from the node table, smaller ones
/// computed from the leaves (records' hashes, or leaf hashes kept by retention).
async fn subtree_hashes(
    conn: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    mut needed: Vec<Node>,
) -> Result<HashMap<Node, Hash>> {
    needed.sort_unstable();
    needed.dedup();
    let (stored, small): (Vec<Node>, Vec<Node>) = needed
        .into_iter()
        .partition(|node| node.level >= STORED_LEVEL);
    let mut known = HashMap::new();
    for (node, text) in audit_tree::nodes(conn, tenant, &stored).await? {
        if let Some(hash) = merkle::from_hex(&text) {
            known.insert(node, hash);
        }
    }
    let mut blocks: Vec<u64> = small.iter().map(|node| node.first_leaf() / BLOCK).collect();
    blocks.dedup();
    let mut leaves: HashMap<u64, Hash> = HashMap::new();
    for block in blocks {
        let (first, end) = (block * BLOCK, (block + 1) * BLOCK);
        for (index, text) in audit_tree::kept_leaves(conn, tenant, (first, end)).await? {
            if let Some(hash) = merkle::from_hex(&text) {
                leaves.insert(index as u64, hash);
            }
        }
        for (sequence, hash) in
            audit_tree::record_hashes(conn, tenant, first as i64, end as i64).await?
        {
            leaves.insert((sequence - 1) as u64, leaf_of(&hash));
        }
    }
    for node in small {
        let hashes: Option<Vec<Hash>> = (node.first_leaf()..node.end_leaf())
            .map(|index| leaves.get(&index).copied())
            .collect();
        if let Some(hashes) = hashes {
            known.insert(node, merkle::root_of(HASHING, &hashes));
        }
    }
    Ok(known)
}

/// Recomputes a checkpoint's root while a chain is walked in sequence order.
pub struct RootCheck {
    edge: Edge,
    checkpoint: Checkpoint,
    matches: bool,
}

impl RootCheck {
    /// A check of `checkpoint` over records that follow `edge` (the empty edge for a chain
    /// from its first record).
    pub fn new(edge: Edge, checkpoint: Checkpoint) -> Self {
        RootCheck {
            edge,
            checkpoint,
            matches: false,
        }
    }

    pub fn feed(&mut self, record: &AuditRecord) {
        let size = self.checkpoint.tree_size;
        if (self.edge.size as i64) < size && record.sequence == self.edge.size as i64 + 1 {
            self.edge.push(HASHING, leaf_of(&record.hash));
            if self.edge.size as i64 == size {
                self.matches = merkle::hex(&self.edge.root(HASHING)) == self.checkpoint.root_hash;
            }
        }
    }

    pub fn finish(self) -> CheckpointMatch {
        CheckpointMatch {
            tree_size: self.checkpoint.tree_size,
            root_hash: self.checkpoint.root_hash,
            matches: self.matches,
        }
    }
}

impl Checkpoints {
    /// The check of the latest checkpoint for a walk of the tenant's remaining records: the
    /// tree edge where retention cut the chain is read back from its stored subtrees.
    pub async fn root_check(&self, tenant: &TenantId) -> Result<Option<RootCheck>> {
        let Some(checkpoint) = self.checkpoint(tenant, None).await? else {
            return Ok(None);
        };
        let pruned = audit_tree::tree(self.store(), tenant)
            .await?
            .map_or(0, |tree| tree.pruned_through) as u64;
        let pieces = merkle::perfect_pieces(0, pruned);
        let mut conn = self.store().reader().acquire().await?;
        let known = subtree_hashes(&mut conn, tenant, pieces.clone()).await?;
        let hashes = pieces
            .iter()
            .map(|node| known.get(node).copied())
            .collect::<Option<Vec<Hash>>>()
            .ok_or_else(missing_nodes)?;
        let edge = Edge {
            size: pruned,
            hashes,
        };
        Ok(Some(RootCheck::new(edge, checkpoint)))
    }
}

/// How often the sealer looks for due tenants.
pub const SEAL_SWEEP_PERIOD: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(signer: &Signer, size: i64, root: &str) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            tenant: "acme".into(),
            tree_size: size,
            root_hash: root.into(),
            timestamp: "2026-12-07T10:00:00.000Z".into(),
            key_id: signer.key_id().into(),
            signature: String::new(),
        };
        checkpoint.signature = signer.sign(checkpoint.signed_text().as_bytes());
        checkpoint
    }

    fn key(signer: &Signer) -> CheckpointKey {
        CheckpointKey {
            key_id: signer.key_id().into(),
            algorithm: "Ed25519".into(),
            public_key: signing::base64(&signer.public_key()),
            did: signing::did_key(&signer.public_key()),
            first_seen_at: "2026-12-07T10:00:00.000Z".into(),
        }
    }

    #[test]
    fn the_signed_text_is_canonical_json_of_the_other_members() {
        let signer = Signer::generate();
        let checkpoint = signed(&signer, 7, &"ab".repeat(32));
        assert_eq!(
            checkpoint.signed_text(),
            format!(
                r#"{{"keyId":"{}","rootHash":"{}","tenant":"acme","timestamp":"2026-12-07T10:00:00.000Z","treeSize":7}}"#,
                signer.key_id(),
                "ab".repeat(32)
            )
        );
        assert!(checkpoint.signed_by(&[key(&signer)]));
        let mut altered = checkpoint.clone();
        altered.tree_size = 8;
        assert!(!altered.signed_by(&[key(&signer)]));
        let stranger = Signer::generate();
        assert!(!checkpoint.signed_by(&[key(&stranger)]));
    }

    #[test]
    fn a_leaf_is_the_rfc_9162_leaf_of_the_record_hash_bytes() {
        let record_hash = "00".repeat(32);
        let expected: Hash = sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            [0u8; 33],
        ))
        .into();
        assert_eq!(leaf_of(&record_hash), expected);
        assert_ne!(leaf_of("not a hash"), expected);
    }
}
