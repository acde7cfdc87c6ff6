//! The middleware stack every request goes through, outermost first:
//! request id + span + access log + metrics → error envelope for anything that escaped a
//! handler → panic catcher → body size limit → routes.

mod body_limit;
mod request_context;

use std::{any::Any, sync::Arc};

use poem::{middleware::CatchPanic, Endpoint, EndpointExt, IntoResponse, Response};

use body_limit::BodyLimit;
use request_context::RequestContext;

use crate::{api::error::render_framework_error, api::error::ApiError, metrics::Metrics};

/// Wraps the routes in the service's middleware stack.
pub fn wrap<E>(
    routes: E,
    metrics: Arc<Metrics>,
    max_body_bytes: usize,
) -> impl Endpoint<Output = Response>
where
    E: Endpoint + 'static,
{
    routes
        .with(BodyLimit::new(max_body_bytes))
        .with(CatchPanic::new().with_handler(panic_response))
        .catch_all_error(|err| async move { render_framework_error(err) })
        .with(RequestContext::new(metrics))
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

    fn client() -> TestClient<impl Endpoint> {
        let routes = Route::new()
            .at("/explode", explode)
            .at("/echo", poem::post(echo));
        TestClient::new(wrap(routes, Arc::new(Metrics::new()), 16))
    }

    #[tokio::test]
    async fn panics_become_internal_error_envelopes_with_request_id() {
        let resp = client().get("/explode").send().await;
        resp.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.0.headers().contains_key(REQUEST_ID_HEADER));
        let body: serde_json::Value = resp.0.into_body().into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert!(!body["error"]["message"].as_str().unwrap().contains("boom"));
    }

    #[tokio::test]
    async fn chunked_bodies_over_the_limit_are_refused() {
        let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![b'x'; 32])]);
        let resp = client()
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
    async fn client_request_ids_are_reused_only_when_sane() {
        let resp = client()
            .get("/nope")
            .header(REQUEST_ID_HEADER, "abc-123")
            .send()
            .await;
        resp.assert_status(StatusCode::NOT_FOUND);
        resp.assert_header(REQUEST_ID_HEADER, "abc-123");
        let resp = client()
            .get("/nope")
            .header(REQUEST_ID_HEADER, "a b\"c")
            .send()
            .await;
        assert_ne!(resp.0.headers()[REQUEST_ID_HEADER], "a b\"c");
    }
}
