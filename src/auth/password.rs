//! argon2id hashing of secrets (API keys, console passwords). CPU-heavy by design: callers
//! run it on the blocking pool and cache the outcome, never once per request.
//!
//! Every argon2 run in the process takes one of [`SLOTS`]' permits, one per core: a run holds
//! a core for ~20 ms and 19 MiB, so more at once would only queue on the blocking pool while
//! each waiting thread holds its own 19 MiB (hundreds of them, under a flood of wrong keys).
//!
//! The 19 MiB of working memory is kept between runs ([`MEMORY`], one buffer per slot) rather
//! than allocated per run as the argon2 crate does: glibc answers the first free of such a
//! block by raising its mmap threshold to that size, after which every later block comes from
//! heaps that are never given back; 200 wrong keys (two at a time) left ~400 MiB resident.

use std::{
    num::NonZeroUsize,
    sync::{LazyLock, Mutex, PoisonError},
    time::Duration,
};

use argon2::{
    password_hash::{self, rand_core::OsRng, Output, ParamsString, Salt, SaltString},
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
};
use tokio::sync::{Semaphore, SemaphorePermit};

static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
});

/// Working memory of finished runs, for the next ones (at most one buffer per slot).
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Every slot stayed taken for the caller's patience: refuse quickly rather than queue.
    #[error("every argon2 slot stayed busy for {0:?}")]
    Busy(Duration),
    #[error("argon2 task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The PHC string (`$argon2id$v=19$…`) of `secret` with a fresh random salt.
fn hash(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::default();
    let output = compute(&argon2, secret, salt.as_salt(), Params::DEFAULT_OUTPUT_LEN)
        .map_err(|err| anyhow::anyhow!("argon2 hashing failed: {err}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|err| anyhow::anyhow!("argon2 parameters: {err}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// True when `secret` matches the stored PHC string; a corrupt stored hash never matches.
fn verify(secret: &str, phc: &str) -> bool {
    let matches = || -> password_hash::Result<bool> {
        let stored = PasswordHash::new(phc)?;
        let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
            return Ok(false);
        };
        let version = stored.version.map(Version::try_from).transpose()?;
        let argon2 = Argon2::new(
            Algorithm::try_from(stored.algorithm)?,
            version.unwrap_or_default(),
            Params::try_from(&stored)?,
        );
        // `Output` compares in constant time.
        Ok(compute(&argon2, secret, salt, expected.len())? == expected)
    };
    matches().unwrap_or(false)
}

/// argon2 of `secret` and `salt` into `output_len` bytes, in reused working memory.
fn compute(
    argon2: &Argon2<'_>,
    secret: &str,
    salt: Salt<'_>,
    output_len: usize,
) -> password_hash::Result<Output> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let mut memory = MEMORY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop()
        .unwrap_or_default();
    memory.resize(argon2.params().block_count(), Block::default());
    let output = Output::init_with(output_len, |out| {
        Ok(argon2.hash_password_into_with_memory(secret.as_bytes(), salt, out, &mut memory)?)
    });
    MEMORY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(memory);
    output
}

/// [`hash`] on the blocking pool, waiting for a slot as long as it takes (key creation is an
/// administrator's request, already rate limited per key).
pub async fn hash_blocking(secret: String) -> anyhow::Result<String> {
    let _slot = SLOTS.acquire().await?;
    tokio::task::spawn_blocking(move || hash(&secret)).await?
}

/// [`verify`] on the blocking pool, once a slot is free; [`VerifyError::Busy`] when none
/// frees up within `patience`.
pub async fn verify_blocking(
    secret: String,
    phc: String,
    patience: Duration,
) -> Result<bool, VerifyError> {
    let _slot = acquire_within(&SLOTS, patience).await?;
    Ok(tokio::task::spawn_blocking(move || verify(&secret, &phc)).await?)
}

async fn acquire_within(
    slots: &Semaphore,
    patience: Duration,
) -> Result<SemaphorePermit<'_>, VerifyError> {
    match tokio::time::timeout(patience, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        // The semaphore is never closed; a timeout and a closed semaphore both mean "no slot".
        Ok(Err(_)) | Err(_) => Err(VerifyError::Busy(patience)),
    }
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

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let secret = "intendedops_t_0123456789abcdef";
        let theirs = Argon2::default()
            .hash_password(secret.as_bytes(), &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify(secret, &theirs));
        assert!(!verify("intendedops_t_0123456789abcdeX", &theirs));
        let ours = hash(secret).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok());
    }

    #[tokio::test]
    async fn a_slot_is_waited_for_only_as_long_as_the_patience() {
        let slots = Semaphore::new(1);
        let held = slots.acquire().await.unwrap();
        let outcome = acquire_within(&slots, Duration::from_millis(20)).await;
        assert!(matches!(outcome, Err(VerifyError::Busy(_))));
        drop(held);
        assert!(acquire_within(&slots, Duration::from_millis(20))
            .await
            .is_ok());
    }
}
