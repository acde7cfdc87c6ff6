//! RFC-0019 routes: verifying an intent's event chain, intent checkpoints, Merkle proofs of
//! sealed events and consistency between checkpoints.

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    Object, OpenApi,
};

use super::{
    created_document, document, documents, parse, reader, writer, Body, DocAnswer, DocCreated,
    DocList, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, JsonValue},
        security::TenantKey,
        types::Documented,
    },
    openintent::{verifiable::NewCheckpoint, Verifiable},
};

#[derive(Debug, Object)]
#[oai(example)]
pub struct EventCheckDoc {
    event_id: String,
    /// The position of the event's audit record in the tenant's chain.
    sequence: Option<i64>,
    event_hash: Option<String>,
    previous_event_hash: Option<String>,
    verified: bool,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ChainBreakDoc {
    sequence: Option<i64>,
    event_id: String,
    /// What the audit record (or a checkpoint) sealed.
    expected_hash: Option<String>,
    actual_hash: Option<String>,
    reason: String,
}

/// Every event of the intent checked against its audit record and its checkpoints.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ChainVerificationDoc {
    intent_id: String,
    valid: bool,
    chain_valid: bool,
    event_count: i64,
    first_sequence: i64,
    last_sequence: i64,
    breaks: Vec<ChainBreakDoc>,
    events: Vec<EventCheckDoc>,
}

/// A sealed batch of an intent's events. `signature`: Ed25519 (base64url) by `signed_by`
/// (the server's checkpoint key, as a did:key) over the canonical JSON of every other field.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LogCheckpointDoc {
    checkpoint_id: String,
    intent_id: String,
    /// `intent`.
    scope: String,
    /// `sha256:<base64url>` root over the batch's event hashes.
    merkle_root: String,
    event_count: i64,
    first_sequence: i64,
    last_sequence: i64,
    created_at: String,
    signed_by: String,
    signature: String,
    /// Always null: no external timestamping.
    anchor: Option<Documented<JsonValue>>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct NewCheckpointBody {
    /// The intent whose events since its last checkpoint to seal.
    intent_id: String,
    /// `intent`, the only scope.
    scope: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ProofEntryDoc {
    hash: String,
    /// The side of the running hash the sibling goes: `left` or `right`.
    position: String,
}

/// Fold `event_hash` with each entry (`SHA-256(left ‖ right)` over the raw hashes) to reach
/// `merkle_root`, as the SDK's `MerkleProof.verify()` does.
#[derive(Debug, Object)]
#[oai(example)]
pub struct EventProofDoc {
    event_id: String,
    event_hash: String,
    checkpoint_id: String,
    merkle_root: String,
    proof_hashes: Vec<ProofEntryDoc>,
    leaf_index: i64,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ConsistencyDoc {
    from_checkpoint: String,
    to_checkpoint: String,
    consistent: bool,
    /// The later checkpoint's first event: `sequence`, `event_hash`, `previous_event_hash`.
    boundary_event: Option<Documented<JsonValue>>,
}

examples! {
    EventCheckDoc => {
        "event_id": "oev_01HN4X9A2B3C4D5E6F7G8H9J0K",
        "sequence": 42,
        "event_hash": "sha256:3b7e1f9a5c2d8e4b6a0f1c3e5d7b9a2c4e6f8a0b1d3c5e7",
        "previous_event_hash": "sha256:9f2c4e0a7b1d3f5e6a8c0b2d4f6e8a0c1b3d5f7e9a1c3e5",
        "verified": true
    }
    ChainBreakDoc => {
        "sequence": 42,
        "event_id": "oev_01HN4X9A2B3C4D5E6F7G8H9J0K",
        "expected_hash": "sha256:3b7e1f9a5c2d8e4b6a0f1c3e5d7b9a2c4e6f8a0b1d3c5e7",
        "actual_hash": "sha256:3b7e1f9a5c2d8e4b6a0f1c3e5d7b9a2c4e6f8a0b1d3c5e7",
        "reason": "it differs from what its audit record sealed"
    }
    ChainVerificationDoc => {
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "valid": true,
        "chain_valid": true,
        "event_count": 1,
        "first_sequence": 42,
        "last_sequence": 42,
        "breaks": [],
        "events": [(crate::api::schema::example_json::<EventCheckDoc>())]
    }
    LogCheckpointDoc => {
        "checkpoint_id": "chk_01HN4XB2C3D4E5F6G7H8J9K0L1",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "scope": "intent",
        "merkle_root": "sha256:0xo372rBSi2xRwxDFr61WS5q_URlAiM5ra_adqGP-r4",
        "event_count": 3,
        "first_sequence": 40,
        "last_sequence": 44,
        "created_at": "2026-02-07T10:05:00.000+00:00",
        "signed_by": "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
        "signature": "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw",
        "anchor": null
    }
    NewCheckpointBody => {
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "scope": "intent"
    }
    ProofEntryDoc => {
        "hash": "sha256:Ln0sA6lQeuJl7PW1NWiFpTOTogKdJBOUmXJloaJa78Y",
        "position": "right"
    }
    EventProofDoc => {
        "event_id": "oev_01HN4X9A2B3C4D5E6F7G8H9J0K",
        "event_hash": "sha256:ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs",
        "checkpoint_id": "chk_01HN4XB2C3D4E5F6G7H8J9K0L1",
        "merkle_root": "sha256:0xo372rBSi2xRwxDFr61WS5q_URlAiM5ra_adqGP-r4",
        "proof_hashes": [(crate::api::schema::example_json::<ProofEntryDoc>())],
        "leaf_index": 0
    }
    ConsistencyDoc => {
        "from_checkpoint": "chk_01HN4XB2C3D4E5F6G7H8J9K0L1",
        "to_checkpoint": "chk_01HN4XC3D4E5F6G7H8J9K0L1M2",
        "consistent": true,
        "boundary_event": {
            "sequence": 45,
            "event_hash": "sha256:3b7e1f9a5c2d8e4b6a0f1c3e5d7b9a2c4e6f8a0b1d3c5e7",
            "previous_event_hash": "sha256:9f2c4e0a7b1d3f5e6a8c0b2d4f6e8a0c1b3d5f7e9a1c3e5"
        }
    }
}

pub struct VerifiableOi(pub Verifiable);

#[OpenApi(tag = "OiTag::Intents")]
impl VerifiableOi {
    /// Checks every event of the intent against the audit record that sealed it (and against
    /// the intent's checkpoints); a break names the event.
    #[oai(
        path = "/intents/:id/events/verify",
        method = "get",
        operation_id = "oi_verify_event_chain"
    )]
    async fn verify_chain(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<ChainVerificationDoc>> {
        let caller = reader(&key, req)?;
        document(self.0.verify_chain(&caller, &id).await)
    }

    /// Seals the intent's events logged since its last checkpoint (admin keys; 409 when
    /// there are none). Audited as `openintent.log.checkpoint.created`.
    #[oai(
        path = "/admin/checkpoints",
        method = "post",
        operation_id = "oi_create_checkpoint"
    )]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<NewCheckpointBody>,
    ) -> OiResult<DocCreated<LogCheckpointDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<NewCheckpoint, _>(body)?;
        let result = self.0.create_checkpoint(&caller, input).await;
        created_document(result.map(|checkpoint| checkpoint.view()))
    }

    /// Checkpoints of one intent, or of every intent the caller may read (a bare array).
    #[oai(
        path = "/checkpoints",
        method = "get",
        operation_id = "oi_list_checkpoints"
    )]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        intent_id: Query<Option<String>>,
        scope: Query<Option<String>>,
    ) -> OiResult<DocList<LogCheckpointDoc>> {
        let caller = reader(&key, req)?;
        let result = self
            .0
            .checkpoints(&caller, intent_id.0.as_deref(), scope.0.as_deref())
            .await;
        documents(result.map(|list| list.iter().map(|c| c.view()).collect()))
    }

    #[oai(
        path = "/checkpoints/:id",
        method = "get",
        operation_id = "oi_get_checkpoint"
    )]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<LogCheckpointDoc>> {
        let caller = reader(&key, req)?;
        document(self.0.checkpoint(&caller, &id).await.map(|c| c.view()))
    }

    /// The Merkle proof of one event the checkpoint sealed (404 for another event).
    #[oai(
        path = "/checkpoints/:id/proof/:event_id",
        method = "get",
        operation_id = "oi_get_merkle_proof"
    )]
    async fn proof(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        event_id: Path<String>,
    ) -> OiResult<DocAnswer<EventProofDoc>> {
        let caller = reader(&key, req)?;
        document(self.0.proof(&caller, &id, &event_id).await)
    }

    /// Whether `to_checkpoint` goes on from `from_checkpoint` of the same intent.
    #[oai(
        path = "/verify/consistency",
        method = "get",
        operation_id = "oi_verify_consistency"
    )]
    async fn consistency(
        &self,
        key: TenantKey,
        req: &Request,
        from_checkpoint: Query<String>,
        to_checkpoint: Query<String>,
    ) -> OiResult<DocAnswer<ConsistencyDoc>> {
        let caller = reader(&key, req)?;
        document(
            self.0
                .consistency(&caller, &from_checkpoint, &to_checkpoint)
                .await,
        )
    }
}
