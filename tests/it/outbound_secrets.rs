//! Outbound hardening: webhook targets are judged by the address actually connected to, and
//! webhook signing secrets are stored sealed under the server's key.
//!
//! Traffic goes to loopback only: the non-loopback addresses below are inputs that get
//! refused, never connected to.

use std::{process::Command, time::Duration};

use intendedops::{secrets::KeySource, App, AppConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{send, spawn_app, spawn_app_with, Server, TestApp, TEST_SECRET_KEY},
    webhooks::{fast_delivery, hmac_hex, post, refused_url, register, Receiver},
};

/// Another key than the tests' own (`TEST_SECRET_KEY`, id `test`).
const NEXT_KEY: &str = "next:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
/// The tests' key id with other key material.
const IMPOSTOR_KEY: &str = "test:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

fn keys(text: &str) -> KeySource {
    KeySource::Inline(text.parse().unwrap())
}

/// Sends `body` (or nothing) as tenant A's admin to `server`.
async fn admin(
    app: &TestApp,
    server: &Server,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, server.url(path))
        .header("x-api-key", &app.a.admin_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

/// Registers an agent through `server`: an `agent.registered` event.
async fn register_agent(app: &TestApp, server: &Server, name: &str) {
    let body = json!({"name": name});
    let (status, body) = admin(app, server, Method::POST, "/v1/agents", Some(body)).await;
    assert!(status.is_success(), "{body}");
}

/// The endpoint's first delivery once it has an attempt, as `server` lists it (at most 30 s).
async fn first_attempted(app: &TestApp, server: &Server, endpoint: &str) -> Value {
    let path = format!("/v1/webhooks/{endpoint}/deliveries");
    for _ in 0..300 {
        let (status, body) = admin(app, server, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let first = &body["data"]["items"][0];
        if first["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
            return first.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no attempt recorded for {endpoint}");
}

#[tokio::test]
async fn ipv6_spellings_of_private_addresses_are_refused_at_registration() {
    let app = spawn_app().await;
    for url in [
        "http://[::7f00:1]/hook",           // IPv4-compatible 127.0.0.1
        "http://[::ffff:0:7f00:1]/hook",    // SIIT-translated 127.0.0.1
        "http://[64:ff9b::7f00:1]/hook",    // NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook", // NAT64 of the metadata address
        "http://[2002:7f00:1::]/hook",      // 6to4 of 127.0.0.1
        "http://[fec0::1]/hook",            // site-local
        "http://[100::1]/hook",             // discard-only
        "http://[64:ff9b:1::1]/hook",       // local-use NAT64
        "http://[2001::1]/hook",            // Teredo
    ] {
        let body = refused_url(&app, url).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("private, loopback"), "{url}: {message}");
    }
}

/// Endpoints registered while private targets were allowed (an IP literal, which the HTTP
/// client connects to without resolving, and a name) are refused at delivery and at a test
/// ping once an instance runs with protection on: the attempt records the refusal and nothing
/// reaches the receiver.
#[tokio::test]
async fn private_targets_registered_earlier_are_refused_at_every_delivery() {
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(fast_delivery).await;
    let events = ["agent.registered"];
    let (literal, _) = register(&app, &receiver.url(), &events).await;
    let named_url = format!("http://localhost:{}/hook", receiver.addr.port());
    let (named, _) = register(&app, &named_url, &events).await;
    app.shutdown().await;
    let server = app
        .another_instance(|config| config.outbound_allow_private = false)
        .await;

    register_agent(&app, &server, "Unreachable").await;
    for endpoint in [&literal, &named] {
        let delivery = first_attempted(&app, &server, endpoint).await;
        let attempt = &delivery["attempts"][0];
        assert_eq!(attempt["statusCode"], Value::Null, "{delivery}");
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.contains("is a private, loopback"),
            "{endpoint}: {error}"
        );
        assert_eq!(delivery["status"], "pending", "{delivery}");
    }
    let literal_error = first_attempted(&app, &server, &literal).await["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(literal_error.contains("127.0.0.1"), "{literal_error}");

    let (status, ping) = admin(
        &app,
        &server,
        Method::POST,
        &format!("/v1/webhooks/{literal}/test"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{ping}");
    let ping = &ping["data"];
    assert_eq!(ping["delivered"], false, "{ping}");
    assert!(
        ping["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 is a private"),
        "{ping}"
    );
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
}

/// An endpoint's stored secret columns, read straight from the database:
/// `(secret, secret_key_id, previous_secret, previous_secret_key_id)`.
async fn stored(
    app: &TestApp,
    endpoint: &str,
) -> (String, Option<String>, Option<String>, Option<String>) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query_as(
        "SELECT secret, secret_key_id, previous_secret, previous_secret_key_id \
         FROM webhook_endpoints WHERE id = $1",
    )
    .bind(endpoint)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Asserts that no stored column holds any of `secrets` (or any `whsec_` value).
fn assert_sealed(row: &(String, Option<String>, Option<String>, Option<String>), secrets: &[&str]) {
    let stored = [Some(&row.0), row.2.as_ref()];
    for value in stored.into_iter().flatten() {
        assert!(!value.contains("whsec_"), "stored in clear: {value}");
        for secret in secrets {
            assert!(!value.contains(&secret["whsec_".len()..]), "{value}");
        }
    }
}

/// Waits for the `count`th request and checks its signatures: the current secret, and the
/// previous one when given.
async fn assert_signed(receiver: &Receiver, count: usize, secret: &str, previous: Option<&str>) {
    let received = receiver
        .wait_for("a delivery", |got| got.len() >= count)
        .await;
    let sent = &received[count - 1];
    let body = sent.body.as_bytes();
    assert_eq!(
        sent.header("x-intendedops-signature"),
        hmac_hex(secret, body)
    );
    let expected_previous = previous.map(|previous| hmac_hex(previous, body));
    assert_eq!(
        sent.header("x-intendedops-signature-previous"),
        expected_previous.as_deref().unwrap_or("")
    );
}

#[tokio::test]
async fn signing_secrets_are_stored_sealed_and_still_sign() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(fast_delivery).await;
    let (endpoint, first) = register(&app, &receiver.url(), &["agent.registered"]).await;
    let row = stored(&app, &endpoint).await;
    assert_sealed(&row, &[&first]);
    assert_eq!(row.1.as_deref(), Some("test"));
    post(&app, "/v1/agents", json!({"name": "Sealed"})).await;
    assert_signed(&receiver, 1, &first, None).await;

    let rotated = post(&app, &format!("/v1/webhooks/{endpoint}/rotate"), json!({})).await;
    let second = rotated["secret"].as_str().unwrap().to_string();
    let row = stored(&app, &endpoint).await;
    assert_sealed(&row, &[&first, &second]);
    assert_eq!(
        (row.1.as_deref(), row.3.as_deref()),
        (Some("test"), Some("test"))
    );
    post(&app, "/v1/agents", json!({"name": "Rotated"})).await;
    assert_signed(&receiver, 2, &second, Some(&first)).await;
}

/// A deployment upgraded from before sealing: its clear secret is sealed when the server
/// starts, and deliveries still verify with it.
#[tokio::test]
async fn secrets_stored_in_clear_are_sealed_at_start_up() {
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(fast_delivery).await;
    let (endpoint, _) = register(&app, &receiver.url(), &["agent.registered"]).await;
    let legacy = "whsec_StoredInClearBeforeSealing0123456789";
    app.raw_sql(&format!(
        "UPDATE webhook_endpoints SET secret = '{legacy}', secret_key_id = NULL \
         WHERE id = '{endpoint}'"
    ))
    .await;
    app.shutdown().await;
    let server = app.another_instance(|_| {}).await;
    let row = stored(&app, &endpoint).await;
    assert_sealed(&row, &[legacy]);
    assert_eq!(row.1.as_deref(), Some("test"));
    register_agent(&app, &server, "Upgraded").await;
    assert_signed(&receiver, 1, legacy, None).await;
}

/// `intendedops secrets rotate` re-seals current and previous secrets under the first key;
/// a server holding only the new key then delivers, signed as before.
#[tokio::test]
async fn the_rotate_command_reseals_under_the_new_key() {
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(fast_delivery).await;
    let (endpoint, first) = register(&app, &receiver.url(), &["agent.registered"]).await;
    let rotated = post(&app, &format!("/v1/webhooks/{endpoint}/rotate"), json!({})).await;
    let second = rotated["secret"].as_str().unwrap().to_string();
    app.shutdown().await;

    let stderr = rotate_keys_with_next_key_first(&app).await;
    assert!(stderr.contains("1 webhook endpoint"), "{stderr}");
    let row = stored(&app, &endpoint).await;
    assert_sealed(&row, &[&first, &second]);
    assert_eq!(
        (row.1.as_deref(), row.3.as_deref()),
        (Some("next"), Some("next"))
    );

    let server = app
        .another_instance(|config| config.secret_keys = keys(NEXT_KEY))
        .await;
    register_agent(&app, &server, "Re-sealed").await;
    assert_signed(&receiver, 1, &second, Some(&first)).await;
}

/// Runs `intendedops secrets rotate` with [`NEXT_KEY`] put in front of the tests' key: its
/// standard error, once it succeeded.
async fn rotate_keys_with_next_key_first(app: &TestApp) -> String {
    let database = app.db.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_intendedops"))
            .args(["secrets", "rotate"])
            .env("DATABASE_URL", database)
            .env(
                "INTENDEDOPS_SECRET_KEY",
                format!("{NEXT_KEY},{TEST_SECRET_KEY}"),
            )
            .env_remove("INTENDEDOPS_SECRET_KEY_FILE")
            .env("OPENINTENT_LOG_LEVEL", "warn")
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The error `App::build` fails with under `config`.
async fn start_up_error(config: AppConfig) -> String {
    match App::build(config).await {
        Ok(_) => panic!("the server started"),
        Err(err) => format!("{err:#}"),
    }
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_a_clear_start_up_error() {
    let mut app = spawn_app_with(fast_delivery).await;
    register(
        &app,
        crate::webhooks::UNUSED_LOOPBACK_URL,
        &["agent.registered"],
    )
    .await;
    app.shutdown().await;
    let with = |source: KeySource| {
        let mut config = app.config.clone();
        config.secret_keys = source;
        config
    };

    // The key the secrets are sealed under was dropped from the configuration.
    let error = start_up_error(with(keys(NEXT_KEY))).await;
    assert!(
        error.contains("sealed under key 'test'") && error.contains("do not hold"),
        "{error}"
    );
    // The right id with other key material.
    let error = start_up_error(with(keys(IMPOSTOR_KEY))).await;
    assert!(error.contains("does not open with key 'test'"), "{error}");
    // A malformed key is named by position, its value not shown.
    let error = start_up_error(with(keys("test:c2hvcnQ="))).await;
    assert!(
        error.contains("secret key 1 is not") && !error.contains("c2hvcnQ"),
        "{error}"
    );
    // No key at all outside development mode (always, with PostgreSQL).
    let mut unset = with(KeySource::Unset);
    unset.dev_keys = Some(false);
    let error = start_up_error(unset).await;
    assert!(
        error.contains("no secret key is configured") && error.contains("INTENDEDOPS_SECRET_KEY"),
        "{error}"
    );
}

/// Development mode over SQLite needs no configuration: a key file is generated beside the
/// database (readable by its owner only) and used again at the next start.
#[tokio::test]
async fn a_development_server_over_sqlite_generates_and_keeps_its_key() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        return; // PostgreSQL: covered by the start-up error above.
    }
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(|config| {
        fast_delivery(config);
        config.secret_keys = KeySource::Unset;
    })
    .await;
    let (endpoint, secret) = register(&app, &receiver.url(), &["intent.failed"]).await;
    let file = intendedops::store::sqlite_file(&app.db.url)
        .unwrap()
        .with_extension("db.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    assert_eq!(stored(&app, &endpoint).await.1.as_deref(), Some("dev"));
    app.shutdown().await;
    let server = app.another_instance(|_| {}).await;
    let (status, ping) = admin(
        &app,
        &server,
        Method::POST,
        &format!("/v1/webhooks/{endpoint}/test"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &ping["data"]["delivered"]),
        (200, &json!(true)),
        "{ping}"
    );
    let received = receiver.wait_for("the ping", |got| !got.is_empty()).await;
    assert_eq!(
        received[0].header("x-intendedops-signature"),
        hmac_hex(&secret, received[0].body.as_bytes())
    );
}

/// Sends `body` as tenant A's admin to `url` (an instance's OpenIntent face).
async fn oi_admin(
    app: &TestApp,
    url: String,
    method: Method,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, url)
        .header("x-api-key", &app.a.admin_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

/// A vault of tenant A, through `server`.
async fn oi_vault(app: &TestApp) -> String {
    let body = json!({"owner_id": "ops", "name": "production"});
    let (status, vault) = oi_admin(app, app.url("/api/v1/vaults"), Method::POST, Some(body)).await;
    assert_eq!(status, 201, "{vault}");
    vault["id"].as_str().unwrap().to_string()
}

/// RFC-0014 credentials name the addresses their calls go to: private ones are refused when
/// the credential is stored (and again at every call, by the shared outbound client).
#[tokio::test]
async fn tool_credentials_calling_private_addresses_are_refused() {
    let app = spawn_app().await;
    let vault = oi_vault(&app).await;
    for (metadata, field) in [
        (
            json!({"base_url": "http://127.0.0.1:9/"}),
            "metadata.base_url",
        ),
        (
            json!({"base_url": "http://[::ffff:127.0.0.1]/"}),
            "metadata.base_url",
        ),
        (
            json!({"base_url": "http://169.254.169.254/latest"}),
            "metadata.base_url",
        ),
        (
            json!({"base_url": "https://8.8.8.8/", "token_url": "http://10.0.0.1/token"}),
            "metadata.token_url",
        ),
    ] {
        let body = json!({
            "vault_id": vault, "service": "svc", "label": "l", "auth_type": "oauth2_token",
            "metadata": metadata, "secret": {"access_token": "tok-123456"},
        });
        let (status, refused) = oi_admin(
            &app,
            app.url("/api/v1/credentials"),
            Method::POST,
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{metadata}: {refused}");
        assert_eq!(refused["errors"][0]["path"], json!([field]), "{refused}");
        assert!(!refused.to_string().contains("tok-123456"), "{refused}");
    }
}

/// A credential's material, read straight from the database (its stored document).
async fn stored_credential(app: &TestApp, id: &str) -> Value {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let (doc,): (String,) = sqlx::query_as("SELECT doc FROM oi_documents WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    serde_json::from_str(&doc).unwrap()
}

/// Credential material is stored sealed; `intendedops secrets rotate` re-seals it under the
/// new key, and a server holding only that key still reads it.
#[tokio::test]
async fn credential_material_is_sealed_and_rotated_with_the_keys() {
    let mut app = spawn_app().await;
    let vault = oi_vault(&app).await;
    let secret = "sk-material-never-in-clear-0123";
    let body = json!({
        "vault_id": vault, "service": "svc", "label": "l", "scopes_available": ["read"],
        "secret": {"api_key": secret},
    });
    let (status, credential) = oi_admin(
        &app,
        app.url("/api/v1/credentials"),
        Method::POST,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{credential}");
    assert!(!credential.to_string().contains(secret));
    let id = credential["id"].as_str().unwrap().to_string();
    let doc = stored_credential(&app, &id).await;
    assert!(!doc.to_string().contains(secret), "{doc}");
    assert_eq!(doc["sealed"]["key_id"], json!("test"));
    app.shutdown().await;

    let stderr = rotate_keys_with_next_key_first(&app).await;
    assert!(stderr.contains("1 OpenIntent credential"), "{stderr}");
    let resealed = stored_credential(&app, &id).await;
    assert_eq!(resealed["sealed"]["key_id"], json!("next"));
    assert_ne!(resealed["sealed"]["text"], doc["sealed"]["text"]);
    assert!(!resealed.to_string().contains(secret));

    let server = app
        .another_instance(|config| config.secret_keys = keys(NEXT_KEY))
        .await;
    let url = server.url(&format!("/api/v1/credentials/{id}"));
    let (status, read) = oi_admin(&app, url, Method::GET, None).await;
    assert_eq!(
        (status, read["secret_fields"].clone()),
        (StatusCode::OK, json!(["api_key"]))
    );
}
