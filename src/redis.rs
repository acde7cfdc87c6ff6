//! The optional Redis connection pool (`REDIS_URL`), shared by the features that use Redis.

use std::time::Duration;

use anyhow::Context;
use deadpool_redis::{Config, Pool, PoolConfig, Runtime};

/// Readiness pings must answer quickly or count as down.
const PING_TIMEOUT: Duration = Duration::from_millis(500);
const POOL_SIZE: usize = 32;

#[derive(Clone)]
pub struct RedisHandle {
    pool: Pool,
}

impl RedisHandle {
    /// Builds the pool; connections are opened lazily, so a down Redis does not stop start-up.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let mut config = Config::from_url(url);
        // Every request makes one rate-limit call: enough connections that requests in flight
        // rarely wait for one.
        config.pool = Some(PoolConfig::new(POOL_SIZE));
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .context("invalid REDIS_URL")?;
        Ok(Self { pool })
    }

    /// A pooled connection (opened on demand).
    pub async fn connection(&self) -> anyhow::Result<deadpool_redis::Connection> {
        Ok(self.pool.get().await?)
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
