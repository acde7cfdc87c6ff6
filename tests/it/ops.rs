//! Operations endpoints: health, readiness, docs, OpenAPI, metrics.

use reqwest::Method;

use crate::helpers::{send, spawn_app};

#[tokio::test]
async fn health_has_the_seed_shape() {
    let app = spawn_app().await;
    let (status, body) = send(app.request(Method::GET, "/health")).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["status"], "healthy");
    let timestamp = body["data"]["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), "2024-01-15T10:30:00.000Z".len());
    assert!(timestamp.ends_with('Z'));
}

#[tokio::test]
async fn ready_checks_the_database_and_redis_when_configured() {
    let app = spawn_app().await;
    let (status, body) = send(app.request(Method::GET, "/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["database"], "ok");
    let expected_redis = match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => "ok",
        _ => "disabled",
    };
    assert_eq!(body["data"]["redis"], expected_redis);
}

#[tokio::test]
async fn ready_reports_an_unreachable_redis() {
    // Port 1 on loopback refuses connections.
    let app = crate::helpers::spawn_app_with(|config| {
        config.redis_url = Some("redis://127.0.0.1:1".into())
    })
    .await;
    let (status, body) = send(app.request(Method::GET, "/ready")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "NOT_READY");
    assert_eq!(body["error"]["details"]["database"], "ok");
    assert!(body["error"]["details"]["redis"]
        .as_str()
        .unwrap()
        .starts_with("unavailable"));
}

#[tokio::test]
async fn docs_and_openapi_are_served() {
    let app = spawn_app().await;
    let (status, spec) = send(app.request(Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/v1/keys"]["post"].is_object());
    assert!(spec["components"]["securitySchemes"]["TenantKey"].is_object());
    for page in ["/docs", "/redoc"] {
        let response = app.request(Method::GET, page).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        assert!(response.text().await.unwrap().contains("<html"), "{page}");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_status() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.request(Method::GET, "/v1/keys").send().await.unwrap();
    }
    let response = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("intendedops_http_requests_total{method=\"GET\",status=\"401\"} 3"),
        "{text}"
    );
}
