//! Console users: sign-in, the session cookie, CSRF, expiry, and sessions ending on sign-out,
//! role change and disabling; roles enforced by the server.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::{
    governance::{agent, invoice, submit},
    helpers::{expect_error, send, spawn_app, spawn_app_with, TestApp},
};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A console user of tenant a, created by its admin through the API; returns the user id.
pub(crate) async fn user(app: &TestApp, email: &str, role: &str) -> String {
    let body = json!({"email": email, "role": role, "password": PASSWORD});
    let (status, created) = send(
        app.with_key(Method::POST, "/v1/users", &app.a.admin_key)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["data"]["id"].as_str().unwrap().to_string()
}

/// A signed-in console session: its cookie and CSRF token.
pub(crate) struct Session {
    pub cookie: String,
    pub csrf: String,
    pub set_cookie: String,
}

impl Session {
    /// A request with the session's cookie (and its CSRF token).
    pub fn request(&self, app: &TestApp, method: Method, path: &str) -> RequestBuilder {
        app.request(method, path)
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }
}

async fn try_sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let body = json!({"tenantId": "tenant-a", "email": email, "password": password});
    app.request(Method::POST, "/v1/auth/login")
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn sign_in(app: &TestApp, email: &str) -> Session {
    let response = try_sign_in(app, email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    Session {
        cookie: set_cookie.split(';').next().unwrap().to_string(),
        csrf: body["data"]["csrfToken"].as_str().unwrap().to_string(),
        set_cookie,
    }
}

async fn status_of(request: RequestBuilder) -> u16 {
    send(request).await.0.as_u16()
}

#[tokio::test]
async fn people_sign_in_and_their_sessions_end_on_sign_out_role_change_and_disabling() {
    let app = spawn_app().await;
    let alice = user(&app, "Alice@Example.com", "approver").await;
    // Wrong password and unknown account: the same 401.
    for (email, password) in [
        ("alice@example.com", "wrong password!"),
        ("bob@example.com", PASSWORD),
    ] {
        let response = try_sign_in(&app, email, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["message"], "email or password is not valid");
    }

    let session = sign_in(&app, "alice@example.com").await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(
            session.set_cookie.contains(attribute),
            "{}",
            session.set_cookie
        );
    }
    assert!(
        !session.set_cookie.contains("Secure"),
        "plain HTTP: {}",
        session.set_cookie
    );
    let behind_tls = app
        .request(Method::POST, "/v1/auth/login")
        .header("x-forwarded-proto", "https")
        .json(&json!({"tenantId": "tenant-a", "email": "alice@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(behind_tls.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    let (status, me) = send(session.request(&app, Method::GET, "/v1/auth/session")).await;
    assert_eq!(
        (status.as_u16(), &me["data"]["user"]["id"]),
        (200, &json!(alice))
    );
    assert_eq!(
        status_of(session.request(&app, Method::GET, "/v1/approvals")).await,
        200
    );
    // An approver is not an admin.
    let keys = session.request(&app, Method::GET, "/v1/keys");
    expect_error(keys, 403, "FORBIDDEN").await;
    // Writes need the CSRF token as well as the cookie.
    let forged = app
        .request(Method::POST, "/v1/auth/logout")
        .header("cookie", &session.cookie);
    expect_error(forged, 403, "FORBIDDEN").await;

    // A role change ends every session of the user at once.
    let path = format!("/v1/users/{alice}");
    let demote = app
        .with_key(Method::PATCH, &path, &app.a.admin_key)
        .json(&json!({"role": "viewer"}));
    let (status, changed) = send(demote).await;
    assert_eq!(
        (status.as_u16(), &changed["data"]["role"]),
        (200, &json!("viewer"))
    );
    expect_error(
        session.request(&app, Method::GET, "/v1/approvals"),
        401,
        "UNAUTHORIZED",
    )
    .await;
    // Signed in again as a viewer: reading yes, the approval queue no.
    let viewer = sign_in(&app, "alice@example.com").await;
    assert_eq!(
        status_of(viewer.request(&app, Method::GET, "/v1/intents")).await,
        200
    );
    expect_error(
        viewer.request(&app, Method::GET, "/v1/approvals"),
        403,
        "FORBIDDEN",
    )
    .await;
    // Nor can a viewer decide by calling the API directly.
    let bot = agent(&app, "Viewed", None).await;
    let submitted = submit(&app, &bot, "billing.send_invoice", invoice(10.0)).await;
    let approval = submitted["approvals"][0]["id"].as_str().unwrap();
    let approve = format!("/v1/approvals/{approval}/approve");
    expect_error(
        viewer.request(&app, Method::POST, &approve),
        403,
        "FORBIDDEN",
    )
    .await;

    // Signing out ends the session; the cookie is cleared.
    let (status, _) = send(viewer.request(&app, Method::POST, "/v1/auth/logout")).await;
    assert_eq!(status, 204);
    expect_error(
        viewer.request(&app, Method::GET, "/v1/intents"),
        401,
        "UNAUTHORIZED",
    )
    .await;

    // Disabled: the live session ends and signing in fails.
    let again = sign_in(&app, "alice@example.com").await;
    let disable = app
        .with_key(Method::PATCH, &path, &app.a.admin_key)
        .json(&json!({"disabled": true}));
    assert_eq!(status_of(disable).await, 200);
    expect_error(
        again.request(&app, Method::GET, "/v1/intents"),
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        try_sign_in(&app, "alice@example.com", PASSWORD)
            .await
            .status(),
        401
    );

    // The admin sees the record, and every step is audited.
    let (_, listed) = send(app.with_key(Method::GET, "/v1/users", &app.a.admin_key)).await;
    assert_eq!(listed["data"]["items"][0]["disabled"], true);
    let audit = app.with_key(Method::GET, "/v1/audit?pageSize=100", &app.a.admin_key);
    let (_, trail) = send(audit).await;
    let types: Vec<&str> = trail["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["eventType"].as_str().filter(|t| t.starts_with("user.")))
        .collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.signed_in",
            "user.signed_in",
            "user.updated",
            "user.signed_in",
            "user.signed_out",
            "user.signed_in",
            "user.updated"
        ]
    );
}

#[tokio::test]
async fn sessions_end_at_their_lifetime_and_after_their_idle_timeout() {
    for (lifetime, idle) in [(1, 3600), (3600, 1)] {
        let app = spawn_app_with(|config| {
            config.sessions.lifetime = std::time::Duration::from_secs(lifetime);
            config.sessions.idle = std::time::Duration::from_secs(idle);
        })
        .await;
        user(&app, "carol@example.com", "admin").await;
        let session = sign_in(&app, "carol@example.com").await;
        assert_eq!(
            status_of(session.request(&app, Method::GET, "/v1/keys")).await,
            200
        );
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        let ended = session.request(&app, Method::GET, "/v1/keys");
        expect_error(ended, 401, "UNAUTHORIZED").await;
    }
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_account_and_per_address() {
    // 10 per address and 2 per account each minute.
    let app = spawn_app_with(|config| config.sessions.login_attempts_per_minute = 10).await;
    user(&app, "dave@example.com", "approver").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            try_sign_in(&app, "dave@example.com", "not the password")
                .await
                .status(),
        );
    }
    // Even if a minute boundary fell inside the loop, at most 4 of the 6 were counted as allowed.
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(limited >= 2, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s.as_u16(), 401 | 429)),
        "{statuses:?}"
    );
    // Many accounts from one address: the address's budget runs out too.
    let mut limited = 0;
    for n in 0..25 {
        let email = format!("guess{n}@example.com");
        if try_sign_in(&app, &email, PASSWORD).await.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 5, "{limited} of 25 guesses limited");
}
