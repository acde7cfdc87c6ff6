//! The optional Redis connection pool (`REDIS_URL`), shared by the features that use Redis.

use std::time::Duration;

use anyhow::Context;
use deadpool_redis::{Config, Pool, Runtime};

/// Readiness pings must answer quickly or count as down.
const PING_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RedisHandle {
    pool: Pool,
}

impl RedisHandle {
    /// Builds the pool; connections are opened lazily, so a down Redis does not stop start-up.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let pool = Config::from_url(url)
            .create_pool(Some(Runtime::Tokio1))
            .context("invalid REDIS_URL")?;
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        tokio::time::timeout(PING_TIMEOUT, async {
            let mut conn = self.pool.get().await?;
            let _: String = deadpool_redis::redis::cmd("PING")
                .query_async(&mut conn)
                .await?;
            anyhow::Ok(())
        })
        .await
        .context("Redis did not answer in time")?
    }
}
