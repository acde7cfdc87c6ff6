//! The `x-api-key` security scheme: every authenticated operation takes a [`TenantKey`].

use std::sync::Arc;

use poem::Request;
use poem_openapi::{auth::ApiKey, SecurityScheme};

use super::error::ApiError;
use crate::{
    auth::{KeyVerifier, Principal, Scope},
    http::VerifiedKey,
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
    if let Some(claimed) = req.headers().get("x-tenant-id") {
        if claimed.as_bytes() != principal.tenant_id.as_str().as_bytes() {
            return Err(
                ApiError::forbidden("x-tenant-id does not match the API key's tenant").into(),
            );
        }
    }
    Ok(principal)
}
