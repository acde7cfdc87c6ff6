//! The error envelope of the OpenIntent face. It extends `/v1`'s
//! `{"error": {"code", "message", "details"}}` with the top-level fields OpenIntent clients
//! read: `message` (the Python SDK), `detail` (FastAPI-style clients), `errors` (400),
//! `current_version` (409 on a stale `If-Match`) and `existing_lease` (409 on a held scope).

use poem::{http::StatusCode, Endpoint, IntoResponse, Request, Response};
use serde_json::{json, Value};

use crate::{
    api::error::{render_framework_error, ApiError},
    error::Error,
};

/// A core error rendered in this face's envelope.
pub struct OiError(Response);

impl From<Error> for OiError {
    fn from(err: Error) -> Self {
        let extra = match &err {
            Error::VersionConflict { current } => json!({ "current_version": current }),
            Error::LeaseConflict { lease, .. } => json!({ "existing_lease": lease }),
            _ => json!({}),
        };
        let response = ApiError::from(err).into_response();
        OiError(upgrade(response, extra))
    }
}

impl From<ApiError> for OiError {
    fn from(err: ApiError) -> Self {
        OiError(err.into_response())
    }
}

impl From<OiError> for poem::Error {
    fn from(err: OiError) -> Self {
        poem::Error::from_response(err.0)
    }
}

/// Rewrites an error response of the `/v1` envelope into this face's, adding `extra` fields.
fn upgrade(response: Response, extra: Value) -> Response {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body();
    let bytes = futures_util::FutureExt::now_or_never(body.into_bytes())
        .and_then(Result::ok)
        .unwrap_or_default();
    let Ok(mut envelope) = serde_json::from_slice::<Value>(&bytes) else {
        return rebuild(status, &headers, bytes.to_vec());
    };
    let message = envelope["error"]["message"].clone();
    envelope["message"] = message.clone();
    envelope["detail"] = message;
    if status == StatusCode::BAD_REQUEST {
        envelope["errors"] = match envelope["error"]["details"].clone() {
            Value::Null => json!([]),
            details => details,
        };
    }
    if let (Value::Object(target), Value::Object(extra)) = (&mut envelope, extra) {
        target.extend(extra);
    }
    rebuild(status, &headers, envelope.to_string().into_bytes())
}

fn rebuild(status: StatusCode, headers: &poem::http::HeaderMap, body: Vec<u8>) -> Response {
    let mut response = Response::builder().status(status).body(body);
    for (name, value) in headers {
        if name != poem::http::header::CONTENT_LENGTH {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// Middleware for the face's routes: every error that leaves them (framework errors, the
/// security scheme's 401/403, handlers' errors) wears this face's envelope.
pub async fn envelope<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let response = match next.call(req).await {
        Ok(output) => output.into_response(),
        Err(err) => render_framework_error(err),
    };
    let is_json = response
        .content_type()
        .is_some_and(|ct| ct.starts_with("application/json"));
    // Upgrading is idempotent: handler errors, upgraded with their extra fields where they
    // were made, keep them.
    match (response.status().is_client_error() || response.status().is_server_error()) && is_json {
        true => Ok(upgrade(response, json!({}))),
        false => Ok(response),
    }
}
