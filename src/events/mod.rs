//! The event bus: committed OpenIntent events fan out to live SSE subscribers.
//!
//! Publishers call [`EventBus::publish`] after their transaction commits; subscribers filter
//! what they receive. The bus is a trait so that several instances can share one (a Redis or
//! PostgreSQL channel implements the same two methods); the default is in-process. Delivery on
//! the bus is best-effort by design: every event is also in the database, and a subscriber
//! that falls behind, or reconnects with `Last-Event-ID`, replays from there.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// A committed event as subscribers see it.
#[derive(Debug, Clone)]
pub struct BusEvent {
    pub tenant_id: String,
    /// Sortable event id (a ULID): the SSE `id:` and resume point.
    pub id: String,
    pub intent_id: String,
    pub event_type: String,
    pub actor: String,
    /// The event as the API shows it.
    pub body: Value,
}

pub trait EventBus: Send + Sync {
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
