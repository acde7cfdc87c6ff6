//! `GET /v1/events`: the tenant's `/v1` events live over SSE, resumed with `Last-Event-ID`
//! from the durable event log, filtered by type, and never another tenant's.

use intendedops::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    helpers::{expect_error, spawn_app, spawn_app_with, TestApp},
    sse::{SseMessage, SseStream},
    webhooks::{fast_delivery, post, register, Receiver},
};

async fn open(app: &TestApp, key: &str, query: &str, last_event_id: Option<&str>) -> SseStream {
    let path = format!("/v1/events{query}");
    let mut request = app.with_key(Method::GET, &path, key);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    SseStream::connect(request, &path).await
}

/// Submits an invoice for agent `feeder` of tenant A; returns the intent id.
async fn submit(app: &TestApp, key: &str, amount: u32) -> String {
    let body = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "feeder",
                      "params": {"customerId": "c_1", "amount": amount}});
    let (status, created) =
        crate::helpers::send(app.with_key(Method::POST, "/v1/intents", key).json(&body)).await;
    assert_eq!(status, 201, "{created}");
    created["data"]["intentId"].as_str().unwrap().to_string()
}

/// Asserts `message` is the `intent.submitted` event of `intent`, in the webhook envelope.
fn assert_submitted(message: &SseMessage, tenant: &str, intent: &str) {
    assert_eq!(message.event, "intent.submitted", "{message:?}");
    assert_eq!(message.data["event"], "intent.submitted", "{message:?}");
    assert_eq!(message.data["tenantId"], tenant, "{message:?}");
    assert_eq!(message.data["data"]["intentId"], intent, "{message:?}");
    assert_eq!(message.id.as_deref(), message.data["id"].as_str());
}

#[tokio::test]
async fn submissions_arrive_live_and_missed_events_replay_after_last_event_id() {
    let app = spawn_app().await;
    let reader = app.create_key("tenant-a", &[Scope::Read]).await;
    let mut live = open(&app, &reader, "", None).await;
    // Tenant B's feed, open all along: it must see none of A's events.
    let mut other = open(&app, &app.b.admin_key, "", None).await;

    post(&app, "/v1/agents", json!({"name": "Feeder"})).await;
    let first = submit(&app, &app.a.admin_key, 500).await;
    let registered = live.next().await;
    assert_eq!(registered.event, "agent.registered", "{registered:?}");
    assert_eq!(registered.data["data"]["agentId"], "feeder");
    let submitted = live.next().await;
    assert_submitted(&submitted, "tenant-a", &first);
    let last_seen = submitted.id.clone().expect("events have ids");
    drop(live);

    // Missed while disconnected: replayed in order on reconnection, then live again.
    let second = submit(&app, &app.a.admin_key, 600).await;
    let third = submit(&app, &app.a.admin_key, 700).await;
    let mut resumed = open(&app, &reader, "", Some(&last_seen)).await;
    let replayed = resumed.take(2).await;
    assert_submitted(&replayed[0], "tenant-a", &second);
    assert_submitted(&replayed[1], "tenant-a", &third);
    let fourth = submit(&app, &app.a.admin_key, 800).await;
    assert_submitted(&resumed.next().await, "tenant-a", &fourth);

    // A filtered resume from the start of the log skips the registration.
    let mut filtered = open(
        &app,
        &reader,
        "?types=intent.submitted",
        Some(registered.id.as_deref().unwrap()),
    )
    .await;
    let only_submissions = filtered.take(4).await;
    let intents: Vec<&Value> = only_submissions
        .iter()
        .map(|m| &m.data["data"]["intentId"])
        .collect();
    assert_eq!(
        intents,
        [&json!(first), &json!(second), &json!(third), &json!(fourth)]
    );

    // B's first event is its own.
    let b_agent = crate::helpers::send(
        app.with_key(Method::POST, "/v1/agents", &app.b.admin_key)
            .json(&json!({"name": "Other"})),
    )
    .await;
    assert_eq!(b_agent.0, 201, "{}", b_agent.1);
    let b_event = other.next().await;
    assert_eq!(b_event.data["tenantId"], "tenant-b", "{b_event:?}");
    assert_eq!(b_event.data["data"]["agentId"], "other", "{b_event:?}");
}

#[tokio::test]
async fn the_feed_and_a_webhook_carry_the_same_event_byte_for_byte() {
    let app = spawn_app_with(fast_delivery).await;
    let receiver = Receiver::start().await;
    register(&app, &receiver.url(), &["intent.submitted"]).await;
    let mut feed = open(&app, &app.a.admin_key, "?types=intent.submitted", None).await;
    post(&app, "/v1/agents", json!({"name": "Feeder"})).await;
    let intent = submit(&app, &app.a.admin_key, 500).await;
    let streamed = feed.next().await;
    assert_submitted(&streamed, "tenant-a", &intent);
    let delivered = receiver
        .wait_for("the submission's webhook", |got| !got.is_empty())
        .await;
    assert_eq!(delivered[0].body, streamed.raw);
}

#[tokio::test]
async fn feed_requests_are_checked() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let unknown = expect_error(
        app.with_key(Method::GET, "/v1/events?types=intent.exploded", key),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        unknown["error"]["details"][0]["path"],
        json!(["types"]),
        "{unknown}"
    );
    expect_error(
        app.with_key(Method::GET, "/v1/events", key)
            .header("Last-Event-ID", "oev_01HN4X7KQZ8Y1A2B3C4D5E6F7G"),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(app.request(Method::GET, "/v1/events"), 401, "UNAUTHORIZED").await;
}
