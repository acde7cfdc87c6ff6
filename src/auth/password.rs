//! argon2id hashing of secrets (API keys, console passwords). CPU-heavy by design: callers
//! run it on the blocking pool and cache the outcome, never once per request.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

/// The PHC string (`$argon2id$v=19$…`) of `secret` with a fresh random salt.
pub fn hash(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| anyhow::anyhow!("argon2 hashing failed: {err}"))
}

/// True when `secret` matches the stored PHC string; a corrupt stored hash never matches.
pub fn verify(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`hash`] on the blocking pool.
pub async fn hash_blocking(secret: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&secret)).await?
}

/// [`verify`] on the blocking pool.
pub async fn verify_blocking(secret: String, phc: String) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || verify(&secret, &phc)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let first = hash("intendedops_t_0123456789abcdef").unwrap();
        let second = hash("intendedops_t_0123456789abcdef").unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("intendedops_t_0123456789abcdef", &first));
        assert!(!verify("intendedops_t_0123456789abcdeX", &first));
        assert!(!verify("anything", "not a phc string"));
    }
}
