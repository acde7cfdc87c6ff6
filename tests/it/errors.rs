//! Every error the service can produce comes in the envelope
//! `{"error": {"code", "message", "details"?}}` with an `x-request-id`, never a bare 5xx.

use reqwest::Method;

use crate::helpers::{detail_paths, expect_error, send, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    expect_error(
        app.request(Method::GET, "/v1/nothing-here"),
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(app.request(Method::GET, "/"), 404, "NOT_FOUND").await;
    expect_error(
        app.request(Method::PUT, "/health"),
        405,
        "METHOD_NOT_ALLOWED",
    )
    .await;
    expect_error(
        app.with_key(Method::PATCH, "/v1/keys", &app.a.admin_key),
        405,
        "METHOD_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn unreadable_bodies_are_validation_errors() {
    let app = spawn_app().await;
    let post = || app.with_key(Method::POST, "/v1/keys", &app.a.admin_key);

    let malformed = post()
        .header("content-type", "application/json")
        .body("{\"name\": ");
    let body = expect_error(malformed, 400, "VALIDATION_ERROR").await;
    assert!(body["error"]["details"].is_array());

    let wrong_type = post().header("content-type", "text/plain").body("{}");
    expect_error(wrong_type, 400, "VALIDATION_ERROR").await;

    let no_type = post().body("{\"name\":\"x\",\"scopes\":[\"read\"]}");
    expect_error(no_type, 400, "VALIDATION_ERROR").await;

    let invalid_utf8 = post()
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', b'n', 0xff, 0xfe, b'"', b':', b'1', b'}']);
    expect_error(invalid_utf8, 400, "VALIDATION_ERROR").await;

    let unknown_field =
        post().json(&serde_json::json!({"name": "x", "scopes": ["read"], "admin": true}));
    let body = expect_error(unknown_field, 400, "VALIDATION_ERROR").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"));

    let wrong_types = post().json(&serde_json::json!({"name": 5, "scopes": "read"}));
    expect_error(wrong_types, 400, "VALIDATION_ERROR").await;

    let unknown_scope = post().json(&serde_json::json!({"name": "x", "scopes": ["root"]}));
    expect_error(unknown_scope, 400, "VALIDATION_ERROR").await;

    let not_an_object = post().json(&serde_json::json!([1, 2, 3]));
    expect_error(not_an_object, 400, "VALIDATION_ERROR").await;

    // Nothing was created by any of these.
    let (_, list) = send(app.with_key(Method::GET, "/v1/keys", &app.a.admin_key)).await;
    assert_eq!(list["data"]["total"], 1);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_in_the_envelope() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"name\":\"{}\",\"scopes\":[\"read\"]}}",
        "x".repeat(1 << 20)
    );
    let request = app
        .with_key(Method::POST, "/v1/keys", &app.a.admin_key)
        .header("content-type", "application/json")
        .body(huge);
    expect_error(request, 413, "VALIDATION_ERROR").await;

    // The limit is configurable.
    let small = spawn_app_with(|config| config.max_body_bytes = 64).await;
    let request = small
        .with_key(Method::POST, "/v1/keys", &small.a.admin_key)
        .json(&serde_json::json!({"name": "x".repeat(100), "scopes": ["read"]}));
    expect_error(request, 413, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn oversized_and_non_ascii_headers_are_clean_401s() {
    let app = spawn_app().await;
    let long_key = format!("intendedops_tenant-a_{}", "a".repeat(60_000));
    expect_error(
        app.with_key(Method::GET, "/v1/keys", &long_key),
        401,
        "UNAUTHORIZED",
    )
    .await;
    let binary =
        reqwest::header::HeaderValue::from_bytes(b"intendedops_tenant-a_\xff\xfe0123456789abcdef")
            .unwrap();
    let request = app
        .request(Method::GET, "/v1/keys")
        .header("x-api-key", binary);
    expect_error(request, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn bad_query_parameters_name_the_parameter() {
    let app = spawn_app().await;
    let body = expect_error(
        app.with_key(Method::GET, "/v1/keys?pageSize=0&page=-1", &app.a.admin_key),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let paths = detail_paths(&body);
    assert_eq!(paths, ["page", "pageSize"]);
    let body = expect_error(
        app.with_key(Method::GET, "/v1/keys?page=abc", &app.a.admin_key),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["error"]["details"][0]["path"][0], "page");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/health"),
        (Method::GET, "/v1/keys"),
        (Method::GET, "/nope"),
    ] {
        let response = app.request(method, path).send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .expect("x-request-id");
        assert_eq!(id.len(), 26, "a ULID");
    }
    let response = app
        .request(Method::GET, "/health")
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
}

/// Ids are parsed where they enter: one that cannot be an id is refused before any lookup
/// (400 naming the path); a well-formed one that names nothing is a 404.
#[tokio::test]
async fn path_ids_are_parsed_before_they_are_looked_up() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    for path in [
        "/v1/intents/int%20x",
        "/v1/approvals/apr.1",
        "/v1/intents/int%3Bdrop",
        "/v1/keys/key%20x",
        "/v1/users/usr.1",
        "/v1/webhooks/whe%3B1",
    ] {
        let body = expect_error(
            app.with_key(Method::GET, path, key),
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(detail_paths(&body), ["path"], "{path}: {body}");
    }
    let too_long = format!("/v1/intents/int_{}", "x".repeat(100));
    expect_error(
        app.with_key(Method::GET, &too_long, key),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(
        app.with_key(Method::GET, "/v1/intents/int_none", key),
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.with_key(Method::POST, "/v1/approvals/apr_none/approve", key),
        404,
        "NOT_FOUND",
    )
    .await;
}
