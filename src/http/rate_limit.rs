//! Rate limiting at the edge: a request with a valid key counts against that key's window
//! (limit from its tenant) and gets the `X-RateLimit-*` headers and the IETF `RateLimit` and
//! `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers); a presented key that fails
//! to verify counts against the client address's failure window, so keys cannot be guessed
//! at speed. Over either limit: 429 `RATE_LIMITED` with `Retry-After`.
//!
//! A key this process has not seen before costs an argon2 run, so before verifying one the
//! address's wrong-secret budget is consulted (spent: 429 without argon2), and verification
//! waits only briefly for an argon2 slot (none free: 429 with `Retry-After: 1`). A key seen
//! before (the hot path) consults neither.
//!
//! The verified principal rides along in the request's extensions, so the `x-api-key`
//! security scheme does not verify the key a second time.

use std::{net::IpAddr, sync::Arc};

use poem::{
    http::{HeaderMap, HeaderValue, StatusCode},
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
};

use crate::{
    api::{error::codes, error::ApiError},
    auth::{KeyVerifier, Principal, Rejection, VerifiedKey, VerifyError},
    metrics::Metrics,
    ratelimit::{Quota, RateLimiter, WINDOW_SECS},
};

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
        let address = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let outcome = match verify_presented(
            &self.limiter,
            &self.verifier,
            &self.metrics,
            key,
            address,
        )
        .await
        {
            Ok(verified) => verified,
            Err(standing) => return Ok(limited_response(&standing, Policy::AuthFailures)),
        };
        let (quota, policy) = match outcome {
            Ok(principal) => {
                let quota = self
                    .limiter
                    .admit_key(&principal.tenant_id, &principal.key_id)
                    .await
                    .map_err(ApiError::from)?;
                self.metrics.rate_limit_ruled("key", quota.allowed);
                let span = tracing::Span::current();
                span.record("tenant", tracing::field::display(&principal.tenant_id));
                span.record("key_id", tracing::field::display(&principal.key_id));
                req.extensions_mut().insert(VerifiedKey(principal));
                (quota, Policy::Key)
            }
            Err(VerifyError::Rejected(_)) => {
                let Some(address) = address else {
                    return self.pass(req).await;
                };
                let quota = self.limiter.admit_failure(address).await;
                self.metrics.rate_limit_ruled("address", quota.allowed);
                if quota.allowed {
                    // The route answers 401 (or ignores the key, if it needs none).
                    return self.pass(req).await;
                }
                (quota, Policy::AuthFailures)
            }
            Err(VerifyError::Busy) => {
                self.metrics.rate_limit_ruled("argon2_slots", false);
                return Ok(argon2_busy());
            }
            // The security scheme reports it (as INTERNAL_ERROR, logged).
            Err(VerifyError::Internal(_)) => return self.pass(req).await,
        };
        if quota.allowed {
            let mut response = self.pass(req).await?;
            set_quota_headers(response.headers_mut(), &quota, policy);
            Ok(response)
        } else {
            Ok(limited_response(&quota, policy))
        }
    }
}

impl<E: Endpoint> RateLimitEndpoint<E> {
    async fn pass(&self, req: Request) -> Result<Response> {
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// The verdict on a presented key: from the cache when this process verified it before (no
/// argon2), else by verification, unless `address` has spent its wrong-secret budget (`Err`:
/// that standing, to be answered 429 without running argon2). The edge and the leaked-key
/// report both verify through here, so neither is a way around the other's limits.
pub async fn verify_presented(
    limiter: &RateLimiter,
    verifier: &KeyVerifier,
    metrics: &Metrics,
    key: &str,
    address: Option<IpAddr>,
) -> Result<Result<Arc<Principal>, VerifyError>, Quota> {
    if let Some(known) = verifier.cached(key).await {
        return Ok(known.map_err(VerifyError::from));
    }
    if let Some(address) = address {
        let standing = limiter.admit_hashing(address).await;
        if !standing.allowed {
            metrics.rate_limit_ruled("hashing", false);
            return Err(standing);
        }
    }
    let verified = verifier.verify(key).await;
    if let (Err(VerifyError::Rejected(Rejection::WrongSecret)), Some(address)) =
        (&verified, address)
    {
        limiter.note_wrong_secret(address).await;
    }
    Ok(verified)
}

/// 429 with the window's `Retry-After` and quota headers.
fn limited_response(quota: &Quota, policy: Policy) -> Response {
    let mut response = too_many_requests(quota);
    set_quota_headers(response.headers_mut(), quota, policy);
    response
}

/// 429 when every argon2 slot stayed busy: nothing was decided about the key, so the client
/// may simply try again a second later.
fn argon2_busy() -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        codes::RATE_LIMITED,
        "Too many API keys are being verified right now; retry in 1 s",
    )
    .into_response();
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(1u32));
    response
}

fn too_many_requests(quota: &Quota) -> Response {
    let retry_after = quota.retry_after;
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

/// Which window a quota is counted in, as the `RateLimit` fields name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// Requests per key (the tenant's limit).
    Key,
    /// Failed authentications per client address.
    AuthFailures,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Key => "key",
            Policy::AuthFailures => "auth-failures",
        }
    }
}

/// The seed's `X-RateLimit-*` (limit, remaining, reset as Unix time) and the same standing in
/// the IETF draft's structured fields: `RateLimit-Policy: "key";q=1000;w=60` (quota per
/// window) and `RateLimit: "key";r=998;t=42` (remaining, seconds until the window resets, the
/// value a 429's `Retry-After` carries).
fn set_quota_headers(headers: &mut HeaderMap, quota: &Quota, policy: Policy) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(quota.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(quota.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(quota.reset_at));
    let name = policy.name();
    let fields = [
        (
            "ratelimit-policy",
            format!("\"{name}\";q={};w={WINDOW_SECS}", quota.limit),
        ),
        (
            "ratelimit",
            format!("\"{name}\";r={};t={}", quota.remaining, quota.retry_after),
        ),
    ];
    for (header, value) in fields {
        // From the String itself: no copy.
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(header, value);
        }
    }
}
