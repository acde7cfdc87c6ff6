//! Authentication and authorization: every way a key can fail, scopes, tenant isolation,
//! and argon2 running once per key.

use futures_util::future::join_all;
use intendedops::auth::Scope;
use reqwest::Method;

use crate::helpers::{expect_error, send, spawn_app, spawn_app_with};

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_keys_get_401() {
    let app = spawn_app().await;
    let body = expect_error(app.request(Method::GET, "/v1/keys"), 401, "UNAUTHORIZED").await;
    assert_eq!(body["error"]["message"], "API key is missing");

    for malformed in [
        "garbage",
        "intendedops_tenant-a",
        "intendedops_tenant_a_0123456789abcdef0123",
        "intendedops_tenant-a_short",
        "intendedops_tenant-a_0123456789abcdef!!",
    ] {
        let body = expect_error(
            app.with_key(Method::GET, "/v1/keys", malformed),
            401,
            "UNAUTHORIZED",
        )
        .await;
        assert_eq!(
            body["error"]["message"], "API key is malformed",
            "{malformed}"
        );
    }

    let unknown = "intendedops_tenant-a_0123456789abcdefghijklmnopqrstuvwxyz";
    let body = expect_error(
        app.with_key(Method::GET, "/v1/keys", unknown),
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(body["error"]["message"], "API key is not valid");

    // Right tenant and prefix, wrong rest of the secret.
    let real = app.create_key("tenant-a", &[Scope::Read]).await;
    let tampered = format!("{}X", &real[..real.len() - 1]);
    let tampered = if tampered == real {
        format!("{}Y", &real[..real.len() - 1])
    } else {
        tampered
    };
    expect_error(
        app.with_key(Method::GET, "/v1/keys", &tampered),
        401,
        "UNAUTHORIZED",
    )
    .await;

    // A key of tenant A presented as tenant B's.
    let moved = app.a.admin_key.replace("tenant-a", "tenant-b");
    expect_error(
        app.with_key(Method::GET, "/v1/keys", &moved),
        401,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn revocation_takes_effect_at_once() {
    let app = spawn_app().await;
    let victim = app.create_key("tenant-a", &[Scope::Admin]).await;
    let (status, list) = send(app.with_key(Method::GET, "/v1/keys", &victim)).await;
    assert_eq!(status, 200);
    let victim_id = list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| victim.starts_with(k["prefix"].as_str().unwrap()))
        .expect("the key lists itself")["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, revoked) = send(app.with_key(
        Method::DELETE,
        &format!("/v1/keys/{victim_id}"),
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["data"]["revokedAt"].is_string());

    // The key was cached as valid a moment ago; it must fail now, not after a TTL.
    let body = expect_error(
        app.with_key(Method::GET, "/v1/keys", &victim),
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(body["error"]["message"], "API key has been revoked");
    // Revoking again is harmless.
    let (status, _) = send(app.with_key(
        Method::DELETE,
        &format!("/v1/keys/{victim_id}"),
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn scopes_are_enforced_with_403() {
    let app = spawn_app().await;
    for scope in [Scope::Read, Scope::Agent, Scope::Approver] {
        let key = app.create_key("tenant-a", &[scope]).await;
        let body = expect_error(
            app.with_key(Method::GET, "/v1/keys", &key),
            403,
            "FORBIDDEN",
        )
        .await;
        assert!(body["error"]["message"].as_str().unwrap().contains("admin"));
        let create = app
            .with_key(Method::POST, "/v1/keys", &key)
            .json(&serde_json::json!({"name": "escalate", "scopes": ["admin"]}));
        expect_error(create, 403, "FORBIDDEN").await;
    }
}

#[tokio::test]
async fn tenant_header_must_match_the_key() {
    let app = spawn_app().await;
    let mismatch = app
        .with_key(Method::GET, "/v1/keys", &app.a.admin_key)
        .header("x-tenant-id", "tenant-b");
    expect_error(mismatch, 403, "FORBIDDEN").await;
    let matching = app
        .with_key(Method::GET, "/v1/keys", &app.a.admin_key)
        .header("x-tenant-id", "tenant-a");
    let (status, _) = send(matching).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_keys() {
    let app = spawn_app().await;
    let (_, b_keys) = send(app.with_key(Method::GET, "/v1/keys", &app.b.admin_key)).await;
    let b_key_id = b_keys["data"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, a_keys) = send(app.with_key(Method::GET, "/v1/keys", &app.a.admin_key)).await;
    assert_eq!(status, 200);
    let items = a_keys["data"]["items"].as_array().unwrap();
    assert_eq!(a_keys["data"]["total"], 1);
    assert!(items.iter().all(|k| k["id"] != b_key_id.as_str()));

    let path = format!("/v1/keys/{b_key_id}");
    expect_error(
        app.with_key(Method::GET, &path, &app.a.admin_key),
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.with_key(Method::DELETE, &path, &app.a.admin_key),
        404,
        "NOT_FOUND",
    )
    .await;
    // B's key still works: A's attempt changed nothing.
    let (status, _) = send(app.with_key(Method::GET, "/v1/keys", &app.b.admin_key)).await;
    assert_eq!(status, 200);
}

async fn key_verifications(app: &crate::helpers::TestApp) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("intendedops_auth_key_verifications_total "))
        .expect("verification counter exported")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn fifty_parallel_requests_with_a_new_key_run_argon2_once() {
    let app = spawn_app().await;
    let key = app.create_key("tenant-a", &[Scope::Admin]).await;
    let before = key_verifications(&app).await;
    let responses =
        join_all((0..50).map(|_| app.with_key(Method::GET, "/v1/keys", &key).send())).await;
    for response in responses {
        assert_eq!(response.unwrap().status(), 200);
    }
    assert_eq!(key_verifications(&app).await - before, 1);
    // And the next request is a cache hit too.
    let (status, _) = send(app.with_key(Method::GET, "/v1/keys", &key)).await;
    assert_eq!(status, 200);
    assert_eq!(key_verifications(&app).await - before, 1);
}

#[tokio::test]
async fn dev_keys_follow_development_mode() {
    let on = spawn_app_with(|config| config.dev_keys = Some(true)).await;
    let (status, body) = send(on.with_key(Method::GET, "/v1/keys", "dev-user-key")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["name"] == "agent-research-key"));
    expect_error(
        on.with_key(Method::GET, "/v1/keys", "agent-synth-key"),
        403,
        "FORBIDDEN",
    )
    .await;

    let off = spawn_app_with(|config| config.dev_keys = Some(false)).await;
    let body = expect_error(
        off.with_key(Method::GET, "/v1/keys", "dev-user-key"),
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(body["error"]["message"], "API key is malformed");
}

#[tokio::test]
async fn last_used_is_recorded_without_a_write_per_request() {
    let mut app = spawn_app().await;
    let (_, before) = send(app.with_key(Method::GET, "/v1/keys", &app.b.admin_key)).await;
    assert!(before["data"]["items"][0]["lastUsedAt"].is_null());
    // Uses are noted in memory; the flush (every 10 s, and at shutdown) writes them.
    assert!(app.verifier.flush_usage().await.unwrap() >= 1);
    let (_, after) = send(app.with_key(Method::GET, "/v1/keys", &app.b.admin_key)).await;
    assert!(
        after["data"]["items"][0]["lastUsedAt"].is_string(),
        "{after}"
    );

    // A use just before shutdown is flushed on the way out.
    let key = app.create_key("tenant-a", &[Scope::Read]).await;
    let (status, _) = send(app.with_key(Method::GET, "/health", &key)).await;
    assert_eq!(status, 200);
    let (status, _) = send(app.with_key(Method::GET, "/v1/keys/none", &key)).await;
    assert_eq!(status, 403);
    app.shutdown().await;
    let store = intendedops::store::Store::connect(&app.db.url)
        .await
        .unwrap();
    let (rows, total) = intendedops::store::api_keys::list(
        &store,
        &intendedops::ids::TenantId::parse("tenant-a").unwrap(),
        100,
        0,
    )
    .await
    .unwrap();
    assert_eq!(total, 2);
    let read_key = rows.iter().find(|r| r.scopes == "read").unwrap();
    assert!(read_key.last_used_at.is_some());
}
