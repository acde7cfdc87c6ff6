//! Outbound hardening: webhook targets are judged by the address actually connected to, and
//! webhook signing secrets are stored sealed under the server's key.
//!
//! Traffic goes to loopback only: the non-loopback addresses below are inputs that get
//! refused, never connected to.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{detail_paths, expect_error, send, spawn_app, spawn_app_with, Server, TestApp},
    webhooks::{fast_delivery, register, Receiver},
};

/// Sends `body` (or nothing) as tenant A's admin to `server`.
async fn admin(
    app: &TestApp,
    server: &Server,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, server.url(path))
        .header("x-api-key", &app.a.admin_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

/// The endpoint's first delivery once it has an attempt, as `server` lists it (at most 30 s).
async fn first_attempted(app: &TestApp, server: &Server, endpoint: &str) -> Value {
    let path = format!("/v1/webhooks/{endpoint}/deliveries");
    for _ in 0..300 {
        let (status, body) = admin(app, server, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let first = &body["data"]["items"][0];
        if first["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
            return first.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no attempt recorded for {endpoint}");
}

#[tokio::test]
async fn ipv6_spellings_of_private_addresses_are_refused_at_registration() {
    let app = spawn_app().await;
    for url in [
        "http://[::7f00:1]/hook",           // IPv4-compatible 127.0.0.1
        "http://[::ffff:0:7f00:1]/hook",    // SIIT-translated 127.0.0.1
        "http://[64:ff9b::7f00:1]/hook",    // NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook", // NAT64 of the metadata address
        "http://[2002:7f00:1::]/hook",      // 6to4 of 127.0.0.1
        "http://[fec0::1]/hook",            // site-local
        "http://[100::1]/hook",             // discard-only
        "http://[64:ff9b:1::1]/hook",       // local-use NAT64
        "http://[2001::1]/hook",            // Teredo
    ] {
        let body = expect_error(
            app.with_key(Method::POST, "/v1/webhooks", &app.a.admin_key)
                .json(&json!({"url": url, "events": ["intent.submitted"]})),
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(detail_paths(&body), ["url"], "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("private, loopback"), "{url}: {message}");
    }
}

/// Endpoints registered while private targets were allowed (an IP literal, which the HTTP
/// client connects to without resolving, and a name) are refused at delivery and at a test
/// ping once an instance runs with protection on: the attempt records the refusal and nothing
/// reaches the receiver.
#[tokio::test]
async fn private_targets_registered_earlier_are_refused_at_every_delivery() {
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(fast_delivery).await;
    let events = ["agent.registered"];
    let (literal, _) = register(&app, &receiver.url(), &events).await;
    let named_url = format!("http://localhost:{}/hook", receiver.addr.port());
    let (named, _) = register(&app, &named_url, &events).await;
    app.shutdown().await;
    let server = app
        .another_instance(|config| config.outbound_allow_private = false)
        .await;

    let (status, body) = admin(
        &app,
        &server,
        Method::POST,
        "/v1/agents",
        Some(json!({"name": "Unreachable"})),
    )
    .await;
    assert!(status.is_success(), "{body}");
    for endpoint in [&literal, &named] {
        let delivery = first_attempted(&app, &server, endpoint).await;
        let attempt = &delivery["attempts"][0];
        assert_eq!(attempt["statusCode"], Value::Null, "{delivery}");
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.contains("is a private, loopback"),
            "{endpoint}: {error}"
        );
        assert_eq!(delivery["status"], "pending", "{delivery}");
    }
    let literal_error = first_attempted(&app, &server, &literal).await["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(literal_error.contains("127.0.0.1"), "{literal_error}");

    let (status, ping) = admin(
        &app,
        &server,
        Method::POST,
        &format!("/v1/webhooks/{literal}/test"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{ping}");
    let ping = &ping["data"];
    assert_eq!(ping["delivered"], false, "{ping}");
    assert!(
        ping["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 is a private"),
        "{ping}"
    );
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
}
