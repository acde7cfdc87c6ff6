//! In-process window counters: bounded in memory (entries expire after two windows and the
//! map holds at most [`CAPACITY`] buckets, least recently used evicted first).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use moka::future::Cache;

use super::WINDOW_SECS;

const CAPACITY: u64 = 200_000;

pub struct LocalCounters {
    counts: Cache<(String, u64), Arc<AtomicU64>>,
}

impl Default for LocalCounters {
    fn default() -> Self {
        Self {
            counts: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(2 * WINDOW_SECS))
                .build(),
        }
    }
}

impl LocalCounters {
    /// Adds one to `bucket`'s count in `window`; the new count.
    pub async fn increment(&self, bucket: &str, window: u64) -> u64 {
        let counter = self
            .counts
            .get_with((bucket.to_string(), window), async { Arc::default() })
            .await;
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `bucket`'s count in `window` so far (0 if it has none).
    pub async fn current(&self, bucket: &str, window: u64) -> u64 {
        self.counts
            .get(&(bucket.to_string(), window))
            .await
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_and_windows_count_separately() {
        let counters = LocalCounters::default();
        assert_eq!(counters.increment("a", 1).await, 1);
        assert_eq!(counters.increment("a", 1).await, 2);
        assert_eq!(counters.increment("b", 1).await, 1);
        assert_eq!(counters.increment("a", 2).await, 1);
        assert_eq!(counters.increment("a", 1).await, 3);
        assert_eq!(counters.current("a", 1).await, 3);
        assert_eq!(counters.current("c", 1).await, 0);
    }
}
