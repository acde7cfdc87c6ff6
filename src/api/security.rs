//! The security schemes: an API key in `x-api-key` ([`TenantKey`]), or a console session's
//! cookie ([`SessionCookie`]). `/v1` operations take either ([`Credential`]); the OpenIntent
//! face takes keys only.

use std::sync::Arc;

use poem::{http::Method, Request};
use poem_openapi::{auth::ApiKey, SecurityScheme};

use super::error::ApiError;
use crate::auth::{
    sessions::{ActiveSession, SessionService, COOKIE_NAME},
    KeyVerifier, Principal, Scope, VerifiedKey,
};

/// The caller, authenticated by `x-api-key` (`intendedops_<tenant>_<secret>`).
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "x-api-key",
    key_in = "header",
    checker = "authenticate"
)]
pub struct TenantKey(pub Arc<Principal>);

impl TenantKey {
    /// The caller's principal if its key has `scope`, else 403 `FORBIDDEN`.
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        self.0.require(scope)?;
        Ok(&self.0)
    }
}

/// A console user, authenticated by the `intendedops_session` cookie that
/// `POST /v1/auth/login` sets. Requests other than GET must also send the session's CSRF token
/// (returned at sign-in) in `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "cookie",
    key_in = "header",
    checker = "authenticate_session"
)]
pub struct SessionCookie(pub ActiveSession);

/// Either credential: a console session or an API key (tried in that order).
#[derive(SecurityScheme)]
pub enum Credential {
    Session(SessionCookie),
    Key(TenantKey),
}

impl Credential {
    pub fn principal(&self) -> &Arc<Principal> {
        match self {
            Credential::Session(SessionCookie(session)) => &session.principal,
            Credential::Key(TenantKey(principal)) => principal,
        }
    }

    /// The caller's principal if it has `scope`, else 403 `FORBIDDEN`.
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        let principal = self.principal();
        principal.require(scope)?;
        Ok(principal)
    }
}

async fn authenticate(req: &Request, key: ApiKey) -> poem::Result<Arc<Principal>> {
    let principal = match req.extensions().get::<VerifiedKey>() {
        // The rate limiter verified this request's key already.
        Some(VerifiedKey(principal)) => principal.clone(),
        None => req
            .data::<Arc<KeyVerifier>>()
            .ok_or_else(|| ApiError::internal(&"key verifier is not installed"))?
            .authenticate(&key.key)
            .await
            .map_err(ApiError::from)?,
    };
    check_claimed_tenant(req, &principal)?;
    Ok(principal)
}

async fn authenticate_session(req: &Request, _cookie: ApiKey) -> poem::Result<ActiveSession> {
    let token = session_token(req)
        .ok_or_else(|| ApiError::unauthorized("no console session; sign in first"))?;
    let sessions = req
        .data::<Arc<SessionService>>()
        .ok_or_else(|| ApiError::internal(&"session service is not installed"))?;
    let session = sessions.authenticate(token).await.map_err(ApiError::from)?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let csrf = req.header("x-csrf-token").unwrap_or_default();
    if !safe && csrf != session.csrf_token {
        return Err(ApiError::forbidden(
            "a request made with a console session must carry the session's X-CSRF-Token",
        )
        .into());
    }
    check_claimed_tenant(req, &session.principal)?;
    Ok(session)
}

/// The session token of the request's `intendedops_session` cookie, if it has one.
pub fn session_token(req: &Request) -> Option<&str> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// An optional `x-tenant-id` that differs from the credential's tenant: 403.
fn check_claimed_tenant(req: &Request, principal: &Principal) -> poem::Result<()> {
    match req.headers().get("x-tenant-id") {
        Some(claimed) if claimed.as_bytes() != principal.tenant_id.as_str().as_bytes() => {
            Err(ApiError::forbidden("x-tenant-id does not match the credential's tenant").into())
        }
        _ => Ok(()),
    }
}
