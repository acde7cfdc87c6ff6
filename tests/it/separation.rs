//! Separation of duties and trust that cannot be self-awarded: whoever submitted an intent
//! (its key, its agent, the key's owner) cannot approve it, a quorum counts people, and a
//! burst of self-reported completions earns nothing.

use intendedops::{auth::Scope, governance::trust::CreditRule};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    governance::agent,
    helpers::{expect_error, send, spawn_app, spawn_app_with, TestApp},
    identity::{audited, bound_key, invoice_for},
    people::{sign_in, user},
};

/// A key of tenant a with `scopes`, owned by `owner` (an email), through the API.
async fn owned_key(app: &TestApp, owner: &str, scopes: &[&str]) -> String {
    let body = json!({"name": "owned", "scopes": scopes, "owner": owner});
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/keys", &app.a.admin_key)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["data"]["ownerUserId"]
        .as_str()
        .unwrap()
        .starts_with("usr_"));
    created["data"]["key"].as_str().unwrap().to_string()
}

/// Submits an invoice for `agent` with `key`; returns the intent id and its approval's path.
async fn queued(app: &TestApp, key: &str, agent: &str) -> (String, String) {
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/intents", key)
            .json(&invoice_for(agent)),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &created["data"]["status"]),
        (201, &json!("pending_approval"))
    );
    let id = created["data"]["intentId"].as_str().unwrap().to_string();
    let (_, detail) =
        send(app.with_key(Method::GET, &format!("/v1/intents/{id}"), &app.a.admin_key)).await;
    let approval = detail["data"]["approvals"][0]["id"].as_str().unwrap();
    (id, format!("/v1/approvals/{approval}/approve"))
}

async fn approval(app: &TestApp, approve_path: &str) -> Value {
    let path = approve_path.trim_end_matches("/approve");
    send(app.with_key(Method::GET, path, &app.a.admin_key))
        .await
        .1["data"]
        .clone()
}

#[tokio::test]
async fn whoever_submitted_an_intent_cannot_approve_it() {
    let app = spawn_app().await;
    let bot = agent(&app, "Solo", None).await;
    // One key with both scopes: the self-approval of the attack review.
    let both = app
        .create_key("tenant-a", &[Scope::Agent, Scope::Approver])
        .await;
    let (_, approve) = queued(&app, &both, &bot).await;
    let refused = expect_error(
        app.with_key(Method::POST, &approve, &both),
        403,
        "SEPARATION_OF_DUTIES",
    )
    .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("submitted"));
    // Another key that acts as the submitting agent is the agent too.
    let agents_approver = bound_key(&app, &[&bot], &["approver"]).await;
    expect_error(
        app.with_key(Method::POST, &approve, &agents_approver),
        403,
        "SEPARATION_OF_DUTIES",
    )
    .await;
    assert_eq!(audited(&app, "approval.refused").await, 2);
    // Rejecting one's own intent is only withdrawing it.
    let reject = approve.replace("/approve", "/reject");
    assert_eq!(
        send(app.with_key(Method::POST, &reject, &both)).await.0,
        200
    );
}

#[tokio::test]
async fn a_person_cannot_approve_what_their_key_submitted_and_decisions_name_the_person() {
    let app = spawn_app().await;
    let bot = agent(&app, "Owned", None).await;
    let erin = user(&app, "erin@example.com", "approver").await;
    let frank = user(&app, "frank@example.com", "approver").await;
    let erins_agent_key = owned_key(&app, "erin@example.com", &["agent"]).await;
    let (_, approve) = queued(&app, &erins_agent_key, &bot).await;
    // Erin, through another key she owns or her own session: refused.
    let erins_approver_key = owned_key(&app, "erin@example.com", &["approver"]).await;
    expect_error(
        app.with_key(Method::POST, &approve, &erins_approver_key),
        403,
        "SEPARATION_OF_DUTIES",
    )
    .await;
    let erin_session = sign_in(&app, "erin@example.com").await;
    expect_error(
        erin_session.request(&app, Method::POST, &approve),
        403,
        "SEPARATION_OF_DUTIES",
    )
    .await;
    // Where the tenant has people, a key no person owns does not stand in for one.
    let ownerless = app.create_key("tenant-a", &[Scope::Approver]).await;
    expect_error(
        app.with_key(Method::POST, &approve, &ownerless),
        403,
        "SEPARATION_OF_DUTIES",
    )
    .await;
    // Frank decides; the decision names him, not a key.
    let frank_session = sign_in(&app, "frank@example.com").await;
    let (status, decided) = send(frank_session.request(&app, Method::POST, &approve)).await;
    assert_eq!(
        (status.as_u16(), &decided["data"]["status"]),
        (200, &json!("approved"))
    );
    let decision = &decided["data"]["decisions"][0];
    assert_eq!(decision["approver"], json!(frank));
    assert_eq!(decision["approverName"], json!("frank@example.com"));
    assert!(decision["keyId"].is_null());
    assert_ne!(erin, frank);
}

#[tokio::test]
async fn two_keys_of_one_person_cannot_meet_a_two_person_quorum() {
    let app = spawn_app().await;
    let policy = json!({"rules": [], "default": {"type": "require_approval", "approvers": 2}});
    let put = app
        .with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
        .json(&policy);
    assert_eq!(send(put).await.0, 200);
    let bot = agent(&app, "Quorum", None).await;
    user(&app, "gina@example.com", "approver").await;
    user(&app, "hal@example.com", "approver").await;
    let (first, second) = (
        owned_key(&app, "gina@example.com", &["approver"]).await,
        owned_key(&app, "gina@example.com", &["approver"]).await,
    );
    let agent_key = bound_key(&app, &[&bot], &["agent"]).await;
    let (_, approve) = queued(&app, &agent_key, &bot).await;
    assert_eq!(
        send(app.with_key(Method::POST, &approve, &first)).await.0,
        200
    );
    expect_error(
        app.with_key(Method::POST, &approve, &second),
        409,
        "CONFLICT",
    )
    .await;
    let pending = approval(&app, &approve).await;
    assert_eq!(
        (
            &pending["status"],
            pending["decisions"].as_array().unwrap().len()
        ),
        (&json!("pending"), 1)
    );
    // A second person completes the quorum.
    let hal = sign_in(&app, "hal@example.com").await;
    let (status, decided) = send(hal.request(&app, Method::POST, &approve)).await;
    assert_eq!(
        (status.as_u16(), &decided["data"]["status"]),
        (200, &json!("approved"))
    );
}

#[tokio::test]
async fn a_burst_of_self_reported_completions_moves_no_tier_while_the_honest_path_promotes() {
    let app = spawn_app_with(|config| {
        config.trust_credit = CreditRule {
            min_execution_ms: 1_000,
            per_hour: 7,
        }
    })
    .await;
    let policy = json!({"rules": [], "default": {"type": "auto_approve"}});
    let put = app
        .with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
        .json(&policy);
    assert_eq!(send(put).await.0, 200);
    let (sprinter, steady) = (
        agent(&app, "Sprinter", None).await,
        agent(&app, "Steady", None).await,
    );
    let key = bound_key(&app, &[&sprinter, &steady], &["agent"]).await;
    let submit = |agent: String| {
        let request = app
            .with_key(Method::POST, "/v1/intents", &key)
            .json(&invoice_for(&agent));
        async move {
            let (status, created) = send(request).await;
            assert_eq!(
                (status.as_u16(), &created["data"]["status"]),
                (201, &json!("approved"))
            );
            created["data"]["intentId"].as_str().unwrap().to_string()
        }
    };
    let complete = |id: String| {
        let path = format!("/v1/intents/{id}/complete");
        let request = app.with_key(Method::POST, &path, &key).json(&json!({}));
        async move { assert_eq!(send(request).await.0, 200) }
    };
    let standing = |agent: String| {
        let request = app.with_key(
            Method::GET,
            &format!("/v1/agents/{agent}"),
            &app.a.admin_key,
        );
        async move {
            let body = send(request).await.1;
            (
                body["data"]["trustTier"].clone(),
                body["data"]["trustScore"].as_f64().unwrap(),
            )
        }
    };
    // 40 completions reported the moment each intent is approved: no credit at all.
    for _ in 0..40 {
        let id = submit(sprinter.clone()).await;
        complete(id).await;
    }
    assert_eq!(standing(sprinter.clone()).await, (json!("T0"), 0.0));
    assert_eq!(audited(&app, "agent.trust.withheld").await, 40);

    // Executed after a credible interval: credited, up to the hourly cap of 7.
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(submit(steady.clone()).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    for id in ids {
        complete(id).await;
    }
    // Seven medium-risk completions: score 14 with a record of 7, enough for T1 (10 and 5).
    assert_eq!(standing(steady.clone()).await, (json!("T1"), 14.0));
    assert_eq!(audited(&app, "agent.trust.withheld").await, 41);
}
