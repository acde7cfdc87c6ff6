//! Policy decisions, the approval queue and expiry, over HTTP.

use futures_util::future::join_all;
use intendedops::{auth::Scope, time::ManualClock};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    credit_every_outcome, detail_paths, expect_error, metric, send, spawn_app, spawn_app_with,
    TestApp,
};

pub(crate) async fn agent(app: &TestApp, name: &str, pinned_tier: Option<&str>) -> String {
    let key = &app.a.admin_key;
    let (status, body) = send(
        app.with_key(Method::POST, "/v1/agents", key)
            .json(&json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    if let Some(tier) = pinned_tier {
        let patch = app
            .with_key(Method::PATCH, &format!("/v1/agents/{id}"), key)
            .json(&json!({"pinnedTier": tier}));
        assert_eq!(send(patch).await.0, 200);
    }
    id
}

/// Submits and returns the stored intent (with decision and approvals).
pub(crate) async fn submit(app: &TestApp, agent: &str, intent_type: &str, params: Value) -> Value {
    let domain = intent_type.split('.').next().unwrap();
    let body = json!({"type": intent_type, "domain": domain, "agentId": agent, "params": params});
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/intents", &app.a.admin_key)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["intentId"].as_str().unwrap();
    let (_, intent) =
        send(app.with_key(Method::GET, &format!("/v1/intents/{id}"), &app.a.admin_key)).await;
    assert_eq!(intent["data"]["status"], created["data"]["status"]);
    intent["data"].clone()
}

pub(crate) fn invoice(amount: f64) -> Value {
    json!({"customerId": "cust_1", "amount": amount})
}

const DSAR: &str = "compliance.process_dsar";
fn dsar() -> Value {
    json!({"requestType": "access", "subjectEmail": "a@example.com", "deadline": "2026-03-01"})
}

#[tokio::test]
async fn the_default_policy_decides_by_tier_and_risk() {
    let app = spawn_app().await;
    let new = agent(&app, "New", None).await;
    let trusted = agent(&app, "Trusted", Some("T2")).await;
    let veteran = agent(&app, "Veteran", Some("T4")).await;
    let cases = [
        (
            &new,
            "billing.send_invoice",
            invoice(5.0),
            "pending_approval",
            Some(1),
        ),
        (
            &trusted,
            "billing.send_invoice",
            invoice(5.0),
            "approved",
            None,
        ),
        (
            &trusted,
            "billing.process_refund",
            json!({"paymentId": "p", "amount": 5, "reason": "duplicate"}),
            "pending_approval",
            Some(1),
        ),
        (&veteran, DSAR, dsar(), "pending_approval", Some(2)),
        // Large sums need an agent of T2 or above: below, they are blocked outright.
        (
            &new,
            "billing.send_invoice",
            invoice(10_000.01),
            "blocked",
            None,
        ),
        (
            &trusted,
            "billing.send_invoice",
            invoice(50_000.0),
            "approved",
            None,
        ),
    ];
    for (agent, intent_type, params, status, approvers) in cases {
        let intent = submit(&app, agent, intent_type, params).await;
        assert_eq!(intent["status"], status, "{agent} {intent_type}: {intent}");
        assert_eq!(intent["decision"]["policyVersion"], 0);
        assert!(intent["decision"]["reason"].is_string());
        if status == "blocked" {
            assert_eq!(
                intent["decision"]["rule"],
                "large-sums-need-a-trusted-agent"
            );
            assert!(intent["decision"]["blockReason"]
                .as_str()
                .unwrap()
                .contains("10,000"));
        }
        match approvers {
            Some(n) => {
                assert_eq!(intent["approvals"][0]["requiredApprovals"], n);
                assert!(intent["approvals"][0]["expiresAt"].is_string());
            }
            None => assert_eq!(intent["approvals"], json!([])),
        }
    }
    // An auto-approved intent goes straight to the agent's outcome report.
    let approved = submit(&app, &trusted, "billing.send_invoice", invoice(7.0)).await;
    let path = format!("/v1/intents/{}/complete", approved["id"].as_str().unwrap());
    let (status, done) = send(
        app.with_key(Method::POST, &path, &app.a.admin_key)
            .json(&json!({"valueCents": 700})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), done["data"]["status"].as_str()),
        (200, Some("completed"))
    );
}

#[tokio::test]
async fn a_tenant_policy_with_a_cel_condition_decides_and_simulation_agrees() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let biller = agent(&app, "Biller", None).await;
    let document = json!({
        "description": "large invoices are for people",
        "rules": [
            {"name": "block-huge", "match": {"types": ["billing.*"]}, "condition": "params.amount > 10000",
             "outcome": {"type": "block", "reason": "over the automation limit"}},
            {"name": "small-ok", "match": {"types": ["billing.send_invoice"]}, "condition": "params.amount <= 100",
             "outcome": {"type": "auto_approve"}}
        ],
        "default": {"type": "require_approval", "approvers": 2, "expiresIn": "1h"}
    });
    let (status, stored) = send(
        app.with_key(Method::PUT, "/v1/policies", key)
            .json(&document),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        (
            stored["data"]["version"].as_i64(),
            stored["data"]["source"].as_str()
        ),
        (Some(1), Some("tenant"))
    );
    let (_, current) = send(app.with_key(Method::GET, "/v1/policies", key)).await;
    assert_eq!(current["data"]["document"], document);
    // Tenant B still has the shipped default.
    let (_, other) = send(app.with_key(Method::GET, "/v1/policies", &app.b.admin_key)).await;
    assert_eq!(
        (
            other["data"]["version"].as_i64(),
            other["data"]["source"].as_str()
        ),
        (Some(0), Some("default"))
    );

    for (amount, status, rule) in [
        (50000.0, "blocked", Some("block-huge")),
        (99.99, "approved", Some("small-ok")),
        (500.0, "pending_approval", None),
    ] {
        let body = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": biller, "params": invoice(amount)});
        let (_, simulated) = send(
            app.with_key(Method::POST, "/v1/policies/simulate", key)
                .json(&body),
        )
        .await;
        let intent = submit(&app, &biller, "billing.send_invoice", invoice(amount)).await;
        assert_eq!(intent["status"], status, "{amount}");
        assert_eq!(simulated["data"]["status"], status, "{simulated}");
        assert_eq!(
            simulated["data"]["decision"], intent["decision"],
            "simulate == submit"
        );
        assert_eq!(intent["decision"]["rule"].as_str(), rule);
        assert_eq!(intent["decision"]["policyVersion"], 1);
        assert!(!simulated["data"]["trace"].as_array().unwrap().is_empty());
        // A block says the rule's reason (simulate equals submit, checked above); no other
        // outcome has one.
        let block_reason = (status == "blocked").then_some("over the automation limit");
        assert_eq!(intent["decision"]["blockReason"].as_str(), block_reason);
    }
    let (_, submitted) =
        send(app.with_key(Method::GET, "/v1/audit?eventType=intent.submitted", key)).await;
    assert_eq!(
        submitted["data"]["items"][0]["data"]["decision"]["blockReason"],
        "over the automation limit"
    );
    // Simulation stores nothing.
    let (_, list) = send(app.with_key(Method::GET, "/v1/intents", key)).await;
    assert_eq!(list["data"]["total"], 3);
    let (_, audit) =
        send(app.with_key(Method::GET, "/v1/audit?eventType=policy.updated", key)).await;
    assert_eq!(audit["data"]["items"][0]["data"]["version"], 1);
}

#[tokio::test]
async fn invalid_and_hostile_policies_are_refused_cleanly() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let put = |document: Value| {
        app.with_key(Method::PUT, "/v1/policies", key)
            .json(&document)
    };
    let body = expect_error(
        put(json!({"rules": [
        {"name": "fine", "outcome": {"type": "auto_approve"}},
        {"name": "broken", "condition": "params.amount >", "outcome": {"type": "auto_approve"}}
    ], "default": {"type": "auto_approve"}})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(detail_paths(&body), ["rules.1.condition"]);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("broken"));
    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    let hostile = [
        json!({"rules": [{"name": "deep", "condition": deep, "outcome": {"type": "auto_approve"}}], "default": {"type": "auto_approve"}}),
        json!({"rules": (0..300).map(|i| json!({"name": format!("r{i}"), "outcome": {"type": "auto_approve"}})).collect::<Vec<_>>(),
               "default": {"type": "auto_approve"}}),
        json!({"rules": [], "default": {"type": "require_approval", "approvers": 1000}}),
        json!({"rules": "none", "default": {"type": "auto_approve"}}),
        json!([]),
    ];
    for document in hostile {
        expect_error(put(document), 400, "VALIDATION_ERROR").await;
    }
    // Nothing was stored, and the server still answers.
    let (_, current) = send(app.with_key(Method::GET, "/v1/policies", key)).await;
    assert_eq!(current["data"]["version"], 0);
    let reader = app.create_key("tenant-a", &[Scope::Read]).await;
    expect_error(
        app.with_key(Method::PUT, "/v1/policies", &reader)
            .json(&json!({"rules": [], "default": {"type": "auto_approve"}})),
        403,
        "FORBIDDEN",
    )
    .await;
}

async fn approval_id(app: &TestApp, intent: &Value) -> String {
    let _ = app;
    intent["approvals"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn quorum_needs_distinct_approvers_and_one_rejection_rejects() {
    let app = spawn_app().await;
    let veteran = agent(&app, "Veteran", Some("T4")).await;
    let first = app.create_key("tenant-a", &[Scope::Approver]).await;
    let second = app.create_key("tenant-a", &[Scope::Approver]).await;
    let agent_key = app.create_key("tenant-a", &[Scope::Agent]).await;

    let intent = submit(&app, &veteran, DSAR, dsar()).await;
    let approval = approval_id(&app, &intent).await;
    let approve = |key: &str| {
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/approve"),
            key,
        )
    };
    expect_error(approve(&agent_key), 403, "FORBIDDEN").await;
    let (status, after_one) = send(approve(&first).json(&json!({"comment": "looks right"}))).await;
    assert_eq!(
        (status.as_u16(), after_one["data"]["status"].as_str()),
        (200, Some("pending"))
    );
    expect_error(approve(&first), 409, "CONFLICT").await;
    // The seed's bare call: no body, no content type.
    let (status, settled) = send(approve(&second)).await;
    assert_eq!(
        (status.as_u16(), settled["data"]["status"].as_str()),
        (200, Some("approved")),
        "{settled}"
    );
    assert_eq!(settled["data"]["decisions"].as_array().unwrap().len(), 2);
    let (_, detail) =
        send(app.with_key(Method::GET, &format!("/v1/approvals/{approval}"), &first)).await;
    assert_eq!(detail["data"]["intent"]["id"], intent["id"]);
    assert_eq!(detail["data"]["intent"]["status"], "approved");
    assert_eq!(detail["data"]["requiredApprovals"], 2);
    let (_, approved) = send(app.with_key(
        Method::GET,
        &format!("/v1/intents/{}", intent["id"].as_str().unwrap()),
        &first,
    ))
    .await;
    assert_eq!(approved["data"]["status"], "approved");
    expect_error(approve(&app.a.admin_key), 400, "ALREADY_RESOLVED").await;

    // One rejection rejects, whatever the quorum.
    let intent = submit(&app, &veteran, DSAR, dsar()).await;
    let approval = approval_id(&app, &intent).await;
    let (status, rejected) = send(
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/reject"),
            &second,
        )
        .json(&json!({"reason": "Amount exceeds approved limit"})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), rejected["data"]["status"].as_str()),
        (200, Some("rejected"))
    );
    assert_eq!(rejected["data"]["reason"], "Amount exceeds approved limit");
    let (_, intent) = send(app.with_key(
        Method::GET,
        &format!("/v1/intents/{}", intent["id"].as_str().unwrap()),
        &first,
    ))
    .await;
    assert_eq!(intent["data"]["status"], "rejected");

    // The queue lists pending approvals by default, decided ones on request.
    let (_, pending) = send(app.with_key(Method::GET, "/v1/approvals", &first)).await;
    assert_eq!(pending["data"]["total"], 0);
    let (_, decided) =
        send(app.with_key(Method::GET, "/v1/approvals?status=approved", &first)).await;
    assert_eq!(decided["data"]["total"], 1);
    expect_error(
        app.with_key(Method::GET, "/v1/approvals?status=maybe", &first),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(
        app.with_key(
            Method::GET,
            &format!("/v1/approvals/{approval}"),
            &app.b.admin_key,
        ),
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn concurrent_approve_and_reject_produce_one_outcome() {
    let app = spawn_app().await;
    let new = agent(&app, "New", None).await;
    let keys: Vec<String> = futures_util::future::join_all(
        (0..6).map(|_| app.create_key("tenant-a", &[Scope::Approver])),
    )
    .await;
    for _ in 0..3 {
        let intent = submit(&app, &new, "billing.send_invoice", invoice(5.0)).await;
        let approval = approval_id(&app, &intent).await;
        let requests = keys.iter().enumerate().map(|(i, key)| {
            let action = if i % 2 == 0 { "approve" } else { "reject" };
            send(app.with_key(
                Method::POST,
                &format!("/v1/approvals/{approval}/{action}"),
                key,
            ))
        });
        let responses = join_all(requests).await;
        let winners = responses
            .iter()
            .filter(|(status, _)| status.as_u16() == 200)
            .count();
        assert_eq!(winners, 1, "{responses:?}");
        assert!(responses
            .iter()
            .all(|(s, b)| s.as_u16() == 200 || b["error"]["code"] == "ALREADY_RESOLVED"));
        let (_, stored) = send(app.with_key(
            Method::GET,
            &format!("/v1/intents/{}", intent["id"].as_str().unwrap()),
            &keys[0],
        ))
        .await;
        let outcome = stored["data"]["status"].as_str().unwrap();
        assert!(outcome == "approved" || outcome == "rejected");
        assert_eq!(
            stored["data"]["approvals"][0]["decisions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    let (_, verify) = send(app.with_key(Method::GET, "/v1/audit/verify", &keys[0])).await;
    assert_eq!(verify["data"]["valid"], true);
}

#[tokio::test]
async fn expired_approvals_reject_their_intent() {
    let clock = ManualClock::at(intendedops::time::now_ms());
    let app = spawn_app_with(|config| config.clock = clock.clone()).await;
    let new = agent(&app, "New", None).await;
    let intent = submit(&app, &new, "billing.send_invoice", invoice(5.0)).await;
    let approval = approval_id(&app, &intent).await;
    // The default policy's approvals expire after 72 hours; the sweep runs every second.
    clock.advance(std::time::Duration::from_secs(72 * 3600 + 1));
    let mut status = Value::Null;
    for _ in 0..150 {
        let (_, current) = send(app.with_key(
            Method::GET,
            &format!("/v1/approvals/{approval}"),
            &app.a.admin_key,
        ))
        .await;
        status = current["data"]["status"].clone();
        if status == "expired" {
            assert_eq!(current["data"]["reason"], "expired");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired");
    let (_, stored) = send(app.with_key(
        Method::GET,
        &format!("/v1/intents/{}", intent["id"].as_str().unwrap()),
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(stored["data"]["status"], "expired");
    expect_error(
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/approve"),
            &app.a.admin_key,
        ),
        400,
        "ALREADY_RESOLVED",
    )
    .await;
    let (_, audit) = send(app.with_key(
        Method::GET,
        "/v1/audit?eventType=intent.rejected",
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(audit["data"]["items"][0]["data"]["reason"], "expired");
    assert_eq!(audit["data"]["items"][0]["actor"], "system");
}

/// Submits an invoice for `agent`, approves it with `approver` if policy asks, and reports
/// the outcome: `Some(cents)` completes, `None` fails. Returns the intent id.
async fn run_intent(app: &TestApp, agent: &str, approver: &str, outcome: Option<i64>) -> String {
    let intent = submit(app, agent, "billing.send_invoice", invoice(10.0)).await;
    let id = intent["id"].as_str().unwrap().to_string();
    if intent["status"] == "pending_approval" {
        let approval = approval_id(app, &intent).await;
        let (status, body) = send(app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/approve"),
            approver,
        ))
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let key = &app.a.admin_key;
    let (status, body) = match outcome {
        Some(cents) => {
            send(
                app.with_key(Method::POST, &format!("/v1/intents/{id}/complete"), key)
                    .json(&json!({"valueCents": cents})),
            )
            .await
        }
        None => {
            send(
                app.with_key(Method::POST, &format!("/v1/intents/{id}/fail"), key)
                    .json(&json!({"error": "gateway down"})),
            )
            .await
        }
    };
    assert_eq!(status, 200, "{body}");
    id
}

async fn standing(app: &TestApp, agent: &str) -> (String, f64) {
    let (_, body) = send(app.with_key(
        Method::GET,
        &format!("/v1/agents/{agent}"),
        &app.a.admin_key,
    ))
    .await;
    (
        body["data"]["trustTier"].as_str().unwrap().to_string(),
        body["data"]["trustScore"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn trust_is_earned_by_record_and_lost_at_once() {
    let app = spawn_app_with(credit_every_outcome).await;
    let worker = agent(&app, "Worker", None).await;
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;
    // billing.send_invoice is medium risk: weight 2. T1 needs score 10 and 5 completions.
    for n in 1..=4 {
        run_intent(&app, &worker, &approver, Some(100)).await;
        assert_eq!(
            standing(&app, &worker).await,
            ("T0".to_string(), 2.0 * n as f64)
        );
    }
    run_intent(&app, &worker, &approver, Some(100)).await;
    assert_eq!(standing(&app, &worker).await, ("T1".to_string(), 10.0));

    // A failure demotes at once: 10 - 2×2 = 6, back to T0.
    run_intent(&app, &worker, &approver, None).await;
    assert_eq!(standing(&app, &worker).await, ("T0".to_string(), 6.0));

    // Every change is in the audit trail and the agent's metrics.
    let (_, metrics) = send(app.with_key(
        Method::GET,
        &format!("/v1/agents/{worker}/metrics"),
        &app.a.admin_key,
    ))
    .await;
    let data = &metrics["data"];
    let history = data["trustHistory"].as_array().unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(
        (
            history[4]["change"]["tierBefore"].as_str(),
            history[4]["change"]["tier"].as_str()
        ),
        (Some("T0"), Some("T1"))
    );
    assert_eq!(history[5]["change"]["cause"], "failed");
    assert_eq!(
        data["intentsByStatus"],
        json!({"completed": 5, "failed": 1})
    );
    assert_eq!(data["successRate"].as_f64(), Some(5.0 / 6.0));
    assert_eq!(data["approvalRate"].as_f64(), Some(1.0));
    assert_eq!(data["valueGenerated"].as_f64(), Some(5.0));
    let (_, audit) = send(app.with_key(
        Method::GET,
        "/v1/audit?eventType=agent.trust.changed",
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(audit["data"]["total"], 6);
    let text = app.scrape().await;
    let tenant = ("tenantId", "tenant-a");
    let promoted = [tenant, ("trustTier", "T1")];
    assert_eq!(
        metric(&text, "intendedops_trust_progressions_total", &promoted),
        1.0
    );
    let demoted = [tenant, ("trustTier", "T0")];
    assert_eq!(
        metric(&text, "intendedops_trust_demotions_total", &demoted),
        1.0
    );
    let executed = "intendedops_intents_executed_total";
    assert_eq!(
        metric(&text, executed, &[tenant, ("status", "completed")]),
        5.0
    );
    assert_eq!(
        metric(&text, executed, &[tenant, ("status", "failed")]),
        1.0
    );

    // A pinned tier overrides; the earned score keeps moving underneath.
    let pin = app
        .with_key(
            Method::PATCH,
            &format!("/v1/agents/{worker}"),
            &app.a.admin_key,
        )
        .json(&json!({"pinnedTier": "T3"}));
    send(pin).await;
    assert_eq!(standing(&app, &worker).await.0, "T3");
}

#[tokio::test]
async fn blocked_attempts_and_rejections_lower_trust() {
    let app = spawn_app_with(credit_every_outcome).await;
    let worker = agent(&app, "Worker", None).await;
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;
    for _ in 0..3 {
        run_intent(&app, &worker, &approver, Some(0)).await;
    }
    assert_eq!(standing(&app, &worker).await.1, 6.0);
    let intent = submit(&app, &worker, "billing.send_invoice", invoice(10.0)).await;
    let approval = approval_id(&app, &intent).await;
    send(app.with_key(
        Method::POST,
        &format!("/v1/approvals/{approval}/reject"),
        &approver,
    ))
    .await;
    assert_eq!(
        standing(&app, &worker).await.1,
        4.0,
        "a rejection takes off the weight (2)"
    );
    let block_all = json!({"rules": [{"name": "freeze", "outcome": {"type": "block", "reason": "change freeze"}}],
                           "default": {"type": "auto_approve"}});
    send(
        app.with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
            .json(&block_all),
    )
    .await;
    let blocked = submit(&app, &worker, "billing.send_invoice", invoice(10.0)).await;
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["decision"]["reason"], "rule 'freeze' matched");
    assert_eq!(
        standing(&app, &worker).await.1,
        3.0,
        "a blocked attempt takes off 1"
    );
}

#[tokio::test]
async fn stats_equal_what_was_created() {
    let app = spawn_app().await;
    let worker = agent(&app, "Worker", None).await;
    agent(&app, "Idle", None).await;
    let suspended = agent(&app, "Suspended", None).await;
    send(
        app.with_key(
            Method::PATCH,
            &format!("/v1/agents/{suspended}"),
            &app.a.admin_key,
        )
        .json(&json!({"status": "suspended"})),
    )
    .await;
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;
    run_intent(&app, &worker, &approver, Some(123_456)).await;
    run_intent(&app, &worker, &approver, Some(99)).await;
    run_intent(&app, &worker, &approver, None).await;
    for _ in 0..2 {
        submit(&app, &worker, "billing.send_invoice", invoice(1.0)).await;
    }
    let (status, stats) = send(app.with_key(Method::GET, "/v1/stats", &app.a.admin_key)).await;
    assert_eq!(status, 200);
    assert_eq!(
        stats["data"],
        json!({"intentsToday": 5, "pendingApprovals": 2, "activeAgents": 2, "valueGenerated": 1235.55})
    );
    let (_, other) = send(app.with_key(Method::GET, "/v1/stats", &app.b.admin_key)).await;
    assert_eq!(
        other["data"],
        json!({"intentsToday": 0, "pendingApprovals": 0, "activeAgents": 0, "valueGenerated": 0.0})
    );
}

#[tokio::test]
async fn governance_metrics_move_by_exactly_the_scenarios_amounts() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let biller = agent(&app, "Metered", None).await;
    let document = json!({
        "rules": [{"name": "block-huge", "match": {"types": ["billing.send_invoice"]},
                   "condition": "params.amount > 10000",
                   "outcome": {"type": "block", "reason": "too large"}}],
        "default": {"type": "require_approval", "approvers": 1}
    });
    assert_eq!(
        send(
            app.with_key(Method::PUT, "/v1/policies", key)
                .json(&document)
        )
        .await
        .0,
        200
    );
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;

    // One blocked, three queued: one approved and completed with value, one rejected, one left.
    submit(&app, &biller, "billing.send_invoice", invoice(20_000.0)).await;
    let mut queued = Vec::new();
    for _ in 0..3 {
        queued.push(submit(&app, &biller, "billing.send_invoice", invoice(10.0)).await);
    }
    let decide = |intent: &Value, verb: &str| {
        let approval = intent["approvals"][0]["id"].as_str().unwrap().to_string();
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/{verb}"),
            &approver,
        )
    };
    assert_eq!(send(decide(&queued[0], "approve")).await.0, 200);
    assert_eq!(send(decide(&queued[1], "reject")).await.0, 200);
    let completed = format!("/v1/intents/{}/complete", queued[0]["id"].as_str().unwrap());
    let body = json!({"valueCents": 1500});
    assert_eq!(
        send(app.with_key(Method::POST, &completed, key).json(&body))
            .await
            .0,
        200
    );
    // A pinned agent counts in its pinned tier.
    agent(&app, "Pinned", Some("T1")).await;
    // Tenant B's traffic is labelled apart.
    let (status, _) = send(
        app.with_key(Method::POST, "/v1/agents", &app.b.admin_key)
            .json(&json!({"name": "Other"})),
    )
    .await;
    assert_eq!(status, 201);

    let text = app.scrape().await;
    let tenant = ("tenantId", "tenant-a");
    let invoice_labels = [
        tenant,
        ("domain", "billing"),
        ("intentType", "billing.send_invoice"),
    ];
    let count = |name: &str, extra: &[(&str, &str)]| {
        let mut labels = invoice_labels.to_vec();
        labels.extend_from_slice(extra);
        metric(&text, name, &labels)
    };
    assert_eq!(count("intendedops_intents_submitted_total", &[]), 4.0);
    assert_eq!(
        count(
            "intendedops_intents_evaluated_total",
            &[("status", "blocked")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "intendedops_intents_evaluated_total",
            &[("status", "pending_approval")]
        ),
        3.0
    );
    assert_eq!(count("intendedops_intents_blocked_total", &[]), 1.0);
    assert_eq!(
        count(
            "intendedops_intents_executed_total",
            &[("status", "completed")]
        ),
        1.0
    );
    let decisions = "intendedops_governance_decisions_total";
    let decided = |status: &str, decider: &str| {
        metric(
            &text,
            decisions,
            &[tenant, ("status", status), ("decider", decider)],
        )
    };
    assert_eq!(decided("blocked", "policy"), 1.0);
    assert_eq!(decided("approved", "human"), 1.0);
    assert_eq!(decided("rejected", "human"), 1.0);
    assert_eq!(decided("approved", "policy"), 0.0);
    let value = [tenant, ("domain", "billing")];
    assert_eq!(
        metric(&text, "intendedops_value_generated_cents_total", &value),
        1500.0
    );
    let by_type = [tenant, ("valueType", "efficiency")];
    assert_eq!(
        metric(&text, "intendedops_value_by_type_cents_total", &by_type),
        1500.0
    );
    let billing = [("domain", "billing")];
    assert_eq!(
        metric(
            &text,
            "intendedops_intent_evaluation_duration_seconds_count",
            &billing
        ),
        4.0
    );
    assert_eq!(
        metric(
            &text,
            "intendedops_intent_execution_duration_seconds_count",
            &billing
        ),
        1.0
    );
    assert_eq!(
        metric(&text, "intendedops_intents_pending_approval", &[tenant]),
        1.0
    );
    let t0 = |tenant_id| [("tenantId", tenant_id), ("trustTier", "T0")];
    assert_eq!(
        metric(&text, "intendedops_agents_by_tier", &t0("tenant-a")),
        1.0
    );
    let t1 = [tenant, ("trustTier", "T1")];
    assert_eq!(metric(&text, "intendedops_agents_by_tier", &t1), 1.0);
    assert_eq!(
        metric(&text, "intendedops_agents_by_tier", &t0("tenant-b")),
        1.0
    );
    let (_, score) = standing(&app, &biller).await;
    let agent_labels = [tenant, ("agentId", biller.as_str())];
    assert_eq!(
        metric(&text, "intendedops_trust_score", &agent_labels),
        score
    );
    let created = [("method", "POST"), ("status", "201")];
    assert_eq!(
        metric(&text, "intendedops_http_requests_total", &created),
        7.0
    );

    // The stored-state gauges are right on a fresh instance (as after a restart).
    let fresh = app.another_instance(|_| {}).await;
    let text = crate::helpers::scrape(&app.client, &fresh.url("/metrics")).await;
    assert_eq!(
        metric(&text, "intendedops_intents_pending_approval", &[tenant]),
        1.0
    );
    assert_eq!(
        metric(&text, "intendedops_agents_by_tier", &t0("tenant-a")),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "intendedops_intents_submitted_total",
            &invoice_labels
        ),
        0.0
    );
}
