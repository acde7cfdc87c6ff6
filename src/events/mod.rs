//! The event bus: committed OpenIntent events fan out to live SSE subscribers.
//!
//! Subscribers filter what they receive. With SQLite (one instance) the bus is in-process and
//! writers publish after their transaction commits; with PostgreSQL it is `LISTEN`/`NOTIFY`
//! ([`postgres::PgNotifyBus`]): writers add the notification to their transaction, and every
//! instance's streams see every instance's events. Delivery on
//! the bus is best-effort by design: every event is also in the database, and a subscriber
//! that falls behind, or reconnects with `Last-Event-ID`, replays from there.

pub mod postgres;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// A committed event as subscribers see it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BusEvent {
    pub tenant_id: String,
    /// Sortable event id (a ULID): the SSE `id:` and resume point.
    pub id: String,
    pub intent_id: String,
    pub event_type: String,
    pub actor: String,
    /// The event as the API shows it.
    pub body: Value,
    /// On the wire between instances: the payload was left out (too large); read it back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A bus carried by the database: events are sent inside the writing transaction.
pub struct TransactionalChannel<'a> {
    pub channel: &'a str,
    pub encode: fn(&BusEvent) -> String,
}

pub trait EventBus: Send + Sync {
    /// `Some` when events must be sent inside the writing transaction (they then reach
    /// subscribers through the database, not through [`EventBus::publish`]).
    fn in_transaction(&self) -> Option<TransactionalChannel<'_>> {
        None
    }
    /// Delivers to this instance's subscribers.
    fn publish(&self, event: Arc<BusEvent>);
    fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>>;
}

/// One process's bus: a broadcast channel. A slow subscriber that lags by more than the
/// capacity is told so (`RecvError::Lagged`) and replays from the database.
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<BusEvent>>,
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        InProcessBus {
            sender: broadcast::channel(capacity).0,
        }
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, event: Arc<BusEvent>) {
        // No subscribers is the common case, not an error.
        let _ = self.sender.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Arc<BusEvent> {
        Arc::new(BusEvent {
            tenant_id: "t".into(),
            id: id.into(),
            intent_id: "i".into(),
            event_type: "comment".into(),
            actor: "a".into(),
            body: Value::Null,
            truncated: false,
        })
    }

    #[tokio::test]
    async fn subscribers_receive_events_published_after_they_subscribed() {
        let bus = InProcessBus::new(8);
        bus.publish(event("before"));
        let mut receiver = bus.subscribe();
        bus.publish(event("after"));
        assert_eq!(receiver.recv().await.unwrap().id, "after");
        assert!(receiver.try_recv().is_err());
    }
}
