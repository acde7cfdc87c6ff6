//! RFC-0021 routes: channels on an intent and the messages between its agents.

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
        schema::{examples, vocabularies, Word},
        security::TenantKey,
        types::JsonObject,
    },
    openintent::{
        channels::{self, ChannelChange, ChannelIn, MessageChange, MessageIn},
        Channels,
    },
};

vocabularies! {
    /// `explicit`: only the creator and `members` take part.
    MemberPolicy => channels::MEMBER_POLICIES;
    ChannelStatus => ["open", "closed"];
    /// A `response` is made by replying to a `request`.
    MessageType => channels::MESSAGE_TYPES;
    MessageStatus => ["delivered", "read", "expired"];
}

/// A channel: a named conversation of agents on an intent.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ChannelDoc {
    id: String,
    intent_id: String,
    task_id: Option<String>,
    /// Unique among the intent's open channels.
    name: String,
    created_by: String,
    members: Vec<String>,
    member_policy: Word<MemberPolicy>,
    /// `audit` (log every message on the intent), `ttl_seconds` (closed after that long
    /// without a message), `max_messages` (default 1000; the oldest go first).
    options: JsonObject,
    status: Word<ChannelStatus>,
    created_at: String,
    closed_at: Option<String>,
    message_count: i64,
    last_message_at: Option<String>,
    version: i64,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ChannelBody {
    name: String,
    members: Option<Vec<String>>,
    /// Default `intent`: every agent that may read the intent.
    member_policy: Option<Word<MemberPolicy>>,
    task_id: Option<String>,
    options: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ChannelChangeBody {
    members: Option<Vec<String>>,
    member_policy: Option<Word<MemberPolicy>>,
    options: Option<JsonObject>,
    /// `closed` closes it for good.
    status: Option<Word<ChannelStatus>>,
}

/// A message on a channel.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct MessageDoc {
    id: String,
    channel_id: String,
    sender: String,
    /// An agent id, `role:<role_id>`, or `*` (everyone); absent: everyone.
    to: Option<String>,
    message_type: Word<MessageType>,
    /// A response's request.
    correlation_id: Option<String>,
    payload: JsonObject,
    metadata: JsonObject,
    status: Word<MessageStatus>,
    created_at: String,
    expires_at: Option<String>,
    read_at: Option<String>,
    version: i64,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct MessageBody {
    /// Default: the calling agent (a bound key may name only its own).
    sender: Option<String>,
    /// Required for a `request`; on an explicit channel a named agent must be a member.
    to: Option<String>,
    /// Default `notify`.
    message_type: Option<Word<MessageType>>,
    payload: Option<JsonObject>,
    metadata: Option<JsonObject>,
    expires_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct MessageChangeBody {
    /// `read`.
    status: Word<MessageStatus>,
}

examples! {
    ChannelDoc => {
        "id": "chan_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "name": "data-clarification",
        "created_by": "research-agent",
        "members": ["research-agent", "synth-agent"],
        "member_policy": "explicit",
        "options": {"audit": true},
        "status": "open",
        "created_at": "2026-02-13T10:00:00.000+00:00",
        "message_count": 1,
        "last_message_at": "2026-02-13T10:01:00.000+00:00",
        "version": 2
    }
    ChannelBody => {
        "name": "data-clarification",
        "members": ["research-agent", "synth-agent"],
        "member_policy": "explicit",
        "options": {"audit": true}
    }
    ChannelChangeBody => {"members": ["research-agent", "synth-agent"]}
    MessageDoc => {
        "id": "msg_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "channel_id": "chan_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "sender": "research-agent",
        "to": "synth-agent",
        "message_type": "request",
        "payload": {"question": "Which schema version does the Q1 dataset use?"},
        "metadata": {},
        "status": "delivered",
        "created_at": "2026-02-13T10:01:00.000+00:00",
        "version": 1
    }
    MessageBody => {
        "to": "synth-agent",
        "message_type": "request",
        "payload": {"question": "Which schema version does the Q1 dataset use?"}
    }
    MessageChangeBody => {"status": "read"}
}

pub struct ChannelsOi(pub Channels);

#[OpenApi(tag = "OiTag::Channels")]
impl ChannelsOi {
    /// Open a channel on an intent the caller may read (409 while one of that name is open).
    #[oai(
        path = "/intents/:id/channels",
        method = "post",
        operation_id = "oi_create_channel"
    )]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<ChannelBody>,
    ) -> OiResult<DocCreated<ChannelDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .create_channel(&caller, &id, parse::<ChannelIn, _>(body)?)
                .await,
        )
    }

    /// The intent's channels the caller takes part in, oldest first (a bare array).
    #[oai(
        path = "/intents/:id/channels",
        method = "get",
        operation_id = "oi_list_channels"
    )]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocList<ChannelDoc>> {
        documents(self.0.list_channels(&reader(&key, req)?, &id).await)
    }

    #[oai(
        path = "/channels/:id",
        method = "get",
        operation_id = "oi_get_channel"
    )]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<ChannelDoc>> {
        document(self.0.get_channel(&reader(&key, req)?, &id).await)
    }

    /// Change members, policy or options, or close it (its creator, or an admin key).
    #[oai(
        path = "/channels/:id",
        method = "patch",
        operation_id = "oi_update_channel"
    )]
    async fn update(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<ChannelChangeBody>,
    ) -> OiResult<DocAnswer<ChannelDoc>> {
        let caller = writer(&key, req)?;
        document(
            self.0
                .update_channel(&caller, &id, parse::<ChannelChange, _>(body)?)
                .await,
        )
    }

    /// Close the channel; its messages stay readable.
    #[oai(
        path = "/channels/:id",
        method = "delete",
        operation_id = "oi_close_channel"
    )]
    async fn close(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<ChannelDoc>> {
        document(self.0.close_channel(&writer(&key, req)?, &id).await)
    }

    /// Send a message (409 on a closed channel, 403 for a non-member on an explicit one).
    #[oai(
        path = "/channels/:id/messages",
        method = "post",
        operation_id = "oi_send_message"
    )]
    async fn send(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<MessageBody>,
    ) -> OiResult<DocCreated<MessageDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .send_message(&caller, &id, parse::<MessageIn, _>(body)?)
                .await,
        )
    }

    /// The channel's messages, oldest first (a bare array): after `since` (a message id or an
    /// instant), to `to` only.
    #[oai(
        path = "/channels/:id/messages",
        method = "get",
        operation_id = "oi_list_messages"
    )]
    async fn messages(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        since: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> OiResult<DocList<MessageDoc>> {
        let caller = reader(&key, req)?;
        documents(
            self.0
                .list_messages(&caller, &id, since.0.as_deref(), to.0.as_deref())
                .await,
        )
    }

    #[oai(
        path = "/channels/:id/messages/:message_id",
        method = "get",
        operation_id = "oi_get_message"
    )]
    async fn message(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        message_id: Path<String>,
    ) -> OiResult<DocAnswer<MessageDoc>> {
        document(
            self.0
                .get_message(&reader(&key, req)?, &id, &message_id)
                .await,
        )
    }

    /// The addressee marks a message read.
    #[oai(
        path = "/channels/:id/messages/:message_id",
        method = "patch",
        operation_id = "oi_mark_message"
    )]
    async fn mark(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        message_id: Path<String>,
        body: Body<MessageChangeBody>,
    ) -> OiResult<DocAnswer<MessageDoc>> {
        let caller = writer(&key, req)?;
        document(
            self.0
                .mark_message(&caller, &id, &message_id, parse::<MessageChange, _>(body)?)
                .await,
        )
    }

    /// Reply to a request: a `response` to its sender, with its id as `correlation_id`
    /// (409 once the request has expired).
    #[oai(
        path = "/channels/:id/messages/:message_id/reply",
        method = "post",
        operation_id = "oi_reply_to_message"
    )]
    async fn reply(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        message_id: Path<String>,
        body: Body<MessageBody>,
    ) -> OiResult<DocCreated<MessageDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .reply(&caller, &id, &message_id, parse::<MessageIn, _>(body)?)
                .await,
        )
    }
}
