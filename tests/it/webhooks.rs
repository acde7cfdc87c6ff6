//! Signed webhooks over a real loopback receiver: every event signed so the seed's Node.js
//! recipe verifies it, retries with recorded attempts, rotation, unsafe targets, crash
//! recovery and single delivery with two instances.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use hmac::{Hmac, Mac};
use intendedops::{auth::Scope, AppConfig};
use poem::{
    handler, http::StatusCode, listener::TcpAcceptor, web::Data as PoemData, EndpointExt, Request,
    Route,
};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{
    credit_every_outcome, expect_error, free_port, send, spawn_app_with, TestApp,
};

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: HashMap<String, String>,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook bodies are JSON")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer with, in order; 200 once they run out.
    script: Mutex<VecDeque<u16>>,
}

/// An HTTP receiver on loopback that records every request.
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    state: Arc<ReceiverState>,
    _server: tokio::task::JoinHandle<()>,
}

#[handler]
async fn hook(req: &Request, body: String, state: PoemData<&Arc<ReceiverState>>) -> StatusCode {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    state
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState::default());
        let app = Route::new()
            .at("/hook", poem::post(hook))
            .data(state.clone());
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Receiver {
            addr,
            state,
            _server: server,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn answer_with(&self, statuses: &[u16]) {
        self.state.script.lock().unwrap().extend(statuses);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received (at most 30 s).
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        for _ in 0..300 {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what}; received {:#?}",
            self.received()
        );
    }
}

/// A loopback URL nothing listens on (the discard port), for endpoints that never get events.
pub(crate) const UNUSED_LOOPBACK_URL: &str = "http://127.0.0.1:9/hook";

pub(crate) fn fast_delivery(config: &mut AppConfig) {
    config.outbound_allow_private = true;
    config.webhook_poll = Duration::from_millis(50);
    config.webhook_retry_base = Duration::from_millis(100);
}

const ALL_EVENTS: [&str; 9] = [
    "intent.submitted",
    "intent.approved",
    "intent.rejected",
    "intent.blocked",
    "intent.cancelled",
    "intent.completed",
    "intent.failed",
    "agent.registered",
    "agent.trust.changed",
];

/// Registers an endpoint for `events`; returns `(id, secret)`.
pub(crate) async fn register(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) = send(
        app.with_key(Method::POST, "/v1/webhooks", &app.a.admin_key)
            .json(&json!({"url": url, "events": events, "description": "test receiver"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let data = &body["data"];
    assert_eq!(data["enabled"], true);
    let secret = data["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() >= 38);
    (data["id"].as_str().unwrap().to_string(), secret)
}

/// Registers `url` and expects it refused as the `url` field; returns the error body.
pub(crate) async fn refused_url(app: &TestApp, url: &str) -> Value {
    let body = expect_error(
        app.with_key(Method::POST, "/v1/webhooks", &app.a.admin_key)
            .json(&json!({"url": url, "events": ["intent.submitted"]})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        crate::helpers::detail_paths(&body),
        ["url"],
        "{url}: {body}"
    );
    body
}

pub(crate) fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, response) = send(
        app.with_key(Method::POST, path, &app.a.admin_key)
            .json(&body),
    )
    .await;
    assert!(status.is_success(), "{path}: {status} {response}");
    response["data"].clone()
}

/// Submits an invoice of `amount`; returns the intent id and its status.
async fn invoice(app: &TestApp, amount: f64) -> (String, String) {
    let body = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "hooked",
                      "params": {"customerId": "c_1", "amount": amount}});
    let created = post(app, "/v1/intents", body).await;
    (
        created["intentId"].as_str().unwrap().to_string(),
        created["status"].as_str().unwrap().to_string(),
    )
}

async fn decide(app: &TestApp, intent: &str, verb: &str) {
    let (_, detail) = send(app.with_key(
        Method::GET,
        &format!("/v1/intents/{intent}"),
        &app.a.admin_key,
    ))
    .await;
    let approval = detail["data"]["approvals"][0]["id"].as_str().unwrap();
    // The admin key submitted the intent: another key decides it.
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;
    let path = format!("/v1/approvals/{approval}/{verb}");
    let (status, response) = send(
        app.with_key(Method::POST, &path, &approver)
            .json(&json!({})),
    )
    .await;
    assert!(status.is_success(), "{path}: {status} {response}");
}

/// Produces every event type: registration, auto-approval and completion (with trust moves),
/// human approval and failure, a block, a rejection and a cancellation.
async fn every_event(app: &TestApp) {
    post(app, "/v1/agents", json!({"name": "Hooked"})).await;
    let policy = json!({
        "rules": [
            {"name": "huge", "match": {"types": ["billing.*"]}, "condition": "params.amount > 10000",
             "outcome": {"type": "block", "reason": "too large"}},
            {"name": "small", "match": {"types": ["billing.*"]}, "condition": "params.amount <= 100",
             "outcome": {"type": "auto_approve"}}
        ],
        "default": {"type": "require_approval", "approvers": 1}
    });
    let (status, _) = send(
        app.with_key(Method::PUT, "/v1/policies", &app.a.admin_key)
            .json(&policy),
    )
    .await;
    assert_eq!(status, 200);
    let (small, status) = invoice(app, 50.0).await;
    assert_eq!(status, "approved");
    post(
        app,
        &format!("/v1/intents/{small}/complete"),
        json!({"valueCents": 990}),
    )
    .await;
    let (large, _) = invoice(app, 500.25).await;
    decide(app, &large, "approve").await;
    post(
        app,
        &format!("/v1/intents/{large}/fail"),
        json!({"error": "gateway down"}),
    )
    .await;
    let (_, status) = invoice(app, 20_000.0).await;
    assert_eq!(status, "blocked");
    let (rejected, _) = invoice(app, 700.0).await;
    decide(app, &rejected, "reject").await;
    let (cancelled, _) = invoice(app, 800.0).await;
    post(app, &format!("/v1/intents/{cancelled}/cancel"), json!({})).await;
}

/// The seed's consumer, in Node.js: `createHmac('sha256', secret).update(JSON.stringify(req.body))`
/// where `req.body` is the parsed body. Prints one line per delivery: `ok` or why not.
const NODE_VERIFIER: &str = r#"
const { createHmac } = require('crypto');
let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  for (const { secret, signature, body } of JSON.parse(input)) {
    const reqBody = JSON.parse(body);
    const expected = createHmac('sha256', secret).update(JSON.stringify(reqBody)).digest('hex');
    console.log(expected === signature ? 'ok' : `mismatch for ${body}`);
  }
});
"#;

/// The Python consumer of the docs: HMAC over the raw body bytes.
const PYTHON_VERIFIER: &str = r#"
import hashlib, hmac, json, sys
for d in json.load(sys.stdin):
    expected = hmac.new(d["secret"].encode(), d["body"].encode(), hashlib.sha256).hexdigest()
    print("ok" if hmac.compare_digest(expected, d["signature"]) else "mismatch")
"#;

/// Runs `program` with `args` on `input`. A missing program fails the test with what to
/// install: skipping would let the seed's verifier recipe go unproven (`.ci/run` installs it).
fn run_verifier(program: &str, args: &[&str], input: &Value) -> Vec<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run `{program}` ({err}): the webhook signature test verifies deliveries \
                 with it; install it (Debian: apt-get install nodejs python3) or run .ci/run, \
                 which does"
            )
        });
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{program} failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn every_event_arrives_signed_and_verifies_with_the_seeds_node_recipe() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(|config| {
        fast_delivery(config);
        credit_every_outcome(config);
    })
    .await;
    let (_, secret) = register(&app, &receiver.url(), &ALL_EVENTS).await;
    every_event(&app).await;
    let received = receiver
        .wait_for("every event type", |got| {
            ALL_EVENTS
                .iter()
                .all(|e| got.iter().any(|r| r.header("x-intendedops-event") == *e))
        })
        .await;
    for delivery in &received {
        let body = delivery.json();
        assert_eq!(delivery.header("content-type"), "application/json");
        assert_eq!(delivery.header("x-intendedops-event"), body["event"]);
        assert_eq!(delivery.header("x-intendedops-id"), body["id"]);
        assert_eq!(
            delivery.header("x-intendedops-timestamp"),
            body["timestamp"]
        );
        assert!(body["id"].as_str().unwrap().starts_with("whk_"));
        assert_eq!(body["tenantId"], "tenant-a");
        assert_eq!(
            delivery.header("x-intendedops-signature"),
            hmac_hex(&secret, delivery.body.as_bytes()),
            "Rust verifier, raw body"
        );
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5, "{body}");
    }
    // Seed's data shape for an intent event, and value types JavaScript re-serializes.
    let approved = received
        .iter()
        .map(Received::json)
        .find(|b| b["event"] == "intent.approved" && b["data"]["approvedBy"] != "policy")
        .expect("a human approval");
    assert_eq!(approved["data"]["type"], "billing.send_invoice");
    assert_eq!(approved["data"]["status"], "approved");
    assert!(approved["data"]["intentId"]
        .as_str()
        .unwrap()
        .starts_with("int_"));
    assert!(approved["data"]["approvedBy"].is_string());
    // Deliveries are sent concurrently: pick the auto-approved invoice of 50.0 by content.
    let submitted = received
        .iter()
        .find(|r| {
            r.header("x-intendedops-event") == "intent.submitted"
                && r.json()["data"]["status"] == "approved"
        })
        .unwrap();
    assert!(
        submitted.body.contains(r#""amount":50"#),
        "{}",
        submitted.body
    );

    let cases: Vec<Value> = received
        .iter()
        .map(|r| {
            json!({"secret": secret, "signature": r.header("x-intendedops-signature"), "body": r.body})
        })
        .collect();
    let cases = Value::Array(cases);
    for (program, args) in [
        ("node", ["-e", NODE_VERIFIER]),
        ("python3", ["-c", PYTHON_VERIFIER]),
    ] {
        let lines = run_verifier(program, &args, &cases);
        assert_eq!(lines.len(), received.len(), "{program}");
        assert!(lines.iter().all(|l| l == "ok"), "{program}: {lines:?}");
    }
    // A block carries the rule's reason, at the top of the data and in the decision.
    let blocked = received
        .iter()
        .map(Received::json)
        .find(|b| b["event"] == "intent.blocked")
        .unwrap();
    assert_eq!(blocked["data"]["reason"], "too large");
    assert_eq!(blocked["data"]["decision"]["blockReason"], "too large");
    let text = app.scrape().await;
    let received_metric = [("tenantId", "tenant-a"), ("event", "intent.failed")];
    assert_eq!(
        crate::helpers::metric(
            &text,
            "intendedops_webhooks_received_total",
            &received_metric
        ),
        1.0
    );
}

pub(crate) async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let (status, body) = send(app.with_key(
        Method::GET,
        &format!("/v1/webhooks/{endpoint}/deliveries"),
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_every_attempt_is_recorded() {
    let receiver = Receiver::start().await;
    receiver.answer_with(&[500, 503]);
    let app = spawn_app_with(fast_delivery).await;
    let (endpoint, _) = register(&app, &receiver.url(), &["agent.registered"]).await;
    post(&app, "/v1/agents", json!({"name": "Retried"})).await;
    let received = receiver
        .wait_for("three attempts", |got| got.len() >= 3)
        .await;
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("x-intendedops-id"))
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the same event each time"
    );
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = deliveries(&app, &endpoint).await;
        if listed.first().is_some_and(|d| d["status"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed.len(), 1);
    let delivery = &listed[0];
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["event"], "agent.registered");
    assert_eq!(delivery["eventId"], ids[0]);
    let codes: Vec<i64> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert!(delivery["attempts"][0]["latencyMs"].is_i64());
    assert_eq!(
        delivery["attempts"][0]["error"],
        "HTTP 500 Internal Server Error"
    );

    // A manual retry delivers again.
    let delivery_id = delivery["id"].as_str().unwrap();
    let path = format!("/v1/webhooks/{endpoint}/deliveries/{delivery_id}/retry");
    let (status, retried) = send(app.with_key(Method::POST, &path, &app.a.admin_key)).await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["data"]["status"], "pending");
    receiver
        .wait_for("the redelivery", |got| got.len() == 4)
        .await;
    // Another tenant sees none of it.
    expect_error(
        app.with_key(Method::POST, &path, &app.b.admin_key),
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.with_key(
            Method::GET,
            &format!("/v1/webhooks/{endpoint}/deliveries"),
            &app.b.admin_key,
        ),
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_grace_period() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(fast_delivery).await;
    let (endpoint, old) = register(&app, &receiver.url(), &["agent.registered"]).await;
    let rotated = post(
        &app,
        &format!("/v1/webhooks/{endpoint}/rotate"),
        json!(null),
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(rotated["previousSecretValidUntil"].is_string());
    post(&app, "/v1/agents", json!({"name": "Rotated"})).await;
    let got = receiver.wait_for("a delivery", |got| !got.is_empty()).await;
    let body = got[0].body.as_bytes();
    assert_eq!(
        got[0].header("x-intendedops-signature"),
        hmac_hex(&new, body)
    );
    assert_eq!(
        got[0].header("x-intendedops-signature-previous"),
        hmac_hex(&old, body)
    );
    // The secret is never shown again.
    let (_, shown) = send(app.with_key(
        Method::GET,
        &format!("/v1/webhooks/{endpoint}"),
        &app.a.admin_key,
    ))
    .await;
    assert!(shown["data"].get("secret").is_none() && !shown.to_string().contains(&new));
}

#[tokio::test]
async fn unsafe_targets_and_bad_subscriptions_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://example.com/hook",
        "not a url",
    ] {
        refused_url(&app, url).await;
    }
    // The refusal of a private address names the development switch that allows it.
    let body = refused_url(&app, "http://127.0.0.1:9/hook").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("--outbound-allow-private")
            && message.contains("INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE=true"),
        "{message}"
    );

    // The rest needs a registrable URL; tests only ever register loopback ones.
    let app = spawn_app_with(|config| config.outbound_allow_private = true).await;
    let body = expect_error(
        app.with_key(Method::POST, "/v1/webhooks", &app.a.admin_key)
            .json(&json!({"url": UNUSED_LOOPBACK_URL, "events": ["intent.exploded"]})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(crate::helpers::detail_paths(&body), ["events.0"]);
    expect_error(
        app.with_key(Method::POST, "/v1/webhooks", &app.a.admin_key)
            .json(&json!({"url": UNUSED_LOOPBACK_URL, "events": []})),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    // Other scopes and other tenants.
    let agent_key = app.create_key("tenant-a", &[Scope::Agent]).await;
    expect_error(
        app.with_key(Method::GET, "/v1/webhooks", &agent_key),
        403,
        "FORBIDDEN",
    )
    .await;
    let created = post(
        &app,
        "/v1/webhooks",
        json!({"url": UNUSED_LOOPBACK_URL, "events": ["intent.failed"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    for method in [Method::GET, Method::DELETE] {
        expect_error(
            app.with_key(method, &format!("/v1/webhooks/{id}"), &app.b.admin_key),
            404,
            "NOT_FOUND",
        )
        .await;
    }
    // PATCH: disable with a reason, then re-enable.
    let (status, patched) = send(
        app.with_key(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            &app.a.admin_key,
        )
        .json(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["data"]["enabled"], false);
    assert!(patched["data"]["disabledReason"].is_string());
    let (_, audit) = send(app.with_key(
        Method::GET,
        "/v1/audit?eventType=webhook.created",
        &app.a.admin_key,
    ))
    .await;
    assert_eq!(audit["data"]["total"], 1);
    assert!(
        !audit.to_string().contains("whsec_"),
        "no secret in the audit trail"
    );
}

#[tokio::test]
async fn two_server_processes_deliver_each_event_once() {
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(fast_delivery).await;
    // Only the two processes below deliver.
    app.shutdown().await;
    let ports = [free_port().await, free_port().await];
    let mut servers: Vec<Process> = ports.iter().map(|port| serve_binary(&app, *port)).collect();
    let bases: Vec<String> = ports
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect();
    for base in &bases {
        wait_until_up(&app.client, base).await;
    }
    let key = &app.a.admin_key;
    let registration = json!({"url": receiver.url(), "events": ["agent.registered"]});
    let created = app
        .client
        .post(format!("{}/v1/webhooks", bases[0]))
        .header("x-api-key", key)
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for n in 0..30 {
        let response = app
            .client
            .post(format!("{}/v1/agents", bases[n % 2]))
            .header("x-api-key", key)
            .json(&json!({"name": format!("Agent {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    receiver.wait_for("30 events", |got| got.len() >= 30).await;
    // Both workers keep polling for a while: nothing more may arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    servers.iter_mut().for_each(Process::kill);
    let received = receiver.received();
    let mut ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("x-intendedops-id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((received.len(), ids.len()), (30, 30));
}

/// A server process, killed (SIGKILL) when dropped, so a failing test leaves none behind.
struct Process(Child);

impl Process {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The real binary serving `app`'s database on `port`.
fn serve_binary(app: &TestApp, port: u16) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intendedops"));
    command
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("DATABASE_URL", &app.db.url)
        .env("OPENINTENT_LOG_LEVEL", "warn")
        .env("INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE", "true")
        .env("INTENDEDOPS_WEBHOOK_RETRY_BASE_MS", "200")
        .env("INTENDEDOPS_SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .env_remove("REDIS_URL")
        .stdout(Stdio::null());
    Process(command.spawn().expect("the binary starts"))
}

async fn wait_until_up(client: &reqwest::Client, base: &str) {
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

#[tokio::test]
async fn events_survive_a_killed_server_and_are_delivered_after_restart() {
    let mut app = spawn_app_with(fast_delivery).await;
    // Only the binary below delivers.
    app.shutdown().await;
    let port = free_port().await;
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve_binary(&app, port);
    wait_until_up(&app.client, &base).await;

    // The receiver is down: its port refuses connections.
    let receiver_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_addr = receiver_listener.local_addr().unwrap();
    drop(receiver_listener);
    let key = &app.a.admin_key;
    let registration =
        json!({"url": format!("http://{receiver_addr}/hook"), "events": ["agent.registered"]});
    let response = app
        .client
        .post(format!("{base}/v1/webhooks"))
        .header("x-api-key", key)
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let endpoint: Value = response.json().await.unwrap();
    let endpoint = endpoint["data"]["id"].as_str().unwrap().to_string();
    for n in 0..5 {
        let response = app
            .client
            .post(format!("{base}/v1/agents"))
            .header("x-api-key", key)
            .json(&json!({"name": format!("Survivor {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // Wait for failed attempts, then kill -9.
    let deliveries_url = format!("{base}/v1/webhooks/{endpoint}/deliveries");
    for _ in 0..100 {
        let listed: Value = app
            .client
            .get(&deliveries_url)
            .header("x-api-key", key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let attempted = listed["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["attempts"].as_array().is_some_and(|a| !a.is_empty()))
            .count();
        if attempted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill();

    let receiver =
        Receiver::start_on(tokio::net::TcpListener::bind(receiver_addr).await.unwrap()).await;
    let mut restarted = serve_binary(&app, port);
    let received = receiver
        .wait_for("all five events", |got| {
            let mut ids: Vec<&str> = got.iter().map(|r| r.header("x-intendedops-id")).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() == 5
        })
        .await;
    let names: Vec<String> = received
        .iter()
        .map(|r| r.json()["data"]["name"].as_str().unwrap().to_string())
        .collect();
    for n in 0..5 {
        assert!(names.contains(&format!("Survivor {n}")), "{names:?}");
    }
    restarted.kill();
}

#[tokio::test]
async fn retries_end_in_the_dead_letter() {
    let receiver = Receiver::start().await;
    receiver.answer_with(&[500; 10]);
    // Attempts at 0 and ~100 ms; the next would be ~300 ms, past the 250 ms window.
    let app = spawn_app_with(|config| {
        fast_delivery(config);
        config.webhook_retry_window = Duration::from_millis(250);
    })
    .await;
    let (endpoint, _) = register(&app, &receiver.url(), &["agent.registered"]).await;
    post(&app, "/v1/agents", json!({"name": "Doomed"})).await;
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = deliveries(&app, &endpoint).await;
        if listed.first().is_some_and(|d| d["status"] == "dead") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivery = &listed[0];
    assert_eq!(delivery["status"], "dead", "{delivery}");
    assert_eq!(
        delivery["attempts"].as_array().unwrap().len(),
        2,
        "{delivery}"
    );
    assert_eq!(delivery["lastStatusCode"], 500);
    assert!(delivery["nextAttemptAt"].is_null());
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_with_the_reason() {
    let receiver = Receiver::start().await;
    receiver.answer_with(&[500; 10]);
    let app = spawn_app_with(|config| {
        fast_delivery(config);
        config.webhook_disable_after = Duration::ZERO;
    })
    .await;
    let (endpoint, _) = register(&app, &receiver.url(), &["agent.registered"]).await;
    post(&app, "/v1/agents", json!({"name": "Unlucky"})).await;
    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = send(app.with_key(
            Method::GET,
            &format!("/v1/webhooks/{endpoint}"),
            &app.a.admin_key,
        ))
        .await
        .1;
        if shown["data"]["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown["data"]["enabled"], false, "{shown}");
    let reason = shown["data"]["disabledReason"].as_str().unwrap();
    assert!(
        reason.contains("failed since") && reason.contains("HTTP 500"),
        "{reason}"
    );
    // A disabled endpoint receives nothing: no retries, and events while it is disabled are
    // not queued for it.
    post(&app, "/v1/agents", json!({"name": "Unheard"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
    // Enabled again, the delivery held back resumes (and only it).
    let (status, _) = send(
        app.with_key(
            Method::PATCH,
            &format!("/v1/webhooks/{endpoint}"),
            &app.a.admin_key,
        )
        .json(&json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let got = receiver
        .wait_for("the held delivery", |got| got.len() >= 2)
        .await;
    assert_eq!(
        got[0].header("x-intendedops-id"),
        got[1].header("x-intendedops-id")
    );
    assert_eq!(got[1].json()["data"]["name"], "Unlucky");
}

#[tokio::test]
async fn pruning_removes_finished_deliveries_only() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(fast_delivery).await;
    let (served, _) = register(&app, &receiver.url(), &["agent.registered"]).await;
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/hook", down.local_addr().unwrap());
    drop(down);
    let (unserved, _) = register(&app, &down_url, &["agent.registered"]).await;
    post(&app, "/v1/agents", json!({"name": "Pruned"})).await;
    receiver
        .wait_for("the delivery", |got| !got.is_empty())
        .await;
    for _ in 0..50 {
        if deliveries(&app, &served).await[0]["status"] == "delivered"
            && !deliveries(&app, &unserved).await[0]["attempts"]
                .as_array()
                .unwrap()
                .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tx = app.store.begin().await.unwrap();
    let far_future = intendedops::time::now_ms() + 3_600_000;
    let pruned = intendedops::store::webhooks::prune(&mut tx, far_future)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(pruned, 1);
    assert!(deliveries(&app, &served).await.is_empty());
    let kept = deliveries(&app, &unserved).await;
    assert_eq!(
        (kept.len(), kept[0]["status"].as_str()),
        (1, Some("pending"))
    );
}

#[tokio::test]
async fn a_test_ping_is_sent_signed_and_its_answer_reported() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(fast_delivery).await;
    let (id, secret) = register(&app, &receiver.url(), &["intent.failed"]).await;
    let path = format!("/v1/webhooks/{id}/test");

    let ping = post(&app, &path, json!({})).await;
    assert_eq!(ping["delivered"], true, "{ping}");
    assert_eq!(ping["statusCode"], 200);
    assert_eq!(ping["error"], Value::Null);
    let received = receiver.wait_for("the ping", |got| !got.is_empty()).await;
    let sent = &received[0];
    let body = sent.json();
    assert_eq!(sent.header("x-intendedops-event"), "ping");
    assert_eq!(body["event"], "ping");
    assert_eq!(body["data"]["endpointId"], id.as_str());
    assert_eq!(body["id"], ping["eventId"]);
    assert_eq!(sent.header("x-intendedops-id"), ping["eventId"]);
    assert_eq!(
        sent.header("x-intendedops-signature"),
        hmac_hex(&secret, sent.body.as_bytes())
    );

    // What a failing endpoint answered is reported, not hidden.
    receiver.answer_with(&[503]);
    let ping = post(&app, &path, json!({})).await;
    assert_eq!(
        (&ping["delivered"], &ping["statusCode"]),
        (&json!(false), &json!(503))
    );
    assert!(ping["error"].as_str().unwrap().contains("503"), "{ping}");

    // An endpoint nobody listens on: no status, the connection error.
    let (closed, _) = register(&app, UNUSED_LOOPBACK_URL, &["intent.failed"]).await;
    let ping = post(&app, &format!("/v1/webhooks/{closed}/test"), json!({})).await;
    assert_eq!(ping["delivered"], false);
    assert_eq!(ping["statusCode"], Value::Null);
    assert!(
        ping["error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{ping}"
    );

    // A ping is not an event: nothing queued, nothing retried.
    assert!(deliveries(&app, &id).await.is_empty());
    // Another tenant's endpoint does not exist for B; a non-admin key may not ping.
    expect_error(
        app.with_key(Method::POST, &path, &app.b.admin_key),
        404,
        "NOT_FOUND",
    )
    .await;
    let reader = app.create_key("tenant-a", &[Scope::Read]).await;
    expect_error(app.with_key(Method::POST, &path, &reader), 403, "FORBIDDEN").await;
    assert_eq!(receiver.received().len(), 2);
}
