//! One agent identity for both faces: keys bound to agents act only as them, OpenIntent's
//! `X-Agent-ID` names a registered agent, and refusals are on the audit record.

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::{
    governance::{agent, invoice},
    helpers::{expect_error, send, spawn_app, spawn_app_with, TestApp},
};

/// A key with `scopes` bound to `agents`, created through the API.
pub(crate) async fn bound_key(app: &TestApp, agents: &[&str], scopes: &[&str]) -> String {
    let body = json!({"name": "bound", "scopes": scopes, "agents": agents});
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/keys", &app.a.admin_key)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["agents"], json!(agents));
    created["data"]["key"].as_str().unwrap().to_string()
}

/// A request to the OpenIntent face, naming `agent` in `X-Agent-ID` when given.
fn oi(app: &TestApp, method: Method, path: &str, key: &str, agent: Option<&str>) -> RequestBuilder {
    let request = app.with_key(method, &format!("/api/v1{path}"), key);
    match agent {
        Some(agent) => request.header("X-Agent-ID", agent),
        None => request,
    }
}

pub(crate) fn invoice_for(agent: &str) -> Value {
    json!({"type": "billing.send_invoice", "domain": "billing", "agentId": agent,
           "params": invoice(10.0)})
}

/// How many records of `event_type` the tenant's audit trail holds.
pub(crate) async fn audited(app: &TestApp, event_type: &str) -> i64 {
    let path = format!("/v1/audit?eventType={event_type}&pageSize=1");
    let (_, body) = send(app.with_key(Method::GET, &path, &app.a.admin_key)).await;
    body["data"]["total"].as_i64().unwrap()
}

#[tokio::test]
async fn a_key_bound_to_one_agent_cannot_act_as_another_on_either_face() {
    let app = spawn_app().await;
    let admin = app.a.admin_key.clone();
    let (alpha, beta) = (
        agent(&app, "Alpha", None).await,
        agent(&app, "Beta", None).await,
    );
    let key = bound_key(&app, &[&alpha], &["agent"]).await;

    // `/v1`: submitting, cancelling and reporting for another agent are refused.
    let post = |path: &str, key: &str| app.with_key(Method::POST, path, key);
    expect_error(
        post("/v1/intents", &key).json(&invoice_for(&beta)),
        403,
        "FORBIDDEN",
    )
    .await;
    let (status, own) = send(post("/v1/intents", &key).json(&invoice_for(&alpha))).await;
    assert_eq!(status, 201, "{own}");
    let (_, theirs) = send(post("/v1/intents", &admin).json(&invoice_for(&beta))).await;
    let theirs = theirs["data"]["intentId"].as_str().unwrap();
    for action in ["cancel", "complete"] {
        let path = format!("/v1/intents/{theirs}/{action}");
        expect_error(post(&path, &key).json(&json!({})), 403, "FORBIDDEN").await;
    }
    let own = own["data"]["intentId"].as_str().unwrap();
    let (status, cancelled) = send(post(&format!("/v1/intents/{own}/cancel"), &key)).await;
    assert_eq!(
        (status.as_u16(), &cancelled["data"]["status"]),
        (200, &json!("cancelled"))
    );

    // OpenIntent: beta's intent, access-listed to beta alone.
    let (status, created) =
        send(oi(&app, Method::POST, "/intents", &admin, Some(&beta)).json(&json!({"title": "b"})))
            .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["created_by"], json!(beta));
    let id = created["id"].as_str().unwrap();
    let closed = json!({"default_policy": "closed", "entries": []});
    let acl = format!("/intents/{id}/acl");
    let (status, body) = send(oi(&app, Method::PUT, &acl, &admin, Some(&beta)).json(&closed)).await;
    assert_eq!(status, 200, "{body}");
    let open = json!({"default_policy": "open", "entries": []});
    let claims: [(Method, String, Value); 6] = [
        (Method::GET, format!("/intents/{id}"), Value::Null),
        (
            Method::POST,
            format!("/intents/{id}/state"),
            json!({"state": {"x": 1}}),
        ),
        (Method::PUT, acl.clone(), open.clone()),
        (
            Method::POST,
            format!("/intents/{id}/leases"),
            json!({"scope": "s", "duration_seconds": 60}),
        ),
        (
            Method::POST,
            format!("/intents/{id}/events"),
            json!({"event_type": "comment", "payload": {}}),
        ),
        (
            Method::POST,
            "/intents".to_string(),
            json!({"title": "as beta"}),
        ),
    ];
    for (method, path, body) in claims {
        let request = oi(&app, method.clone(), &path, &key, Some(&beta)).header("If-Match", "1");
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let refused = expect_error(request, 403, "FORBIDDEN").await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("bound"),
            "{method} {path}: {refused}"
        );
    }
    // As itself (no header: its bound agent), the key meets beta's closed ACL...
    expect_error(
        oi(&app, Method::GET, &format!("/intents/{id}"), &key, None),
        403,
        "FORBIDDEN",
    )
    .await;
    expect_error(
        oi(&app, Method::PUT, &acl, &key, Some(&alpha)).json(&open),
        403,
        "FORBIDDEN",
    )
    .await;
    // ...and may not name beta as the creator of its own records.
    let as_beta = json!({"title": "mine", "created_by": beta});
    expect_error(
        oi(&app, Method::POST, "/intents", &key, None).json(&as_beta),
        403,
        "FORBIDDEN",
    )
    .await;
    let (status, mine) =
        send(oi(&app, Method::POST, "/intents", &key, None).json(&json!({"title": "mine"}))).await;
    assert_eq!((status.as_u16(), &mine["created_by"]), (201, &json!(alpha)));

    // Every attempt to act as beta is on the record: 1 submission, 2 reports, 6 calls, 1 body.
    assert_eq!(audited(&app, "identity.refused").await, 10);
}

#[tokio::test]
async fn unknown_agents_are_registered_on_first_use_only_where_the_tenant_allows_it() {
    let app = spawn_app_with(|config| config.auto_register_agents = Some(false)).await;
    let title = json!({"title": "first"});
    let refused = expect_error(
        oi(
            &app,
            Method::POST,
            "/intents",
            &app.a.admin_key,
            Some("newcomer"),
        )
        .json(&title),
        403,
        "FORBIDDEN",
    )
    .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not registered"));
    let lookup = |key: &str| app.with_key(Method::GET, "/v1/agents/newcomer", key);
    assert_eq!(send(lookup(&app.a.admin_key)).await.0, 404);

    // Tenant b opts in: the agent is registered at T0 on first use, in b only.
    let b = intendedops::auth::TenantId::parse("tenant-b").unwrap();
    app.tenants
        .set_auto_register_agents(&b, Some(true))
        .await
        .unwrap();
    let request = oi(
        &app,
        Method::POST,
        "/intents",
        &app.b.admin_key,
        Some("newcomer"),
    );
    let (status, created) = send(request.json(&title)).await;
    assert_eq!(
        (status.as_u16(), &created["created_by"]),
        (201, &json!("newcomer"))
    );
    let (status, registered) = send(lookup(&app.b.admin_key)).await;
    assert_eq!(
        (status.as_u16(), &registered["data"]["trustTier"]),
        (200, &json!("T0"))
    );
    assert_eq!(send(lookup(&app.a.admin_key)).await.0, 404);

    // A suspended agent cannot act, even through an unbound key.
    let agent = agent(&app, "Quiet", None).await;
    let suspend = app
        .with_key(
            Method::PATCH,
            &format!("/v1/agents/{agent}"),
            &app.a.admin_key,
        )
        .json(&json!({"status": "suspended"}));
    assert_eq!(send(suspend).await.0, 200);
    let refused = expect_error(
        oi(
            &app,
            Method::GET,
            "/intents",
            &app.a.admin_key,
            Some(&agent),
        ),
        403,
        "FORBIDDEN",
    )
    .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("suspended"));
}

#[tokio::test]
async fn listings_leave_out_what_the_verified_agent_may_not_read_and_keep_pages_full() {
    let app = spawn_app().await;
    let admin = app.a.admin_key.clone();
    let create = |agent: &'static str, title: &'static str| {
        let request = oi(&app, Method::POST, "/intents", &admin, Some(agent));
        async move {
            let (status, created) = send(request.json(&json!({ "title": title }))).await;
            assert_eq!(status, 201, "{created}");
            created["id"].as_str().unwrap().to_string()
        }
    };
    let mut visible = Vec::new();
    for n in 0..6 {
        let id = create("owner", "x").await;
        if n % 2 == 0 {
            let acl = format!("/intents/{id}/acl");
            let closed = json!({"default_policy": "closed", "entries": []});
            let request = oi(&app, Method::PUT, &acl, &admin, Some("owner")).json(&closed);
            assert_eq!(send(request).await.0, 200);
        } else {
            visible.push(id);
        }
    }
    let reader = app
        .create_key("tenant-a", &[intendedops::auth::Scope::Read])
        .await;
    let mut listed = Vec::new();
    for offset in [0, 2] {
        let path = format!("/intents?limit=2&offset={offset}");
        let (_, page) = send(oi(&app, Method::GET, &path, &reader, Some("outsider"))).await;
        let ids: Vec<String> = page["intents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        listed.extend(ids);
    }
    assert_eq!(listed.len(), 3, "{listed:?}");
    listed.sort();
    visible.sort();
    assert_eq!(listed, visible);
}
