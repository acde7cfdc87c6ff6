//! The error envelope of the `/v1` face, `{"error": {"code", "message", "details"}}`, and the
//! one place where core errors and framework errors become HTTP responses.

use poem::{error::ResponseError, http::StatusCode, IntoResponse, Response};
use poem_openapi::{
    error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::{ToJSON, Type},
    ApiResponse, Object,
};

use super::{
    schema::AnyOf,
    types::{Documented, JsonObject},
};
use crate::{auth::AuthError, error::Error, error::FieldError};

/// Stable error codes clients switch on.
pub mod codes {
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const CONFLICT: &str = "CONFLICT";
    pub const GONE: &str = "GONE";
    pub const AGENT_NOT_FOUND: &str = "AGENT_NOT_FOUND";
    pub const IDEMPOTENCY_CONFLICT: &str = "IDEMPOTENCY_CONFLICT";
    pub const INVALID_TRANSITION: &str = "INVALID_TRANSITION";
    pub const ALREADY_RESOLVED: &str = "ALREADY_RESOLVED";
    pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    pub const NOT_READY: &str = "NOT_READY";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const SEPARATION_OF_DUTIES: &str = "SEPARATION_OF_DUTIES";
}

#[derive(Debug, Clone, Object)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    pub code: String,
    /// Human-readable description.
    pub message: String,
    /// `VALIDATION_ERROR`: every failing field; other codes: an object of facts
    /// (`NOT_READY`: each dependency's state).
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Documented<AnyOf<Vec<FieldErrorOut>, JsonObject>>>,
}

/// One failing field of a `VALIDATION_ERROR`.
#[derive(Debug, Clone, Object)]
pub struct FieldErrorOut {
    /// Where in the request, e.g. `["params", "amount"]`.
    pub path: Vec<String>,
    pub message: String,
}

/// An error response of the `/v1` face.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorEnvelope,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorEnvelope {
                error: ErrorBody {
                    code: code.to_string(),
                    message: message.into(),
                    details: None,
                },
            },
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.body.error.details = Some(Documented::new(details));
        self
    }

    /// `VALIDATION_ERROR` listing every failing field; the message joins them as `path: message; …`.
    pub fn validation(errors: &[FieldError]) -> Self {
        let message = FieldError::summary(errors);
        ApiError::new(StatusCode::BAD_REQUEST, codes::VALIDATION_ERROR, message)
            .with_details(serde_json::to_value(errors).unwrap_or_default())
    }

    /// A request the framework could not read (bad JSON, wrong type, unknown field, …).
    fn unreadable(message: impl Into<String>) -> Self {
        ApiError::validation(&[FieldError {
            path: Vec::new(),
            message: message.into(),
        }])
    }

    /// 500 `INTERNAL_ERROR`; the cause goes to the log (with the request id), never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL_ERROR,
            "An unexpected error occurred; it has been logged with this response's x-request-id",
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Unauthorized(message) => ApiError::unauthorized(message),
            Error::Forbidden(message) => ApiError::forbidden(message),
            Error::NotFound { what } => ApiError::new(
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
                format!("{what} not found"),
            ),
            Error::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, codes::CONFLICT, message)
            }
            Error::Gone(message) => ApiError::new(StatusCode::GONE, codes::GONE, message),
            err @ (Error::VersionConflict { .. } | Error::LeaseConflict { .. }) => {
                ApiError::new(StatusCode::CONFLICT, codes::CONFLICT, err.to_string())
            }
            err @ Error::AgentNotFound(_) => ApiError::new(
                StatusCode::NOT_FOUND,
                codes::AGENT_NOT_FOUND,
                err.to_string(),
            ),
            err @ Error::IdempotencyConflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                codes::IDEMPOTENCY_CONFLICT,
                err.to_string(),
            ),
            err @ Error::AlreadyResolved(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::ALREADY_RESOLVED,
                err.to_string(),
            ),
            err @ Error::InvalidTransition { .. } => ApiError::new(
                StatusCode::CONFLICT,
                codes::INVALID_TRANSITION,
                err.to_string(),
            ),
            err @ Error::SeparationOfDuties(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                codes::SEPARATION_OF_DUTIES,
                err.to_string(),
            ),
            err @ Error::RateLimited { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                codes::RATE_LIMITED,
                err.to_string(),
            )
            .with_details(serde_json::json!({ "retryAfter": retry_after_secs })),
            Error::Tool {
                code,
                message,
                details,
            } => ApiError::new(
                StatusCode::from_u16(code.status()).unwrap_or(StatusCode::FORBIDDEN),
                code.as_str(),
                message,
            )
            .with_details(details),
            Error::Validation(errors) => ApiError::validation(&errors),
            Error::Internal(cause) => ApiError::internal(&format_args!("{cause:#}")),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Rejected(rejection) => ApiError::unauthorized(rejection.to_string()),
            AuthError::Internal(cause) => ApiError::internal(&cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_error(self.status, &self.body)
    }
}

/// An error response of either face: `body`, the face's envelope, as JSON.
pub(crate) fn json_error(status: StatusCode, body: &impl ToJSON) -> Response {
    let body = body.to_json().unwrap_or_default();
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// How either face documents its errors: one default response carrying `E`, its envelope.
pub(crate) fn documented_errors<E: Type>(description: &'static str) -> MetaResponses {
    MetaResponses {
        responses: vec![MetaResponse {
            description,
            status: None,
            status_range: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: E::schema_ref(),
            }],
            headers: vec![],
        }],
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.error.message)
    }
}

impl std::error::Error for ApiError {}

/// As a `poem::Error` an `ApiError` stays itself: a face's middleware can take it back out
/// ([`framework_error`]) and render it in its own envelope.
impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.clone().into_response()
    }
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        documented_errors::<ErrorEnvelope>(
            "Error: `{\"error\": {\"code\", \"message\", \"details\"}}`",
        )
    }

    fn register(registry: &mut Registry) {
        ErrorEnvelope::register(registry);
    }
}

/// Renders any error that escaped the handlers (unknown route, unreadable body, missing key,
/// …) in the envelope.
pub fn render_framework_error(err: poem::Error) -> Response {
    framework_error(&err).into_response()
}

/// Any error a route can fail with, as an [`ApiError`]: ours as they are, the framework's
/// (unknown route, unreadable body, missing key, …) given their code.
pub fn framework_error(err: &poem::Error) -> ApiError {
    let status = err.status();
    if let Some(api_error) = err.downcast_ref::<ApiError>() {
        api_error.clone()
    } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        ApiError::unreadable(format!("request body is not valid: {}", payload.reason))
    } else if err.is::<ContentTypeError>() {
        ApiError::unreadable("request body must be JSON with Content-Type: application/json")
    } else if let Some(param) = err.downcast_ref::<ParseParamError>() {
        ApiError::validation(&[FieldError::new(&[param.name], param.reason.clone())])
    } else if let Some(path) = err.downcast_ref::<ParsePathError>() {
        // The framework names path parameters `param0`, … internally: the field is the path.
        ApiError::validation(&[FieldError::new(&["path"], path.reason.clone())])
    } else if err.is::<AuthorizationError>() {
        ApiError::unauthorized("API key is missing")
    } else if status == StatusCode::NOT_FOUND {
        ApiError::new(status, codes::NOT_FOUND, "no such route")
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        ApiError::new(
            status,
            codes::METHOD_NOT_ALLOWED,
            "method not allowed on this route",
        )
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, codes::VALIDATION_ERROR, "request body is too large")
    } else if status.is_client_error() {
        ApiError::new(status, codes::VALIDATION_ERROR, err.to_string())
    } else {
        ApiError::internal(err)
    }
}
