//! RFC-0006 subscriptions with a `webhook_url`: an OpenIntent state change reaches the
//! subscriber's URL through the signed, retried outbox of `/v1` webhooks.

use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    helpers::{send, spawn_app_with, TestApp},
    webhooks::{deliveries, fast_delivery, hmac_hex, Receiver},
};

/// The W3C trace every call of these tests is part of (RFC-0020).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn oi(app: &TestApp, method: Method, path: &str, body: Value, version: Option<i64>) -> Value {
    let mut request = app
        .with_key(method, &format!("/api/v1{path}"), &app.a.admin_key)
        .header("X-Agent-ID", "watcher")
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&body);
    if let Some(version) = version {
        request = request.header("If-Match", version.to_string());
    }
    let (status, answer) = send(request).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

#[tokio::test]
async fn a_subscription_webhook_receives_a_signed_delivery_of_a_state_change() {
    let app = spawn_app_with(fast_delivery).await;
    let receiver = Receiver::start().await;
    let intent = oi(
        &app,
        Method::POST,
        "/intents",
        json!({"title": "Watched"}),
        None,
    )
    .await;
    let id = intent["id"].as_str().unwrap();
    let other = oi(
        &app,
        Method::POST,
        "/intents",
        json!({"title": "Not watched"}),
        None,
    )
    .await;
    let subscription = oi(
        &app,
        Method::POST,
        "/subscriptions",
        json!({"intent_id": id, "event_types": ["state_patched"], "webhook_url": receiver.url()}),
        None,
    )
    .await;
    let secret = subscription["webhook_secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    let listed = oi(&app, Method::GET, "/subscriptions", json!(null), None).await;
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never shown again: {listed}"
    );

    // Not followed: another intent's patch, and this intent's status change (not subscribed).
    let patch = json!({"patches": [{"op": "set", "path": "progress", "value": 0.5}]});
    let other_id = other["id"].as_str().unwrap();
    oi(
        &app,
        Method::POST,
        &format!("/intents/{other_id}/state"),
        patch.clone(),
        Some(1),
    )
    .await;
    oi(
        &app,
        Method::POST,
        &format!("/intents/{id}/status"),
        json!({"status": "active"}),
        Some(1),
    )
    .await;
    oi(
        &app,
        Method::POST,
        &format!("/intents/{id}/state"),
        patch,
        Some(2),
    )
    .await;

    let received = receiver
        .wait_for("the state change", |got| !got.is_empty())
        .await;
    let delivery = &received[0];
    let body: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["subscription_id"], subscription["id"], "{body}");
    assert_eq!(body["event"]["event_type"], "state_patched", "{body}");
    assert_eq!(body["event"]["intent_id"], id, "{body}");
    assert_eq!(body["event"]["payload"]["version"], 3, "{body}");
    // The request's trace reaches the event and the delivery that carries it on.
    assert_eq!(body["event"]["trace_id"], TRACE_ID, "{body}");
    let traceparent = delivery.header("traceparent");
    assert!(
        traceparent.starts_with(&format!("00-{TRACE_ID}-")) && traceparent.ends_with("-01"),
        "{traceparent}"
    );
    assert_eq!(
        delivery.header("x-intendedops-event"),
        "openintent.state_patched"
    );
    assert_eq!(
        delivery.header("x-intendedops-signature"),
        hmac_hex(&secret, delivery.body.as_bytes())
    );
    // The subscription's endpoint is an ordinary one, with its delivery log: the followed
    // event alone was queued for it, in the event's own transaction.
    let endpoint = subscription["webhook_endpoint_id"].as_str().unwrap();
    let queued = deliveries(&app, endpoint).await;
    assert_eq!(queued.len(), 1, "{queued:#?}");
    assert_eq!(
        queued[0]["event"], "openintent.state_patched",
        "{queued:#?}"
    );

    // Deleted: nothing more is sent, and the endpoint says why it stopped.
    let sub_id = subscription["id"].as_str().unwrap();
    let (status, _) = send(
        app.with_key(
            Method::DELETE,
            &format!("/api/v1/subscriptions/{sub_id}"),
            &app.a.admin_key,
        )
        .header("X-Agent-ID", "watcher"),
    )
    .await;
    assert!(status.is_success());
    let (_, shown) = send(app.with_key(
        Method::GET,
        &format!("/v1/webhooks/{endpoint}"),
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(shown["data"]["enabled"], false, "{shown}");
    let patch = json!({"patches": [{"op": "set", "path": "progress", "value": 1}]});
    oi(
        &app,
        Method::POST,
        &format!("/intents/{id}/state"),
        patch,
        Some(3),
    )
    .await;
    assert_eq!(
        deliveries(&app, endpoint).await.len(),
        1,
        "nothing queued after deletion"
    );
}

#[tokio::test]
async fn unsafe_subscription_webhook_urls_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    let (status, refused) = send(
        app.with_key(Method::POST, "/api/v1/subscriptions", &app.a.admin_key)
            .header("X-Agent-ID", "watcher")
            .json(&json!({"webhook_url": "http://127.0.0.1:9/hook"})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("webhook_url"), "{refused}");
    let (_, listed) =
        send(app.with_key(Method::GET, "/api/v1/subscriptions", &app.a.admin_key)).await;
    assert!(
        !listed.to_string().contains("127.0.0.1"),
        "nothing stored: {listed}"
    );
}
