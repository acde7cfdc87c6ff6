//! Chooses where a count goes: Redis while it answers, the in-process counters otherwise.
//!
//! The first failed Redis call switches this instance to the in-process counters (one warning
//! in the log, the `intendedops_ratelimit_redis_degraded` gauge at 1). While degraded, one
//! request per [`PROBE_PERIOD`] tries Redis again; the first success switches back.

use std::sync::{
    atomic::{AtomicBool, AtomicI64, Ordering},
    Arc,
};

use super::{local::LocalCounters, shared::SharedCounters};
use crate::{metrics::Metrics, time::now_ms};

const PROBE_PERIOD_MS: i64 = 1_000;

/// Where counts are kept right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// No Redis configured.
    InProcess,
    /// Shared through Redis.
    Redis,
    /// Redis is configured but unreachable: counting in process until it answers again.
    Degraded,
}

pub struct Counters {
    local: LocalCounters,
    shared: Option<SharedCounters>,
    degraded: AtomicBool,
    /// While degraded: when (ms) the next request may probe Redis.
    next_probe_at: AtomicI64,
    metrics: Arc<Metrics>,
}

impl Counters {
    pub fn new(shared: Option<SharedCounters>, metrics: Arc<Metrics>) -> Self {
        Self {
            local: LocalCounters::default(),
            shared,
            degraded: AtomicBool::new(false),
            next_probe_at: AtomicI64::new(0),
            metrics,
        }
    }

    pub fn backend(&self) -> Backend {
        match (&self.shared, self.degraded.load(Ordering::Relaxed)) {
            (None, _) => Backend::InProcess,
            (Some(_), false) => Backend::Redis,
            (Some(_), true) => Backend::Degraded,
        }
    }

    pub async fn increment(&self, bucket: &str, window: u64) -> u64 {
        if let Some(shared) = self.shared_if_usable() {
            if let Some(count) = self.settle(shared.increment(bucket, window).await) {
                return count;
            }
        }
        self.local.increment(bucket, window).await
    }

    /// `bucket`'s count in `window` so far, from wherever counts are kept right now.
    pub async fn current(&self, bucket: &str, window: u64) -> u64 {
        if let Some(shared) = self.shared_if_usable() {
            if let Some(count) = self.settle(shared.current(bucket, window).await) {
                return count;
            }
        }
        self.local.current(bucket, window).await
    }

    /// Redis, unless it is degraded and it is not this request's turn to probe it.
    fn shared_if_usable(&self) -> Option<&SharedCounters> {
        let shared = self.shared.as_ref()?;
        if !self.degraded.load(Ordering::Relaxed) {
            return Some(shared);
        }
        let now = now_ms();
        let due = self.next_probe_at.load(Ordering::Relaxed);
        let my_turn = now >= due
            && self
                .next_probe_at
                .compare_exchange(
                    due,
                    now + PROBE_PERIOD_MS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok();
        my_turn.then_some(shared)
    }

    /// Records the outcome of a Redis call: `Some(count)` when it answered.
    fn settle(&self, outcome: anyhow::Result<u64>) -> Option<u64> {
        match outcome {
            Ok(count) => {
                if self.degraded.swap(false, Ordering::AcqRel) {
                    tracing::info!("Redis answers again: rate limits are shared across instances");
                    self.metrics.ratelimit_redis_degraded.set(0);
                }
                Some(count)
            }
            Err(err) => {
                self.metrics.ratelimit_redis_errors.inc();
                self.next_probe_at
                    .store(now_ms() + PROBE_PERIOD_MS, Ordering::Release);
                if !self.degraded.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        error = %format!("{err:#}"),
                        "Redis is unreachable: counting rate limits in process until it returns"
                    );
                    self.metrics.ratelimit_redis_degraded.set(1);
                }
                None
            }
        }
    }
}
