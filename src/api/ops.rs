//! Operations endpoints: liveness, readiness, metrics.

use std::sync::Arc;

use poem::{handler, http::StatusCode, web::Data as PoemData, IntoResponse, Response};
use poem_openapi::{payload::Json, Object, OpenApi};

use super::{
    error::{codes, ApiError, ApiResult},
    types::Data,
    Tag,
};
use crate::{metrics::Metrics, redis::RedisHandle, store::Store, time};

#[derive(Debug, Object)]
pub struct Health {
    /// Always `healthy` when the process answers.
    status: String,
    timestamp: String,
}

#[derive(Debug, Object)]
pub struct Readiness {
    /// `ready`.
    status: String,
    /// `ok`.
    database: String,
    /// `ok`, or `disabled` when no `REDIS_URL` is configured.
    redis: String,
}

pub struct OpsApi {
    store: Store,
    redis: Option<RedisHandle>,
}

impl OpsApi {
    pub fn new(store: Store, redis: Option<RedisHandle>) -> Self {
        Self { store, redis }
    }
}

#[OpenApi(tag = "Tag::Operations")]
impl OpsApi {
    /// Liveness: answers while the process runs.
    #[oai(path = "/health", method = "get", operation_id = "get_health")]
    async fn health(&self) -> Json<Data<Health>> {
        Json(Data::new(Health {
            status: "healthy".into(),
            timestamp: time::rfc3339(time::now_ms()),
        }))
    }

    /// Readiness: the database (and Redis, when configured) answer. 503 `NOT_READY` otherwise.
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
        if database == "ok" && (redis == "ok" || redis == "disabled") {
            return Ok(Json(Data::new(Readiness {
                status: "ready".into(),
                database,
                redis,
            })));
        }
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::NOT_READY,
            "a dependency is unavailable",
        )
        .with_details(serde_json::json!({ "database": database, "redis": redis })))
    }
}

/// `GET /metrics`: Prometheus exposition (OpenMetrics text).
#[handler]
pub fn metrics(metrics: PoemData<&Arc<Metrics>>) -> Response {
    metrics
        .render()
        .with_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .into_response()
}
