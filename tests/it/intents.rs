//! Governed intent submission: the seed's examples, validation with field paths, agent
//! scope, idempotency (also under concurrency), listing, tenancy and the lifecycle.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{detail_paths, expect_error, send, spawn_app, TestApp};

async fn register(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, agent) = send(app.with_key(Method::POST, "/v1/agents", key).json(&body)).await;
    assert_eq!(status, 201, "{agent}");
    agent["data"].clone()
}

async fn submit(app: &TestApp, key: &str, body: &Value) -> (u16, Value) {
    let (status, body) = send(app.with_key(Method::POST, "/v1/intents", key).json(body)).await;
    (status.as_u16(), body)
}

fn invoice(agent: &str, amount: f64) -> Value {
    json!({"type": "billing.send_invoice", "domain": "billing", "agentId": agent,
           "params": {"customerId": "cust_123", "amount": amount}})
}

/// The seed's request bodies, verbatim.
fn seed_examples() -> Vec<Value> {
    vec![
        json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "billing-agent",
               "params": {"customerId": "cust_123", "amount": 99.99},
               "description": "Send monthly subscription invoice", "idempotencyKey": "invoice-cust_123-2024-01"}),
        json!({"type": "sales.create_opportunity", "domain": "sales", "agentId": "sales-agent",
               "params": {"leadId": "lead_123", "dealName": "Enterprise License - Acme Corp", "amount": 50000,
                          "stage": "qualification", "closeDate": "2026-03-31"},
               "description": "Convert qualified lead to opportunity"}),
        json!({"type": "compliance.process_dsar", "domain": "compliance", "agentId": "compliance-agent",
               "params": {"requestType": "access", "subjectEmail": "user@example.com", "deadline": "2026-03-01"},
               "description": "Process GDPR data access request",
               "justification": "Article 15 request received via privacy portal"}),
        json!({"type": "identity.initiate_access_review", "domain": "identity", "agentId": "identity-agent",
               "params": {"reviewType": "quarterly", "scope": ["engineering", "finance"],
                          "reviewers": ["manager_123", "security_456"], "deadline": "2026-02-28"},
               "description": "Q1 quarterly access certification"}),
        json!({"type": "contracts.send_for_signature", "domain": "contracts", "agentId": "contracts-agent",
               "params": {"contractId": "contract_456",
                          "signers": [{"email": "legal@acme.com", "name": "Jane Smith", "order": 1},
                                      {"email": "ceo@acme.com", "name": "John Doe", "order": 2}],
                          "deadline": "2026-02-15", "reminderDays": [7, 3, 1]},
               "description": "Send MSA for customer signature"}),
    ]
}

#[tokio::test]
async fn the_seeds_examples_succeed_with_the_seeds_shapes() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let agent = register(&app, key, json!({
        "name": "Billing Agent", "description": "Handles billing operations",
        "domains": ["billing"], "intentTypes": ["billing.send_invoice", "billing.collect_payment"]
    }))
    .await;
    assert_eq!(agent["id"], "billing-agent");
    assert_eq!(agent["trustTier"], "T0");
    assert_eq!(agent["status"], "active");
    for name in [
        "Sales Agent",
        "Compliance Agent",
        "Identity Agent",
        "Contracts Agent",
    ] {
        register(&app, key, json!({"name": name})).await;
    }
    for example in seed_examples() {
        let (status, body) = submit(&app, key, &example).await;
        assert_eq!(status, 201, "{example}: {body}");
        let data = &body["data"];
        assert!(data["intentId"].as_str().unwrap().starts_with("int_"));
        // New agents are T0: the shipped policy sends every intent to the queue.
        assert_eq!(data["status"], "pending_approval");
        assert_eq!(data["createdAt"].as_str().unwrap().len(), 24);
        assert_eq!(
            data.as_object().unwrap().len(),
            3,
            "exactly the seed's fields: {data}"
        );

        let (status, stored) = send(app.with_key(
            Method::GET,
            &format!("/v1/intents/{}", data["intentId"].as_str().unwrap()),
            key,
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(stored["data"]["params"], example["params"]);
        assert_eq!(stored["data"]["type"], example["type"]);
        assert_eq!(stored["data"]["agentId"], example["agentId"]);
        assert_eq!(stored["data"]["decision"]["outcome"], "require_approval");
        assert_eq!(stored["data"]["decision"]["policyVersion"], 0);
        assert_eq!(stored["data"]["approvals"][0]["status"], "pending");
    }
    let (_, agent) = send(app.with_key(Method::GET, "/v1/agents/billing-agent", key)).await;
    assert_eq!(agent["data"]["intentCounts"]["total"], 1);
}

/// Submits `body` and returns the failing paths, joined with '.'.
async fn failing_paths(app: &TestApp, body: Value) -> Vec<String> {
    let request = app
        .with_key(Method::POST, "/v1/intents", &app.a.admin_key)
        .json(&body);
    let error = expect_error(request, 400, "VALIDATION_ERROR").await;
    let details = error["error"]["details"].as_array().unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    for detail in details {
        assert!(
            message.contains(detail["message"].as_str().unwrap()),
            "{message}"
        );
    }
    detail_paths(&error)
}

#[tokio::test]
async fn each_validation_rule_class_is_rejected_with_its_path() {
    let app = spawn_app().await;
    register(&app, &app.a.admin_key, json!({"name": "any"})).await;
    let with_params = |type_name: &str, params: Value| {
        let domain = type_name.split('.').next().unwrap();
        json!({"type": type_name, "domain": domain, "agentId": "any", "params": params})
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        // Envelope: required fields, wrong types, unknown fields, not an object.
        (json!({"domain": "billing"}), vec!["type", "agentId"]),
        (
            json!({"type": 5, "domain": "billing", "agentId": "any"}),
            vec!["type"],
        ),
        (
            json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "any", "priority": 1,
                "params": {"customerId": "c", "amount": 1}}),
            vec!["priority"],
        ),
        (json!(["not", "an", "object"]), vec![""]),
        (
            json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "any", "params": [1]}),
            vec!["params"],
        ),
        // Catalog: unknown domain, unknown type, type outside its domain.
        (
            json!({"type": "hr.hire", "domain": "hr", "agentId": "any"}),
            vec!["domain"],
        ),
        (
            json!({"type": "billing.print_money", "domain": "billing", "agentId": "any"}),
            vec!["type"],
        ),
        (
            json!({"type": "sales.create_lead", "domain": "billing", "agentId": "any"}),
            vec!["type"],
        ),
        // Params: required, type, bounds, formats, enums, closed objects, nested items.
        (
            with_params("billing.send_invoice", json!({"amount": 10})),
            vec!["params.customerId"],
        ),
        (
            with_params(
                "billing.send_invoice",
                json!({"customerId": "c", "amount": "10"}),
            ),
            vec!["params.amount"],
        ),
        (
            with_params(
                "billing.send_invoice",
                json!({"customerId": "c", "amount": 0}),
            ),
            vec!["params.amount"],
        ),
        (
            with_params(
                "billing.send_invoice",
                json!({"customerId": "c", "amount": 1, "colour": "red"}),
            ),
            vec!["params.colour"],
        ),
        (
            with_params(
                "compliance.process_dsar",
                json!({"requestType": "access", "subjectEmail": "not-an-email", "deadline": "2026-13-45"}),
            ),
            vec!["params.subjectEmail", "params.deadline"],
        ),
        (
            with_params(
                "compliance.process_dsar",
                json!({"requestType": "sell", "subjectEmail": "a@b.co", "deadline": "2026-03-01"}),
            ),
            vec!["params.requestType"],
        ),
        (
            with_params(
                "contracts.send_for_signature",
                json!({"contractId": "c",
            "signers": [{"email": "a@b.co", "name": "A", "order": 0}], "deadline": "2026-02-15", "reminderDays": [7, -3]}),
            ),
            vec!["params.signers.0.order", "params.reminderDays.1"],
        ),
    ];
    for (body, expected) in cases {
        let mut paths = failing_paths(&app, body.clone()).await;
        paths.sort();
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(paths, expected, "{body}");
    }
    // Nothing was stored by any of them.
    let (_, list) = send(app.with_key(Method::GET, "/v1/intents", &app.a.admin_key)).await;
    assert_eq!(list["data"]["total"], 0);
}

#[tokio::test]
async fn agents_submit_only_what_they_are_registered_for() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let body = expect_error(
        app.with_key(Method::POST, "/v1/intents", key)
            .json(&invoice("ghost", 5.0)),
        404,
        "AGENT_NOT_FOUND",
    )
    .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("ghost"));

    register(
        &app,
        key,
        json!({"name": "Narrow", "intentTypes": ["billing.send_invoice"]}),
    )
    .await;
    register(
        &app,
        key,
        json!({"name": "Sales only", "domains": ["sales"]}),
    )
    .await;
    let (status, _) = submit(&app, key, &invoice("narrow", 5.0)).await;
    assert_eq!(status, 201);
    let refund = json!({"type": "billing.apply_credit", "domain": "billing", "agentId": "narrow",
                        "params": {"customerId": "c", "amount": 5, "reason": "goodwill"}});
    expect_error(
        app.with_key(Method::POST, "/v1/intents", key).json(&refund),
        403,
        "FORBIDDEN",
    )
    .await;
    expect_error(
        app.with_key(Method::POST, "/v1/intents", key)
            .json(&invoice("sales-only", 5.0)),
        403,
        "FORBIDDEN",
    )
    .await;

    // Suspended agents are refused; reactivated ones are not.
    let suspend = |status: &str| {
        app.with_key(Method::PATCH, "/v1/agents/narrow", key)
            .json(&json!({"status": status}))
    };
    let (status, agent) = send(suspend("suspended")).await;
    assert_eq!(
        (status.as_u16(), agent["data"]["status"].as_str()),
        (200, Some("suspended"))
    );
    expect_error(
        app.with_key(Method::POST, "/v1/intents", key)
            .json(&invoice("narrow", 6.0)),
        403,
        "FORBIDDEN",
    )
    .await;
    send(suspend("active")).await;
    assert_eq!(submit(&app, key, &invoice("narrow", 6.0)).await.0, 201);

    // A read-only key cannot submit at all.
    let reader = app
        .create_key("tenant-a", &[intendedops::auth::Scope::Read])
        .await;
    expect_error(
        app.with_key(Method::POST, "/v1/intents", &reader)
            .json(&invoice("narrow", 7.0)),
        403,
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn idempotency_returns_the_original_and_refuses_a_different_body() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    register(&app, key, json!({"name": "Biller"})).await;
    let mut body = invoice("biller", 99.99);
    body["idempotencyKey"] = json!("invoice-cust_123-2024-01");
    let (first_status, first) = submit(&app, key, &body).await;
    // Same content, different formatting and member order: still a replay.
    let reordered = json!({"idempotencyKey": "invoice-cust_123-2024-01", "agentId": "biller", "domain": "billing",
                           "params": {"amount": 99.99, "customerId": "cust_123"}, "type": "billing.send_invoice"});
    let (second_status, second) = submit(&app, key, &reordered).await;
    assert_eq!((first_status, second_status), (201, 200));
    assert_eq!(first["data"]["intentId"], second["data"]["intentId"]);
    assert_eq!(first["data"]["createdAt"], second["data"]["createdAt"]);

    body["params"]["amount"] = json!(100);
    let conflict = expect_error(
        app.with_key(Method::POST, "/v1/intents", key).json(&body),
        409,
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    assert!(conflict["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invoice-cust_123-2024-01"));

    // Keys are per tenant: tenant B may use the same key.
    register(&app, &app.b.admin_key, json!({"name": "Biller"})).await;
    let (status, other) = submit(&app, &app.b.admin_key, &reordered).await;
    assert_eq!(status, 201);
    assert_ne!(other["data"]["intentId"], first["data"]["intentId"]);

    // One intent, one audit record.
    let (_, audit) =
        send(app.with_key(Method::GET, "/v1/audit?eventType=intent.submitted", key)).await;
    assert_eq!(audit["data"]["total"], 1);
}

#[tokio::test]
async fn twenty_concurrent_submissions_with_one_key_create_one_intent() {
    let app = spawn_app().await;
    let key = app.a.admin_key.clone();
    register(&app, &key, json!({"name": "Racer"})).await;
    let mut body = invoice("racer", 10.0);
    body["idempotencyKey"] = json!("race-1");
    let responses = join_all((0..20).map(|_| submit(&app, &key, &body))).await;
    let created = responses
        .iter()
        .filter(|(status, _)| *status == 201)
        .count();
    let replayed = responses
        .iter()
        .filter(|(status, _)| *status == 200)
        .count();
    assert_eq!((created, replayed), (1, 19), "{responses:?}");
    let id = &responses[0].1["data"]["intentId"];
    assert!(responses
        .iter()
        .all(|(_, body)| &body["data"]["intentId"] == id));
    let (_, list) = send(app.with_key(Method::GET, "/v1/intents", &key)).await;
    assert_eq!(list["data"]["total"], 1);
    let (_, verify) = send(app.with_key(Method::GET, "/v1/audit/verify", &key)).await;
    assert_eq!(verify["data"]["valid"], true);
}

#[tokio::test]
async fn listing_filters_and_paginates_with_totals() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    register(&app, key, json!({"name": "One"})).await;
    register(&app, key, json!({"name": "Two"})).await;
    for n in 0..15 {
        assert_eq!(
            submit(&app, key, &invoice("one", 1.0 + n as f64)).await.0,
            201
        );
    }
    let lead = json!({"type": "sales.create_lead", "domain": "sales", "agentId": "two",
                      "params": {"email": "lead@example.com", "company": "Acme", "source": "website"}});
    let (status, lead_body) = submit(&app, key, &lead).await;
    assert_eq!(status, 201, "{lead_body}");
    for _ in 0..9 {
        submit(&app, key, &invoice("two", 3.0)).await;
    }
    let page3 = list_data(&app, "/v1/intents?pageSize=10&page=3").await;
    assert_eq!(
        (
            page3["total"].as_i64(),
            page3["items"].as_array().unwrap().len()
        ),
        (Some(25), 5)
    );
    assert_eq!(
        list_data(&app, "/v1/intents?agentId=one").await["total"],
        15
    );
    assert_eq!(
        list_data(&app, "/v1/intents?agentId=two&domain=billing").await["total"],
        9
    );
    assert_eq!(
        list_data(&app, "/v1/intents?type=sales.create_lead").await["total"],
        1
    );
    assert_eq!(
        list_data(&app, "/v1/intents?status=pending_approval").await["total"],
        25
    );
    assert_eq!(
        list_data(&app, "/v1/intents?status=completed").await["total"],
        0
    );
    assert_eq!(
        list_data(&app, "/v1/intents?from=2999-01-01").await["total"],
        0
    );
    let newest = list_data(&app, "/v1/intents?pageSize=1").await;
    assert_eq!(newest["items"][0]["agentId"], "two", "newest first");
    let error = expect_error(
        app.with_key(Method::GET, "/v1/intents?status=done&from=soon", key),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error["error"]["details"].as_array().unwrap().len(), 2);
}

/// The `data` of a successful `GET` with tenant A's admin key.
async fn list_data(app: &TestApp, path: &str) -> Value {
    let (status, body) = send(app.with_key(Method::GET, path, &app.a.admin_key)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn another_tenants_intents_and_agents_are_not_found() {
    let app = spawn_app().await;
    register(&app, &app.a.admin_key, json!({"name": "Mine"})).await;
    let (_, created) = submit(&app, &app.a.admin_key, &invoice("mine", 1.0)).await;
    let id = created["data"]["intentId"].as_str().unwrap();
    let b = &app.b.admin_key;
    for (method, path) in [
        (Method::GET, format!("/v1/intents/{id}")),
        (Method::POST, format!("/v1/intents/{id}/cancel")),
        (Method::POST, format!("/v1/intents/{id}/complete")),
        (Method::GET, "/v1/agents/mine".to_string()),
    ] {
        expect_error(app.with_key(method, &path, b), 404, "NOT_FOUND").await;
    }
    expect_error(
        app.with_key(Method::PATCH, "/v1/agents/mine", b)
            .json(&json!({"status": "suspended"})),
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.with_key(Method::POST, "/v1/intents", b)
            .json(&invoice("mine", 1.0)),
        404,
        "AGENT_NOT_FOUND",
    )
    .await;
    let (_, list) = send(app.with_key(Method::GET, "/v1/intents", b)).await;
    assert_eq!(list["data"]["total"], 0);
    // A's intent is untouched.
    let (_, intent) =
        send(app.with_key(Method::GET, &format!("/v1/intents/{id}"), &app.a.admin_key)).await;
    assert_eq!(intent["data"]["status"], "pending_approval");
}

#[tokio::test]
async fn the_lifecycle_allows_only_its_transitions() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    register(&app, key, json!({"name": "Worker"})).await;
    let id_of = |body: &Value| body["data"]["intentId"].as_str().unwrap().to_string();
    let (_, first) = submit(&app, key, &invoice("worker", 1.0)).await;
    let first = id_of(&first);

    // Outcomes are reported only for approved intents.
    expect_error(
        app.with_key(Method::POST, &format!("/v1/intents/{first}/complete"), key),
        409,
        "INVALID_TRANSITION",
    )
    .await;
    let (status, cancelled) =
        send(app.with_key(Method::POST, &format!("/v1/intents/{first}/cancel"), key)).await;
    assert_eq!(
        (status.as_u16(), cancelled["data"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    expect_error(
        app.with_key(Method::POST, &format!("/v1/intents/{first}/cancel"), key),
        409,
        "INVALID_TRANSITION",
    )
    .await;

    // Approve two intents directly in the database (the policy engine is a later issue) and
    // report their outcomes.
    let (_, second) = submit(&app, key, &invoice("worker", 2.0)).await;
    let (_, third) = submit(&app, key, &invoice("worker", 3.0)).await;
    let (second, third) = (id_of(&second), id_of(&third));
    app.raw_sql(&format!(
        "UPDATE intents SET status = 'approved' WHERE id IN ('{second}', '{third}')"
    ))
    .await;
    let completion = json!({"result": {"invoiceId": "inv_1"}, "valueCents": 9999});
    let (status, done) = send(
        app.with_key(Method::POST, &format!("/v1/intents/{second}/complete"), key)
            .json(&completion),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["data"]["status"], "completed");
    assert_eq!(done["data"]["valueCents"], 9999);
    assert_eq!(done["data"]["result"], json!({"invoiceId": "inv_1"}));
    assert!(done["data"]["completedAt"].is_string());
    expect_error(
        app.with_key(Method::POST, &format!("/v1/intents/{second}/fail"), key)
            .json(&json!({"error": "late"})),
        409,
        "INVALID_TRANSITION",
    )
    .await;

    expect_error(
        app.with_key(Method::POST, &format!("/v1/intents/{third}/fail"), key)
            .json(&json!({"error": " "})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(
        app.with_key(Method::POST, &format!("/v1/intents/{third}/complete"), key)
            .json(&json!({"valueCents": -1})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let (status, failed) = send(
        app.with_key(Method::POST, &format!("/v1/intents/{third}/fail"), key)
            .json(&json!({"error": "gateway timeout"})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), failed["data"]["error"].as_str()),
        (200, Some("gateway timeout"))
    );

    let (_, agent) = send(app.with_key(Method::GET, "/v1/agents/worker", key)).await;
    assert_eq!(
        agent["data"]["intentCounts"],
        json!({"total": 3, "byStatus": {"cancelled": 1, "completed": 1, "failed": 1}})
    );
    let (_, listed) = send(app.with_key(Method::GET, "/v1/agents", key)).await;
    assert_eq!(
        listed["data"]["items"][0]["intentCounts"],
        agent["data"]["intentCounts"]
    );
    let (_, audit) = send(app.with_key(Method::GET, "/v1/audit?pageSize=100", key)).await;
    let types: Vec<_> = audit["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["eventType"].as_str().unwrap().to_string())
        .collect();
    for expected in ["intent.cancelled", "intent.completed", "intent.failed"] {
        assert_eq!(
            types.iter().filter(|t| *t == expected).count(),
            1,
            "{types:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_cancels_apply_once() {
    let app = spawn_app().await;
    let key = app.a.admin_key.clone();
    register(&app, &key, json!({"name": "Worker"})).await;
    let (_, created) = submit(&app, &key, &invoice("worker", 1.0)).await;
    let path = format!(
        "/v1/intents/{}/cancel",
        created["data"]["intentId"].as_str().unwrap()
    );
    let responses = join_all((0..8).map(|_| send(app.with_key(Method::POST, &path, &key)))).await;
    let ok = responses
        .iter()
        .filter(|(status, _)| status.as_u16() == 200)
        .count();
    assert_eq!(ok, 1, "{responses:?}");
    assert!(responses
        .iter()
        .all(|(s, b)| s.as_u16() == 200 || b["error"]["code"] == "INVALID_TRANSITION"));
    let (_, audit) =
        send(app.with_key(Method::GET, "/v1/audit?eventType=intent.cancelled", &key)).await;
    assert_eq!(audit["data"]["total"], 1);
}
