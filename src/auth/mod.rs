//! Authentication and authorization: the API key format, argon2 hashes, the verified-key
//! cache, scopes, and key management.

pub mod api_key;
pub mod identity;
pub mod keys;
pub mod password;
mod principal;
pub mod scrape;
pub mod sessions;
mod usage;
pub mod users;
pub mod verifier;

pub use principal::{
    agents_from_column, scopes_from_column, scopes_to_column, Principal, Scope, TenantId,
    VerifiedKey,
};
pub use verifier::{AuthError, KeyVerifier, Rejection, VerifyError};
