//! The error envelope of the OpenIntent face. It extends `/v1`'s
//! `{"error": {"code", "message", "details"}}` with the top-level fields OpenIntent clients
//! read: `message` (the Python SDK), `detail` (FastAPI-style clients), `errors` (400),
//! `current_version` (409 on a stale `If-Match`) and `existing_lease` (409 on a held scope).

use poem::{error::ResponseError, http::StatusCode, Endpoint, IntoResponse, Request, Response};
use poem_openapi::{
    registry::{MetaResponses, Registry},
    types::Type,
    ApiResponse, Object,
};
use serde_json::Value;

use crate::{
    api::{
        error::{
            documented_errors, framework_error, json_error, ApiError, ErrorBody, FieldErrorOut,
        },
        schema::AnyOf,
        types::{Documented, JsonObject},
    },
    error::{Error, ToolCode},
};

/// The face's error body.
#[derive(Debug, Clone, Object)]
pub struct OiErrorEnvelope {
    error: ErrorBody,
    /// The message again, where the Python SDK reads it.
    message: String,
    /// The message again, where FastAPI-style clients read it.
    detail: String,
    /// 400: every failing field (`[]` when none is named).
    #[oai(skip_serializing_if_is_none)]
    errors: Option<Documented<AnyOf<Vec<FieldErrorOut>, JsonObject>>>,
    /// 409 on a stale `If-Match`: the intent's version now.
    #[oai(skip_serializing_if_is_none)]
    current_version: Option<i64>,
    /// 409 on a leased scope: the lease that holds it.
    #[oai(skip_serializing_if_is_none)]
    existing_lease: Option<JsonObject>,
}

/// An error response of this face.
#[derive(Debug, Clone)]
pub struct OiError {
    status: StatusCode,
    /// Boxed: every operation's `Result` carries this error, and most answers are `Ok`.
    body: Box<OiErrorEnvelope>,
    /// A 429's `Retry-After`, in seconds.
    retry_after: Option<u64>,
}

impl From<ApiError> for OiError {
    fn from(err: ApiError) -> Self {
        let errors = (err.status == StatusCode::BAD_REQUEST).then(|| {
            let details = err.body.error.details.as_ref().map(|d| d.value.clone());
            Documented::new(details.unwrap_or_else(|| Value::Array(Vec::new())))
        });
        OiError {
            status: err.status,
            body: Box::new(OiErrorEnvelope {
                message: err.body.error.message.clone(),
                detail: err.body.error.message.clone(),
                error: err.body.error,
                errors,
                current_version: None,
                existing_lease: None,
            }),
            retry_after: None,
        }
    }
}

impl From<Error> for OiError {
    fn from(err: Error) -> Self {
        let (current_version, existing_lease) = match &err {
            Error::VersionConflict { current, .. } => (Some(*current), None),
            Error::LeaseConflict { lease, .. } => (None, Some(JsonObject(lease.clone()))),
            _ => (None, None),
        };
        // The protocol answers a decision on a settled request with 409 (the SDK's
        // `ConflictError`); `/v1` keeps the contract's 400. The code is the same.
        let settled = matches!(err, Error::AlreadyResolved(_));
        let retry_after = match &err {
            Error::Tool {
                code: ToolCode::GrantRateLimited,
                details,
                ..
            } => details["retry_after_seconds"].as_u64(),
            _ => None,
        };
        let mut oi = OiError::from(ApiError::from(err));
        if settled {
            oi.status = StatusCode::CONFLICT;
        }
        oi.body.current_version = current_version;
        oi.body.existing_lease = existing_lease;
        oi.retry_after = retry_after;
        oi
    }
}

impl std::fmt::Display for OiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.message)
    }
}

impl std::error::Error for OiError {}

impl ResponseError for OiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.clone().into_response()
    }
}

impl IntoResponse for OiError {
    fn into_response(self) -> Response {
        let mut response = json_error(self.status, &*self.body);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert("retry-after", seconds.into());
        }
        response
    }
}

impl ApiResponse for OiError {
    fn meta() -> MetaResponses {
        documented_errors::<OiErrorEnvelope>(
            "Error: `{\"error\": {\"code\", \"message\", \"details\"}, \"message\", \"detail\", …}`",
        )
    }

    fn register(registry: &mut Registry) {
        OiErrorEnvelope::register(registry);
    }
}

/// Middleware for the face's routes: every error that leaves them (framework errors, the
/// security scheme's 401/403, handlers' errors) wears this face's envelope.
pub async fn envelope<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    match next.call(req).await {
        Ok(output) => Ok(output.into_response()),
        Err(err) => Ok(match err.downcast_ref::<OiError>() {
            Some(oi) => oi.clone().into_response(),
            None => OiError::from(framework_error(&err)).into_response(),
        }),
    }
}
