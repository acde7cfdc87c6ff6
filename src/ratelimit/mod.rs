//! Per-key request limits in fixed one-minute windows aligned to the minute (SPEC.md §3
//! "Rate limiting"), and two per-address limits on failed authentications: one so keys
//! cannot be guessed at speed, one so an address cannot spend the process's argon2 time on
//! wrong secrets (each costs ~20 ms of a core and 19 MiB).
//!
//! Counting happens in [`counters`]: in Redis when it is configured (shared by every
//! instance), in process otherwise or while Redis is unreachable.

mod counters;
mod local;
mod shared;

use std::{net::IpAddr, sync::Arc, time::Duration};

use moka::future::Cache;

pub use counters::{Backend, Counters};
pub use shared::SharedCounters;

use crate::{
    error::Error,
    ids::TenantId,
    store::{self, Store},
    time::SharedClock,
};

/// Length of a counting window; windows start on the minute (Unix time divisible by this).
pub const WINDOW_SECS: u64 = 60;

/// How long an instance keeps a tenant's limit before reading it again.
pub const LIMIT_CACHE_TTL: Duration = Duration::from_secs(5);

/// The standing of one counted request in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    /// Requests still allowed in this window after this one.
    pub remaining: u64,
    /// Unix time (seconds) at which the window ends and the count starts again.
    pub reset_at: u64,
    /// Whole seconds until then (at least 1), for `Retry-After`.
    pub retry_after: u64,
    pub allowed: bool,
}

impl Quota {
    fn new(limit: u64, count: u64, window: Window) -> Self {
        let reset_at = (window.index + 1) * WINDOW_SECS;
        Quota {
            limit,
            remaining: limit.saturating_sub(count),
            reset_at,
            retry_after: reset_at.saturating_sub(window.now_secs).max(1),
            allowed: count <= limit,
        }
    }
}

/// The counting window a moment falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// Minutes since the Unix epoch.
    index: u64,
    now_secs: u64,
}

impl Window {
    fn at(now_ms: i64) -> Self {
        let now_secs = u64::try_from(now_ms).unwrap_or(0) / 1000;
        Window {
            index: now_secs / WINDOW_SECS,
            now_secs,
        }
    }
}

/// What a request bucket is keyed by.
enum Bucket<'a> {
    Key(&'a str),
    Address(IpAddr),
    /// Wrong secrets for real key prefixes: the failures that cost an argon2 run.
    Hashing(IpAddr),
    /// Console sign-in attempts from an address.
    SignInAddress(IpAddr),
    /// Console sign-in attempts at one account (`tenant/email`), from anywhere.
    SignInAccount(&'a str),
}

impl Bucket<'_> {
    fn name(&self) -> String {
        match self {
            Bucket::Key(id) => format!("key:{id}"),
            Bucket::Address(ip) => format!("addr:{ip}"),
            Bucket::Hashing(ip) => format!("hash:{ip}"),
            Bucket::SignInAddress(ip) => format!("signin-addr:{ip}"),
            Bucket::SignInAccount(account) => format!("signin-acct:{account}"),
        }
    }
}

pub struct RateLimiter {
    counters: Counters,
    store: Store,
    default_limit: u32,
    failure_limit: u32,
    tenant_limits: Cache<TenantId, u32>,
    clock: SharedClock,
}

impl RateLimiter {
    /// Limits per minute: `default_limit` requests per key unless the tenant overrides it,
    /// `failure_limit` failed authentications per client address.
    pub fn new(
        counters: Counters,
        store: Store,
        (default_limit, failure_limit): (u32, u32),
        clock: SharedClock,
    ) -> Self {
        Self {
            clock,
            counters,
            store,
            default_limit,
            failure_limit,
            tenant_limits: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(LIMIT_CACHE_TTL)
                .build(),
        }
    }

    /// Counts one request made with the key `key_id` of `tenant`.
    pub async fn admit_key(&self, tenant: &TenantId, key_id: &str) -> Result<Quota, Error> {
        let limit = self.tenant_limit(tenant).await?;
        let (count, window) = self.increment(Bucket::Key(key_id)).await;
        Ok(Quota::new(u64::from(limit), count, window))
    }

    /// Where the key `key_id` of `tenant` stands in this window, counting nothing: the
    /// headroom the console's usage page shows.
    pub async fn key_standing(&self, tenant: &TenantId, key_id: &str) -> Result<Quota, Error> {
        let limit = self.tenant_limit(tenant).await?;
        let window = self.window();
        let count = self
            .counters
            .current(&Bucket::Key(key_id).name(), window.index)
            .await;
        Ok(Quota::new(u64::from(limit), count, window))
    }

    /// Counts one failed authentication from `address`; not `allowed` once the address has
    /// failed more than the failure limit in this window.
    pub async fn admit_failure(&self, address: IpAddr) -> Quota {
        let (count, window) = self.increment(Bucket::Address(address)).await;
        Quota::new(u64::from(self.failure_limit), count, window)
    }

    /// Whether `address` may have one more key verified with argon2: not once it has had
    /// as many wrong secrets as the failure limit in this window. Counts nothing.
    pub async fn admit_hashing(&self, address: IpAddr) -> Quota {
        let window = self.window();
        let spent = self
            .counters
            .current(&Bucket::Hashing(address).name(), window.index)
            .await;
        // Judged as if this verification failed too: the standing it would leave.
        Quota::new(u64::from(self.failure_limit), spent + 1, window)
    }

    /// Counts one argon2 verification from `address` that found a wrong secret.
    pub async fn note_wrong_secret(&self, address: IpAddr) {
        self.increment(Bucket::Hashing(address)).await;
    }

    /// Adds one to `bucket` in the current window: the new count, and the window.
    async fn increment(&self, bucket: Bucket<'_>) -> (u64, Window) {
        let window = self.window();
        let count = self.counters.increment(&bucket.name(), window.index).await;
        (count, window)
    }

    /// Unix time (seconds) at which the current window ends.
    pub fn window_end(&self) -> u64 {
        (self.window().index + 1) * WINDOW_SECS
    }

    fn window(&self) -> Window {
        Window::at(self.clock.now_ms())
    }

    /// Counts one sign-in attempt at `account` from `address`: `per_minute` per address, a
    /// fifth of it (at least 1) per account, so a password is guessed neither fast from one
    /// place nor slowly from many. The returned quota is the tighter of the two.
    pub async fn admit_sign_in(
        &self,
        address: Option<IpAddr>,
        account: &str,
        per_minute: u32,
    ) -> Quota {
        let (count, window) = self.increment(Bucket::SignInAccount(account)).await;
        let by_account = Quota::new(u64::from((per_minute / 5).max(1)), count, window);
        let Some(address) = address else {
            return by_account;
        };
        let (count, window) = self.increment(Bucket::SignInAddress(address)).await;
        let by_address = Quota::new(u64::from(per_minute), count, window);
        if by_address.allowed
            && (!by_account.allowed || by_account.remaining < by_address.remaining)
        {
            by_account
        } else {
            by_address
        }
    }

    pub fn backend(&self) -> Backend {
        self.counters.backend()
    }

    async fn tenant_limit(&self, tenant: &TenantId) -> Result<u32, Error> {
        let store = &self.store;
        let default = self.default_limit;
        self.tenant_limits
            .try_get_with_by_ref(tenant, async move {
                let mut conn = store.reader().acquire().await?;
                let stored = store::tenants::rate_limit(&mut conn, tenant).await?;
                let limit = stored
                    .flatten()
                    .and_then(|limit| u32::try_from(limit).ok())
                    .unwrap_or(default);
                Ok::<_, Error>(limit)
            })
            .await
            .map_err(|err: Arc<Error>| {
                Error::Internal(anyhow::anyhow!("tenant limit lookup: {err}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_count_down_to_the_limit_and_reset_on_the_minute() {
        let minute = 28_000_000;
        let window = Window::at(minute * 60_000 + 43_000);
        let first = Quota::new(3, 1, window);
        assert_eq!((first.remaining, first.allowed), (2, true));
        let last = Quota::new(3, 3, window);
        assert_eq!((last.remaining, last.allowed), (0, true));
        let over = Quota::new(3, 4, window);
        assert_eq!((over.remaining, over.allowed), (0, false));
        assert_eq!(over.reset_at % 60, 0);
        assert_eq!(over.reset_at, (minute as u64 + 1) * 60);
        assert_eq!(over.retry_after, 17);
        let at_the_end = Quota::new(3, 4, Window::at((minute + 1) * 60_000 - 1));
        assert_eq!(at_the_end.retry_after, 1);
    }
}
