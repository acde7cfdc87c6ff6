//! `/console` serves the embedded page and its files with a same-origin-only CSP and
//! revalidation; `/v1/usage` reports per-key headroom and intents per day (admin only).

use reqwest::Method;

use crate::helpers::{clock_in_a_fresh_window, expect_error, send, spawn_app, spawn_app_with};
use intendedops::auth::Scope;

#[tokio::test]
async fn the_console_page_and_its_files_are_served_with_a_strict_policy() {
    let app = spawn_app().await;
    for path in ["/console", "/console/"] {
        let page = app.request(Method::GET, path).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = page.text().await.unwrap();
        assert!(html.contains("/console/js/main.js"));
    }
    let script = app
        .request(Method::GET, "/console/js/api.js")
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(script.headers()["cache-control"], "no-cache");
    let etag = script.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .request(Method::GET, "/console/js/api.js")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = app
        .request(Method::GET, "/console/js/nope.js")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let escape = app
        .request(Method::GET, "/console/..%2FCargo.toml")
        .send()
        .await
        .unwrap();
    assert_eq!(escape.status(), 404);
}

#[tokio::test]
async fn usage_counts_each_keys_requests_in_the_window_and_intents_per_day() {
    // One rate-limit window for the whole test, however long it takes.
    let clock = clock_in_a_fresh_window();
    let app = spawn_app_with(|config| config.clock = clock.clone()).await;
    let reader = app.create_key("tenant-a", &[Scope::Read]).await;
    for _ in 0..3 {
        let (status, _) = send(app.with_key(Method::GET, "/v1/stats", &reader)).await;
        assert_eq!(status, 200);
    }
    let (status, body) =
        send(app.with_key(Method::GET, "/v1/usage?days=3", &app.a.admin_key)).await;
    assert_eq!(status, 200, "{body}");
    let usage = &body["data"];
    let keys = usage["keys"].as_array().unwrap();
    let counted = keys
        .iter()
        .find(|k| k["requestsThisWindow"] == 3)
        .unwrap_or_else(|| panic!("the reader key's three requests: {keys:?}"));
    assert_eq!(
        counted["remaining"].as_u64().unwrap() + 3,
        counted["limit"].as_u64().unwrap()
    );
    let days = usage["intentsPerDay"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert!(days
        .iter()
        .all(|d| d["intents"] == 0 && d["date"].as_str().unwrap().len() == 10));
    // Reading usage counted against nothing but the caller's own key.
    let (_, again) = send(app.with_key(Method::GET, "/v1/usage", &app.a.admin_key)).await;
    let reader_again = again["data"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == counted["id"])
        .cloned()
        .unwrap();
    assert_eq!(reader_again["requestsThisWindow"], 3);
    expect_error(
        app.with_key(Method::GET, "/v1/usage", &reader),
        403,
        "FORBIDDEN",
    )
    .await;
}
