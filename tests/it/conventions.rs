//! The ecosystem's conventions beside our own: IETF `RateLimit` fields, key checksums and
//! leaked-key reports, bounded idempotency, approval receipts, and recovering the events an
//! endpoint missed while it was disabled. (Standard Webhooks signatures are verified with the
//! official libraries in `tests/sdk/test_standard_webhooks.py`.)

use std::time::Duration;

use intendedops::{
    auth::{api_key, password, Scope},
    canonical,
    ids::TenantId,
    time::Clock,
};
use reqwest::{header::HeaderMap, Method};
use serde_json::{json, Value};
use sfv::{BareItem, ListEntry, Parser};

use crate::helpers::{
    clock_in_a_fresh_window, expect_error, metric, send, spawn_app_with, TestApp,
};
use crate::webhooks::{fast_delivery, post, Receiver};

/// A `RateLimit` or `RateLimit-Policy` field parsed as the draft defines it: a List whose one
/// Item is the policy name (a String) with integer parameters.
fn parsed_field(headers: &HeaderMap, name: &str) -> (String, Vec<(String, i64)>) {
    let raw = headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap();
    let list: sfv::List = Parser::new(raw)
        .parse_list()
        .unwrap_or_else(|err| panic!("{name}: {raw:?} is not a structured-field list: {err}"));
    let [ListEntry::Item(item)] = list.as_slice() else {
        panic!("{name}: expected one item, got {list:?}");
    };
    let BareItem::String(policy) = &item.bare_item else {
        panic!(
            "{name}: the policy name must be a String, got {:?}",
            item.bare_item
        );
    };
    let params = item
        .params
        .iter()
        .map(|(key, value)| {
            let value = value
                .as_integer()
                .unwrap_or_else(|| panic!("{name}: {key:?} is not an integer"));
            (key.as_str().to_string(), i64::from(value))
        })
        .collect();
    (policy.as_str().to_string(), params)
}

async fn list_agents(app: &TestApp, key: &str) -> reqwest::Response {
    app.with_key(Method::GET, "/v1/agents", key)
        .send()
        .await
        .unwrap()
}

fn header_number(headers: &HeaderMap, name: &str) -> i64 {
    headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn ratelimit_fields_parse_as_structured_fields_and_agree_with_the_seeds_headers() {
    let clock = clock_in_a_fresh_window();
    let now_secs = clock.now_ms() / 1000;
    let app = spawn_app_with(|config| {
        config.rate_limit_per_minute = 3;
        config.clock = clock.clone();
    })
    .await;
    let key = app.create_key("tenant-a", &[Scope::Read]).await;
    for expected_remaining in [2, 1, 0] {
        let response = list_agents(&app, &key).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        let policy = parsed_field(headers, "ratelimit-policy");
        assert_eq!(
            policy,
            ("key".to_string(), vec![("q".into(), 3), ("w".into(), 60)])
        );
        assert_eq!(header_number(headers, "x-ratelimit-limit"), 3);
        let (name, params) = parsed_field(headers, "ratelimit");
        assert_eq!(name, "key");
        let reset = header_number(headers, "x-ratelimit-reset") - now_secs;
        assert_eq!(
            params,
            vec![("r".into(), expected_remaining), ("t".into(), reset)]
        );
        assert_eq!(
            header_number(headers, "x-ratelimit-remaining"),
            expected_remaining
        );
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let limited = list_agents(&app, &key).await;
    assert_eq!(limited.status(), 429);
    let headers = limited.headers();
    let (_, params) = parsed_field(headers, "ratelimit");
    assert_eq!(params[0], ("r".into(), 0));
    assert_eq!(params[1].1, header_number(headers, "retry-after"));
    // A minute on, a new window.
    clock.advance(Duration::from_secs(60));
    let fresh = list_agents(&app, &key).await;
    assert_eq!(fresh.status(), 200);
    assert_eq!(
        parsed_field(fresh.headers(), "ratelimit").1[0],
        ("r".into(), 2)
    );
}

#[tokio::test]
async fn a_key_with_a_wrong_checksum_is_refused_without_a_store_lookup() {
    let app = spawn_app_with(|_| {}).await;
    let key = app.create_key("tenant-a", &[Scope::Read]).await;
    let secret = key.strip_prefix("intendedops_tenant-a_").unwrap();
    assert_eq!(secret.len(), 46, "{key}");
    assert!(api_key::carries_checksum(&key));
    let (status, _) = send(app.with_key(Method::GET, "/v1/agents", &key)).await;
    assert_eq!(status, 200);

    let before = app.scrape().await;
    let lookups = metric(&before, "intendedops_auth_key_lookups_total", &[]);
    let refused = metric(&before, "intendedops_auth_key_checksum_failures_total", &[]);
    // One character off at the end, and one in the middle.
    let mut typo = key.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let mut middle = key.clone().into_bytes();
    middle[30] = if middle[30] == b'Q' { b'R' } else { b'Q' };
    for bad in [typo, String::from_utf8(middle).unwrap()] {
        let body = expect_error(
            app.with_key(Method::GET, "/v1/agents", &bad),
            401,
            "UNAUTHORIZED",
        )
        .await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("checksum"),
            "{body}"
        );
    }
    let after = app.scrape().await;
    assert_eq!(
        metric(&after, "intendedops_auth_key_lookups_total", &[]),
        lookups
    );
    assert_eq!(
        metric(&after, "intendedops_auth_key_checksum_failures_total", &[]),
        refused + 2.0
    );

    // A key with a valid checksum that was never issued is looked up (and refused): the
    // counter does move when a lookup happens.
    let made_up = api_key::generate(&TenantId::parse("tenant-a").unwrap()).key;
    expect_error(
        app.with_key(Method::GET, "/v1/agents", &made_up),
        401,
        "UNAUTHORIZED",
    )
    .await;
    let last = app.scrape().await;
    assert_eq!(
        metric(&last, "intendedops_auth_key_lookups_total", &[]),
        lookups + 1.0
    );
}

#[tokio::test]
async fn keys_from_before_checksums_keep_working() {
    let app = spawn_app_with(|_| {}).await;
    let legacy = "intendedops_tenant-a_LegacyK3y0000000000000000000000000000000";
    assert_eq!(legacy.len() - "intendedops_tenant-a_".len(), 40);
    assert!(!api_key::carries_checksum(legacy));
    let hash = password::hash_blocking(legacy.to_string()).await.unwrap();
    app.raw_sql(&format!(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, created_at) \
         VALUES ('key_legacy', 'tenant-a', 'legacy', 'LegacyK3', '{hash}', 'read', 0)"
    ))
    .await;
    let (status, body) = send(app.with_key(Method::GET, "/v1/agents", legacy)).await;
    assert_eq!(status, 200, "{body}");
    // It cannot be reported through the checksum-only endpoint (an admin revokes it).
    expect_error(
        app.request(Method::POST, "/v1/keys/report-leak")
            .json(&json!({"key": legacy})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn a_reported_leak_revokes_the_key_at_once_and_is_audited() {
    let app = spawn_app_with(|_| {}).await;
    let key = app.create_key("tenant-a", &[Scope::Read]).await;
    let (status, _) = send(app.with_key(Method::GET, "/v1/agents", &key)).await;
    assert_eq!(status, 200);

    // No credentials: holding the key is the proof.
    let (status, report) = send(
        app.request(Method::POST, "/v1/keys/report-leak")
            .json(&json!({"key": key})),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["status"], "revoked");
    let key_id = report["data"]["keyId"].as_str().unwrap().to_string();
    assert!(report["data"]["revokedAt"].is_string());
    let refused = expect_error(
        app.with_key(Method::GET, "/v1/agents", &key),
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    let (_, again) = send(
        app.request(Method::POST, "/v1/keys/report-leak")
            .json(&json!({"key": key})),
    )
    .await;
    assert_eq!(again["data"]["status"], "already_revoked");

    let (_, trail) = send(app.with_key(
        Method::GET,
        "/v1/audit?eventType=key.leak_reported",
        &app.a.admin_key,
    ))
    .await;
    let records = trail["data"]["items"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{trail}");
    assert_eq!(records[0]["subject"], key_id.as_str());
    assert_eq!(records[0]["actor"], "leak-report");

    // A made-up key with a valid checksum is unknown; a wrong checksum or a non-key is 400.
    let made_up = api_key::generate(&TenantId::parse("tenant-a").unwrap()).key;
    expect_error(
        app.request(Method::POST, "/v1/keys/report-leak")
            .json(&json!({"key": made_up})),
        404,
        "NOT_FOUND",
    )
    .await;
    let mut typo = key.clone();
    typo.pop();
    typo.push('!');
    for bad in [json!({"key": typo}), json!({"key": 42}), json!({})] {
        let (status, body) =
            send(app.request(Method::POST, "/v1/keys/report-leak").json(&bad)).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // Another tenant's keys are untouched.
    let (status, _) = send(app.with_key(Method::GET, "/v1/agents", &app.b.admin_key)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_idempotency_key_expires_after_its_window() {
    let clock = clock_in_a_fresh_window();
    let app = spawn_app_with(|config| {
        config.clock = clock.clone();
        config.idempotency_window = Duration::from_secs(24 * 3600);
    })
    .await;
    let key = &app.a.admin_key;
    post(&app, "/v1/agents", json!({"name": "Biller"})).await;
    let body = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "biller",
                      "params": {"customerId": "cust_1", "amount": 42}, "idempotencyKey": "inv-1"});
    let submit = || async {
        let (status, body) = send(app.with_key(Method::POST, "/v1/intents", key).json(&body)).await;
        (
            status.as_u16(),
            body["data"]["intentId"].as_str().unwrap().to_string(),
        )
    };
    let (status, first) = submit().await;
    assert_eq!(status, 201);
    clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(
        submit().await,
        (200, first.clone()),
        "inside the window: a replay"
    );
    clock.advance(Duration::from_secs(3600 + 1));
    let (status, second) = submit().await;
    assert_eq!(status, 201, "past the window: a new intent");
    assert_ne!(second, first);
    // The new intent holds the key now, and its own window starts.
    assert_eq!(submit().await, (200, second.clone()));
    let (status, earlier) =
        send(app.with_key(Method::GET, &format!("/v1/intents/{first}"), key)).await;
    assert_eq!(status, 200, "the earlier intent stays");
    assert_eq!(earlier["data"]["idempotencyKey"], Value::Null, "{earlier}");
}

/// The digest an executor recomputes: SHA-256 of the canonical JSON of the action.
fn action_digest(intent_type: &str, domain: &str, agent: &str, params: &Value) -> String {
    let action = json!({"type": intent_type, "domain": domain, "agentId": agent, "params": params});
    canonical::sha256_hex(canonical::to_canonical(&action).as_bytes())
}

#[tokio::test]
async fn decisions_carry_the_action_digest_and_policy_version_into_detail_and_webhooks() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(fast_delivery).await;
    let key = &app.a.admin_key;
    let url = receiver.url();
    post(
        &app,
        "/v1/webhooks",
        json!({"url": url, "events": ["intent.submitted", "intent.approved"]}),
    )
    .await;
    post(&app, "/v1/agents", json!({"name": "Biller"})).await;
    let (status, _) = send(
        app.with_key(Method::PUT, "/v1/policies", key)
            .json(&json!({"rules": [], "default": {"type": "require_approval", "approvers": 1}})),
    )
    .await;
    assert_eq!(status, 200);
    let params = json!({"customerId": "cust_7", "amount": 1250.5});
    let created = post(
        &app,
        "/v1/intents",
        json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "biller",
               "params": params}),
    )
    .await;
    let intent = created["intentId"].as_str().unwrap().to_string();
    let digest = action_digest("billing.send_invoice", "billing", "biller", &params);
    let (_, detail) = send(app.with_key(Method::GET, &format!("/v1/intents/{intent}"), key)).await;
    let decision = &detail["data"]["decision"];
    assert_eq!(decision["actionDigest"], digest.as_str(), "{detail}");
    let version = decision["policyVersion"].as_i64().unwrap();
    assert!(version >= 1, "{decision}");

    let approval = detail["data"]["approvals"][0]["id"].as_str().unwrap();
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;
    let (status, _) = send(
        app.with_key(
            Method::POST,
            &format!("/v1/approvals/{approval}/approve"),
            &approver,
        )
        .json(&json!({})),
    )
    .await;
    assert!(status.is_success());
    let received = receiver.wait_for("both events", |r| r.len() >= 2).await;
    for delivery in &received {
        let body: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(body["data"]["actionDigest"], digest.as_str(), "{body}");
        assert_eq!(body["data"]["policyVersion"], version, "{body}");
    }
}

#[tokio::test]
async fn recover_redelivers_the_events_of_a_disabled_period_and_the_log_pages_them() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(fast_delivery).await;
    let key = &app.a.admin_key;
    let url = receiver.url();
    let endpoint = post(
        &app,
        "/v1/webhooks",
        json!({"url": url, "events": ["agent.registered"]}),
    )
    .await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    post(&app, "/v1/agents", json!({"name": "Before"})).await;
    receiver.wait_for("the first event", |r| r.len() == 1).await;

    let (status, _) = send(
        app.with_key(Method::PATCH, &format!("/v1/webhooks/{id}"), key)
            .json(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, 200);
    let since = intendedops::time::rfc3339(intendedops::time::now_ms());
    for name in ["Missed One", "Missed Two", "Missed Three"] {
        post(&app, "/v1/agents", json!({"name": name})).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "a disabled endpoint gets nothing"
    );

    let (status, _) = send(
        app.with_key(Method::PATCH, &format!("/v1/webhooks/{id}"), key)
            .json(&json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let recover = format!("/v1/webhooks/{id}/recover");
    let (status, recovered) = send(
        app.with_key(Method::POST, &recover, key)
            .json(&json!({"since": since})),
    )
    .await;
    assert_eq!(status, 202, "{recovered}");
    assert_eq!(
        recovered["data"],
        json!({"queued": 3, "requeued": 0, "more": false})
    );
    let received = receiver
        .wait_for("the missed events", |r| r.len() == 4)
        .await;
    // Due at the same moment, they may go out in any order.
    let mut names: Vec<String> = received[1..]
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            body["data"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["Missed One", "Missed Three", "Missed Two"],
        "{received:#?}"
    );
    // Recovering again queues nothing: every event has its delivery now.
    let (_, again) = send(
        app.with_key(Method::POST, &recover, key)
            .json(&json!({"since": since})),
    )
    .await;
    assert_eq!(again["data"]["queued"], 0);
    let (_, trail) = send(app.with_key(
        Method::GET,
        "/v1/audit?eventType=webhook.recovery.requested",
        key,
    ))
    .await;
    assert_eq!(
        trail["data"]["items"].as_array().unwrap().len(),
        2,
        "{trail}"
    );
    // Bad input and other tenants' endpoints.
    expect_error(
        app.with_key(Method::POST, &recover, key)
            .json(&json!({"since": "yesterday"})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(
        app.with_key(Method::POST, &recover, &app.b.admin_key)
            .json(&json!({"since": since})),
        404,
        "NOT_FOUND",
    )
    .await;

    // The same durable log, paged for a consumer that pulls (events show once settled).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let page = |after: Option<&str>| {
        let path = match after {
            Some(after) => format!("/v1/events?limit=2&after={after}"),
            None => "/v1/events?limit=2".to_string(),
        };
        app.with_key(Method::GET, &path, key)
            .header("accept", "application/json")
    };
    let (status, first) = send(page(None)).await;
    assert_eq!(status, 200, "{first}");
    let events = first["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["data"]["data"]["name"], "Before");
    let next = first["data"]["nextAfter"].as_str().unwrap().to_string();
    let (_, second) = send(page(Some(&next))).await;
    let paged: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|p| p["data"]["events"].as_array().unwrap())
        .map(|e| e["data"]["data"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        paged,
        ["Before", "Missed One", "Missed Two", "Missed Three"]
    );
    let (_, end) = send(page(second["data"]["nextAfter"].as_str())).await;
    assert_eq!(end["data"], json!({"events": [], "nextAfter": null}));
    expect_error(
        app.with_key(Method::GET, "/v1/events?limit=0", key)
            .header("accept", "application/json"),
        400,
        "VALIDATION_ERROR",
    )
    .await;
}
