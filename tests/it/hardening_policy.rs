//! Issue 19, item 4: a policy cannot be a CPU bomb. Conditions are priced before they are stored,
//! documents are capped, and compiled policies are kept until a newer version exists.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::governance::{agent, invoice};
use crate::helpers::{detail_paths, expect_error, send, spawn_app, TestApp};

/// `k` nested `all`s over a ten-element list literal: 10^k evaluations of the innermost body.
fn nested_bomb(k: usize) -> String {
    let level = "[0,1,2,3,4,5,6,7,8,9].all(v, ";
    format!("{}true{}", level.repeat(k), ")".repeat(k))
}

fn with_conditions(conditions: &[String]) -> Value {
    let rules: Vec<Value> = conditions
        .iter()
        .enumerate()
        .map(|(i, condition)| json!({"name": format!("rule-{i}"), "condition": condition, "outcome": {"type": "auto_approve"}}))
        .collect();
    json!({"rules": rules, "default": {"type": "require_approval", "approvers": 1}})
}

async fn put(app: &TestApp, document: &Value) -> (reqwest::StatusCode, Value) {
    send(
        app.with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
            .json(document),
    )
    .await
}

async fn stored_version(app: &TestApp) -> Value {
    let (_, current) = send(app.with_key(Method::GET, "/v1/policies", &app.a.admin_key)).await;
    current["data"]["version"].clone()
}

#[tokio::test]
async fn nested_macro_bombs_are_refused_naming_the_rule() {
    let app = spawn_app().await;
    for k in [7, 20] {
        let document = with_conditions(&["params.amount > 1".into(), nested_bomb(k)]);
        let (status, body) = put(&app, &document).await;
        assert_eq!(status, 400, "k={k}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(detail_paths(&body), ["rules.1.condition"], "k={k}");
        let message = body["error"]["details"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("rule-1") && message.contains("inside another"),
            "{message}"
        );
    }
    assert_eq!(stored_version(&app).await, 0, "nothing was stored");
}

#[tokio::test]
async fn loops_over_inputs_are_priced_against_the_budget() {
    let app = spawn_app().await;
    let clauses = vec!["l.id != 'x'"; 30].join(" && ");
    let refused = [
        // One pass over an input list (counted at its schema bound) with a large body.
        format!("params.lines.all(l, {clauses})"),
        // A body that consults an input costs that input's size per element.
        "params.lines.exists(l, l in params.other)".to_string(),
        // `filter` copies its growing result at every step: quadratic in the input.
        "params.lines.filter(l, l.amount > 100).size() > 0".to_string(),
    ];
    for condition in refused {
        let body = expect_error(
            app.with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
                .json(&with_conditions(&["true".into(), condition.clone()])),
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(detail_paths(&body), ["rules.1.condition"], "{condition}");
    }
    // A pass over an input with a small body is within the budget.
    let fine = "params.lines.all(l, l.amount < 100 && l.currency == 'EUR')".to_string();
    let (status, body) = put(&app, &with_conditions(&[fine])).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn policy_size_is_capped_in_rules_and_bytes() {
    let app = spawn_app().await;
    // 200 rules of 2 KB each (400 KB, under the 1 MB body limit).
    let padding = "x".repeat(1_950);
    let large = vec![format!("params.note != '{padding}'"); 200];
    let body = expect_error(
        app.with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
            .json(&with_conditions(&large)),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let message = body["error"]["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 65536"), "{message}");
    // Small rules: 101 are too many, 100 are fine.
    let small = |count: usize| with_conditions(&vec!["params.amount > 1".to_string(); count]);
    let body = expect_error(
        app.with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
            .json(&small(101)),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(detail_paths(&body), ["rules"]);
    assert_eq!(stored_version(&app).await, 0, "nothing was stored");
    let (status, body) = put(&app, &small(100)).await;
    assert_eq!(status, 200, "{body}");
}

/// Simulates a large invoice on `server_url` and returns the decision.
async fn simulate(app: &TestApp, server_url: String, agent_id: &str) -> Value {
    let body = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": agent_id,
                      "params": invoice(50_000.0)});
    let request = app
        .client
        .post(server_url)
        .header("x-api-key", &app.a.admin_key)
        .json(&body);
    let (status, simulated) = send(request).await;
    assert_eq!(status, 200, "{simulated}");
    simulated["data"]["decision"].clone()
}

#[tokio::test]
async fn a_compiled_policy_is_kept_until_a_new_version_exists_on_every_instance() {
    let app = spawn_app().await;
    let other = app.another_instance(|_| {}).await;
    let biller = agent(&app, "Biller", Some("T4")).await;
    let here = || app.url("/v1/policies/simulate");
    let there = || other.url("/v1/policies/simulate");
    let blocking = json!({"rules": [{"name": "block-huge", "condition": "params.amount > 10000",
                                     "outcome": {"type": "block", "reason": "too much"}}],
                          "default": {"type": "auto_approve"}});
    assert_eq!(put(&app, &blocking).await.0, 200);
    for url in [here(), there()] {
        let decision = simulate(&app, url, &biller).await;
        assert_eq!(
            (
                decision["outcome"].as_str(),
                decision["policyVersion"].as_i64()
            ),
            (Some("block"), Some(1))
        );
    }

    // The stored text of version 1 changes behind the service's back (versions are never
    // rewritten; this only shows what is recompiled). Past the re-check interval both
    // instances still decide with what they compiled: the version did not change.
    let lenient = json!({"rules": [], "default": {"type": "auto_approve"}}).to_string();
    app.raw_sql(&format!(
        "UPDATE policies SET document = '{lenient}' WHERE tenant_id = 'tenant-a' AND version = 1"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for url in [here(), there()] {
        let decision = simulate(&app, url, &biller).await;
        assert_eq!(decision["rule"], "block-huge", "{decision}");
    }

    // A new version takes effect at once where it was stored, and soon on the other instance.
    let raised = json!({"rules": [{"name": "block-enormous", "condition": "params.amount > 100000",
                                   "outcome": {"type": "block", "reason": "too much"}}],
                        "default": {"type": "auto_approve"}});
    assert_eq!(put(&app, &raised).await.0, 200);
    let decision = simulate(&app, here(), &biller).await;
    assert_eq!(
        (
            decision["outcome"].as_str(),
            decision["policyVersion"].as_i64()
        ),
        (Some("auto_approve"), Some(2))
    );
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = simulate(&app, there(), &biller).await;
        if seen["policyVersion"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        (seen["outcome"].as_str(), seen["policyVersion"].as_i64()),
        (Some("auto_approve"), Some(2)),
        "the other instance picks up version 2"
    );
}
