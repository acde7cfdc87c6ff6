//! One signed POST to an endpoint, with the headers every webhook carries, through the
//! shared outbound client ([`crate::outbound`]: address checks, no redirects, bounded time and
//! size). Used by the delivery worker and by an endpoint's test ping.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use super::standard;
use crate::outbound::{Failure, Outbound};
use crate::outbox::envelope::sign;
use crate::time::{now_ms, rfc3339, Millis};

/// Per-attempt timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to send: a rendered body and how to sign it.
pub struct Message<'a> {
    pub url: &'a str,
    pub event_id: &'a str,
    pub event: &'a str,
    pub created_at: Millis,
    pub body: &'a str,
    pub secret: &'a str,
    /// The secret a rotation replaced, while it still signs.
    pub previous_secret: Option<&'a str>,
}

/// What one attempt produced.
#[derive(Debug)]
pub struct Outcome {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency: Duration,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }

    /// An attempt that stopped before connecting, and why.
    pub fn not_sent(reason: impl std::fmt::Display) -> Outcome {
        Outcome {
            status_code: None,
            error: Some(format!("not sent: {reason}")),
            latency: Duration::ZERO,
        }
    }
}

pub struct Sender {
    outbound: Arc<Outbound>,
}

impl Sender {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self { outbound }
    }

    pub async fn send(&self, message: &Message<'_>) -> Outcome {
        let url = match reqwest::Url::parse(message.url) {
            Ok(url) => url,
            Err(err) => return Outcome::not_sent(format!("the URL does not parse: {err}")),
        };
        let body = message.body.as_bytes();
        // Standard Webhooks: the time of this attempt (receivers refuse one more than five
        // minutes off, so a retry hours later is signed at its own time).
        let timestamp = now_ms().div_euclid(1000);
        let signatures = (message.secret, message.previous_secret);
        let mut request = self
            .outbound
            .request(reqwest::Method::POST, url.clone())
            .header("content-type", "application/json")
            .header("x-intendedops-signature", sign(message.secret, body))
            .header("x-intendedops-id", message.event_id)
            .header("x-intendedops-timestamp", rfc3339(message.created_at))
            .header("x-intendedops-event", message.event)
            .header("webhook-id", message.event_id)
            .header("webhook-timestamp", timestamp)
            .header(
                "webhook-signature",
                standard::signature_header(signatures, message.event_id, timestamp, body),
            );
        if let Some(previous) = message.previous_secret {
            request = request.header("x-intendedops-signature-previous", sign(previous, body));
        }
        if let Some(traceparent) = traceparent_of(message) {
            request = request.header("traceparent", traceparent);
        }
        let request = request.body(message.body.to_string());
        let started = Instant::now();
        match self.outbound.send(&url, request, ATTEMPT_TIMEOUT).await {
            Ok(reply) => Outcome {
                status_code: Some(reply.status),
                error: (!reply.is_success()).then(|| http_status(reply.status)),
                latency: reply.latency,
            },
            Err(Failure::Refused(reason)) => Outcome::not_sent(reason),
            Err(failure) => Outcome {
                status_code: None,
                error: Some(failure.to_string()),
                latency: started.elapsed(),
            },
        }
    }
}

/// `HTTP 404 Not Found`, as an attempt's error.
fn http_status(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code) {
        Ok(status) => format!("HTTP {status}"),
        Err(_) => format!("HTTP {code}"),
    }
}

/// RFC-0020: a delivery of an OpenIntent event that carries a W3C trace id continues that
/// trace: `traceparent` names it, with a span id derived from the event id (one per event,
/// the same on every retry).
fn traceparent_of(message: &Message<'_>) -> Option<String> {
    if !message.event.starts_with("openintent.") {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(message.body).ok()?;
    let trace = body["event"]["trace_id"].as_str()?;
    let header = crate::openintent::traceparent(trace, message.event_id);
    crate::openintent::trace_id_of(&header).map(|_| header)
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    fn message<'a>(event: &'a str, body: &'a str) -> Message<'a> {
        Message {
            url: "http://127.0.0.1:9",
            event_id: "oev_1",
            event,
            created_at: 0,
            body,
            secret: "s",
            previous_secret: None,
        }
    }

    #[test]
    fn traced_protocol_events_carry_traceparent() {
        let traced = r#"{"event":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}"#;
        let header = traceparent_of(&message("openintent.state_patched", traced)).unwrap();
        assert!(
            header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{header}"
        );
        assert!(header.ends_with("-01") && header.len() == 55, "{header}");
        let free_form = r#"{"event":{"trace_id":"trace-1"}}"#;
        assert_eq!(
            traceparent_of(&message("openintent.state_patched", free_form)),
            None
        );
        assert_eq!(traceparent_of(&message("intent.approved", traced)), None);
    }
}
