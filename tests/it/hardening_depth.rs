//! Issue 19, items 1–3: no JSON composed from a request nests deep enough to crash a worker
//! or to be stored unreadable; an audit record is verified as stored, however deep; and
//! records stored outside a chain's `1..head` are findings of verification.

use std::process::Command;

use intendedops::{
    audit::{self, AuditEvent},
    auth::TenantId,
    canonical,
    time::rfc3339,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{detail_paths, send, spawn_app, TestApp};

/// The tenant whose admin key `TestApp::a` holds.
const TENANT_A: &str = "tenant-a";

/// `levels` objects nested in one another: `{"a":{"a":…{}}}`.
fn nested(levels: usize) -> Value {
    (1..levels).fold(json!({}), |inner, _| json!({ "a": inner }))
}

/// The same as canonical JSON text, for depths the JSON parser cannot read.
fn nested_text(levels: usize) -> String {
    format!(
        "{}{{}}{}",
        "{\"a\":".repeat(levels - 1),
        "}".repeat(levels - 1)
    )
}

/// Sends to `/api/v1{path}` as tenant A's agent, with `If-Match` when a version is given.
async fn oi(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    version: Option<i64>,
) -> (u16, Value) {
    let mut request = app
        .with_key(method, &format!("/api/v1{path}"), &app.a.admin_key)
        .header("X-Agent-ID", "deep-agent");
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(version) = version {
        request = request.header("If-Match", version.to_string());
    }
    let (status, body) = send(request).await;
    (status.as_u16(), body)
}

/// Patches `path` of intent `id` at version 1 (the one every test intent is at).
async fn patch(app: &TestApp, id: &str, path: &str, value: Value) -> (u16, Value) {
    let body = json!({ "patches": [{ "op": "set", "path": path, "value": value }] });
    oi(
        app,
        Method::POST,
        &format!("/intents/{id}/state"),
        Some(body),
        Some(1),
    )
    .await
}

async fn new_intent(app: &TestApp) -> String {
    let (status, body) = oi(
        app,
        Method::POST,
        "/intents",
        Some(json!({"title": "deep"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn intent(app: &TestApp, id: &str) -> Value {
    let (status, body) = oi(app, Method::GET, &format!("/intents/{id}"), None, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Asserts a 400 `VALIDATION_ERROR` naming `path` whose message mentions `limit`.
fn assert_refused(answer: (u16, Value), path: &str, limit: &str) {
    let (status, body) = answer;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{body}");
    assert_eq!(detail_paths(&body), [path], "{body}");
    assert!(body.to_string().contains(limit), "{body}");
}

async fn verify(app: &TestApp, key: &str) -> Value {
    let (status, body) = send(app.with_key(Method::GET, "/v1/audit/verify", key)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn a_20000_segment_patch_path_is_refused_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let id = new_intent(&app).await;
    let answer = patch(&app, &id, &"/a".repeat(20_000), json!(1)).await;
    assert_refused(answer, "patches.0.path", "at most 32");
    assert_eq!(intent(&app, &id).await["version"], 1);

    assert_refused(
        patch(&app, &id, &"/a".repeat(33), json!(1)).await,
        "patches.0.path",
        "at most 32",
    );
}

#[tokio::test]
async fn the_state_is_bounded_at_64_levels_and_round_trips_at_the_limit() {
    let app = spawn_app().await;
    let id = new_intent(&app).await;
    // One level for the state object, one per segment below it, then the value's: 1 + 1 + 63.
    assert_refused(
        patch(&app, &id, "/a/b", nested(63)).await,
        "patches.0.path",
        "at most 64",
    );
    let before = intent(&app, &id).await;
    assert_eq!(
        (before["version"].clone(), before["state"].clone()),
        (json!(1), json!({}))
    );

    let (status, body) = patch(&app, &id, "/a", nested(63)).await;
    assert_eq!(status, 200, "{body}");
    let after = intent(&app, &id).await;
    assert_eq!(after["state"], json!({ "a": nested(63) }));
    // The next patch keeps what is there.
    let body = json!({ "patches": [{ "op": "set", "path": "b", "value": 1 }] });
    let (status, _) = oi(
        &app,
        Method::POST,
        &format!("/intents/{id}/state"),
        Some(body),
        Some(2),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(intent(&app, &id).await["state"]["a"], nested(63));

    // The initial state is bounded the same way, and so is any body of the face.
    let deep_state = json!({ "title": "deep", "state": nested(65) });
    assert_refused(
        oi(&app, Method::POST, "/intents", Some(deep_state), None).await,
        "state",
        "at most 64",
    );
    let deep_event = json!({ "event_type": "note", "payload": nested(80) });
    let (status, body) = oi(
        &app,
        Method::POST,
        &format!("/intents/{id}/events"),
        Some(deep_event),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("at most 72"), "{body}");
    assert_eq!(verify(&app, &app.a.admin_key).await["valid"], true);
}

#[tokio::test]
async fn a_patch_nested_120_levels_is_refused_and_the_chain_still_verifies() {
    let app = spawn_app().await;
    let id = new_intent(&app).await;
    let (status, body) = patch(&app, &id, "/a", nested(120)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    let result = verify(&app, &app.a.admin_key).await;
    assert_eq!(result["valid"], true, "{result}");

    // The audit trail itself refuses data it could not read back, as a validation error.
    let mut tx = app.store.begin().await.unwrap();
    let event = AuditEvent {
        event_type: "test.deep",
        actor: "test",
        subject: "s",
        data: nested(audit::MAX_DATA_DEPTH + 1),
    };
    let tenant = TenantId::parse(TENANT_A).unwrap();
    let refused = audit::append(&mut tx, &tenant, event).await;
    assert!(
        matches!(refused, Err(intendedops::error::Error::Validation(_))),
        "{refused:?}"
    );
}

/// Appends a correctly chained record to `tenant` whose stored data nests `levels` deep
/// (deeper than any JSON parser here reads), as a record written before writes were bounded.
async fn append_deep_record(app: &TestApp, tenant: &str, levels: usize) -> i64 {
    let key = &app.a.admin_key;
    let head = verify(app, key).await;
    let sequence = head["eventCount"].as_i64().unwrap() + 1;
    let previous = head["headHash"].as_str().unwrap();
    let created_at = 1_700_000_000_000_i64;
    let data = nested_text(levels);
    let hash = canonical::HashTemplate::new(&canonical::RecordContent {
        event_type: "test.deep",
        actor: "test",
        subject: "s",
        data: &data,
        created_at: &rfc3339(created_at),
    })
    .hash(previous, sequence);
    app.raw_sql(&format!(
        "INSERT INTO audit_records (tenant_id, sequence, event_type, actor, subject, data, \
         created_at, previous_hash, hash) VALUES ('{tenant}', {sequence}, 'test.deep', 'test', \
         's', '{data}', {created_at}, '{previous}', '{hash}')"
    ))
    .await;
    app.raw_sql(&format!(
        "UPDATE audit_heads SET sequence = {sequence}, previous_hash = '{previous}', \
         hash = '{hash}' WHERE tenant_id = '{tenant}'"
    ))
    .await;
    sequence
}

#[tokio::test]
async fn a_record_deeper_than_the_parser_reads_verifies_and_later_tampering_is_located() {
    let app = spawn_app().await;
    let tenant = TENANT_A;
    let deep = append_deep_record(&app, tenant, 200).await;
    let id = new_intent(&app).await;
    let result = verify(&app, &app.a.admin_key).await;
    assert_eq!(result["valid"], true, "{result}");
    assert!(result["eventCount"].as_i64().unwrap() > deep);

    // The export carries the record as stored, and the offline check agrees.
    let export = Command::new(env!("CARGO_BIN_EXE_intendedops"))
        .args(["audit", "export", "--tenant", tenant])
        .env("DATABASE_URL", &app.db.url)
        .env("OPENINTENT_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let text = String::from_utf8(export.stdout).unwrap();
    assert!(text.contains(&format!("\"data\":{}", nested_text(200))));
    let file = std::env::temp_dir().join(format!("deep-export-{id}.jsonl"));
    std::fs::write(&file, &text).unwrap();
    let checked = Command::new(env!("CARGO_BIN_EXE_intendedops"))
        .args(["audit", "verify-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(checked.status.success(), "{checked:?}");

    app.raw_sql(&format!(
        "UPDATE audit_records SET actor = 'someone-else' WHERE tenant_id = '{tenant}' \
         AND sequence = {}",
        deep + 1
    ))
    .await;
    let result = verify(&app, &app.a.admin_key).await;
    assert_eq!(
        (
            result["valid"].clone(),
            result["firstInvalidSequence"].clone()
        ),
        (json!(false), json!(deep + 1)),
        "{result}"
    );
}

#[tokio::test]
async fn records_outside_one_to_head_are_findings() {
    let app = spawn_app().await;
    let key = app.a.admin_key.clone();
    let tenant = TENANT_A;
    let head = verify(&app, &key).await["eventCount"].as_i64().unwrap();
    let copy_of_first = |sequence: i64| {
        format!(
            "INSERT INTO audit_records (tenant_id, sequence, event_type, actor, subject, data, \
             created_at, previous_hash, hash) SELECT tenant_id, {sequence}, event_type, actor, \
             subject, data, created_at, previous_hash, hash FROM audit_records \
             WHERE tenant_id = '{tenant}' AND sequence = 1"
        )
    };
    for stray in [head + 1, 0] {
        app.raw_sql(&copy_of_first(stray)).await;
        let result = verify(&app, &key).await;
        assert_eq!(
            (
                result["valid"].clone(),
                result["firstInvalidSequence"].clone()
            ),
            (json!(false), json!(stray)),
            "{result}"
        );
        app.raw_sql(&format!(
            "DELETE FROM audit_records WHERE tenant_id = '{tenant}' AND sequence = {stray}"
        ))
        .await;
        assert_eq!(verify(&app, &key).await["valid"], true);
    }
    // Tenant B's chain is not concerned.
    assert_eq!(verify(&app, &app.b.admin_key).await["valid"], true);
}
