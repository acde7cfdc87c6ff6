//! RFC-0015 routes: agent memory.

use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    Object, OpenApi,
};

use super::{
    created_document, document, documents, done, parse, reader, versioned, writer, Body, DocAnswer,
    DocCreated, DocList, Done, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, vocabularies, Word},
        security::TenantKey,
        types::JsonObject,
    },
    openintent::{
        memory::{self, MemoryFilter, MemoryInput},
        Memory,
    },
};

vocabularies! {
    /// `working` and `episodic` memory is private to its agent; `semantic` is shared.
    MemoryType => memory::TYPES;
    MemoryPriority => memory::PRIORITIES;
    MemorySensitivity => memory::SENSITIVITIES;
}

/// A memory entry (RFC-0015).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct MemoryEntryDoc {
    id: String,
    /// The owner.
    agent_id: String,
    namespace: String,
    /// Unique per (agent, namespace) for working and episodic memory, per namespace for
    /// semantic memory.
    key: String,
    value: JsonObject,
    memory_type: Word<MemoryType>,
    version: i64,
    /// Context such as `{"task_id": …, "intent_id": …}`; with an `intent_id`, changes are
    /// logged on that intent.
    scope: Option<JsonObject>,
    tags: Vec<String>,
    /// `task_lifetime`, or `duration:<ISO 8601>` (`duration:PT24H`).
    ttl: Option<String>,
    pinned: bool,
    priority: Word<MemoryPriority>,
    sensitivity: Option<Word<MemorySensitivity>>,
    curated_by: Option<String>,
    created_at: String,
    updated_at: String,
    /// After this instant the entry is gone.
    expires_at: Option<String>,
}

/// A new memory entry (`namespace`, `key` required), or a change of one at the `If-Match`
/// version (agent, namespace, key and type do not change).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct MemoryIn {
    /// Default: the calling agent.
    agent_id: Option<String>,
    namespace: Option<String>,
    key: Option<String>,
    value: Option<JsonObject>,
    /// Default `working`.
    memory_type: Option<Word<MemoryType>>,
    scope: Option<JsonObject>,
    tags: Option<Vec<String>>,
    ttl: Option<String>,
    pinned: Option<bool>,
    priority: Option<Word<MemoryPriority>>,
    sensitivity: Option<Word<MemorySensitivity>>,
    curated_by: Option<String>,
    /// Wins over `ttl`.
    expires_at: Option<String>,
}

examples! {
    MemoryEntryDoc => {
        "id": "mem_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "agent_id": "research-agent",
        "namespace": "invoice_processing",
        "key": "progress",
        "value": {"processed": 12},
        "memory_type": "working",
        "version": 1,
        "tags": ["batch"],
        "ttl": "duration:PT24H",
        "pinned": false,
        "priority": "normal",
        "created_at": "2026-02-07T10:00:00.000+00:00",
        "updated_at": "2026-02-07T10:00:00.000+00:00",
        "expires_at": "2026-02-08T10:00:00.000+00:00"
    }
    MemoryIn => {
        "namespace": "invoice_processing",
        "key": "progress",
        "value": {"processed": 12},
        "tags": ["batch"],
        "ttl": "duration:PT24H"
    }
}

pub struct MemoryOi(pub Memory);

#[OpenApi(tag = "OiTag::Memory")]
impl MemoryOi {
    /// Create a memory entry (409 when its key is taken).
    #[oai(path = "/memory", method = "post", operation_id = "oi_create_memory")]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<MemoryIn>,
    ) -> OiResult<DocCreated<MemoryEntryDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .create_memory(&caller, parse::<MemoryInput, _>(body)?)
                .await,
        )
    }

    #[oai(path = "/memory/:id", method = "get", operation_id = "oi_get_memory")]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<MemoryEntryDoc>> {
        document(self.0.get_memory(&reader(&key, req)?, &id).await)
    }

    /// Change an entry at the `If-Match` version.
    #[oai(
        path = "/memory/:id",
        method = "patch",
        operation_id = "oi_update_memory"
    )]
    async fn update(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        #[oai(name = "If-Match")] _version: Header<Option<String>>,
        body: Body<MemoryIn>,
    ) -> OiResult<DocAnswer<MemoryEntryDoc>> {
        let (caller, version, change) = versioned::<MemoryInput, _>(&key, req, body)?;
        document(self.0.update_memory(&caller, &id, version, change).await)
    }

    #[oai(
        path = "/memory/:id",
        method = "delete",
        operation_id = "oi_delete_memory"
    )]
    async fn delete(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult<Done> {
        done(self.0.delete_memory(&writer(&key, req)?, &id).await)
    }

    /// An agent's live entries, oldest first (a bare array); `tags` (comma-separated) must
    /// all be present. Another agent's memory shows its semantic entries only.
    #[oai(
        path = "/agents/:agent_id/memory",
        method = "get",
        operation_id = "oi_list_memory"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        agent_id: Path<String>,
        namespace: Query<Option<String>>,
        memory_type: Query<Option<Word<MemoryType>>>,
        tags: Query<Option<String>>,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
    ) -> OiResult<DocList<MemoryEntryDoc>> {
        let filter = MemoryFilter {
            namespace: namespace.0,
            memory_type: memory_type.0.map(|t| t.value),
            tags: tags
                .0
                .map(|raw| raw.split(',').map(|t| t.trim().to_string()).collect())
                .unwrap_or_default(),
            limit: limit.0.unwrap_or(100),
            offset: offset.0.unwrap_or(0),
        };
        documents(
            self.0
                .list_memory(&reader(&key, req)?, &agent_id, filter)
                .await,
        )
    }
}
