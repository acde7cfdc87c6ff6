//! The live event bus: every committed event of both faces fans out to this instance's SSE
//! subscribers of its tenant.
//!
//! Each tenant has its own channel, created when its first subscriber arrives and dropped with
//! its last, so a busy tenant's events never queue in front of a quiet tenant's and no
//! subscriber filters other tenants' traffic. With SQLite (one instance) writers publish after
//! their transaction commits; with PostgreSQL the bus is `LISTEN`/`NOTIFY`
//! ([`postgres::PgNotifyBus`]): writers add the notification to their transaction, and every
//! instance's streams see every instance's events. Delivery on the bus is best-effort by
//! design: every event is also in the database, and a subscriber that falls behind, or
//! reconnects with `Last-Event-ID`, replays from there.
//!
//! The bus is a leaf: it knows events as text and never reads the store.

pub mod postgres;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Which face's log an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Face {
    /// A `/v1` event (`intent.submitted`, …): the body is its webhook envelope.
    Governance,
    /// An OpenIntent protocol event (`state_patched`, …): the body is the event as listed.
    Protocol,
}

/// A committed event as subscribers see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BusEvent {
    pub tenant_id: String,
    pub face: Face,
    /// Sortable event id (a ULID): the SSE `id:` and resume point.
    pub id: String,
    /// The id the event is about (for protocol events, the intent).
    pub subject: String,
    pub event_type: String,
    pub actor: String,
    /// The event as the API shows it, as JSON text: rendered once by the writer, sent as is
    /// to every subscriber.
    pub body: String,
    /// On the wire between instances: the body was left out (too large); the subscriber
    /// reads the stored event back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl BusEvent {
    /// `body` as a value (for the few subscribers that look inside an event).
    pub fn body_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
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
    /// Whether an event of `tenant` must be announced at all: false when it would reach no
    /// one (no subscriber of the tenant in this process, and no other process listening).
    fn carries(&self, tenant: &str) -> bool;
    /// Delivers to this instance's subscribers of the event's tenant.
    fn publish(&self, event: Arc<BusEvent>);
    /// The live events of `tenant` from now on.
    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<BusEvent>>;
}

/// One process's bus: a broadcast channel per tenant that has subscribers. A slow
/// subscriber that lags by more than the capacity is told so (`RecvError::Lagged`) and
/// replays from the database.
pub struct InProcessBus {
    capacity: usize,
    channels: RwLock<HashMap<String, broadcast::Sender<Arc<BusEvent>>>>,
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        InProcessBus {
            capacity,
            channels: RwLock::new(HashMap::new()),
        }
    }

    /// Drops `tenant`'s channel once its last subscriber has gone.
    fn forget_if_unused(&self, tenant: &str) {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        if channels
            .get(tenant)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            channels.remove(tenant);
        }
    }
}

impl EventBus for InProcessBus {
    fn carries(&self, tenant: &str) -> bool {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        channels
            .get(tenant)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }

    fn publish(&self, event: Arc<BusEvent>) {
        let unused = {
            let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
            match channels.get(&event.tenant_id) {
                // A tenant without subscribers is the common case, not an error.
                None => return,
                Some(sender) => sender.send(event.clone()).is_err(),
            }
        };
        if unused {
            self.forget_if_unused(&event.tenant_id);
        }
    }

    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<BusEvent>> {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(tenant.to_string())
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tenant: &str, id: &str) -> Arc<BusEvent> {
        Arc::new(BusEvent {
            tenant_id: tenant.into(),
            face: Face::Protocol,
            id: id.into(),
            subject: "i".into(),
            event_type: "comment".into(),
            actor: "a".into(),
            body: "null".into(),
            truncated: false,
        })
    }

    #[tokio::test]
    async fn subscribers_receive_events_published_after_they_subscribed() {
        let bus = InProcessBus::new(8);
        bus.publish(event("t", "before"));
        let mut receiver = bus.subscribe("t");
        bus.publish(event("t", "after"));
        assert_eq!(receiver.recv().await.unwrap().id, "after");
        assert!(receiver.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_busy_tenant_does_not_fill_a_quiet_tenants_channel() {
        let bus = InProcessBus::new(4);
        let mut quiet = bus.subscribe("quiet");
        let _busy = bus.subscribe("busy");
        for n in 0..100 {
            bus.publish(event("busy", &format!("b{n}")));
        }
        bus.publish(event("quiet", "q"));
        // Not lagged, and nothing of the other tenant arrives.
        assert_eq!(quiet.recv().await.unwrap().id, "q");
        assert!(quiet.try_recv().is_err());
    }

    #[test]
    fn a_channel_goes_with_its_last_subscriber() {
        let bus = InProcessBus::new(4);
        drop(bus.subscribe("t"));
        bus.publish(event("t", "x"));
        assert!(bus.channels.read().unwrap().is_empty());
    }
}
