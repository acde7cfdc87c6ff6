//! `/v1/agents`: registration rules, conflicts, administration.

use intendedops::auth::Scope;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{detail_paths, expect_error, send, spawn_app};

#[tokio::test]
async fn ids_default_to_the_slug_and_duplicates_conflict() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    let post = |body: serde_json::Value| app.with_key(Method::POST, "/v1/agents", key).json(&body);
    let (status, agent) = send(post(json!({"name": "  Billing Agent  "}))).await;
    assert_eq!(status, 201);
    assert_eq!(
        (agent["data"]["id"].as_str(), agent["data"]["name"].as_str()),
        (Some("billing-agent"), Some("Billing Agent"))
    );
    assert_eq!(agent["data"]["domains"], json!([]));
    let body = expect_error(post(json!({"name": "Billing agent"})), 409, "CONFLICT").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("billing-agent"));
    let (status, explicit) = send(post(
        json!({"name": "Billing Agent", "id": "billing-agent-2"}),
    ))
    .await;
    assert_eq!(
        (status.as_u16(), explicit["data"]["id"].as_str()),
        (201, Some("billing-agent-2"))
    );
    // Other tenants have their own namespace.
    let (status, _) = send(
        app.with_key(Method::POST, "/v1/agents", &app.b.admin_key)
            .json(&json!({"name": "Billing Agent"})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, list) = send(app.with_key(Method::GET, "/v1/agents", key)).await;
    assert_eq!(list["data"]["total"], 2);
    assert_eq!(list["data"]["items"][0]["id"], "billing-agent");
}

#[tokio::test]
async fn registrations_are_validated_against_the_catalog() {
    let app = spawn_app().await;
    let body = expect_error(
        app.with_key(Method::POST, "/v1/agents", &app.a.admin_key).json(&json!({
            "name": "", "domains": ["billing", "hr"], "intentTypes": ["billing.send_invoice", "sales.create_lead", "billing.nope"],
            "id": "-bad id"
        })),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let paths = detail_paths(&body);
    assert_eq!(
        paths,
        ["name", "id", "domains.1", "intentTypes.1", "intentTypes.2"]
    );
    expect_error(
        app.with_key(Method::POST, "/v1/agents", &app.a.admin_key)
            .json(&json!({"name": "x", "trustTier": "T4"})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let reader = app.create_key("tenant-a", &[Scope::Read]).await;
    expect_error(
        app.with_key(Method::POST, "/v1/agents", &reader)
            .json(&json!({"name": "x"})),
        403,
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn admins_update_scope_status_and_pin_tiers_with_an_audit_trail() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    send(
        app.with_key(Method::POST, "/v1/agents", key)
            .json(&json!({"name": "Ops", "description": "first"})),
    )
    .await;
    let patch = |body: serde_json::Value| {
        app.with_key(Method::PATCH, "/v1/agents/ops", key)
            .json(&body)
    };
    let (status, updated) = send(patch(
        json!({"domains": ["billing"], "pinnedTier": "T3", "description": null}),
    ))
    .await;
    assert_eq!(status, 200, "{updated}");
    let data = &updated["data"];
    assert_eq!(
        (data["trustTier"].as_str(), data["pinnedTier"].as_str()),
        (Some("T3"), Some("T3"))
    );
    assert!(data["description"].is_null());
    assert_eq!(data["domains"], json!(["billing"]));
    let (_, unpinned) = send(patch(json!({"pinnedTier": null}))).await;
    assert_eq!(
        (
            unpinned["data"]["trustTier"].as_str(),
            unpinned["data"]["pinnedTier"].is_null()
        ),
        (Some("T0"), true)
    );
    expect_error(
        patch(json!({"intentTypes": ["sales.create_lead"]})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(patch(json!({"pinnedTier": "T9"})), 400, "VALIDATION_ERROR").await;
    expect_error(
        app.with_key(Method::PATCH, "/v1/agents/nobody", key)
            .json(&json!({"status": "active"})),
        404,
        "NOT_FOUND",
    )
    .await;
    let agent_key = app.create_key("tenant-a", &[Scope::Agent]).await;
    expect_error(
        app.with_key(Method::PATCH, "/v1/agents/ops", &agent_key)
            .json(&json!({"status": "active"})),
        403,
        "FORBIDDEN",
    )
    .await;

    let (_, audit) =
        send(app.with_key(Method::GET, "/v1/audit?eventType=agent.updated", key)).await;
    assert_eq!(audit["data"]["total"], 2);
    assert_eq!(audit["data"]["items"][0]["data"]["pinnedTier"], "T3");
    let (_, registered) =
        send(app.with_key(Method::GET, "/v1/audit?eventType=agent.registered", key)).await;
    assert_eq!(registered["data"]["items"][0]["subject"], "ops");
}

#[tokio::test]
async fn the_list_filters_on_status_and_tier_with_counts_and_totals_of_the_filtered_set() {
    let app = spawn_app().await;
    let key = &app.a.admin_key;
    for name in ["Alpha", "Beta", "Gamma"] {
        let (status, _) = send(
            app.with_key(Method::POST, "/v1/agents", key)
                .json(&json!({"name": name})),
        )
        .await;
        assert_eq!(status, 201);
    }
    for (id, body) in [
        ("beta", json!({"pinnedTier": "T2"})),
        ("gamma", json!({"status": "suspended", "pinnedTier": "T2"})),
    ] {
        let path = format!("/v1/agents/{id}");
        let (status, _) = send(app.with_key(Method::PATCH, &path, key).json(&body)).await;
        assert_eq!(status, 200);
    }
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let list = |query: &str| app.with_key(Method::GET, &format!("/v1/agents{query}"), key);
    let (_, tier) = send(list("?trustTier=T2")).await;
    assert_eq!(
        (ids(&tier), tier["data"]["total"].as_i64()),
        (vec!["beta".into(), "gamma".into()], Some(2))
    );
    let (_, both) = send(list("?trustTier=T2&status=active")).await;
    assert_eq!(
        (ids(&both), both["data"]["total"].as_i64()),
        (vec!["beta".into()], Some(1))
    );
    let (_, paged) = send(list("?status=active&pageSize=1&page=2")).await;
    assert_eq!(
        (ids(&paged), paged["data"]["total"].as_i64()),
        (vec!["beta".into()], Some(2))
    );
    expect_error(list("?trustTier=T9"), 400, "VALIDATION_ERROR").await;
    expect_error(list("?status=asleep"), 400, "VALIDATION_ERROR").await;
    // Another tenant's agents never appear.
    let (_, theirs) =
        send(app.with_key(Method::GET, "/v1/agents?trustTier=T2", &app.b.admin_key)).await;
    assert_eq!(theirs["data"]["total"], 0);
}
