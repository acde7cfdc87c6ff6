//! Rate limiting at the edge: a request with a valid key counts against that key's window
//! (limit from its tenant) and gets the `X-RateLimit-*` headers; a presented key that fails
//! to verify counts against the client address's failure window, so keys cannot be guessed
//! at speed. Over either limit: 429 `RATE_LIMITED` with `Retry-After`.
//!
//! The verified principal rides along in the request's extensions, so the `x-api-key`
//! security scheme does not verify the key a second time.

use std::sync::Arc;

use poem::{
    http::{HeaderMap, HeaderValue, StatusCode},
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
};

use crate::{
    api::{error::codes, error::ApiError},
    auth::{AuthError, KeyVerifier, Principal},
    metrics::Metrics,
    ratelimit::{Quota, RateLimiter},
};

/// The principal of a request whose key the rate limiter already verified.
#[derive(Clone)]
pub struct VerifiedKey(pub Arc<Principal>);

pub const API_KEY_HEADER: &str = "x-api-key";

pub struct RateLimit {
    limiter: Arc<RateLimiter>,
    verifier: Arc<KeyVerifier>,
    metrics: Arc<Metrics>,
}

impl RateLimit {
    pub fn new(
        limiter: Arc<RateLimiter>,
        verifier: Arc<KeyVerifier>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            limiter,
            verifier,
            metrics,
        }
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimitEndpoint {
            inner,
            limiter: self.limiter.clone(),
            verifier: self.verifier.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limiter: Arc<RateLimiter>,
    verifier: Arc<KeyVerifier>,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let Some(key) = req.header(API_KEY_HEADER) else {
            return self.pass(req).await;
        };
        let quota = match self.verifier.authenticate(key).await {
            Ok(principal) => {
                let quota = self
                    .limiter
                    .admit_key(&principal)
                    .await
                    .map_err(ApiError::from)?;
                self.metrics.rate_limit_ruled("key", quota.allowed);
                let span = tracing::Span::current();
                span.record("tenant", tracing::field::display(&principal.tenant_id));
                span.record("key_id", tracing::field::display(&principal.key_id));
                req.extensions_mut().insert(VerifiedKey(principal));
                quota
            }
            Err(AuthError::Rejected(_)) => {
                let Some(address) = req.remote_addr().as_socket_addr().map(|a| a.ip()) else {
                    return self.pass(req).await;
                };
                let quota = self.limiter.admit_failure(address).await;
                self.metrics.rate_limit_ruled("address", quota.allowed);
                if quota.allowed {
                    // The route answers 401 (or ignores the key, if it needs none).
                    return self.pass(req).await;
                }
                quota
            }
            // The security scheme reports it (as INTERNAL_ERROR, logged).
            Err(AuthError::Internal(_)) => return self.pass(req).await,
        };
        let mut response = if quota.allowed {
            self.pass(req).await?
        } else {
            too_many_requests(&quota)
        };
        set_quota_headers(response.headers_mut(), &quota);
        Ok(response)
    }
}

impl<E: Endpoint> RateLimitEndpoint<E> {
    async fn pass(&self, req: Request) -> Result<Response> {
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

fn too_many_requests(quota: &Quota) -> Response {
    let now_secs = crate::time::now_ms() as u64 / 1000;
    let retry_after = quota.retry_after(now_secs);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        codes::RATE_LIMITED,
        format!(
            "Too many requests: the limit is {} per minute; retry in {retry_after} s",
            quota.limit
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after));
    response
}

fn set_quota_headers(headers: &mut HeaderMap, quota: &Quota) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(quota.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(quota.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(quota.reset_at));
}
