//! One signed POST to an endpoint, with the headers every webhook carries, through a client
//! that refuses addresses the target policy forbids (see [`super::target`] for the three
//! checks). Used by the delivery worker and by an endpoint's test ping.

use std::time::{Duration, Instant};

use super::target::TargetPolicy;
use crate::outbox::envelope::sign;
use crate::time::{rfc3339, Millis};

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
    client: reqwest::Client,
    targets: TargetPolicy,
}

impl Sender {
    pub fn new(targets: TargetPolicy) -> anyhow::Result<Self> {
        let client = targets
            .guard(reqwest::Client::builder())
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("IntendedOps-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, targets })
    }

    pub async fn send(&self, message: &Message<'_>) -> Outcome {
        // Refused before connecting at all (the resolver does this for names).
        if let Err(refused) = self.targets.permit_literal(message.url) {
            return Outcome::not_sent(refused);
        }
        let started = Instant::now();
        let body = message.body.as_bytes();
        let mut request = self
            .client
            .post(message.url)
            .header("content-type", "application/json")
            .header("x-intendedops-signature", sign(message.secret, body))
            .header("x-intendedops-id", message.event_id)
            .header("x-intendedops-timestamp", rfc3339(message.created_at))
            .header("x-intendedops-event", message.event);
        if let Some(previous) = message.previous_secret {
            request = request.header("x-intendedops-signature-previous", sign(previous, body));
        }
        if let Some(traceparent) = traceparent_of(message) {
            request = request.header("traceparent", traceparent);
        }
        let result = request.body(message.body.to_string()).send().await;
        let latency = started.elapsed();
        match result {
            Ok(response) => {
                let status = response.status();
                Outcome {
                    status_code: Some(status.as_u16()),
                    error: (!status.is_success()).then(|| format!("HTTP {status}")),
                    latency,
                }
            }
            Err(err) => Outcome {
                status_code: None,
                error: Some(describe(&err)),
                latency,
            },
        }
    }
}

/// A transport error without the URL (which the tenant knows) but with its cause chain.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
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
    let header = format!("00-{trace}-{}-01", span_of(message.event_id));
    crate::openintent::trace_id_of(&header).map(|_| header)
}

fn span_of(event_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(event_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
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
