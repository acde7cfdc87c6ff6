//! What a caller can reach besides the routes' own rules: NUL characters on their way into the
//! store, the metrics exposition, and the development keys' exposure.

use std::{process::Command, time::Duration};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{detail_paths, expect_error, free_port, send, spawn_app, spawn_app_with};

#[tokio::test]
async fn nul_characters_are_refused_with_their_path_on_both_faces() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let body = expect_error(
        app.with_key(Method::POST, "/v1/agents", key)
            .json(&json!({"name": "Bad\u{0}Bot", "description": "fine"})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(detail_paths(&body), ["name"]);
    let body = expect_error(
        app.with_key(Method::POST, "/api/v1/intents", key)
            .header("X-Agent-ID", "agent-1")
            .json(&json!({"title": "t\u{0}", "state": {"notes": ["ok", "\u{0}"]}})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(detail_paths(&body), ["state.notes.1", "title"]);
    for (path, field) in [
        ("/v1/intents/int_%00", "path"),
        ("/v1/intents?agentId=a%00", "query.agentId"),
    ] {
        let body = expect_error(
            app.with_key(Method::GET, path, key),
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(detail_paths(&body), [field], "{path}");
    }
    // Nothing was stored, and a backslash followed by `u0000` as text is ordinary.
    let (_, agents) = send(app.with_key(Method::GET, "/v1/agents", key)).await;
    assert_eq!(agents["data"]["total"], 0);
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/agents", key)
            .json(&json!({"name": "Slash Bot", "description": "a \\u0000 b"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn metrics_need_the_configured_bearer_token() {
    let app = spawn_app_with(|config| config.metrics_token = Some("scrape-me".into())).await;
    let scrape = |token: Option<&str>| {
        let request = app.client.get(app.url("/metrics"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let body = expect_error(scrape(None), 401, "UNAUTHORIZED").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("INTENDEDOPS_METRICS_TOKEN"));
    expect_error(scrape(Some("wrong")), 401, "UNAUTHORIZED").await;
    let response = scrape(Some("scrape-me")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("intendedops_http_requests_total"));
}

/// The binary over a fresh SQLite file (development mode), with `args`.
fn serve_in_development_mode(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intendedops"));
    command
        .arg("serve")
        .args(args)
        .env("DATABASE_URL", format!("sqlite://{}/dev.db", dir.display()))
        .env_remove("OPENINTENT_HOST")
        .env_remove("OPENINTENT_DEV_KEYS")
        .env_remove("INTENDEDOPS_SECRET_KEY")
        .env_remove("REDIS_URL")
        .env("NO_COLOR", "1");
    command
}

#[tokio::test]
async fn development_keys_are_served_on_loopback_only_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    // Asked for every interface with the development keys on by default: refused at once
    // (a server that starts instead is killed after 10 s, and the test fails).
    let mut refused = serve_in_development_mode(dir.path(), &["--host", "0.0.0.0", "--port", "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut exited = None;
    for _ in 0..100 {
        exited = refused.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if exited.is_none() {
        let _ = refused.kill();
    }
    let output = refused.wait_with_output().unwrap();
    assert!(exited.is_some_and(|status| !status.success()), "it served");
    let why = String::from_utf8_lossy(&output.stderr);
    assert!(
        why.contains("refusing to listen on 0.0.0.0") && why.contains("--dev-keys=false"),
        "{why}"
    );

    // With no host, development mode listens on loopback.
    let port = free_port().await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = serve_in_development_mode(dir.path(), &["--port", &port.to_string()])
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut listening = String::new();
    for _ in 0..100 {
        listening = std::fs::read_to_string(log.path()).unwrap();
        if listening.contains("listening") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        listening.contains(&format!("addr=127.0.0.1:{port}")),
        "{listening}"
    );
}
