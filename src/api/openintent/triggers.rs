//! RFC-0017 routes: triggers.

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
        triggers::{self, TriggerInput},
        Triggers,
    },
};

vocabularies! {
    /// `schedule` (a cron expression, or once `at` an instant; UTC). Event triggers are not
    /// served yet (400).
    TriggerType => triggers::TYPES;
    /// `allow` fires every time; `skip` and `queue` create no intent while the trigger's
    /// last intent is still open.
    Deduplication => triggers::DEDUPLICATION;
}

/// The intent a firing creates: `title` (default: the trigger's name) and `context`, which
/// becomes the intent's state with the firing's `trigger_lineage`.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct IntentTemplateDoc {
    #[oai(rename = "type")]
    intent_type: String,
    title: String,
    priority: String,
    assignee: Option<String>,
    context: JsonObject,
    graph_id: Option<String>,
    tags: Vec<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct TriggerDoc {
    trigger_id: String,
    name: String,
    #[oai(rename = "type")]
    trigger_type: Word<TriggerType>,
    enabled: bool,
    /// `cron` (5 fields, or 6 with seconds first; at most one firing per 10 s) or `at`, with
    /// optional `starts_at`, `ends_at`, `timezone` (`UTC`).
    condition: JsonObject,
    intent_template: IntentTemplateDoc,
    deduplication: Word<Deduplication>,
    namespace: Option<String>,
    fire_count: i64,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
    last_fired_at: Option<String>,
    next_fire_at: Option<String>,
    last_intent_id: Option<String>,
}

/// A new trigger (`name`, `type` required), or a change of one at the `If-Match` version.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct TriggerIn {
    name: Option<String>,
    #[oai(rename = "type")]
    trigger_type: Option<Word<TriggerType>>,
    enabled: Option<bool>,
    condition: Option<JsonObject>,
    intent_template: Option<JsonObject>,
    deduplication: Option<Word<Deduplication>>,
    namespace: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct FiringDoc {
    trigger_id: String,
    /// False when deduplication left the last intent standing.
    fired: bool,
    intent_id: Option<String>,
    reason: Option<String>,
    fire_count: i64,
    fired_at: String,
}

examples! {
    IntentTemplateDoc => {"type": "report", "title": "Daily report", "priority": "medium", "context": {"scope": "sales"}, "tags": []}
    TriggerDoc => {
        "trigger_id": "trg_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "name": "daily report",
        "type": "schedule",
        "enabled": true,
        "condition": {"cron": "0 9 * * *"},
        "intent_template": {"type": "report", "title": "Daily report", "priority": "medium", "context": {}, "tags": []},
        "deduplication": "skip",
        "fire_count": 0,
        "version": 1,
        "created_by": "research-agent",
        "created_at": "2026-02-07T10:00:00.000+00:00",
        "updated_at": "2026-02-07T10:00:00.000+00:00",
        "next_fire_at": "2026-02-08T09:00:00.000+00:00"
    }
    TriggerIn => {
        "name": "daily report",
        "type": "schedule",
        "condition": {"cron": "0 9 * * *"},
        "intent_template": {"title": "Daily report", "context": {"scope": "sales"}},
        "deduplication": "skip"
    }
    FiringDoc => {
        "trigger_id": "trg_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "fired": true,
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "fire_count": 1,
        "fired_at": "2026-02-07T10:00:00.000+00:00"
    }
}

pub struct TriggersOi(pub Triggers);

#[OpenApi(tag = "OiTag::Triggers")]
impl TriggersOi {
    #[oai(
        path = "/triggers",
        method = "post",
        operation_id = "oi_create_trigger"
    )]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<TriggerIn>,
    ) -> OiResult<DocCreated<TriggerDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .create_trigger(&caller, parse::<TriggerInput, _>(body)?)
                .await,
        )
    }

    /// The tenant's triggers, oldest first (a bare array).
    #[oai(path = "/triggers", method = "get", operation_id = "oi_list_triggers")]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        namespace: Query<Option<String>>,
        #[oai(name = "type")] trigger_type: Query<Option<Word<TriggerType>>>,
    ) -> OiResult<DocList<TriggerDoc>> {
        let trigger_type = trigger_type.0.map(|t| t.value);
        let caller = reader(&key, req)?;
        documents(
            self.0
                .list_triggers(&caller, namespace.0.as_deref(), trigger_type.as_deref())
                .await,
        )
    }

    #[oai(
        path = "/triggers/:id",
        method = "get",
        operation_id = "oi_get_trigger"
    )]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<TriggerDoc>> {
        document(self.0.get_trigger(&reader(&key, req)?, &id).await)
    }

    /// Change a trigger at the `If-Match` version (its type stays).
    #[oai(
        path = "/triggers/:id",
        method = "patch",
        operation_id = "oi_update_trigger"
    )]
    async fn update(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        #[oai(name = "If-Match")] _version: Header<Option<String>>,
        body: Body<TriggerIn>,
    ) -> OiResult<DocAnswer<TriggerDoc>> {
        let (caller, version, change) = versioned::<TriggerInput, _>(&key, req, body)?;
        document(self.0.update_trigger(&caller, &id, version, change).await)
    }

    /// Fire now: creates the template's intent (unless deduplicated).
    #[oai(
        path = "/triggers/:id/fire",
        method = "post",
        operation_id = "oi_fire_trigger"
    )]
    async fn fire(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<FiringDoc>> {
        document(self.0.fire_trigger(&writer(&key, req)?, &id).await)
    }

    #[oai(
        path = "/triggers/:id",
        method = "delete",
        operation_id = "oi_delete_trigger"
    )]
    async fn delete(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult<Done> {
        done(self.0.delete_trigger(&writer(&key, req)?, &id).await)
    }
}
