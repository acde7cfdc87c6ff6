//! `/v1/keys`: create (secret once), list with pagination, get, revoke.

use intendedops::auth::Scope;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{expect_error, send, spawn_app};

#[tokio::test]
async fn created_key_is_shown_once_and_works() {
    let app = spawn_app().await;
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/keys", &app.a.admin_key)
            .json(&json!({"name": "  billing backend ", "scopes": ["agent", "read"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let data = &created["data"];
    let key = data["key"].as_str().unwrap();
    assert!(key.starts_with("intendedops_tenant-a_") && key.len() >= 21 + 32);
    assert!(data["id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(data["name"], "billing backend");
    assert_eq!(data["scopes"], json!(["agent", "read"]));
    assert!(key.starts_with(data["prefix"].as_str().unwrap()));
    assert!(data["createdAt"].as_str().unwrap().ends_with('Z'));

    // The new key authenticates (its scopes allow reading, not admin).
    expect_error(app.with_key(Method::GET, "/v1/keys", key), 403, "FORBIDDEN").await;

    // The secret never appears again.
    let path = format!("/v1/keys/{}", data["id"].as_str().unwrap());
    let (status, one) = send(app.with_key(Method::GET, &path, &app.a.admin_key)).await;
    assert_eq!(status, 200);
    assert!(one["data"].get("key").is_none());
    assert!(!one.to_string().contains(key));
    let (_, list) = send(app.with_key(Method::GET, "/v1/keys", &app.a.admin_key)).await;
    assert!(!list.to_string().contains(key));
}

#[tokio::test]
async fn lists_are_paginated_newest_first() {
    let app = spawn_app().await;
    for _ in 0..4 {
        app.create_key("tenant-a", &[Scope::Read]).await;
    }
    let (_, first) = send(app.with_key(Method::GET, "/v1/keys?pageSize=2", &app.a.admin_key)).await;
    let (_, third) =
        send(app.with_key(Method::GET, "/v1/keys?pageSize=2&page=3", &app.a.admin_key)).await;
    assert_eq!(first["data"]["total"], 5);
    assert_eq!(first["data"]["page"], 1);
    assert_eq!(first["data"]["pageSize"], 2);
    assert_eq!(first["data"]["items"].as_array().unwrap().len(), 2);
    let last = third["data"]["items"].as_array().unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["name"], "admin", "the oldest key comes last");
    let (_, beyond) = send(app.with_key(Method::GET, "/v1/keys?page=9", &app.a.admin_key)).await;
    assert_eq!(beyond["data"]["items"], json!([]));
    assert_eq!(beyond["data"]["total"], 5);
}

#[tokio::test]
async fn invalid_key_requests_list_every_failing_field() {
    let app = spawn_app().await;
    let body = expect_error(
        app.with_key(Method::POST, "/v1/keys", &app.a.admin_key)
            .json(&json!({"name": " ", "scopes": []})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        body["error"]["details"],
        json!([
            {"path": ["name"], "message": "must be 1-100 characters"},
            {"path": ["scopes"], "message": "at least one scope is required"}
        ])
    );
    assert_eq!(
        body["error"]["message"],
        "name: must be 1-100 characters; scopes: at least one scope is required"
    );
    expect_error(
        app.with_key(Method::GET, "/v1/keys/key_doesnotexist", &app.a.admin_key),
        404,
        "NOT_FOUND",
    )
    .await;
}
