//! The hash-chained audit trail: concurrent appends stay linear per tenant, tampering in the
//! database is located exactly, rolled-back transactions leave nothing, and the listing,
//! verification, export and offline check agree.

use futures_util::future::join_all;
use intendedops::{
    audit::{self, AuditEvent},
    auth::{Scope, TenantId},
    store::Store,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{cli, expect_error, send, spawn_app, TestApp};

pub(crate) async fn append(store: &Store, tenant: &str, n: usize) {
    let tenant = TenantId::parse(tenant).unwrap();
    let mut tx = store.begin().await.unwrap();
    let event = AuditEvent {
        event_type: "test.appended",
        actor: "test",
        subject: "subject",
        data: json!({"n": n, "amount": 12.5, "note": "é\n\"quoted\""}),
    };
    audit::append(&mut tx, &tenant, event).await.unwrap();
    tx.commit().await.unwrap();
}

async fn verify(app: &TestApp, key: &str) -> Value {
    let (status, body) = send(app.with_key(Method::GET, "/v1/audit/verify", key)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Tenants A and B start with `tenant.created` and `key.created`.
const INITIAL_RECORDS: i64 = 2;

#[tokio::test]
async fn concurrent_appends_of_two_tenants_give_two_gap_free_valid_chains() {
    let app = spawn_app().await;
    // A second pool on the same database stands in for a second server process.
    let other_process = Store::connect(&app.db.url).await.unwrap();
    let tasks = (0..16).map(|task| {
        let store = if task % 2 == 0 {
            app.store.clone()
        } else {
            other_process.clone()
        };
        tokio::spawn(async move {
            for n in 0..(1000 / 16 + 1) {
                let index = task * 63 + n;
                if index >= 1000 {
                    break;
                }
                let tenant = if index % 2 == 0 {
                    "tenant-a"
                } else {
                    "tenant-b"
                };
                append(&store, tenant, index).await;
            }
        })
    });
    for task in join_all(tasks).await {
        task.unwrap();
    }
    for key in [&app.a.admin_key, &app.b.admin_key] {
        let result = verify(&app, key).await;
        assert_eq!(result["valid"], true, "{result}");
        assert_eq!(result["eventCount"], 500 + INITIAL_RECORDS);
        assert!(result["firstInvalidSequence"].is_null());
        // Gap-free: the last page's last sequence equals the count.
        let (_, page) = send(app.with_key(Method::GET, "/v1/audit?pageSize=100&page=6", key)).await;
        let items = page["data"]["items"].as_array().unwrap();
        assert_eq!(items.last().unwrap()["sequence"], 500 + INITIAL_RECORDS);
        assert_eq!(items.last().unwrap()["hash"], result["headHash"]);
    }
}

/// A fresh tenant with `records` appended records and a read key; returns the key.
pub(crate) async fn tenant_with_records(app: &TestApp, tenant: &str, records: usize) -> String {
    app.tenants
        .create(&TenantId::parse(tenant).unwrap(), None)
        .await
        .unwrap();
    let key = app.create_key(tenant, &[Scope::Read]).await;
    for n in 0..records {
        append(&app.store, tenant, n).await;
    }
    key
}

#[tokio::test]
async fn tampering_in_the_database_is_located_exactly() {
    let app = spawn_app().await;
    // Each tenant's chain: 1 tenant.created, 2 key.created, 3..=12 appended.
    let cases = [
        ("edited", "UPDATE audit_records SET data = '{\"n\":999}' WHERE tenant_id = 'edited' AND sequence = 5", 5),
        ("actor", "UPDATE audit_records SET actor = 'someone-else' WHERE tenant_id = 'actor' AND sequence = 7", 7),
        ("deleted", "DELETE FROM audit_records WHERE tenant_id = 'deleted' AND sequence = 6", 6),
        ("tail", "DELETE FROM audit_records WHERE tenant_id = 'tail' AND sequence = 12", 12),
        ("garbled", "UPDATE audit_records SET data = 'not json' WHERE tenant_id = 'garbled' AND sequence = 3", 3),
    ];
    for (tenant, sql, expected) in cases {
        let key = tenant_with_records(&app, tenant, 10).await;
        assert_eq!(verify(&app, &key).await["valid"], true);
        app.raw_sql(sql).await;
        let result = verify(&app, &key).await;
        assert_eq!(result["valid"], false, "{tenant}: {result}");
        assert_eq!(
            result["firstInvalidSequence"], expected,
            "{tenant}: {result}"
        );
    }

    // Swap the sequences of records 4 and 9 (through a free slot: (tenant, sequence) is a key).
    let key = tenant_with_records(&app, "swapped", 10).await;
    for sql in [
        "UPDATE audit_records SET sequence = -1 WHERE tenant_id = 'swapped' AND sequence = 4",
        "UPDATE audit_records SET sequence = 4 WHERE tenant_id = 'swapped' AND sequence = 9",
        "UPDATE audit_records SET sequence = 9 WHERE tenant_id = 'swapped' AND sequence = -1",
    ] {
        app.raw_sql(sql).await;
    }
    let result = verify(&app, &key).await;
    assert_eq!(
        (
            result["valid"].clone(),
            result["firstInvalidSequence"].clone()
        ),
        (json!(false), json!(4))
    );

    // Other tenants' chains are untouched.
    assert_eq!(verify(&app, &app.a.admin_key).await["valid"], true);

    // The CLI agrees, with exit status 1 and the bad sequence.
    let output = cli(&app, &["audit", "verify", "--tenant", "deleted"]);
    assert_eq!(output.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["firstInvalidSequence"], 6);
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_record_and_no_gap() {
    let app = spawn_app().await;
    let tenant = TenantId::parse("tenant-a").unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let event = AuditEvent {
        event_type: "test.rolled_back",
        actor: "test",
        subject: "s",
        data: json!({}),
    };
    audit::append(&mut tx, &tenant, event).await.unwrap();
    tx.rollback().await.unwrap();
    append(&app.store, "tenant-a", 1).await;

    let (_, page) = send(app.with_key(Method::GET, "/v1/audit", &app.a.admin_key)).await;
    let items = page["data"]["items"].as_array().unwrap();
    let sequences: Vec<_> = items
        .iter()
        .map(|r| r["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert!(items.iter().all(|r| r["eventType"] != "test.rolled_back"));
    assert_eq!(verify(&app, &app.a.admin_key).await["valid"], true);
}

#[tokio::test]
async fn key_operations_are_audited_with_their_actor() {
    let app = spawn_app().await;
    let (_, created) = send(
        app.with_key(Method::POST, "/v1/keys", &app.a.admin_key)
            .json(&json!({"name": "robot", "scopes": ["agent"]})),
    )
    .await;
    let new_id = created["data"]["id"].as_str().unwrap();
    send(app.with_key(
        Method::DELETE,
        &format!("/v1/keys/{new_id}"),
        &app.a.admin_key,
    ))
    .await;
    // Revoking again records nothing more.
    send(app.with_key(
        Method::DELETE,
        &format!("/v1/keys/{new_id}"),
        &app.a.admin_key,
    ))
    .await;

    let (_, page) = send(app.with_key(Method::GET, "/v1/audit", &app.a.admin_key)).await;
    let items = page["data"]["items"].as_array().unwrap();
    let types: Vec<_> = items
        .iter()
        .map(|r| r["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "tenant.created",
            "key.created",
            "key.created",
            "key.revoked"
        ]
    );
    let admin_key_id = items[1]["subject"].as_str().unwrap();
    assert_eq!(items[2]["actor"], admin_key_id);
    assert_eq!(items[2]["subject"], new_id);
    assert_eq!(
        items[2]["data"],
        json!({"name": "robot", "scopes": ["agent"], "agents": [], "owner": null})
    );
    assert_eq!(items[3]["actor"], admin_key_id);
    assert_eq!(items[0]["previousHash"], "0".repeat(64));
    assert_eq!(items[1]["previousHash"], items[0]["hash"]);
    assert!(!page
        .to_string()
        .contains(created["data"]["key"].as_str().unwrap()));
}

#[tokio::test]
async fn listing_filters_paginates_oldest_first_and_stays_in_its_tenant() {
    let app = spawn_app().await;
    for n in 0..5 {
        append(&app.store, "tenant-a", n).await;
    }
    let key = &app.a.admin_key;
    let (_, filtered) = send(app.with_key(
        Method::GET,
        "/v1/audit?eventType=test.appended&pageSize=2&page=2",
        key,
    ))
    .await;
    assert_eq!(filtered["data"]["total"], 5);
    let items = filtered["data"]["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|r| r["sequence"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [5, 6]
    );
    assert_eq!(items[0]["data"]["n"], 2);

    let (_, future) = send(app.with_key(Method::GET, "/v1/audit?fromDate=2999-01-01", key)).await;
    assert_eq!(future["data"]["total"], 0);
    let (_, today) = send(app.with_key(
        Method::GET,
        &format!(
            "/v1/audit?fromDate=2000-01-01&toDate={}",
            chrono::Utc::now().format("%Y-%m-%d")
        ),
        key,
    ))
    .await;
    assert_eq!(today["data"]["total"], 7);

    let body = expect_error(
        app.with_key(
            Method::GET,
            "/v1/audit?fromDate=yesterday&toDate=2024-13-01",
            key,
        ),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 2);
    expect_error(
        app.with_key(
            Method::GET,
            "/v1/audit?fromDate=2024-02-01&toDate=2024-01-01",
            key,
        ),
        400,
        "VALIDATION_ERROR",
    )
    .await;

    let (_, other) = send(app.with_key(Method::GET, "/v1/audit", &app.b.admin_key)).await;
    assert_eq!(other["data"]["total"], INITIAL_RECORDS);
    expect_error(
        app.request(Method::GET, "/v1/audit/verify"),
        401,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn an_export_verifies_offline_and_tampering_in_it_is_found() {
    let app = spawn_app().await;
    for n in 0..3 {
        append(&app.store, "tenant-a", n).await;
    }
    let export = cli(&app, &["audit", "export", "--tenant", "tenant-a"]);
    assert!(export.status.success());
    let text = String::from_utf8(export.stdout).unwrap();
    assert_eq!(text.lines().count(), 5);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.jsonl");
    std::fs::write(&path, &text).unwrap();
    let offline = cli(&app, &["audit", "verify-file", path.to_str().unwrap()]);
    assert_eq!(offline.status.code(), Some(0));
    let result: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(
        result["headHash"],
        verify(&app, &app.a.admin_key).await["headHash"]
    );

    let tampered = text.replacen("\"n\":1", "\"n\":7", 1);
    assert_ne!(tampered, text);
    std::fs::write(&path, tampered).unwrap();
    let offline = cli(&app, &["audit", "verify-file", path.to_str().unwrap()]);
    assert_eq!(offline.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(result["firstInvalidSequence"], 4);
}

#[tokio::test]
async fn the_api_export_is_the_cli_export_and_stays_in_its_tenant() {
    let app = spawn_app().await;
    for n in 0..3 {
        append(&app.store, "tenant-a", n).await;
    }
    let response = app
        .with_key(Method::GET, "/v1/audit/export", &app.a.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("audit-tenant-a.jsonl"));
    let text = response.text().await.unwrap();
    let exported = cli(&app, &["audit", "export", "--tenant", "tenant-a"]);
    assert_eq!(text, String::from_utf8(exported.stdout).unwrap());
    assert_eq!(text.lines().count(), 5);
    let theirs = app
        .with_key(Method::GET, "/v1/audit/export", &app.b.admin_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(theirs.lines().count() as i64, INITIAL_RECORDS);
    assert!(!theirs.contains("test.appended"));
}
