//! The approval queue as an approver uses it: items to triage by, approvers by name, and no
//! approval left pending once its intent has left the queue by any path.

use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    governance::{agent, invoice, submit},
    helpers::{expect_error, metric, send, spawn_app, TestApp},
};

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = send(app.with_key(Method::GET, path, &app.a.admin_key)).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].clone()
}

/// A key named `name` with `scopes`, created over the API as a tenant admin would.
async fn named_key(app: &TestApp, name: &str, scopes: &[&str]) -> String {
    let (status, body) = send(
        app.with_key(Method::POST, "/v1/keys", &app.a.admin_key)
            .json(&json!({"name": name, "scopes": scopes})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["key"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn cancelling_a_queued_intent_closes_its_approval_everywhere() {
    let app = spawn_app().await;
    let new = agent(&app, "New", None).await;
    let kept = submit(&app, &new, "billing.send_invoice", invoice(5.0)).await;
    let withdrawn = submit(&app, &new, "billing.send_invoice", invoice(6.0)).await;
    let approval = withdrawn["approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get(&app, "/v1/stats").await["pendingApprovals"], 2);

    let cancel = format!("/v1/intents/{}/cancel", withdrawn["id"].as_str().unwrap());
    let (status, cancelled) = send(app.with_key(Method::POST, &cancel, &app.a.admin_key)).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["data"]["status"], "cancelled");

    // The approval is resolved in the same change: out of the queue, in the cancelled list.
    let shown = get(&app, &format!("/v1/approvals/{approval}")).await;
    assert_eq!(shown["status"], "cancelled");
    assert_eq!(shown["reason"], "intent cancelled");
    assert!(shown["resolvedAt"].is_string());
    let queue = get(&app, "/v1/approvals").await;
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["items"][0]["intentId"], kept["id"]);
    let closed = get(&app, "/v1/approvals?status=cancelled").await;
    assert_eq!(closed["items"][0]["id"], approval.as_str());
    // Deciding it now says it was resolved, and how.
    let body = expect_error(
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/approve"),
            &app.a.admin_key,
        ),
        400,
        "ALREADY_RESOLVED",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cancelled"));
    // Counts agree: stats, the gauge, and the intent's own view.
    assert_eq!(get(&app, "/v1/stats").await["pendingApprovals"], 1);
    let gauge = metric(
        &app.scrape().await,
        "intendedops_intents_pending_approval",
        &[("tenantId", "tenant-a")],
    );
    assert_eq!(gauge, 1.0);
    let intent = get(
        &app,
        &format!("/v1/intents/{}", withdrawn["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(intent["approvals"][0]["status"], "cancelled");
    // The cancellation's audit record says an approval went with it.
    let audit = get(&app, "/v1/audit?eventType=intent.cancelled").await;
    assert_eq!(audit["items"][0]["data"]["closedApprovals"], 1);
}

#[tokio::test]
async fn queue_items_carry_what_an_approver_triages_by_and_approvers_by_name() {
    let app = spawn_app().await;
    let new = agent(&app, "Billing Bot", None).await;
    let params = json!({"customerId": "cus_123", "amount": 5000, "currency": "USD",
                        "lineItems": [{"description": "Consulting", "quantity": 1, "unitPrice": 5000}]});
    let intent = submit(&app, &new, "billing.send_invoice", params).await;
    let queue = get(&app, "/v1/approvals").await;
    let item = &queue["items"][0];
    assert_eq!(item["intentId"], intent["id"]);
    assert_eq!(item["intentType"], "billing.send_invoice");
    assert_eq!(item["domain"], "billing");
    assert_eq!(item["agentId"], new.as_str());
    assert_eq!(item["risk"], "medium");
    assert_eq!(item["valueCategory"], "efficiency");
    assert_eq!(item["agentTrustTier"], "T0");
    // The tier is the agent's now, pinned or earned, not the one it had when it submitted.
    let pin = format!("/v1/agents/{new}");
    let (status, _) = send(
        app.with_key(Method::PATCH, &pin, &app.a.admin_key)
            .json(&json!({"pinnedTier": "T3"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&app, "/v1/approvals").await["items"][0]["agentTrustTier"],
        "T3"
    );
    assert_eq!(
        item["paramsSummary"],
        r#"amount: 5000, currency: "USD", customerId: "cus_123", lineItems: [1 item]"#
    );
    assert_eq!(item["routingReason"], intent["decision"]["reason"]);
    assert!(item["routingReason"].as_str().unwrap().contains("rule"));

    // Decisions name their approver by the key's name, wherever they are shown.
    let alice = named_key(&app, "alice (finance)", &["approver"]).await;
    let approval = item["id"].as_str().unwrap();
    let (status, decided) = send(
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/approve"),
            &alice,
        )
        .json(&json!({"comment": "ok"})),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        decided["data"]["decisions"][0]["approverName"],
        "alice (finance)"
    );
    assert!(decided["data"]["decisions"][0]["approver"]
        .as_str()
        .unwrap()
        .starts_with("key_"));
    let listed = get(&app, "/v1/approvals?status=approved").await;
    assert_eq!(
        listed["items"][0]["decisions"][0]["approverName"],
        "alice (finance)"
    );
    let detail = get(
        &app,
        &format!("/v1/intents/{}", intent["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        detail["approvals"][0]["decisions"][0]["approverName"],
        "alice (finance)"
    );
}
