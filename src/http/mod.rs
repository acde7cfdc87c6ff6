//! The server (connections and their deadlines) and the middleware stack every request goes
//! through, outermost first: request id + span + access log + metrics → rate limit (and key
//! verification) → error envelope for anything that escaped a handler → request timeout →
//! panic catcher → body size limit → NUL refusal → routes.

mod body_limit;
mod deadlines;
mod nul_guard;
mod rate_limit;
pub use rate_limit::verify_presented;
mod rejected_requests;
mod request_context;
mod request_timeout;
mod server;

use std::{any::Any, sync::Arc, time::Duration};

use poem::{middleware::CatchPanic, Endpoint, EndpointExt, IntoResponse, Response};

use body_limit::BodyLimit;
pub use deadlines::ConnectionLimits;
use nul_guard::NulGuard;
use rate_limit::RateLimit;
use request_context::RequestContext;
use request_timeout::RequestTimeout;
pub use server::serve;

use crate::{
    api::error::render_framework_error, api::error::ApiError, auth::KeyVerifier, metrics::Metrics,
    ratelimit::RateLimiter,
};

/// What the middleware needs from the core.
pub struct Edge {
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<RateLimiter>,
    pub verifier: Arc<KeyVerifier>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
}

/// Wraps the routes in the service's middleware stack.
pub fn wrap<E>(routes: E, edge: Edge) -> impl Endpoint<Output = Response>
where
    E: Endpoint + 'static,
{
    routes
        .with(NulGuard)
        .with(BodyLimit::new(edge.max_body_bytes))
        .with(CatchPanic::new().with_handler(panic_response))
        .with(RequestTimeout::new(edge.request_timeout))
        .catch_all_error(|err| async move { render_framework_error(err) })
        .with(RateLimit::new(
            edge.limiter,
            edge.verifier,
            edge.metrics.clone(),
        ))
        .with(RequestContext::new(edge.metrics))
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    ApiError::internal(&format_args!("handler panicked: {message}")).into_response()
}

#[cfg(test)]
mod tests {
    use poem::{handler, http::StatusCode, test::TestClient, Route};

    use super::{request_context::REQUEST_ID_HEADER, *};

    #[handler]
    fn explode() -> &'static str {
        panic!("boom")
    }

    #[handler]
    fn echo(body: String) -> String {
        body
    }

    /// The stack over two test routes, with a 16-byte body limit.
    async fn client() -> (TestClient<impl Endpoint>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::store::Store::connect(&format!("sqlite://{}/t.db", dir.path().display()))
                .await
                .unwrap();
        store.migrate().await.unwrap();
        let metrics = Arc::new(Metrics::new());
        let counters = crate::ratelimit::Counters::new(None, metrics.clone());
        let edge = Edge {
            limiter: Arc::new(RateLimiter::new(
                counters,
                store.clone(),
                (1000, 60),
                crate::time::system_clock(),
            )),
            verifier: Arc::new(KeyVerifier::new(store, false, metrics.clone())),
            metrics,
            max_body_bytes: 16,
            request_timeout: Duration::from_secs(30),
        };
        let routes = Route::new()
            .at("/explode", explode)
            .at("/echo", poem::post(echo));
        (TestClient::new(wrap(routes, edge)), dir)
    }

    #[tokio::test]
    async fn panics_become_internal_error_envelopes_with_request_id() {
        let (client, _dir) = client().await;
        let resp = client.get("/explode").send().await;
        resp.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.0.headers().contains_key(REQUEST_ID_HEADER));
        let body: serde_json::Value = resp.0.into_body().into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert!(!body["error"]["message"].as_str().unwrap().contains("boom"));
    }

    #[tokio::test]
    async fn chunked_bodies_over_the_limit_are_refused() {
        let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![b'x'; 32])]);
        let (client, _dir) = client().await;
        let resp = client
            .post("/echo")
            .header("transfer-encoding", "chunked")
            .body(poem::Body::from_bytes_stream(stream))
            .send()
            .await;
        resp.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        let body: serde_json::Value = resp.0.into_body().into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn bodies_declaring_no_length_are_read_through_the_limit() {
        // No Content-Length, no Transfer-Encoding: how an HTTP/2 body may arrive.
        let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![b'x'; 32])]);
        let (client, _dir) = client().await;
        let resp = client
            .post("/echo")
            .body(poem::Body::from_bytes_stream(stream))
            .send()
            .await;
        resp.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![b'x'; 16])]);
        let resp = client
            .post("/echo")
            .body(poem::Body::from_bytes_stream(stream))
            .send()
            .await;
        resp.assert_status_is_ok();
        resp.assert_text("x".repeat(16)).await;
    }

    #[tokio::test]
    async fn client_request_ids_are_reused_only_when_sane() {
        let (client, _dir) = client().await;
        let resp = client
            .get("/nope")
            .header(REQUEST_ID_HEADER, "abc-123")
            .send()
            .await;
        resp.assert_status(StatusCode::NOT_FOUND);
        resp.assert_header(REQUEST_ID_HEADER, "abc-123");
        let resp = client
            .get("/nope")
            .header(REQUEST_ID_HEADER, "a b\"c")
            .send()
            .await;
        assert_ne!(resp.0.headers()[REQUEST_ID_HEADER], "a b\"c");
    }
}
