//! Window counters in Redis, shared by every instance: one atomic round trip per count
//! (`MULTI; INCR; EXPIRE; EXEC`) or per look (`GET`), bounded by a short timeout.

use std::time::Duration;

use deadpool_redis::redis;

use super::WINDOW_SECS;
use crate::redis::RedisHandle;

pub struct SharedCounters {
    redis: RedisHandle,
    prefix: String,
    timeout: Duration,
}

impl SharedCounters {
    /// Keys are `<prefix>rl:<bucket>:<window>`; each call gives up after `timeout`.
    pub fn new(redis: RedisHandle, prefix: &str, timeout: Duration) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
            timeout,
        }
    }

    fn key(&self, bucket: &str, window: u64) -> String {
        format!("{}rl:{bucket}:{window}", self.prefix)
    }

    pub async fn increment(&self, bucket: &str, window: u64) -> anyhow::Result<u64> {
        let key = self.key(bucket, window);
        self.bounded(async {
            let mut conn = self.redis.connection().await?;
            // The key outlives its window by one window, so clock skew between instances
            // cannot restart a count early.
            let (count,): (u64,) = redis::pipe()
                .atomic()
                .incr(&key, 1)
                .expire(&key, (2 * WINDOW_SECS) as i64)
                .ignore()
                .query_async(&mut conn)
                .await?;
            Ok(count)
        })
        .await
    }

    /// `bucket`'s count in `window` so far (0 if it has none).
    pub async fn current(&self, bucket: &str, window: u64) -> anyhow::Result<u64> {
        let key = self.key(bucket, window);
        self.bounded(async {
            let mut conn = self.redis.connection().await?;
            let count: Option<u64> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
            Ok(count.unwrap_or(0))
        })
        .await
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer within {:?}", self.timeout))?
    }
}
