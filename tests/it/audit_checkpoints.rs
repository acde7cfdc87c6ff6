//! Signed Merkle checkpoints over the audit trail: proofs verify offline with the published
//! keys alone, a tampered record fails its proof, a rewritten history is refused by the server
//! and caught by anyone holding an earlier checkpoint, and retention keeps every remaining
//! proof working.

use std::{path::Path, time::Duration};

use intendedops::{audit::checkpoints::SealPolicy, audit::AuditRecord, auth::Scope};
use reqwest::Method;
use serde_json::Value;

use crate::{
    audit::{append, tenant_with_records},
    helpers::{cli, send, spawn_app, spawn_app_with, TestApp},
};

async fn get(app: &TestApp, path: &str, key: &str) -> (u16, Value) {
    let (status, body) = send(app.with_key(Method::GET, path, key)).await;
    (status.as_u16(), body)
}

async fn seal(app: &TestApp, key: &str) -> Value {
    let (status, body) = send(app.with_key(Method::POST, "/v1/audit/checkpoints", key)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Writes `value` to `dir/name` and returns the path.
fn file(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// `audit verify-proof`'s exit code and answer.
fn verify_proof(app: &TestApp, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["audit", "verify-proof"];
    all.extend_from_slice(args);
    let output = cli(app, &all);
    let printed = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), printed)
}

async fn published_keys(app: &TestApp, dir: &Path) -> String {
    let (status, keys) =
        send(app.request(Method::GET, "/.well-known/intendedops/checkpoint-keys")).await;
    assert_eq!(status, 200, "{keys}");
    let key = &keys["keys"][0];
    assert_eq!(key["algorithm"], "Ed25519");
    assert!(
        key["did"].as_str().unwrap().starts_with("did:key:z6Mk"),
        "{keys}"
    );
    file(dir, "keys.json", &keys)
}

#[tokio::test]
async fn proofs_verify_offline_and_checkpoints_extend_each_other() {
    let app = spawn_app().await;
    let key = tenant_with_records(&app, "proofs", 40).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = published_keys(&app, dir.path()).await;

    let first = seal(&app, &key).await;
    assert_eq!(first["treeSize"], 42, "{first}");
    assert_eq!(first["tenant"], "proofs");
    // Sealing again with nothing new answers the same checkpoint.
    assert_eq!(seal(&app, &key).await, first);

    for sequence in [1, 17, 42] {
        let (status, proof) = get(&app, &format!("/v1/audit/records/{sequence}/proof"), &key).await;
        assert_eq!(status, 200, "{proof}");
        assert_eq!(proof["data"]["treeSize"], 42);
        assert_eq!(proof["data"]["checkpoint"], first);
        let path = file(dir.path(), "proof.json", &proof);
        let (code, answer) = verify_proof(&app, &[&path, "--keys", &keys]);
        assert_eq!(code, Some(0), "{answer}");
        assert_eq!(answer["proof"], "inclusion");
    }

    for n in 0..30 {
        append(&app.store, "proofs", n).await;
    }
    let second = seal(&app, &key).await;
    assert_eq!(second["treeSize"], 72);
    let (status, list) = get(&app, "/v1/audit/checkpoints", &key).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"]["items"][0], second);
    assert_eq!(list["data"]["items"][1], first);

    let (status, proof) = get(&app, "/v1/audit/checkpoints/consistency?from=42", &key).await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["data"]["toSize"], 72);
    let path = file(dir.path(), "consistency.json", &proof);
    let kept = file(dir.path(), "kept.json", &first);
    let (code, answer) = verify_proof(&app, &[&path, "--keys", &keys, "--checkpoint", &kept]);
    assert_eq!(code, Some(0), "{answer}");
    assert_eq!(answer["proof"], "consistency");

    // An older record proven against the newer checkpoint.
    let (_, proof) = get(&app, "/v1/audit/records/3/proof?treeSize=72", &key).await;
    let path = file(dir.path(), "proof.json", &proof);
    assert_eq!(verify_proof(&app, &[&path, "--keys", &keys]).0, Some(0));

    // The chain reproduces the latest root, on the server and in an export checked offline.
    let (_, verification) = get(&app, "/v1/audit/verify", &key).await;
    assert_eq!(verification["data"]["valid"], true, "{verification}");
    assert_eq!(verification["data"]["checkpoint"]["matches"], true);
    let export = cli(&app, &["audit", "export", "--tenant", "proofs"]);
    let export_path = dir.path().join("export.jsonl");
    std::fs::write(&export_path, &export.stdout).unwrap();
    let checkpoint = file(dir.path(), "second.json", &second);
    let offline = cli(
        &app,
        &[
            "audit",
            "verify-file",
            export_path.to_str().unwrap(),
            "--checkpoint",
            &checkpoint,
            "--keys",
            &keys,
        ],
    );
    let result: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(offline.status.code(), Some(0), "{result}");
    assert_eq!(result["checkpoint"]["matches"], true);

    // A checkpoint altered after signing is refused.
    let mut forged = second.clone();
    forged["treeSize"] = 71.into();
    let forged = file(dir.path(), "forged.json", &forged);
    let offline = cli(
        &app,
        &[
            "audit",
            "verify-file",
            export_path.to_str().unwrap(),
            "--checkpoint",
            &forged,
            "--keys",
            &keys,
        ],
    );
    assert_ne!(offline.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&offline.stderr).contains("not signed"));

    // Bad requests, and other tenants.
    for (path, status) in [
        ("/v1/audit/records/73/proof", 400),
        ("/v1/audit/records/0/proof", 400),
        ("/v1/audit/records/5/proof?treeSize=99", 400),
        ("/v1/audit/checkpoints/consistency?from=50&to=43", 400),
        ("/v1/audit/checkpoints/consistency?from=0", 400),
    ] {
        assert_eq!(get(&app, path, &key).await.0, status, "{path}");
    }
    let (status, body) = get(&app, "/v1/audit/records/5/proof", &app.b.admin_key).await;
    assert_eq!(
        status, 409,
        "another tenant has no checkpoint of its own yet: {body}"
    );
}

#[tokio::test]
async fn a_tampered_record_fails_its_proof_and_verify_names_it() {
    let app = spawn_app().await;
    let key = tenant_with_records(&app, "tampered", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = published_keys(&app, dir.path()).await;
    seal(&app, &key).await;

    app.raw_sql(
        "UPDATE audit_records SET data = '{\"n\":999}' WHERE tenant_id = 'tampered' AND sequence = 7",
    )
    .await;
    let (_, proof) = get(&app, "/v1/audit/records/7/proof", &key).await;
    let path = file(dir.path(), "proof.json", &proof);
    let (code, answer) = verify_proof(&app, &[&path, "--keys", &keys]);
    assert_eq!(code, Some(1), "{answer}");
    assert!(
        answer["failure"].as_str().unwrap().contains("record 7"),
        "{answer}"
    );
    let (_, verification) = get(&app, "/v1/audit/verify", &key).await;
    assert_eq!(verification["data"]["valid"], false);
    assert_eq!(verification["data"]["firstInvalidSequence"], 7);

    // The same edit with the record's hash recomputed: the record is self-consistent, but not
    // the leaf the checkpoint signed.
    let mut record: AuditRecord = serde_json::from_value(proof["data"]["record"].clone()).unwrap();
    record.hash = record.computed_hash();
    app.raw_sql(&format!(
        "UPDATE audit_records SET hash = '{}' WHERE tenant_id = 'tampered' AND sequence = 7",
        record.hash
    ))
    .await;
    let (_, proof) = get(&app, "/v1/audit/records/7/proof", &key).await;
    let path = file(dir.path(), "proof.json", &proof);
    let (code, answer) = verify_proof(&app, &[&path, "--keys", &keys]);
    assert_eq!(code, Some(1), "{answer}");
    assert!(
        answer["failure"]
            .as_str()
            .unwrap()
            .contains("not in the tree"),
        "{answer}"
    );
    // The server names the record whose successor no longer links to it.
    let (_, verification) = get(&app, "/v1/audit/verify", &key).await;
    assert_eq!(verification["data"]["firstInvalidSequence"], 8);
    assert_eq!(verification["data"]["checkpoint"]["matches"], false);
}

#[tokio::test]
async fn a_rewritten_history_is_refused_and_caught_by_an_earlier_checkpoint() {
    let app = spawn_app().await;
    let key = tenant_with_records(&app, "rewritten", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = published_keys(&app, dir.path()).await;
    let kept = seal(&app, &key).await;
    assert_eq!(kept["treeSize"], 22);

    // Rewrite the whole chain and its head: a valid chain from genesis, with other content.
    app.raw_sql("DELETE FROM audit_records WHERE tenant_id = 'rewritten'")
        .await;
    app.raw_sql("DELETE FROM audit_heads WHERE tenant_id = 'rewritten'")
        .await;
    for n in 100..130 {
        append(&app.store, "rewritten", n).await;
    }
    let (_, verification) = get(&app, "/v1/audit/verify", &key).await;
    assert_eq!(verification["data"]["firstInvalidSequence"], Value::Null);
    assert_eq!(verification["data"]["checkpoint"]["matches"], false);
    assert_eq!(verification["data"]["valid"], false, "{verification}");
    // The server will not sign a tree that does not go on from its own.
    let (status, body) = send(app.with_key(Method::POST, "/v1/audit/checkpoints", &key)).await;
    assert_eq!(status, 409, "{body}");

    // Rewrite the tree and the checkpoints too: the server signs, but the checkpoint a
    // customer kept exposes the rewrite.
    for table in ["audit_trees", "audit_tree_nodes", "audit_checkpoints"] {
        app.raw_sql(&format!(
            "DELETE FROM {table} WHERE tenant_id = 'rewritten'"
        ))
        .await;
    }
    let forged = seal(&app, &key).await;
    assert_eq!(forged["treeSize"], 30);
    let (status, proof) = get(&app, "/v1/audit/checkpoints/consistency?from=22", &key).await;
    assert_eq!(status, 200, "{proof}");
    let path = file(dir.path(), "consistency.json", &proof);
    let kept = file(dir.path(), "kept.json", &kept);
    let (code, answer) = verify_proof(&app, &[&path, "--keys", &keys, "--checkpoint", &kept]);
    assert_eq!(code, Some(1), "{answer}");
}

#[tokio::test]
async fn pruning_below_a_checkpoint_keeps_verification_and_proofs() {
    let app = spawn_app().await;
    let key = tenant_with_records(&app, "pruned", 18).await;
    let admin = app.create_key("pruned", &[Scope::Admin]).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = published_keys(&app, dir.path()).await;
    let early = seal(&app, &key).await;
    assert_eq!(early["treeSize"], 21);
    for n in 0..31 {
        append(&app.store, "pruned", n).await;
    }
    assert_eq!(seal(&app, &key).await["treeSize"], 52);

    let prune = |through: i64, key: &str| {
        app.with_key(Method::POST, "/v1/audit/prune", key)
            .json(&serde_json::json!({ "through": through }))
    };
    let (status, _) = send(prune(52, &key)).await;
    assert_eq!(status, 403, "pruning takes an admin key");
    let (status, pruned) = send(prune(52, &admin)).await;
    assert_eq!(status, 200, "{pruned}");
    // Whole blocks of 16 only.
    assert_eq!(pruned["data"]["prunedThrough"], 48);
    assert_eq!(pruned["data"]["recordsRemoved"], 48);
    let (status, again) = send(prune(52, &admin)).await;
    assert_eq!(status, 409, "{again}");

    let (_, verification) = get(&app, "/v1/audit/verify", &key).await;
    assert_eq!(verification["data"]["valid"], true, "{verification}");
    assert_eq!(verification["data"]["checkpoint"]["matches"], true);
    let (_, listed) = get(&app, "/v1/audit?pageSize=100", &key).await;
    let items = listed["data"]["items"].as_array().unwrap();
    assert_eq!(items[0]["sequence"], 49);
    assert_eq!(items.last().unwrap()["eventType"], "audit.pruned");

    let (status, _) = get(&app, "/v1/audit/records/10/proof", &key).await;
    assert_eq!(status, 410);
    for sequence in [49, 52] {
        let (status, proof) = get(&app, &format!("/v1/audit/records/{sequence}/proof"), &key).await;
        assert_eq!(status, 200, "{proof}");
        let path = file(dir.path(), "proof.json", &proof);
        assert_eq!(verify_proof(&app, &[&path, "--keys", &keys]).0, Some(0));
    }
    // The early checkpoint's edge fell inside the pruned range: it still extends to the new.
    let (status, proof) = get(&app, "/v1/audit/checkpoints/consistency?from=21", &key).await;
    assert_eq!(status, 200, "{proof}");
    let path = file(dir.path(), "consistency.json", &proof);
    let kept = file(dir.path(), "early.json", &early);
    let (code, answer) = verify_proof(&app, &[&path, "--keys", &keys, "--checkpoint", &kept]);
    assert_eq!(code, Some(0), "{answer}");

    // The pruned chain's export still verifies offline from its first remaining record.
    let export = cli(&app, &["audit", "export", "--tenant", "pruned"]);
    let export_path = dir.path().join("export.jsonl");
    std::fs::write(&export_path, &export.stdout).unwrap();
    let offline = cli(
        &app,
        &["audit", "verify-file", export_path.to_str().unwrap()],
    );
    assert_eq!(offline.status.code(), Some(0));
    // Other tenants keep everything.
    let (_, other) = get(&app, "/v1/audit/verify", &app.a.admin_key).await;
    assert_eq!(other["data"]["eventCount"], 2);
}

#[tokio::test]
async fn checkpoints_are_signed_every_n_records_without_being_asked() {
    let app = spawn_app_with(|config| {
        config.checkpoint_policy = SealPolicy {
            every_records: 5,
            every: None,
        }
    })
    .await;
    let key = tenant_with_records(&app, "automatic", 10).await;
    let mut sealed = Value::Null;
    for _ in 0..50 {
        let (_, list) = get(&app, "/v1/audit/checkpoints", &key).await;
        sealed = list["data"]["items"][0].clone();
        if sealed["treeSize"] == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sealed["treeSize"], 12, "{sealed}");
}
