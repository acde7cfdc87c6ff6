//! `/v1/audit/checkpoints`, `/v1/audit/records/{sequence}/proof`, `/v1/audit/prune` and the
//! published keys: signed Merkle checkpoints over the audit trail, and what they prove.

use std::sync::Arc;

use poem::{handler, web::Data as PoemData, IntoResponse};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};

use super::audit::AuditRecordOut;
use crate::{
    api::{
        error::ApiResult,
        schema::examples,
        security::Credential,
        types::{Data, ListPage},
        Tag,
    },
    audit::checkpoints::{Checkpoint, Checkpoints, ConsistencyProof, InclusionProof, Pruned},
    auth::Scope,
    error::Error,
    pagination::PageRequest,
};

/// A signed statement: the tenant's first `treeSize` records have Merkle root `rootHash`
/// (RFC 9162 tree). The signature is Ed25519, base64, over the canonical JSON of the other
/// members; `keyId` names the key in `GET /.well-known/intendedops/checkpoint-keys`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct CheckpointOut {
    tenant: String,
    tree_size: i64,
    root_hash: String,
    timestamp: String,
    key_id: String,
    signature: String,
}

impl From<Checkpoint> for CheckpointOut {
    fn from(c: Checkpoint) -> Self {
        CheckpointOut {
            tenant: c.tenant,
            tree_size: c.tree_size,
            root_hash: c.root_hash,
            timestamp: c.timestamp,
            key_id: c.key_id,
            signature: c.signature,
        }
    }
}

examples! {
    CheckpointOut => {
        "tenant": "acme",
        "treeSize": 1000,
        "rootHash": "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        "timestamp": "2024-01-15T10:31:00.000Z",
        "keyId": "3f1c0a9b7e2d4c58",
        "signature": "k2V0aGUgc2lnbmF0dXJlIG9mIHRoZSBjaGVja3BvaW50J3MgY2Fub25pY2FsIEpTT04uLi4uLi4uLi4uLi4uLi4uLi4uLg=="
    }
}

/// The inclusion proof of one record: recompute the record's hash from its content, its leaf
/// `SHA-256(0x00 ‖ hash bytes)`, fold `path` (RFC 9162 §2.1.3.2) and compare with
/// `rootHash`, which `checkpoint` signs.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct InclusionProofOut {
    sequence: i64,
    /// `sequence - 1`.
    leaf_index: i64,
    tree_size: i64,
    record: AuditRecordOut,
    leaf_hash: String,
    /// Sibling hashes, leaf upwards.
    path: Vec<String>,
    root_hash: String,
    /// The signed checkpoint of `treeSize`; null when no checkpoint has that size.
    checkpoint: Option<CheckpointOut>,
}

impl From<InclusionProof> for InclusionProofOut {
    fn from(p: InclusionProof) -> Self {
        InclusionProofOut {
            sequence: p.sequence,
            leaf_index: p.leaf_index,
            tree_size: p.tree_size,
            record: p.record.into(),
            leaf_hash: p.leaf_hash,
            path: p.path,
            root_hash: p.root_hash,
            checkpoint: p.checkpoint.map(Into::into),
        }
    }
}

examples! {
    InclusionProofOut => {
        "sequence": 42,
        "leafIndex": 41,
        "treeSize": 1000,
        "record": (crate::api::schema::example_json::<AuditRecordOut>()),
        "leafHash": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "path": [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
        ],
        "rootHash": "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        "checkpoint": (crate::api::schema::example_json::<CheckpointOut>())
    }
}

/// The consistency proof that the tree of `toSize` extends the tree of `fromSize`
/// (RFC 9162 §2.1.4.2): nothing in the first `fromSize` records changed in between.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ConsistencyProofOut {
    from_size: i64,
    to_size: i64,
    from_root: String,
    to_root: String,
    path: Vec<String>,
    from_checkpoint: Option<CheckpointOut>,
    to_checkpoint: Option<CheckpointOut>,
}

impl From<ConsistencyProof> for ConsistencyProofOut {
    fn from(p: ConsistencyProof) -> Self {
        ConsistencyProofOut {
            from_size: p.from_size,
            to_size: p.to_size,
            from_root: p.from_root,
            to_root: p.to_root,
            path: p.path,
            from_checkpoint: p.from_checkpoint.map(Into::into),
            to_checkpoint: p.to_checkpoint.map(Into::into),
        }
    }
}

examples! {
    ConsistencyProofOut => {
        "fromSize": 6,
        "toSize": 8,
        "fromRoot": "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "toRoot": "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        "path": [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
        ],
        "fromCheckpoint": null,
        "toCheckpoint": (crate::api::schema::example_json::<CheckpointOut>())
    }
}

/// Remove the records up to `through` (rounded down to a whole block of 16 records, and at most
/// the latest checkpoint's tree size).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct PruneIn {
    through: i64,
}

examples! {
    PruneIn => { "through": 960 }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PrunedOut {
    /// Records up to this sequence are gone; later ones and every proof still verify.
    pruned_through: i64,
    records_removed: i64,
    /// The checkpoint the prune stayed below.
    checkpoint: CheckpointOut,
}

impl From<Pruned> for PrunedOut {
    fn from(p: Pruned) -> Self {
        PrunedOut {
            pruned_through: p.pruned_through,
            records_removed: i64::try_from(p.records_removed).unwrap_or(i64::MAX),
            checkpoint: p.checkpoint.into(),
        }
    }
}

examples! {
    PrunedOut => {
        "prunedThrough": 960,
        "recordsRemoved": 960,
        "checkpoint": (crate::api::schema::example_json::<CheckpointOut>())
    }
}

#[derive(ApiResponse)]
pub enum SealResponse {
    /// The checkpoint signed now, or the latest when no record came since.
    #[oai(status = 200)]
    Sealed(Json<Data<CheckpointOut>>),
}

pub struct CheckpointsApi {
    checkpoints: Arc<Checkpoints>,
}

impl CheckpointsApi {
    pub fn new(checkpoints: Arc<Checkpoints>) -> Self {
        Self { checkpoints }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Audit")]
impl CheckpointsApi {
    /// The tenant's signed checkpoints, newest first.
    #[oai(
        path = "/audit/checkpoints",
        method = "get",
        operation_id = "list_audit_checkpoints"
    )]
    async fn list(
        &self,
        auth: Credential,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<CheckpointOut>>>> {
        let caller = auth.require(Scope::Read)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let page = self.checkpoints.list(&caller.tenant_id, request).await?;
        Ok(Json(Data::new(ListPage::from_page(page, Into::into))))
    }

    /// Signs a checkpoint over every record so far (they are also signed every
    /// `INTENDEDOPS_CHECKPOINT_EVERY_RECORDS` records or `…_EVERY_SECS` seconds). 409 when the
    /// chain breaks where the tree goes on, or no longer extends the previous checkpoint.
    #[oai(
        path = "/audit/checkpoints",
        method = "post",
        operation_id = "seal_audit_checkpoint"
    )]
    async fn seal(&self, auth: Credential) -> ApiResult<SealResponse> {
        let caller = auth.require(Scope::Read)?;
        let checkpoint = self
            .checkpoints
            .seal(&caller.tenant_id)
            .await?
            .ok_or_else(|| Error::Conflict("the audit trail has no record yet".into()))?;
        Ok(SealResponse::Sealed(Json(Data::new(checkpoint.into()))))
    }

    /// The proof that the tree of `to` (default: the latest checkpoint's) extends the tree of
    /// `from`: check it against a checkpoint you kept to know history was not rewritten.
    #[oai(
        path = "/audit/checkpoints/consistency",
        method = "get",
        operation_id = "audit_consistency_proof"
    )]
    async fn consistency(
        &self,
        auth: Credential,
        from: Query<i64>,
        to: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ConsistencyProofOut>>> {
        let caller = auth.require(Scope::Read)?;
        let proof = self
            .checkpoints
            .consistency(&caller.tenant_id, from.0, to.0)
            .await?;
        Ok(Json(Data::new(proof.into())))
    }

    /// The proof that record `sequence` is in the tree of `treeSize` (default: the latest
    /// checkpoint's). 410 for a pruned record.
    #[oai(
        path = "/audit/records/:sequence/proof",
        method = "get",
        operation_id = "audit_inclusion_proof"
    )]
    async fn inclusion(
        &self,
        auth: Credential,
        sequence: Path<i64>,
        #[oai(name = "treeSize")] tree_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<InclusionProofOut>>> {
        let caller = auth.require(Scope::Read)?;
        let proof = self
            .checkpoints
            .inclusion(&caller.tenant_id, sequence.0, tree_size.0)
            .await?;
        Ok(Json(Data::new(proof.into())))
    }

    /// Retention: removes the tenant's records up to `through`, below a signed checkpoint,
    /// keeping what verification and the proofs of later records need. Audited as
    /// `audit.pruned`.
    #[oai(
        path = "/audit/prune",
        method = "post",
        operation_id = "prune_audit_trail"
    )]
    async fn prune(
        &self,
        auth: Credential,
        body: Json<PruneIn>,
    ) -> ApiResult<Json<Data<PrunedOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let pruned = self
            .checkpoints
            .prune(&caller.tenant_id, body.0.through, &caller.key_id)
            .await?;
        Ok(Json(Data::new(pruned.into())))
    }
}

/// `GET /.well-known/intendedops/checkpoint-keys`: every key that signed a checkpoint, for
/// anyone to verify them with (no credential needed).
#[handler]
pub async fn published_keys(
    checkpoints: PoemData<&Arc<Checkpoints>>,
) -> poem::Result<impl IntoResponse> {
    let keys = checkpoints
        .keys()
        .await
        .map_err(crate::api::error::ApiError::from)?;
    Ok(poem::web::Json(keys))
}
