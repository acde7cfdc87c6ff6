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
    assert_eq!(body["data"]["status"], "ready");
    let expected_limiter = if expected_redis == "ok" {
        "redis"
    } else {
        "in-process"
    };
    assert_eq!(body["data"]["rateLimiter"], expected_limiter);
}

#[tokio::test]
async fn an_unreachable_redis_degrades_but_does_not_stop_the_service() {
    // Port 1 on loopback refuses connections.
    let app = crate::helpers::spawn_app_with(|config| {
        config.redis_url = Some("redis://127.0.0.1:1".into())
    })
    .await;
    let (status, _) = send(app.with_key(Method::GET, "/v1/keys", &app.a.admin_key)).await;
    assert_eq!(status, 200, "requests are served on the in-process limiter");
    let (status, body) = send(app.request(Method::GET, "/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "degraded");
    assert_eq!(body["data"]["database"], "ok");
    assert_eq!(
        body["data"]["rateLimiter"],
        "in-process (Redis unreachable)"
    );
    assert!(body["data"]["redis"]
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

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut app = spawn_app().await;
    let key = app.a.admin_key.clone();
    let (status, _) = send(
        app.with_key(Method::POST, "/v1/agents", &key)
            .json(&serde_json::json!({"name": "Late"})),
    )
    .await;
    assert_eq!(status, 201);
    let body =
        serde_json::json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "late",
                                  "params": {"customerId": "c", "amount": 1}})
        .to_string();
    // Headers and half the body: the request is in flight when shutdown begins.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/intents HTTP/1.1\r\nhost: test\r\nx-api-key: {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let addr = app.addr;
    let stopping = tokio::spawn(async move {
        app.shutdown().await;
        app
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !stopping.is_finished(),
        "the server must wait for the in-flight request"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections while shutting down"
    );
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let app = stopping.await.unwrap();
    // The intent it created is committed.
    let store = intendedops::store::Store::connect(&app.db.url)
        .await
        .unwrap();
    let filter = intendedops::store::intents::IntentFilter::default();
    let (_, total) = intendedops::store::intents::list(
        &store,
        &intendedops::ids::TenantId::parse("tenant-a").unwrap(),
        &filter,
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(total, 1);
}
