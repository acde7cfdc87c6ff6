//! Turns a presented API key into a [`Principal`], running argon2 at most once per key per
//! process.
//!
//! Verified outcomes are cached by SHA-256 of the key (the cache never holds a key in clear).
//! Concurrent first requests with the same key share one verification (moka coalesces
//! loads). Revocation takes effect at once: a revoked key id joins `revoked`, which every
//! cache hit consults; revocations made by another process (the CLI, another instance) are
//! picked up by [`KeyVerifier::refresh_revocations`], polled every second.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
    time::Duration,
};

use moka::future::Cache;
use sha2::{Digest, Sha256};

use super::{
    api_key::{self, PresentedKey},
    password,
    principal::{scopes_from_column, Principal, TenantId},
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
    #[error("API key is not valid")]
    Unknown,
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

#[derive(Clone)]
enum Verdict {
    Valid(Arc<Principal>),
    Rejected(Rejection),
}

const CACHE_CAPACITY: u64 = 100_000;
/// Verified keys are re-checked against the database after this long without use.
const CACHE_IDLE: Duration = Duration::from_secs(3600);
/// Revocation times are compared with slack, for clock skew between instances.
const REVOCATION_SLACK_MS: Millis = 5_000;

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
        let presented = api_key::parse(raw, self.dev_mode).map_err(|_| Rejection::Malformed)?;
        let digest: [u8; 32] = Sha256::digest(raw.as_bytes()).into();
        let verdict = self
            .cache
            .try_get_with(digest, self.verify_uncached(presented))
            .await
            .map_err(|err| AuthError::Internal(format!("{err:#}")))?;
        match verdict {
            Verdict::Valid(principal) if self.is_revoked(&principal.key_id) => {
                Err(Rejection::Revoked.into())
            }
            Verdict::Valid(principal) => {
                self.usage.touch(&principal.key_id);
                Ok(principal)
            }
            Verdict::Rejected(rejection) => Err(rejection.into()),
        }
    }

    async fn verify_uncached(&self, key: PresentedKey<'_>) -> anyhow::Result<Verdict> {
        let candidates =
            api_keys::find_by_prefix(&self.store, key.tenant, key.lookup_prefix).await?;
        for row in candidates {
            self.metrics.key_verifications.inc();
            if !password::verify_blocking(key.raw.to_owned(), row.secret_hash).await? {
                continue;
            }
            if row.revoked_at.is_some() {
                return Ok(Verdict::Rejected(Rejection::Revoked));
            }
            return Ok(Verdict::Valid(Arc::new(Principal {
                tenant_id: TenantId::parse(&row.tenant_id)?,
                key_id: row.id.into(),
                scopes: scopes_from_column(&row.scopes),
            })));
        }
        Ok(Verdict::Rejected(Rejection::Unknown))
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
