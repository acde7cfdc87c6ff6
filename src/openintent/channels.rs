//! RFC-0021 channels: named conversations between agents, scoped to a real intent.
//!
//! Whoever may read the intent may use its channels (RFC-0011 applies first); a channel with
//! `member_policy: explicit` admits only its creator and `members` (others get 403), and a
//! message addressed to an agent outside them is refused. Messages are `request`, `response`
//! (made by replying: it carries the request's id as `correlation_id` and goes back to the
//! request's sender), `notify` and `broadcast`; a message past its `expires_at` reads as
//! `expired` and takes no reply; the addressee marks a message `read`. A channel keeps at
//! most `options.max_messages` messages (the oldest go first), reads as closed once
//! `options.ttl_seconds` pass without a message, and is closed with its intent (completed or
//! abandoned) or by `DELETE`. With `options.audit`, every message is also logged on the
//! intent as `channel.message`; otherwise messages reach live streams and the audit trail
//! only, keeping the log for the work itself.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    documents::{identified_by, Columns, Document},
    prefixes, Caller, Change, Channels, NewEvent,
};
use crate::{
    auth::identity::valid_agent_id,
    error::{Error, Result},
    ids,
    openintent::records::{instant, one_of, require_text},
    store::openintent::documents::DocumentQuery,
    time::{now_ms, parse_instant, protocol_instant, DayBound, Millis},
};

pub const MEMBER_POLICIES: [&str; 2] = ["intent", "explicit"];
pub const MESSAGE_TYPES: [&str; 4] = ["request", "response", "notify", "broadcast"];
const DEFAULT_MAX_MESSAGES: i64 = 1_000;
const MAX_MAX_MESSAGES: i64 = 10_000;
const MAX_MEMBERS: usize = 200;
const MAX_CHANNELS_PER_INTENT: i64 = 500;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    pub id: String,
    pub intent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub name: String,
    pub created_by: String,
    pub members: Vec<String>,
    pub member_policy: String,
    /// `audit`, `ttl_seconds`, `max_messages`.
    pub options: Map<String, Value>,
    /// `open` or `closed`.
    pub status: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    pub message_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<String>,
    pub version: i64,
}

impl Channel {
    fn audited(&self) -> bool {
        self.options.get("audit").and_then(Value::as_bool) == Some(true)
    }

    fn max_messages(&self) -> i64 {
        self.options
            .get("max_messages")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_MAX_MESSAGES)
    }

    /// The channel as it stands at `now`: closed once its TTL passed without a message.
    fn observed(mut self, now: Millis) -> Self {
        let ttl = self.options.get("ttl_seconds").and_then(Value::as_i64);
        let last = self.last_message_at.as_deref().unwrap_or(&self.created_at);
        let idle_until =
            ttl.and_then(|ttl| Some(parse_instant(last, DayBound::Start)? + ttl * 1000));
        if self.status == "open" && idle_until.is_some_and(|until| until <= now) {
            self.status = "closed".into();
            self.closed_at = idle_until.map(protocol_instant);
        }
        self
    }

    /// Whether `agent` is the creator or a listed member.
    fn lists(&self, agent: &str) -> bool {
        agent == self.created_by || self.members.iter().any(|member| member == agent)
    }

    /// Whether `agent` takes part: anyone with intent access, or only the listed members (an
    /// admin key passes, as it passes closed ACLs).
    fn admits(&self, caller: &Caller, agent: &str) -> bool {
        self.member_policy == "intent" || caller.admin || self.lists(agent)
    }

    fn check_member(&self, caller: &Caller, agent: &str) -> Result<()> {
        match self.admits(caller, agent) {
            true => Ok(()),
            false => Err(Error::Forbidden(format!(
                "agent '{agent}' is not a member of channel '{}'",
                self.name
            ))),
        }
    }
}

impl Document for Channel {
    const KIND: &'static str = "channel";
    const WHAT: &'static str = "channel";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.intent_id.clone(),
            status: self.status.clone(),
            // A name is taken while its channel is open.
            unique_key: (self.status == "open")
                .then(|| json!(["channel", self.intent_id, self.name]).to_string()),
            ..Columns::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub channel_id: String,
    pub sender: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub message_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub payload: Map<String, Value>,
    pub metadata: Map<String, Value>,
    /// `delivered` or `read` as stored; `expired` once past `expires_at` unread.
    pub status: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    pub version: i64,
}

impl Message {
    fn observed(mut self, now: Millis) -> Self {
        let past = self
            .expires_at
            .as_deref()
            .and_then(|at| parse_instant(at, DayBound::Start))
            .is_some_and(|at| at <= now);
        if self.status == "delivered" && past {
            self.status = "expired".into();
        }
        self
    }

    /// Whether the message is for `agent`: addressed to it, or to everyone.
    fn is_for(&self, agent: &str) -> bool {
        match self.to.as_deref() {
            None | Some("*") => true,
            Some(to) => to == agent || to.starts_with("role:"),
        }
    }
}

impl Document for Message {
    const KIND: &'static str = "message";
    const WHAT: &'static str = "message";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.channel_id.clone(),
            status: self.status.clone(),
            namespace: self.to.clone(),
            ..Columns::default()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ChannelIn {
    pub name: String,
    #[serde(default)]
    pub members: Option<Vec<String>>,
    #[serde(default)]
    pub member_policy: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub options: Option<Map<String, Value>>,
}

/// `PATCH /channels/{id}`: the creator (or an admin key) changes members, policy, options, or
/// closes it.
#[derive(Debug, Deserialize)]
pub struct ChannelChange {
    #[serde(default)]
    pub members: Option<Vec<String>>,
    #[serde(default)]
    pub member_policy: Option<String>,
    #[serde(default)]
    pub options: Option<Map<String, Value>>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MessageIn {
    #[serde(default)]
    pub sender: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub message_type: Option<String>,
    #[serde(default)]
    pub payload: Option<Map<String, Value>>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `PATCH /channels/{id}/messages/{message_id}`.
#[derive(Debug, Deserialize)]
pub struct MessageChange {
    pub status: String,
}

fn check_members(members: &[String]) -> Result<()> {
    match members.len() <= MAX_MEMBERS && members.iter().all(|m| valid_agent_id(m)) {
        true => Ok(()),
        false => Err(Error::invalid(
            &["members"],
            format!("must be at most {MAX_MEMBERS} agent ids"),
        )),
    }
}

fn check_options(options: &Map<String, Value>) -> Result<()> {
    for (name, value) in options {
        let fits = match name.as_str() {
            "audit" => value.is_boolean(),
            "ttl_seconds" => value.is_null() || value.as_i64().is_some_and(|s| s > 0),
            "max_messages" => value
                .as_i64()
                .is_some_and(|n| (1..=MAX_MAX_MESSAGES).contains(&n)),
            _ => false,
        };
        if !fits {
            return Err(Error::invalid(
                &[&format!("options.{name}")],
                format!(
                    "options are audit (boolean), ttl_seconds (positive) and max_messages \
                     (1-{MAX_MAX_MESSAGES})"
                ),
            ));
        }
    }
    Ok(())
}

impl Channels {
    pub async fn create_channel(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: ChannelIn,
    ) -> Result<Channel> {
        require_text(&input.name, "name", 200)?;
        let policy = input.member_policy.unwrap_or_else(|| "intent".into());
        one_of(&policy, &MEMBER_POLICIES, "member_policy")?;
        let members = input.members.unwrap_or_default();
        check_members(&members)?;
        let options = input.options.unwrap_or_default();
        check_options(&options)?;
        self.intent(caller, intent_id).await?;
        let now = now_ms();
        let channel = Channel {
            id: ids::new_id(prefixes::CHANNEL),
            intent_id: intent_id.to_string(),
            task_id: input.task_id,
            name: input.name,
            created_by: caller.agent_id.clone(),
            members,
            member_policy: policy,
            options,
            status: "open".into(),
            created_at: protocol_instant(now),
            closed_at: None,
            message_count: 0,
            last_message_at: None,
            version: 1,
        };
        let mut change = self.change(caller).await?;
        if change.count_documents::<Channel>(intent_id).await? >= MAX_CHANNELS_PER_INTENT {
            return Err(Error::Conflict(format!(
                "the intent already has {MAX_CHANNELS_PER_INTENT} channels"
            )));
        }
        let duplicate = format!("the intent has an open channel named '{}'", channel.name);
        change.insert_document(&channel, now, &duplicate).await?;
        let payload = json!({ "channel_id": channel.id, "name": channel.name, "member_policy": channel.member_policy });
        change
            .record(NewEvent::new(intent_id, "channel.created", payload))
            .await?;
        change.commit().await?;
        Ok(channel)
    }

    /// A channel of an intent the caller may read (and whose members admit it), or 404/403.
    pub async fn get_channel(&self, caller: &Caller, id: &str) -> Result<Channel> {
        let channel: Channel = self.document(caller, id).await?;
        self.intent(caller, &channel.intent_id).await?;
        channel.check_member(caller, &caller.agent_id)?;
        Ok(channel.observed(now_ms()))
    }

    /// An intent's channels, oldest first (those the caller is admitted to).
    pub async fn list_channels(&self, caller: &Caller, intent_id: &str) -> Result<Vec<Channel>> {
        self.intent(caller, intent_id).await?;
        let channels: Vec<Channel> = self
            .documents(
                caller,
                &of_parent(Channel::KIND, intent_id, MAX_CHANNELS_PER_INTENT),
            )
            .await?;
        let now = now_ms();
        Ok(channels
            .into_iter()
            .filter(|channel| channel.admits(caller, &caller.agent_id))
            .map(|channel| channel.observed(now))
            .collect())
    }

    pub async fn update_channel(
        &self,
        caller: &Caller,
        id: &str,
        input: ChannelChange,
    ) -> Result<Channel> {
        if let Some(members) = &input.members {
            check_members(members)?;
        }
        if let Some(policy) = &input.member_policy {
            one_of(policy, &MEMBER_POLICIES, "member_policy")?;
        }
        if let Some(options) = &input.options {
            check_options(options)?;
        }
        if let Some(status) = &input.status {
            one_of(status, &["open", "closed"], "status")?;
        }
        let mut change = self.change(caller).await?;
        let mut channel = self.channel_for_update(&mut change, caller, id).await?;
        if !(caller.admin || caller.agent_id == channel.created_by) {
            return Err(Error::Forbidden(
                "only the channel's creator changes it".into(),
            ));
        }
        if input.status.as_deref() == Some("open") && channel.status == "closed" {
            return Err(Error::Conflict("a closed channel stays closed".into()));
        }
        let closing = input.status.as_deref() == Some("closed") && channel.status == "open";
        let now = now_ms();
        if let Some(members) = input.members {
            channel.members = members;
        }
        if let Some(policy) = input.member_policy {
            channel.member_policy = policy;
        }
        if let Some(options) = input.options {
            channel.options = options;
        }
        if closing {
            close(&mut change, &mut channel, now, "closed").await?;
        } else {
            channel.version += 1;
            change
                .save_document(&channel, channel.version - 1, now)
                .await?;
            let payload = json!({ "channel_id": channel.id, "updated": true });
            change
                .audit("channel.updated", &channel.id, payload)
                .await?;
        }
        change.commit().await?;
        Ok(channel)
    }

    /// `DELETE /channels/{id}`: closes it (its messages stay readable).
    pub async fn close_channel(&self, caller: &Caller, id: &str) -> Result<Channel> {
        let input = ChannelChange {
            members: None,
            member_policy: None,
            options: None,
            status: Some("closed".into()),
        };
        self.update_channel(caller, id, input).await
    }

    pub async fn send_message(
        &self,
        caller: &Caller,
        channel_id: &str,
        input: MessageIn,
    ) -> Result<Message> {
        let message_type = input.message_type.unwrap_or_else(|| "notify".into());
        one_of(&message_type, &MESSAGE_TYPES, "message_type")?;
        if message_type == "response" {
            return Err(Error::invalid(
                &["message_type"],
                "a response is sent by replying to its request (POST …/messages/{id}/reply)",
            ));
        }
        let to = match (message_type.as_str(), input.to) {
            ("broadcast", _) => Some("*".to_string()),
            ("request", None) => {
                return Err(Error::invalid(&["to"], "a request names its addressee"))
            }
            ("request", Some(to)) if to == "*" => {
                return Err(Error::invalid(
                    &["to"],
                    "a request goes to one agent or a role",
                ))
            }
            (_, to) => to,
        };
        let expires_at = instant(input.expires_at.as_deref(), "expires_at")?;
        let sender = self.attributed(caller, input.sender).await?;
        let draft = Draft {
            sender,
            to,
            message_type,
            correlation_id: None,
            payload: input.payload.unwrap_or_default(),
            metadata: input.metadata.unwrap_or_default(),
            expires_at,
        };
        self.deliver(caller, channel_id, draft).await
    }

    /// A `response` to a request: to its sender, correlated with it.
    pub async fn reply(
        &self,
        caller: &Caller,
        channel_id: &str,
        message_id: &str,
        input: MessageIn,
    ) -> Result<Message> {
        let sender = self.attributed(caller, input.sender).await?;
        let request = self.get_message(caller, channel_id, message_id).await?;
        if request.message_type != "request" {
            return Err(Error::invalid(
                &["message_id"],
                "only a request takes a reply",
            ));
        }
        if request.status == "expired" {
            return Err(Error::Conflict("the request has expired".into()));
        }
        let draft = Draft {
            sender,
            to: Some(request.sender),
            message_type: "response".into(),
            correlation_id: Some(request.id),
            payload: input.payload.unwrap_or_default(),
            metadata: input.metadata.unwrap_or_default(),
            expires_at: None,
        };
        self.deliver(caller, channel_id, draft).await
    }

    async fn deliver(&self, caller: &Caller, channel_id: &str, draft: Draft) -> Result<Message> {
        let mut change = self.change(caller).await?;
        let mut channel = self
            .channel_for_update(&mut change, caller, channel_id)
            .await?;
        if channel.status != "open" {
            return Err(Error::Conflict(format!(
                "channel '{}' is closed",
                channel.name
            )));
        }
        channel.check_member(caller, &draft.sender)?;
        let direct = draft
            .to
            .as_deref()
            .filter(|to| *to != "*" && !to.starts_with("role:"));
        if let Some(to) =
            direct.filter(|to| channel.member_policy == "explicit" && !channel.lists(to))
        {
            return Err(Error::Forbidden(format!(
                "agent '{to}' is not a member of channel '{}'",
                channel.name
            )));
        }
        let now = now_ms();
        let message = Message {
            id: ids::new_id(prefixes::MESSAGE),
            channel_id: channel.id.clone(),
            sender: draft.sender,
            to: draft.to,
            message_type: draft.message_type,
            correlation_id: draft.correlation_id,
            payload: draft.payload,
            metadata: draft.metadata,
            status: "delivered".into(),
            created_at: protocol_instant(now),
            expires_at: draft.expires_at,
            read_at: None,
            version: 1,
        };
        change
            .insert_document(&message, now, "the message exists")
            .await?;
        // Counted first: the messages are read only when some must go.
        let excess = change.count_documents::<Message>(&channel.id).await? - channel.max_messages();
        if excess > 0 {
            let held: Vec<Message> = change.documents_of(&channel.id).await?;
            for evicted in held.iter().take(excess as usize) {
                change.delete_document::<Message>(&evicted.id).await?;
            }
        }
        channel.message_count += 1;
        channel.last_message_at = Some(message.created_at.clone());
        channel.version += 1;
        change
            .save_document(&channel, channel.version - 1, now)
            .await?;
        let payload = json!({
            "channel_id": channel.id, "channel_name": channel.name, "message_id": message.id,
            "message_type": message.message_type, "to": message.to, "sender": message.sender,
            "correlation_id": message.correlation_id, "payload": message.payload,
        });
        let event = NewEvent::new(&channel.intent_id, "channel.message", payload);
        match channel.audited() {
            true => {
                change.record(event).await?;
            }
            false => change.stream_only(event).await?,
        }
        change.commit().await?;
        Ok(message)
    }

    /// A channel's messages, oldest first: after the message `since` (or after an instant),
    /// to one addressee if `to` is given; on an explicit channel, a member sees all of them.
    pub async fn list_messages(
        &self,
        caller: &Caller,
        channel_id: &str,
        since: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<Message>> {
        let channel = self.get_channel(caller, channel_id).await?;
        let messages: Vec<Message> = self
            .documents(
                caller,
                &of_parent(Message::KIND, &channel.id, MAX_MAX_MESSAGES),
            )
            .await?;
        let start = match since {
            None => 0,
            Some(cursor) => match messages.iter().position(|m| m.id == cursor) {
                Some(at) => at + 1,
                None => {
                    let instant = parse_instant(cursor, DayBound::Start).ok_or_else(|| {
                        Error::invalid(
                            &["since"],
                            "must be a message id of this channel or an instant",
                        )
                    })?;
                    messages
                        .iter()
                        .position(|m| {
                            parse_instant(&m.created_at, DayBound::Start)
                                .is_some_and(|at| at > instant)
                        })
                        .unwrap_or(messages.len())
                }
            },
        };
        let now = now_ms();
        Ok(messages
            .into_iter()
            .skip(start)
            .filter(|m| to.is_none_or(|to| m.to.as_deref() == Some(to)))
            .map(|m| m.observed(now))
            .collect())
    }

    pub async fn get_message(
        &self,
        caller: &Caller,
        channel_id: &str,
        id: &str,
    ) -> Result<Message> {
        let channel = self.get_channel(caller, channel_id).await?;
        let message: Message = self.document(caller, id).await?;
        match message.channel_id == channel.id {
            true => Ok(message.observed(now_ms())),
            false => Err(Error::NotFound {
                what: Message::WHAT,
            }),
        }
    }

    /// The addressee marks a message `read`.
    pub async fn mark_message(
        &self,
        caller: &Caller,
        channel_id: &str,
        id: &str,
        input: MessageChange,
    ) -> Result<Message> {
        one_of(&input.status, &["read"], "status")?;
        let mut change = self.change(caller).await?;
        let channel = self
            .channel_for_update(&mut change, caller, channel_id)
            .await?;
        let mut message: Message = change.document(self.store(), id).await?;
        if message.channel_id != channel.id {
            return Err(Error::NotFound {
                what: Message::WHAT,
            });
        }
        if !message.is_for(&caller.agent_id) && !caller.admin {
            return Err(Error::Forbidden(
                "only its addressee marks a message read".into(),
            ));
        }
        let now = now_ms();
        if message.clone().observed(now).status == "expired" {
            return Err(Error::Conflict("the message has expired".into()));
        }
        if message.status != "read" {
            message.status = "read".into();
            message.read_at = Some(protocol_instant(now));
            message.version += 1;
            change
                .save_document(&message, message.version - 1, now)
                .await?;
            let payload = json!({ "message_id": message.id, "channel_id": channel.id });
            change
                .audit("channel.message_read", &message.id, payload)
                .await?;
        } else {
            change
                .audit(
                    "channel.message_read",
                    &message.id,
                    json!({ "already": true }),
                )
                .await?;
        }
        change.commit().await?;
        Ok(message)
    }

    /// The channel, read for update, if the caller may use it.
    async fn channel_for_update(
        &self,
        change: &mut Change<'_>,
        caller: &Caller,
        id: &str,
    ) -> Result<Channel> {
        let channel: Channel = change.document(self.store(), id).await?;
        self.intent(caller, &channel.intent_id).await?;
        channel.check_member(caller, &caller.agent_id)?;
        Ok(channel.observed(now_ms()))
    }
}

/// What a message will be, before the channel admits it.
struct Draft {
    sender: String,
    to: Option<String>,
    message_type: String,
    correlation_id: Option<String>,
    payload: Map<String, Value>,
    metadata: Map<String, Value>,
    expires_at: Option<String>,
}

fn of_parent<'a>(kind: &'a str, parent: &'a str, limit: i64) -> DocumentQuery<'a> {
    DocumentQuery {
        kind,
        parent: Some(parent),
        status: None,
        namespace: None,
        tags: &[],
        live_at: None,
        limit,
        offset: 0,
    }
}

async fn close(
    change: &mut Change<'_>,
    channel: &mut Channel,
    now: Millis,
    reason: &str,
) -> Result<()> {
    channel.status = "closed".into();
    channel.closed_at = Some(protocol_instant(now));
    channel.version += 1;
    change
        .save_document(channel, channel.version - 1, now)
        .await?;
    let payload = json!({ "channel_id": channel.id, "name": channel.name, "reason": reason });
    change
        .record(NewEvent::new(&channel.intent_id, "channel.closed", payload))
        .await?;
    Ok(())
}

impl Change<'_> {
    /// Closes the intent's open channels: it has completed or been abandoned.
    pub(crate) async fn close_channels_of(&mut self, intent_id: &str) -> Result<()> {
        let now = now_ms();
        for mut channel in self.documents_of::<Channel>(intent_id).await? {
            if channel.status == "open" {
                close(self, &mut channel, now, "intent resolved").await?;
            }
        }
        Ok(())
    }
}
