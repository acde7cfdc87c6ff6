//! Outermost middleware: gives every request an id (`x-request-id`, reused from the client
//! when it is a sane token), runs the request inside a tracing span carrying that id (so every
//! log line of the request has it), and records the request line and HTTP metrics.
//!
//! The request line (method, path, status, latency, request id, and the tenant and key id once
//! the key is verified) is logged at `info`, so an id a user quotes can be found at the default
//! level; floods of 401 and 429 lines are summarised ([`RejectedRequests`]).

use std::{sync::Arc, time::Instant};

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use super::rejected_requests::{is_rejection, RejectedRequests};
use crate::metrics::{HttpMethod, Metrics};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_INCOMING_ID_LEN: usize = 64;

pub struct RequestContext {
    metrics: Arc<Metrics>,
    rejected: Arc<RejectedRequests>,
}

impl RequestContext {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            rejected: Arc::default(),
        }
    }
}

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestContextEndpoint {
            inner,
            metrics: self.metrics.clone(),
            rejected: self.rejected.clone(),
        }
    }
}

pub struct RequestContextEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    rejected: Arc<RejectedRequests>,
}

/// The client's id when it is 1–64 characters of `[A-Za-z0-9._-]`, else a fresh ULID.
fn request_id(req: &Request) -> String {
    req.header(REQUEST_ID_HEADER)
        .filter(|id| {
            (1..=MAX_INCOMING_ID_LEN).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let id = request_id(&req);
        let method = HttpMethod::from(req.method());
        // `tenant` and `key_id` are filled in by the rate limiter once it verified the key.
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
            tenant = tracing::field::Empty,
            key_id = tracing::field::Empty,
        );
        let outcome = self.inner.call(req).instrument(span.clone()).await;
        let mut response = match outcome {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        };
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics
            .observe_http(method, status, elapsed.as_secs_f64());
        self.log_request_line(&span, status, elapsed);
        if let Ok(value) = id.parse() {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Ok(response)
    }
}

impl<E> RequestContextEndpoint<E> {
    fn log_request_line(&self, span: &tracing::Span, status: u16, elapsed: std::time::Duration) {
        let now = Instant::now();
        let (log_it, summary) = if is_rejection(status) {
            self.rejected.note(status, now)
        } else {
            (true, self.rejected.flush(now))
        };
        if let Some(summary) = summary {
            summary.log();
        }
        if log_it {
            span.in_scope(|| {
                tracing::info!(
                    status,
                    latency_us = elapsed.as_micros() as u64,
                    "request finished"
                )
            });
        }
    }
}
