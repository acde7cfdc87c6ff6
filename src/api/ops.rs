//! Operations endpoints: liveness, readiness, metrics.

use std::sync::Arc;

use poem::{handler, http::StatusCode, web::Data as PoemData, IntoResponse, Response};
use poem_openapi::{payload::Json, Object, OpenApi};

use super::{
    error::{codes, ApiError, ApiResult},
    schema::examples,
    types::Data,
    v1::vocab::{HealthStatus, ReadinessStatus},
    Tag,
};
use crate::{
    auth::scrape::ScrapeAccess,
    metrics::{Metrics, StoredState},
    ratelimit::{Backend, RateLimiter},
    redis::RedisHandle,
    store::{self, Store},
    time,
};

#[derive(Debug, Object)]
#[oai(example)]
pub struct Health {
    status: HealthStatus,
    timestamp: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Readiness {
    status: ReadinessStatus,
    /// `ok`.
    database: String,
    /// `ok`, `disabled` when no `REDIS_URL` is configured, or `unavailable: …`.
    redis: String,
    /// Where rate limits are counted: `redis`, `in-process`, or `in-process (Redis unreachable)`.
    rate_limiter: String,
}

examples! {
    /// The seed's answer.
    Health => {"status": "healthy", "timestamp": "2024-01-15T10:30:00.000Z"}
    Readiness => {"status": "ready", "database": "ok", "redis": "disabled", "rateLimiter": "in-process"}
}

pub struct OpsApi {
    store: Store,
    redis: Option<RedisHandle>,
    limiter: Arc<RateLimiter>,
}

impl OpsApi {
    pub fn new(store: Store, redis: Option<RedisHandle>, limiter: Arc<RateLimiter>) -> Self {
        Self {
            store,
            redis,
            limiter,
        }
    }
}

#[OpenApi(tag = "Tag::Operations")]
impl OpsApi {
    /// Liveness: answers while the process runs.
    #[oai(path = "/health", method = "get", operation_id = "get_health")]
    async fn health(&self) -> Json<Data<Health>> {
        Json(Data::new(Health {
            status: HealthStatus::Healthy,
            timestamp: time::rfc3339(time::now_ms()),
        }))
    }

    /// Readiness: 200 while the database answers (`degraded` when a configured Redis does
    /// not), 503 `NOT_READY` when it does not.
    #[oai(path = "/ready", method = "get", operation_id = "get_readiness")]
    async fn ready(&self) -> ApiResult<Json<Data<Readiness>>> {
        let database = match self.store.ping().await {
            Ok(()) => "ok".to_string(),
            Err(err) => format!("unavailable: {err}"),
        };
        let redis = match &self.redis {
            None => "disabled".to_string(),
            Some(redis) => match redis.ping().await {
                Ok(()) => "ok".to_string(),
                Err(err) => format!("unavailable: {err:#}"),
            },
        };
        let rate_limiter = match self.limiter.backend() {
            Backend::Redis => "redis",
            Backend::InProcess => "in-process",
            Backend::Degraded => "in-process (Redis unreachable)",
        };
        if database == "ok" {
            let degraded =
                redis.starts_with("unavailable") || self.limiter.backend() == Backend::Degraded;
            return Ok(Json(Data::new(Readiness {
                status: if degraded {
                    ReadinessStatus::Degraded
                } else {
                    ReadinessStatus::Ready
                },
                database,
                redis,
                rate_limiter: rate_limiter.into(),
            })));
        }
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::NOT_READY,
            "a dependency is unavailable",
        )
        .with_details(serde_json::json!({
            "database": database,
            "redis": redis,
            "rateLimiter": rate_limiter,
        })))
    }
}

/// `GET /metrics`: Prometheus exposition (OpenMetrics text). The stored-state gauges are read
/// from the database now; when it cannot answer the scrape fails rather than report stale values.
#[handler]
pub async fn metrics(
    req: &poem::Request,
    access: PoemData<&Arc<ScrapeAccess>>,
    metrics: PoemData<&Arc<Metrics>>,
    store: PoemData<&Store>,
) -> Result<Response, ApiError> {
    let peer = req.remote_addr().as_socket_addr().map(|addr| addr.ip());
    if !access.permits(peer, req.header("authorization")) {
        return Err(ApiError::unauthorized(access.refusal().to_string()));
    }
    let counts = store::stats::gauge_counts(&store)
        .await
        .map_err(|err| ApiError::from(crate::error::Error::from(err)))?;
    let state = StoredState {
        pending_approvals: counts.pending_approvals,
        agents_by_tier: counts.agents_by_tier,
        trust_scores: counts.trust_scores,
    };
    Ok(metrics
        .render(&state)
        .with_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .into_response())
}
