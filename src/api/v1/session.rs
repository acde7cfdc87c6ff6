//! `/v1/auth`: console sign-in and sign-out. Sign-in sets the session cookie (`HttpOnly`,
//! `SameSite=Strict`, `Secure` over HTTPS) and returns the CSRF token that mutations made
//! with the session must send in `X-CSRF-Token`.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi};

use super::users::UserOut;
use crate::{
    api::{
        error::{ApiError, ApiResult},
        schema::{example_json, examples},
        security::{session_token, SessionCookie},
        types::Data,
        Tag,
    },
    auth::{
        sessions::{NewSession, SessionService, SignIn, COOKIE_NAME},
        users::UserService,
    },
    time::rfc3339,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct SignInIn {
    tenant_id: String,
    email: String,
    password: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct SessionOut {
    tenant_id: String,
    user: UserOut,
    /// Send it as `X-CSRF-Token` with every request other than GET made with this session.
    csrf_token: String,
    expires_at: String,
}

examples! {
    SignInIn => {
        "tenantId": "tenant123",
        "email": "alice@example.com",
        "password": "correct horse battery staple"
    }
    SessionOut => {
        "tenantId": "tenant123",
        "user": (example_json::<UserOut>()),
        "csrfToken": "4nW1xQm9RkTe0yPz7LcVb2Hd5Js8Fg3Ua6Oi1Kl0Mn4",
        "expiresAt": "2024-01-15T21:00:00.000Z"
    }
}

#[derive(ApiResponse)]
pub enum SignInResponse {
    /// Signed in: the session cookie is set.
    #[oai(status = 200)]
    SignedIn(Json<Data<SessionOut>>, #[oai(header = "set-cookie")] String),
}

#[derive(ApiResponse)]
pub enum SignOutResponse {
    /// Signed out: the session is revoked and the cookie cleared.
    #[oai(status = 204)]
    SignedOut(#[oai(header = "set-cookie")] String),
}

pub struct SessionApi {
    sessions: Arc<SessionService>,
    users: Arc<UserService>,
}

impl SessionApi {
    pub fn new(sessions: Arc<SessionService>, users: Arc<UserService>) -> Self {
        Self { sessions, users }
    }

    /// `Set-Cookie` for `value`, living `max_age` seconds.
    fn cookie(&self, req: &Request, value: &str, max_age: u64) -> String {
        let behind_tls = req.uri().scheme_str() == Some("https")
            || req
                .header("x-forwarded-proto")
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        let secure = if self.sessions.policy().secure_cookies || behind_tls {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        )
    }
}

fn session_out(session: NewSession) -> SessionOut {
    SessionOut {
        tenant_id: session.tenant.to_string(),
        user: session.user.into(),
        csrf_token: session.csrf_token,
        expires_at: rfc3339(session.expires_at),
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Users")]
impl SessionApi {
    /// Sign in to the console with email and password. Attempts are rate limited per client
    /// address and per account; every failure is the same 401.
    #[oai(path = "/auth/login", method = "post", operation_id = "sign_in")]
    async fn sign_in(&self, req: &Request, body: Json<SignInIn>) -> ApiResult<SignInResponse> {
        let body = body.0;
        let attempt = SignIn {
            tenant: &body.tenant_id,
            email: &body.email,
            password: body.password,
            address: req.remote_addr().as_socket_addr().map(|a| a.ip()),
        };
        let session = self.sessions.sign_in(attempt).await?;
        let cookie = self.cookie(
            req,
            &session.token,
            self.sessions.policy().lifetime.as_secs(),
        );
        Ok(SignInResponse::SignedIn(
            Json(Data::new(session_out(session))),
            cookie,
        ))
    }

    /// The signed-in user and the session's CSRF token (for a console page that reloads).
    #[oai(path = "/auth/session", method = "get", operation_id = "get_session")]
    async fn current(&self, auth: SessionCookie) -> ApiResult<Json<Data<SessionOut>>> {
        let session = auth.0;
        let principal = &session.principal;
        let user = self
            .users
            .get(&principal.tenant_id, &principal.key_id)
            .await?;
        Ok(Json(Data::new(SessionOut {
            tenant_id: principal.tenant_id.to_string(),
            user: user.into(),
            csrf_token: session.csrf_token,
            expires_at: rfc3339(session.expires_at),
        })))
    }

    /// Sign out: the session ends at once, on every instance.
    #[oai(path = "/auth/logout", method = "post", operation_id = "sign_out")]
    async fn sign_out(&self, req: &Request, auth: SessionCookie) -> ApiResult<SignOutResponse> {
        let token = session_token(req).ok_or_else(|| ApiError::unauthorized("no session"))?;
        self.sessions.sign_out(&auth.0.principal, token).await?;
        Ok(SignOutResponse::SignedOut(self.cookie(req, "", 0)))
    }
}
