//! Authentication and authorization: the API key format, argon2 hashes, the verified-key
//! cache, scopes, and key management.

pub mod api_key;
pub mod keys;
pub mod password;
mod principal;
pub mod scrape;
mod usage;
pub mod verifier;

pub use principal::{scopes_from_column, scopes_to_column, Principal, Scope, TenantId};
pub use verifier::{AuthError, KeyVerifier, Rejection, VerifyError};
