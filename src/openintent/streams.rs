//! Live event streams (RFC-0006) of an intent, a portfolio's intents, or an agent's intents.
//!
//! A stream subscribes to the bus first and then replays from the database what the client
//! missed (after `Last-Event-ID`), so nothing falls between the replay and the live feed;
//! ids are sortable, so anything seen twice is dropped. A subscriber that lags behind the
//! bus replays from the database instead of losing events.

use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
};

use serde_json::Value;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use super::{model::Event, Caller, Portfolios, Subscriptions};
use crate::{
    bus::{BusEvent, Face},
    error::Result,
    store::openintent::{
        event_log::{self as event_rows, EventFilter, EventRow},
        graph as graph_rows,
    },
};

/// Most events one replay reads.
const REPLAY_LIMIT: i64 = 1000;

/// Events that change which intents a portfolio or agent stream follows.
fn is_membership(event_type: &str) -> bool {
    matches!(
        event_type,
        "added_to_portfolio" | "removed_from_portfolio" | "agent_assigned" | "agent_unassigned"
    )
}

/// What a stream follows.
#[derive(Debug, Clone)]
pub enum StreamTarget {
    Intent(String),
    Portfolio(String),
    Agent(String),
}

/// One message of a stream.
#[derive(Debug, Clone)]
pub struct StreamItem {
    /// `None` for the first, `connected`, message.
    pub id: Option<String>,
    pub event_type: String,
    /// The event as JSON text.
    pub data: String,
}

pub struct Subscription {
    core: Subscriptions,
    caller: Caller,
    target: StreamTarget,
    /// The intents followed (for portfolios and agents, kept current from membership events).
    intents: HashSet<String>,
    event_types: Option<HashSet<String>>,
    receiver: Receiver<Arc<BusEvent>>,
    backlog: VecDeque<StreamItem>,
    /// The newest id delivered or replayed: where a replay after lagging starts.
    last_id: String,
    /// Ids replayed from the database, so the live feed does not deliver them again. (Live
    /// events are not filtered by id order: concurrent commits can publish out of id order.)
    replayed: HashSet<String>,
    greeted: bool,
}

fn item(id: &str, event_type: &str, data: String) -> StreamItem {
    StreamItem {
        id: Some(id.to_string()),
        event_type: event_type.to_string(),
        data,
    }
}

impl Subscriptions {
    /// Opens a stream; `last_event_id` replays what came after it.
    pub async fn subscribe_stream(
        &self,
        caller: &Caller,
        target: StreamTarget,
        last_event_id: Option<String>,
        event_types: Option<Vec<String>>,
    ) -> Result<Subscription> {
        // Subscribe before reading anything, so no event is missed in between.
        let tenant = &caller.tenant;
        let receiver = self.bus().subscribe(tenant.as_str());
        let intents: HashSet<String> = match &target {
            StreamTarget::Intent(id) => {
                self.intent(caller, id).await?;
                HashSet::from([id.clone()])
            }
            StreamTarget::Portfolio(id) => Portfolios(self.0.clone())
                .portfolio_member_ids(caller, id)
                .await?
                .into_iter()
                .collect(),
            StreamTarget::Agent(agent) => graph_rows::intents_of_agent(self.store(), tenant, agent)
                .await?
                .into_iter()
                .collect(),
        };
        let mut subscription = Subscription {
            core: self.clone(),
            caller: caller.clone(),
            target,
            intents,
            event_types: event_types.map(|types| types.into_iter().collect()),
            receiver,
            backlog: VecDeque::new(),
            last_id: String::new(),
            replayed: HashSet::new(),
            greeted: false,
        };
        if let Some(last) = last_event_id {
            subscription.last_id = last;
            subscription.replay().await?;
        }
        Ok(subscription)
    }
}

impl Subscription {
    /// The next message; `None` when the bus closes (shutdown).
    pub async fn next(&mut self) -> Option<StreamItem> {
        if !self.greeted {
            self.greeted = true;
            return Some(StreamItem {
                id: None,
                event_type: "connected".into(),
                data: r#"{"status":"connected"}"#.into(),
            });
        }
        loop {
            if let Some(next) = self.backlog.pop_front() {
                return Some(next);
            }
            match self.receiver.recv().await {
                Ok(event) => {
                    if let Some(next) = self.accept(&event).await {
                        return Some(next);
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if let Err(err) = self.replay().await {
                        tracing::warn!(error = %err, "stream replay after lag failed");
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Whether a live event belongs to this stream (updating followed intents on the way).
    async fn accept(&mut self, event: &BusEvent) -> Option<StreamItem> {
        if event.face != Face::Protocol || self.replayed.contains(&event.id) {
            return None;
        }
        if is_membership(&event.event_type) {
            let payload = &event.body_value()["payload"];
            self.follow_membership(&event.event_type, &event.subject, payload);
        }
        let concerns_agent =
            matches!(&self.target, StreamTarget::Agent(agent) if *agent == event.actor);
        if !(self.intents.contains(&event.subject) || concerns_agent)
            || !self.wanted(&event.event_type)
        {
            return None;
        }
        if event.id > self.last_id {
            self.last_id = event.id.clone();
        }
        let body = match event.truncated {
            false => event.body.clone(),
            // Too large for the bus: read the stored event back.
            true => self.stored(event).await?,
        };
        Some(item(&event.id, &event.event_type, body))
    }

    /// A logged event as the API shows it; events that are announced but not logged are
    /// shown without their (too large) payload.
    async fn stored(&self, event: &BusEvent) -> Option<String> {
        let tenant = &self.caller.tenant;
        match event_rows::get(self.core.store(), tenant, &event.id).await {
            Ok(Some(row)) => Some(Event::from_row(&row).to_json()),
            Ok(None) => Some(
                serde_json::json!({
                    "id": event.id,
                    "intent_id": event.subject,
                    "event_type": event.event_type,
                    "actor": event.actor,
                    "payload": { "truncated": true },
                })
                .to_string(),
            ),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read a large event back");
                None
            }
        }
    }

    fn wanted(&self, event_type: &str) -> bool {
        self.event_types
            .as_ref()
            .is_none_or(|types| types.contains(event_type))
    }

    /// Portfolio streams follow intents as they join and leave; agent streams follow
    /// assignments.
    fn follow_membership(&mut self, event_type: &str, intent_id: &str, payload: &Value) {
        let (owner, joins) = match (&self.target, event_type) {
            (StreamTarget::Portfolio(id), "added_to_portfolio") => (id, true),
            (StreamTarget::Portfolio(id), "removed_from_portfolio") => (id, false),
            (StreamTarget::Agent(id), "agent_assigned") => (id, true),
            (StreamTarget::Agent(id), "agent_unassigned") => (id, false),
            _ => return,
        };
        let key = match self.target {
            StreamTarget::Portfolio(_) => "portfolio_id",
            _ => "agent_id",
        };
        if payload[key] == owner.as_str() {
            match joins {
                true => self.intents.insert(intent_id.to_string()),
                false => self.intents.remove(intent_id),
            };
        }
    }

    /// Queues the stored events after `last_id` of the followed intents.
    async fn replay(&mut self) -> Result<()> {
        let store = self.core.store();
        let tenant = &self.caller.tenant;
        let rows: Vec<EventRow> = match &self.target {
            StreamTarget::Intent(id) => {
                let filter = EventFilter {
                    after_id: Some(&self.last_id),
                    limit: REPLAY_LIMIT,
                    ..EventFilter::default()
                };
                event_rows::list(store, tenant, id, &filter).await?
            }
            _ => {
                let ids: Vec<String> = self.intents.iter().cloned().collect();
                event_rows::list_for_intents(store, tenant, &ids, &self.last_id, REPLAY_LIMIT)
                    .await?
            }
        };
        for row in rows {
            if self.replayed.insert(row.id.clone()) && self.wanted(&row.event_type) {
                self.backlog.push_back(item(
                    &row.id,
                    &row.event_type,
                    Event::from_row(&row).to_json(),
                ));
            }
            self.last_id = row.id;
        }
        Ok(())
    }
}
