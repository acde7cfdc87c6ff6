//! Turns a presented API key into a [`Principal`], running argon2 at most once per key per
//! process.
//!
//! Verified outcomes are cached by SHA-256 of the key (the cache never holds a key in clear).
//! Concurrent first requests with the same key share one verification (moka coalesces
//! loads). Revocation takes effect at once: a revoked key id joins `revoked`, which every
//! cache hit consults; revocations made by another process (the CLI, another instance) are
//! picked up by [`KeyVerifier::refresh_revocations`], polled every second.
//!
//! argon2 is the expensive step, so the rate limiter asks [`KeyVerifier::cached`] first
//! (no argon2, ever) and only calls [`KeyVerifier::verify`] after checking the caller's
//! address may still spend argon2 time; [`KeyVerifier::verify`] waits at most
//! `SLOT_PATIENCE` for one of the process's argon2 slots.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
    time::Duration,
};

use moka::future::Cache;
use sha2::{Digest, Sha256};

use super::{
    api_key::{self, MalformedKey, PresentedKey},
    password::{self, VerifyError as HashError},
    principal::{agents_from_column, scopes_from_column, Principal},
    usage::UsageTracker,
};
use crate::{
    metrics::Metrics,
    store::{api_keys, Store},
    time::Millis,
};

/// Why a key was refused; every variant is a 401 to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("API key is malformed")]
    Malformed,
    /// Shaped like an issued key, but its checksum does not match: mistyped or truncated.
    #[error("API key is malformed: its checksum does not match (mistyped or truncated?)")]
    BadChecksum,
    #[error("API key is not valid")]
    Unknown,
    /// A stored key has this key's prefix but another secret: argon2 ran and said no. The
    /// client is told exactly what [`Rejection::Unknown`] tells it.
    #[error("API key is not valid")]
    WrongSecret,
    #[error("API key has been revoked")]
    Revoked,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("key verification failed: {0}")]
    Internal(String),
}

/// The outcome of a verification that may have needed argon2.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// No argon2 slot freed up in time: the key is neither accepted nor refused.
    #[error("too many keys are being verified at once")]
    Busy,
    #[error("key verification failed: {0}")]
    Internal(String),
}

impl From<VerifyError> for AuthError {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::Rejected(rejection) => AuthError::Rejected(rejection),
            busy @ VerifyError::Busy => AuthError::Internal(busy.to_string()),
            VerifyError::Internal(cause) => AuthError::Internal(cause),
        }
    }
}

/// Why [`KeyVerifier::verify_uncached`] produced no verdict (never cached).
#[derive(Debug, thiserror::Error)]
enum Unverified {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("reading the key failed: {0}")]
    Store(#[from] sqlx::Error),
}

#[derive(Clone)]
enum Verdict {
    Valid(Arc<Principal>),
    Rejected(Rejection),
}

const CACHE_CAPACITY: u64 = 100_000;
/// How long a verification waits for an argon2 slot before the request is refused with 429:
/// long enough to absorb a burst of first requests after a restart (~50 verifications per
/// core), short enough that a flood of wrong keys cannot pile up waiting requests.
const SLOT_PATIENCE: Duration = Duration::from_secs(1);
/// Verified keys are re-checked against the database after this long without use.
const CACHE_IDLE: Duration = Duration::from_secs(3600);
/// Revocation times are compared with slack, for clock skew between instances.
const REVOCATION_SLACK_MS: Millis = 5_000;

/// Cache key of a presented key: its SHA-256, so the cache never holds a key in clear.
fn digest(raw: &str) -> [u8; 32] {
    Sha256::digest(raw.as_bytes()).into()
}

pub struct KeyVerifier {
    store: Store,
    dev_mode: bool,
    cache: Cache<[u8; 32], Verdict>,
    revoked: RwLock<HashSet<Arc<str>>>,
    usage: UsageTracker,
    metrics: Arc<Metrics>,
}

impl KeyVerifier {
    pub fn new(store: Store, dev_mode: bool, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            dev_mode,
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_idle(CACHE_IDLE)
                .build(),
            revoked: RwLock::default(),
            usage: UsageTracker::default(),
            metrics,
        }
    }

    pub fn dev_mode(&self) -> bool {
        self.dev_mode
    }

    /// Authenticates a raw `x-api-key` value.
    pub async fn authenticate(&self, raw: &str) -> Result<Arc<Principal>, AuthError> {
        Ok(self.verify(raw).await?)
    }

    /// The verdict on a raw `x-api-key` value when it needs no argon2: the key is malformed,
    /// or this process has verified it before. `None`: only [`KeyVerifier::verify`] can tell.
    /// Every request with a key asks this first, so it is where refusals by checksum (no
    /// lookup, no argon2) are counted.
    pub async fn cached(&self, raw: &str) -> Option<Result<Arc<Principal>, Rejection>> {
        if let Err(malformed) = self.parse(raw) {
            if malformed == Rejection::BadChecksum {
                self.metrics.key_checksum_failures.inc();
            }
            return Some(Err(malformed));
        }
        let verdict = self.cache.get(&digest(raw)).await?;
        Some(self.settle(verdict))
    }

    /// Authenticates a raw `x-api-key` value, running argon2 if it is not cached.
    pub async fn verify(&self, raw: &str) -> Result<Arc<Principal>, VerifyError> {
        let presented = self.parse(raw)?;
        let verdict = self
            .cache
            .try_get_with(digest(raw), self.verify_uncached(presented))
            .await
            .map_err(|err| match *err {
                Unverified::Hash(HashError::Busy(_)) => VerifyError::Busy,
                ref other => VerifyError::Internal(other.to_string()),
            })?;
        Ok(self.settle(verdict)?)
    }

    fn parse<'a>(&self, raw: &'a str) -> Result<PresentedKey<'a>, Rejection> {
        api_key::parse(raw, self.dev_mode).map_err(|malformed| match malformed {
            MalformedKey::Shape => Rejection::Malformed,
            MalformedKey::Checksum => Rejection::BadChecksum,
        })
    }

    /// A cached verdict as of now: revocations apply at once, and use is noted.
    fn settle(&self, verdict: Verdict) -> Result<Arc<Principal>, Rejection> {
        match verdict {
            Verdict::Valid(principal) if self.is_revoked(&principal.key_id) => {
                Err(Rejection::Revoked)
            }
            Verdict::Valid(principal) => {
                self.usage.touch(&principal.key_id);
                Ok(principal)
            }
            Verdict::Rejected(rejection) => Err(rejection),
        }
    }

    async fn verify_uncached(&self, key: PresentedKey<'_>) -> Result<Verdict, Unverified> {
        self.metrics.key_lookups.inc();
        let candidates =
            api_keys::find_by_prefix(&self.store, &key.tenant, key.lookup_prefix).await?;
        let mut rejection = Rejection::Unknown;
        for row in candidates {
            self.metrics.key_verifications.inc();
            let matches =
                password::verify_blocking(key.raw.to_owned(), row.secret_hash, SLOT_PATIENCE)
                    .await?;
            if !matches {
                rejection = Rejection::WrongSecret;
                continue;
            }
            if row.revoked_at.is_some() {
                return Ok(Verdict::Rejected(Rejection::Revoked));
            }
            let tenant = row.tenant_id.clone();
            return Ok(Verdict::Valid(Arc::new(Principal {
                agents: agents_from_column(row.agents.as_deref()).into(),
                person: row.owner_user_id.map(Into::into),
                ..Principal::for_key(tenant, &row.id, scopes_from_column(&row.scopes))
            })));
        }
        Ok(Verdict::Rejected(rejection))
    }

    fn is_revoked(&self, key_id: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key_id)
    }

    /// Makes a revocation effective in this process immediately.
    pub fn mark_revoked(&self, key_id: &str) {
        self.revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key_id.into());
    }

    /// Loads revocations made since `since` (by any process); returns the next `since`.
    pub async fn refresh_revocations(&self, since: Millis) -> anyhow::Result<Millis> {
        let revoked = api_keys::revoked_since(&self.store, since).await?;
        let mut next = since;
        for (key_id, at) in revoked {
            self.mark_revoked(&key_id);
            next = next.max(at - REVOCATION_SLACK_MS);
        }
        Ok(next)
    }

    /// Writes pending `lastUsedAt` updates.
    pub async fn flush_usage(&self) -> anyhow::Result<usize> {
        self.usage.flush(&self.store).await
    }

    /// Polls revocations every second and flushes key usage every ten, until `shutdown`;
    /// flushes once more on the way out so no use is forgotten.
    pub async fn run_maintenance(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let mut since = crate::time::now_ms() - REVOCATION_SLACK_MS;
        let mut ticks: u64 = 0;
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            let polled = self.refresh_revocations(since).await;
            self.metrics.job_ran("revocation_poll", polled.is_ok());
            match polled {
                Ok(next) => since = next,
                Err(err) => tracing::warn!(error = %format!("{err:#}"), "revocation poll failed"),
            }
            ticks += 1;
            if ticks % 10 == 0 {
                self.flush_usage_logged().await;
            }
        }
        self.flush_usage_logged().await;
    }

    async fn flush_usage_logged(&self) {
        let flushed = self.flush_usage().await;
        self.metrics.job_ran("key_usage_flush", flushed.is_ok());
        if let Err(err) = flushed {
            tracing::warn!(error = %format!("{err:#}"), "lastUsedAt flush failed");
        }
    }
}
