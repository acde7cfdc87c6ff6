//! The core's error type. Everything below the HTTP layer returns [`Error`]; each API face
//! converts it once into its own envelope (`api::error`), so every error a client can see
//! has a stable code and no internal detail leaks.

use serde::Serialize;

/// One failing input field: where it is in the request and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path into the request body, e.g. `["params", "amount"]`.
    pub path: Vec<String>,
    pub message: String,
}

impl FieldError {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        Self {
            path: path.iter().map(|segment| segment.to_string()).collect(),
            message: message.into(),
        }
    }

    /// Every error as `path: message`, joined by `; ` (the envelope's `message`, the CLI's).
    pub fn summary(errors: &[FieldError]) -> String {
        errors
            .iter()
            .map(|e| match e.path.is_empty() {
                true => e.message.clone(),
                false => format!("{}: {}", e.path.join("."), e.message),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller is not authenticated (no key, or a key that does not verify).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The caller is authenticated but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist, or belongs to another tenant (indistinguishable on purpose).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with the current state (duplicate id, …).
    #[error("{0}")]
    Conflict(String),
    /// The resource existed and has ended for good (a deregistered agent's heartbeat).
    #[error("{0}")]
    Gone(String),
    /// An intent names an agent that is not registered in the tenant.
    #[error("agent '{0}' is not registered")]
    AgentNotFound(String),
    /// An idempotency key was reused with a different request body.
    #[error("idempotency key '{0}' was already used with a different request")]
    IdempotencyConflict(String),
    /// An approval was already decided (approved, rejected or expired).
    #[error("this approval is already {0}")]
    AlreadyResolved(String),
    /// A status change the state machine does not allow from the current status.
    #[error("cannot {action} an intent that is {from}")]
    InvalidTransition { action: &'static str, from: String },
    /// An OpenIntent write named a version (`If-Match`) that is no longer current.
    #[error("version conflict: the {what} is at version {current}")]
    VersionConflict { what: &'static str, current: i64 },
    /// An OpenIntent scope is leased by another agent; `lease` is that lease as shown.
    #[error("{message}")]
    LeaseConflict {
        message: String,
        lease: serde_json::Value,
    },
    /// Separation of duties: the principal who submitted an intent may not approve it.
    #[error("{0}")]
    SeparationOfDuties(String),
    /// Too many attempts (console sign-in); retry after this many seconds.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// RFC-0014: the tool proxy refused an invocation, or could not complete it; `details`
    /// names the grant (and the invocation, once one was recorded).
    #[error("{message}")]
    Tool {
        code: ToolCode,
        message: String,
        details: serde_json::Value,
    },
    /// The request is well-formed but its content is invalid; every failing field is listed.
    #[error("{}", FieldError::summary(.0))]
    Validation(Vec<FieldError>),
    /// Anything unexpected: logged with the request id, shown to clients as `INTERNAL_ERROR`.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The RFC-0014 error codes of the tool proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCode {
    GrantNotFound,
    GrantExpired,
    GrantRevoked,
    GrantSuspended,
    GrantScopeInsufficient,
    GrantRateLimited,
    GrantParameterDenied,
    GrantContextMismatch,
    CredentialExpired,
    CredentialRevoked,
    /// The call could not be made or completed (refused address, network, timeout, size).
    ProxyError,
    /// The service answered with a server error.
    ServiceError,
}

impl ToolCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolCode::GrantNotFound => "GRANT_NOT_FOUND",
            ToolCode::GrantExpired => "GRANT_EXPIRED",
            ToolCode::GrantRevoked => "GRANT_REVOKED",
            ToolCode::GrantSuspended => "GRANT_SUSPENDED",
            ToolCode::GrantScopeInsufficient => "GRANT_SCOPE_INSUFFICIENT",
            ToolCode::GrantRateLimited => "GRANT_RATE_LIMITED",
            ToolCode::GrantParameterDenied => "GRANT_PARAMETER_DENIED",
            ToolCode::GrantContextMismatch => "GRANT_CONTEXT_MISMATCH",
            ToolCode::CredentialExpired => "CREDENTIAL_EXPIRED",
            ToolCode::CredentialRevoked => "CREDENTIAL_REVOKED",
            ToolCode::ProxyError => "PROXY_ERROR",
            ToolCode::ServiceError => "SERVICE_ERROR",
        }
    }

    /// The HTTP status: refusals are 403 (404 for no grant, 429 for the rate limit); a call
    /// that failed on the way or at the service is 502.
    pub fn status(self) -> u16 {
        match self {
            ToolCode::GrantRateLimited => 429,
            ToolCode::GrantNotFound => 404,
            ToolCode::ProxyError | ToolCode::ServiceError => 502,
            _ => 403,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(err).context("database error"))
    }
}

impl Error {
    /// The same error, with a failing field `from` reported as `to` (a check shared by two
    /// requests that name the field differently).
    pub fn renamed_field(self, from: &str, to: &str) -> Self {
        match self {
            Error::Validation(mut errors) => {
                for error in &mut errors {
                    if error.path.first().is_some_and(|first| first == from) {
                        error.path[0] = to.to_string();
                    }
                }
                Error::Validation(errors)
            }
            other => other,
        }
    }

    /// A validation error with a single failing field.
    pub fn invalid(path: &[&str], message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(path, message)])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
