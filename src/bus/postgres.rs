//! The event bus across instances on one PostgreSQL database: `LISTEN`/`NOTIFY`.
//!
//! Writers add a `pg_notify` to the transaction that records the event, so PostgreSQL
//! delivers it exactly when (and only if) the transaction commits, in commit order. Every
//! instance, the writer included, listens on the channel and fans the notifications out to
//! its local subscribers. A notification carries the whole event unless it would pass
//! PostgreSQL's 8000-byte payload limit; then it carries the event without its body, marked
//! `truncated`, and the subscriber reads the stored event back. Notifications sent while an instance's listening
//! connection is down are lost to its live streams; clients resume with `Last-Event-ID`.

use std::sync::{Arc, Mutex};

use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{BusEvent, EventBus, InProcessBus};

/// Largest notification payload sent as is (PostgreSQL refuses more than 8000 bytes).
const MAX_PAYLOAD: usize = 7900;

pub struct PgNotifyBus {
    local: InProcessBus,
    channel: String,
    url: String,
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

/// The notification text of an event (its body left out when too large).
fn encode(event: &BusEvent) -> String {
    let full = serde_json::to_string(event).unwrap_or_default();
    if full.len() <= MAX_PAYLOAD {
        return full;
    }
    let slim = BusEvent {
        body: "null".into(),
        truncated: true,
        ..event.clone()
    };
    serde_json::to_string(&slim).unwrap_or_default()
}

impl PgNotifyBus {
    /// Connects a listening connection for `url`'s database `schema`.
    pub async fn start(url: &str, schema: &str, capacity: usize) -> anyhow::Result<Arc<Self>> {
        let channel = channel_name(schema);
        let mut listener = PgListener::connect(url).await?;
        listener.listen(&channel).await?;
        Ok(Arc::new(PgNotifyBus {
            local: InProcessBus::new(capacity),
            channel,
            url: url.to_string(),
            listener: Mutex::new(Some(listener)),
        }))
    }

    /// Fans notifications out to this instance's subscribers until `shutdown`. Uses the
    /// connection made at start; run again (by the supervisor, after a failure) it listens
    /// on a new one.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> anyhow::Result<()> {
        let started = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut listener = match started {
            Some(listener) => listener,
            None => {
                let mut listener = PgListener::connect(&self.url).await?;
                listener.listen(&self.channel).await?;
                listener
            }
        };
        loop {
            let received = tokio::select! {
                received = listener.recv() => received,
                _ = shutdown.cancelled() => return Ok(()),
            };
            match received {
                Ok(notification) => {
                    match serde_json::from_str::<BusEvent>(notification.payload()) {
                        Ok(event) => self.local.publish(Arc::new(event)),
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
}

impl EventBus for PgNotifyBus {
    fn in_transaction(&self) -> Option<super::TransactionalChannel<'_>> {
        Some(super::TransactionalChannel {
            channel: &self.channel,
            encode,
        })
    }

    /// Always: other instances may have subscribers.
    fn carries(&self, _tenant: &str) -> bool {
        true
    }

    fn publish(&self, event: Arc<BusEvent>) {
        self.local.publish(event);
    }

    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<BusEvent>> {
        self.local.subscribe(tenant)
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
    fn large_events_travel_without_their_body() {
        let event = BusEvent {
            tenant_id: "t".into(),
            face: super::super::Face::Protocol,
            id: "oev_1".into(),
            subject: "i".into(),
            event_type: "comment".into(),
            actor: "a".into(),
            body: format!("{{\"text\":\"{}\"}}", "x".repeat(10_000)),
            truncated: false,
        };
        let encoded = encode(&event);
        assert!(encoded.len() <= MAX_PAYLOAD);
        let decoded: BusEvent = serde_json::from_str(&encoded).unwrap();
        assert!(decoded.truncated);
        assert_eq!(decoded.body, "null");
        let small = BusEvent {
            body: "{\"text\":\"hi\"}".into(),
            ..event
        };
        let decoded: BusEvent = serde_json::from_str(&encode(&small)).unwrap();
        assert!(!decoded.truncated);
        assert_eq!(decoded.body, small.body);
    }
}
