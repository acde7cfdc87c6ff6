//! The event bus across instances on one PostgreSQL database: `LISTEN`/`NOTIFY`.
//!
//! Writers add a `pg_notify` to the transaction that records the event, so PostgreSQL
//! delivers it exactly when (and only if) the transaction commits, in commit order. Every
//! instance, the writer included, listens on the channel and fans the notifications out to
//! its local subscribers. A notification carries the whole event unless it would pass
//! PostgreSQL's 8000-byte payload limit; then it carries the event without its payload and
//! the listener reads the stored event back. Notifications sent while an instance's listening
//! connection is down are lost to its live streams; clients resume with `Last-Event-ID`.

use std::sync::{Arc, Mutex};

use serde_json::json;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{BusEvent, EventBus, InProcessBus};
use crate::store::{openintent::events as event_rows, Store};

/// Largest notification payload sent as is (PostgreSQL refuses more than 8000 bytes).
const MAX_PAYLOAD: usize = 7900;

pub struct PgNotifyBus {
    local: InProcessBus,
    channel: String,
    store: Store,
    /// Set up (and listening) at start; taken by [`PgNotifyBus::run`].
    listener: Mutex<Option<PgListener>>,
}

/// The channel of one database schema: instances sharing a schema share events; test
/// schemas side by side in one database do not.
fn channel_name(schema: &str) -> String {
    let clean: String = schema
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("intendedops_events_{clean}")
        .chars()
        .take(63)
        .collect()
}

/// The notification text of an event (its payload left out when too large).
fn encode(event: &BusEvent) -> String {
    let full = serde_json::to_string(event).unwrap_or_default();
    if full.len() <= MAX_PAYLOAD {
        return full;
    }
    let mut slim = event.clone();
    slim.body["payload"] = json!({ "truncated": true });
    slim.truncated = true;
    serde_json::to_string(&slim).unwrap_or_default()
}

impl PgNotifyBus {
    /// Connects a listening connection for `url`'s current schema.
    pub async fn start(url: &str, store: Store, capacity: usize) -> anyhow::Result<Arc<Self>> {
        let schema = store.current_schema().await?;
        let channel = channel_name(&schema);
        let mut listener = PgListener::connect(url).await?;
        listener.listen(&channel).await?;
        Ok(Arc::new(PgNotifyBus {
            local: InProcessBus::new(capacity),
            channel,
            store,
            listener: Mutex::new(Some(listener)),
        }))
    }

    /// Fans notifications out to this instance's subscribers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(mut listener) = self.listener.lock().expect("listener lock").take() else {
            return;
        };
        loop {
            let received = tokio::select! {
                received = listener.recv() => received,
                _ = shutdown.cancelled() => return,
            };
            match received {
                Ok(notification) => {
                    match serde_json::from_str::<BusEvent>(notification.payload()) {
                        Ok(event) => self.deliver(event).await,
                        Err(err) => tracing::warn!(error = %err, "unreadable event notification"),
                    }
                }
                Err(err) => {
                    // recv() reconnects by itself; this is a failed reconnection.
                    tracing::warn!(error = %err, "event bus listener lost PostgreSQL; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn deliver(&self, mut event: BusEvent) {
        if event.truncated {
            match event_rows::get(&self.store, &event.tenant_id, &event.id).await {
                Ok(Some(row)) => event.body = crate::openintent::views::event(&row),
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "cannot read a large event back"),
            }
            event.truncated = false;
        }
        self.local.publish(Arc::new(event));
    }
}

impl EventBus for PgNotifyBus {
    fn in_transaction(&self) -> Option<super::TransactionalChannel<'_>> {
        Some(super::TransactionalChannel {
            channel: &self.channel,
            encode,
        })
    }

    fn publish(&self, event: Arc<BusEvent>) {
        self.local.publish(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.local.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_per_schema_and_valid_identifiers() {
        assert_eq!(channel_name("public"), "intendedops_events_public");
        assert_eq!(channel_name("Test-1"), "intendedops_events_test_1");
        assert!(channel_name(&"x".repeat(100)).len() <= 63);
    }

    #[test]
    fn large_events_travel_without_their_payload() {
        let event = BusEvent {
            tenant_id: "t".into(),
            id: "oev_1".into(),
            intent_id: "i".into(),
            event_type: "comment".into(),
            actor: "a".into(),
            body: json!({ "payload": { "text": "x".repeat(10_000) } }),
            truncated: false,
        };
        let encoded = encode(&event);
        assert!(encoded.len() <= MAX_PAYLOAD);
        let decoded: BusEvent = serde_json::from_str(&encoded).unwrap();
        assert!(decoded.truncated);
        assert_eq!(decoded.body["payload"], json!({ "truncated": true }));
        let small = BusEvent {
            body: json!({ "payload": {} }),
            ..event
        };
        assert_eq!(
            serde_json::from_str::<BusEvent>(&encode(&small))
                .unwrap()
                .body,
            small.body
        );
    }
}
