//! The OpenIntent face (`/api/v1`): tenant isolation on every route family, optimistic
//! concurrency under contention, lease expiry and leased scopes, acyclic dependency graphs,
//! SSE resume with `Last-Event-ID`, the audit record of every mutation, and the error
//! envelope of malformed requests.

use std::{collections::HashMap, time::Duration};

use futures_util::future::join_all;
use intendedops::auth::Scope;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::{
    helpers::{send, spawn_app, TestApp},
    sse::{SseMessage, SseStream},
};

/// Longest wait for a one-second lease to lapse.
const LEASE_WAIT: Duration = Duration::from_secs(5);

/// A caller of the face: a tenant's key and an `X-Agent-ID`.
#[derive(Clone, Copy)]
struct Oi<'a> {
    app: &'a TestApp,
    key: &'a str,
    agent: &'a str,
}

impl<'a> Oi<'a> {
    fn new(app: &'a TestApp, key: &'a str, agent: &'a str) -> Self {
        Oi { app, key, agent }
    }

    fn as_agent(self, agent: &'a str) -> Self {
        Oi { agent, ..self }
    }

    /// A request to `/api/v1{path}`.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .with_key(method, &format!("/api/v1{path}"), self.key)
            .header("X-Agent-ID", self.agent)
    }

    /// Sends `body` (JSON) and `If-Match: version` when given.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        version: Option<i64>,
    ) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(version) = version {
            request = request.header("If-Match", version.to_string());
        }
        let (status, body) = send(request).await;
        (status.as_u16(), body)
    }

    /// GET, expecting 200.
    async fn get(&self, path: &str) -> Value {
        expect(self.call(Method::GET, path, None, None).await, 200)
    }

    /// POST, expecting 201.
    async fn create(&self, path: &str, body: Value) -> Value {
        expect(self.call(Method::POST, path, Some(&body), None).await, 201)
    }

    /// A write answered with 200 (assignments, replaced records).
    async fn update(&self, method: Method, path: &str, body: Value) -> Value {
        expect(self.call(method, path, Some(&body), None).await, 200)
    }

    async fn create_intent(&self, title: &str) -> String {
        id_of(&self.create("/intents", json!({ "title": title })).await)
    }

    async fn intent(&self, id: &str) -> Value {
        self.get(&format!("/intents/{id}")).await
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        list(&self.get(&format!("/intents/{id}/events")).await, "events")
    }

    async fn patch_state(&self, id: &str, version: i64, path: &str, value: Value) -> (u16, Value) {
        let body = json!({ "patches": [{ "op": "set", "path": path, "value": value }] });
        let path = format!("/intents/{id}/state");
        self.call(Method::POST, &path, Some(&body), Some(version))
            .await
    }

    async fn set_status(&self, id: &str, version: i64, status: &str) -> (u16, Value) {
        let path = format!("/intents/{id}/status");
        let body = json!({ "status": status });
        self.call(Method::POST, &path, Some(&body), Some(version))
            .await
    }

    /// Makes `id` depend on `target` at `version`.
    async fn add_dependency(&self, id: &str, version: i64, target: &str) -> (u16, Value) {
        let path = format!("/intents/{id}/dependencies");
        let body = json!({ "dependency_id": target });
        self.call(Method::POST, &path, Some(&body), Some(version))
            .await
    }

    async fn acquire_lease(&self, id: &str, scope: &str, seconds: i64) -> (u16, Value) {
        let path = format!("/intents/{id}/leases");
        let body = json!({ "scope": scope, "duration_seconds": seconds });
        self.call(Method::POST, &path, Some(&body), None).await
    }
}

/// Asserts the status and returns the body.
fn expect((status, body): (u16, Value), expected: u16) -> Value {
    assert_eq!(status, expected, "unexpected status, body {body}");
    body
}

fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {resource}"))
        .to_string()
}

/// The list a wrapped listing holds under `name`.
fn list(body: &Value, name: &str) -> Vec<Value> {
    body[name]
        .as_array()
        .unwrap_or_else(|| panic!("no list '{name}' in {body}"))
        .clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

/// Asserts the face's error envelope with `code`; `message` and `detail` repeat the message.
fn assert_envelope(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "unexpected body {body}");
    let message = &body["error"]["message"];
    assert!(message.is_string(), "message missing in {body}");
    assert_eq!(&body["message"], message, "{body}");
    assert_eq!(&body["detail"], message, "{body}");
}

/// The patch keys `k0`, `k1`, … present in a state.
fn patched_keys(state: &Value) -> Vec<String> {
    state
        .as_object()
        .expect("state is an object")
        .keys()
        .filter(|key| key.starts_with('k'))
        .cloned()
        .collect()
}

/// One request of a test matrix.
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
    version: Option<i64>,
}

fn probe(method: Method, path: String) -> Probe {
    Probe {
        method,
        path,
        body: None,
        version: None,
    }
}

impl Probe {
    fn body(self, body: Value) -> Self {
        Probe {
            body: Some(body),
            ..self
        }
    }

    fn if_match(self, version: i64) -> Self {
        Probe {
            version: Some(version),
            ..self
        }
    }

    fn request(&self, caller: Oi<'_>) -> RequestBuilder {
        let mut request = caller.request(self.method.clone(), &self.path);
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        if let Some(version) = self.version {
            request = request.header("If-Match", version.to_string());
        }
        request
    }
}

/// Asserts that `caller` gets the resource's 404 (not a missing route's) for `probe`. The
/// status is checked before the body is read, so a stream that wrongly opens fails instead
/// of hanging.
async fn expect_not_found(caller: Oi<'_>, probe: &Probe) {
    let response = probe.request(caller).send().await.expect("request sent");
    let status = response.status();
    assert_eq!(
        status, 404,
        "{} {} answered {status} to another tenant",
        probe.method, probe.path
    );
    let body: Value = response.json().await.expect("a JSON error");
    assert_envelope(&body, "NOT_FOUND");
    assert_ne!(
        body["error"]["message"], "no such route",
        "{} {} is not a route",
        probe.method, probe.path
    );
}

/// Opens a stream of the face (resuming after `last_event_id`) and reads its greeting.
async fn open_stream(caller: Oi<'_>, path: &str, last_event_id: Option<&str>) -> SseStream {
    let mut request = caller.request(Method::GET, path);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    greeted(SseStream::connect(request, path).await).await
}

/// The stream after its first message, the `connected` greeting.
async fn greeted(mut stream: SseStream) -> SseStream {
    let greeting = stream.next().await;
    assert_eq!(greeting.event, "connected", "{greeting:?}");
    assert_eq!(greeting.id, None, "{greeting:?}");
    stream
}

/// The intent version a state event carries.
fn version(message: &SseMessage) -> &Value {
    &message.data["payload"]["version"]
}

/// Tenant A's intent with one of every kind of thing that can hang off it.
struct Fixture {
    intent: String,
    child: String,
    dependency: String,
    lease: String,
    attachment: String,
    acl_entry: String,
    access_request: String,
    portfolio: String,
    subscription: String,
}

impl Fixture {
    async fn build(a: Oi<'_>) -> Fixture {
        let intent = a.create_intent("tenant A's intent").await;
        let child = id_of(
            &a.create(
                &format!("/intents/{intent}/children"),
                json!({ "title": "child" }),
            )
            .await,
        );
        let dependency = a.create_intent("dependency").await;
        expect(a.add_dependency(&intent, 1, &dependency).await, 200);
        let on = |path: &str| format!("/intents/{intent}{path}");
        let lease = id_of(&expect(a.acquire_lease(&intent, "plan", 300).await, 201));
        a.create(
            &on("/events"),
            json!({ "event_type": "note", "payload": { "n": 1 } }),
        )
        .await;
        a.update(
            Method::POST,
            &on("/agents"),
            json!({ "agent_id": "agent-x" }),
        )
        .await;
        a.create(&on("/arbitrate"), json!({ "reason": "two plans" }))
            .await;
        a.create(
            &on("/decisions"),
            json!({ "decision_type": "plan", "outcome": "plan B" }),
        )
        .await;
        let attachment = id_of(
            &a.create(
                &on("/attachments"),
                json!({ "filename": "a.txt", "mime_type": "text/plain",
                        "storage_url": "https://files.example/a.txt" }),
            )
            .await,
        );
        a.create(
            &on("/costs"),
            json!({ "cost_type": "tokens", "amount": 12.5, "unit": "tokens" }),
        )
        .await;
        a.update(
            Method::PUT,
            &on("/retry-policy"),
            json!({ "strategy": "fixed", "max_retries": 2,
                    "base_delay_ms": 100, "max_delay_ms": 1000 }),
        )
        .await;
        a.create(
            &on("/failures"),
            json!({ "attempt_number": 1, "error_code": "E1", "error_message": "boom" }),
        )
        .await;
        let acl_entry = id_of(
            &a.create(
                &on("/acl/entries"),
                json!({ "principal_id": "agent-y", "permission": "read" }),
            )
            .await,
        );
        let access_request = id_of(
            &a.create(
                &on("/access-requests"),
                json!({ "principal_id": "agent-z", "requested_permission": "write",
                        "reason": "to help" }),
            )
            .await,
        );
        let portfolio = id_of(&a.create("/portfolios", json!({ "name": "Q1" })).await);
        a.create(
            &format!("/portfolios/{portfolio}/intents"),
            json!({ "intent_id": intent }),
        )
        .await;
        let subscription = id_of(
            &a.create(
                "/subscriptions",
                json!({ "intent_id": intent, "event_types": ["state_patched"] }),
            )
            .await,
        );
        Fixture {
            intent,
            child,
            dependency,
            lease,
            attachment,
            acl_entry,
            access_request,
            portfolio,
            subscription,
        }
    }

    /// Every route of the face that names one of the fixture's resources, with bodies and
    /// versions that would be accepted from tenant A.
    fn probes(&self, version: i64) -> Vec<Probe> {
        use Method as M;
        let i = |path: &str| format!("/intents/{}{path}", self.intent);
        let pf = |path: &str| format!("/portfolios/{}{path}", self.portfolio);
        let set = json!({ "patches": [{ "op": "set", "path": "intruder", "value": 1 }] });
        vec![
            probe(M::GET, i("")),
            probe(M::DELETE, i("")),
            probe(M::POST, i("/state"))
                .body(set.clone())
                .if_match(version),
            probe(M::PATCH, i("/state")).body(set).if_match(version),
            probe(M::POST, i("/status"))
                .body(json!({ "status": "active" }))
                .if_match(version),
            probe(M::GET, i("/events")),
            probe(M::POST, i("/events")).body(json!({ "event_type": "note" })),
            probe(M::GET, i("/agents")),
            probe(M::POST, i("/agents")).body(json!({ "agent_id": "intruder" })),
            probe(M::DELETE, i("/agents/agent-x")),
            probe(M::GET, i("/children")),
            probe(M::POST, i("/children")).body(json!({ "title": "intruder" })),
            probe(M::GET, i("/descendants")),
            probe(M::GET, format!("/intents/{}/ancestors", self.child)),
            probe(M::GET, i("/dependencies")),
            probe(M::POST, i("/dependencies"))
                .body(json!({ "dependency_id": self.child }))
                .if_match(version),
            probe(M::DELETE, i(&format!("/dependencies/{}", self.dependency))).if_match(version),
            probe(M::GET, format!("/intents/{}/dependents", self.dependency)),
            probe(M::GET, i("/ready")),
            probe(M::GET, i("/blocked")),
            probe(M::GET, i("/graph")),
            probe(M::GET, i("/leases")),
            probe(M::POST, i("/leases")).body(json!({ "scope": "other", "duration_seconds": 60 })),
            probe(M::PATCH, i(&format!("/leases/{}", self.lease)))
                .body(json!({ "duration_seconds": 60 })),
            probe(M::DELETE, i(&format!("/leases/{}", self.lease))),
            probe(M::POST, i("/arbitrate")).body(json!({ "reason": "intruder" })),
            probe(M::GET, i("/decisions")),
            probe(M::POST, i("/decisions"))
                .body(json!({ "decision_type": "plan", "outcome": "intruder" })),
            probe(M::GET, i("/attachments")),
            probe(M::POST, i("/attachments")).body(json!({
                "filename": "b.txt", "mime_type": "text/plain",
                "storage_url": "https://files.example/b.txt"
            })),
            probe(M::DELETE, i(&format!("/attachments/{}", self.attachment))),
            probe(M::GET, i("/costs")),
            probe(M::POST, i("/costs"))
                .body(json!({ "cost_type": "tokens", "amount": 1, "unit": "tokens" })),
            probe(M::GET, i("/retry-policy")),
            probe(M::PUT, i("/retry-policy")).body(json!({ "strategy": "none" })),
            probe(M::GET, i("/failures")),
            probe(M::POST, i("/failures")).body(json!({ "attempt_number": 2 })),
            probe(M::GET, i("/acl")),
            probe(M::PUT, i("/acl")).body(json!({ "default_policy": "closed" })),
            probe(M::POST, i("/acl/entries")).body(json!({ "principal_id": "intruder" })),
            probe(M::DELETE, i(&format!("/acl/entries/{}", self.acl_entry))),
            probe(M::GET, i("/access-requests")),
            probe(M::POST, i("/access-requests")).body(json!({ "principal_id": "intruder" })),
            probe(
                M::POST,
                i(&format!("/access-requests/{}/approve", self.access_request)),
            )
            .body(json!({})),
            probe(
                M::POST,
                i(&format!("/access-requests/{}/deny", self.access_request)),
            )
            .body(json!({})),
            probe(M::GET, i("/portfolios")),
            probe(M::GET, pf("")),
            probe(M::PATCH, pf("/status")).body(json!({ "status": "completed" })),
            probe(M::GET, pf("/intents")),
            probe(M::POST, pf("/intents")).body(json!({ "intent_id": self.intent })),
            probe(M::DELETE, pf(&format!("/intents/{}", self.intent))),
            probe(M::DELETE, format!("/subscriptions/{}", self.subscription)),
            probe(M::GET, i("/subscribe")),
            probe(M::GET, format!("/subscribe/intents/{}", self.intent)),
            probe(M::GET, pf("/subscribe")),
            probe(M::GET, format!("/subscribe/portfolios/{}", self.portfolio)),
        ]
    }

    /// Everything tenant A can read about the fixture.
    async fn snapshot(&self, a: Oi<'_>) -> Vec<Value> {
        let mut paths: Vec<String> = [
            "",
            "/events",
            "/agents",
            "/children",
            "/dependencies",
            "/graph",
            "/leases",
            "/decisions",
            "/attachments",
            "/costs",
            "/retry-policy",
            "/failures",
            "/acl",
            "/access-requests",
            "/portfolios",
        ]
        .iter()
        .map(|path| format!("/intents/{}{path}", self.intent))
        .collect();
        paths.extend([
            format!("/intents/{}", self.child),
            format!("/intents/{}/dependents", self.dependency),
            format!("/portfolios/{}", self.portfolio),
            "/intents".into(),
            "/portfolios".into(),
            "/subscriptions".into(),
        ]);
        let mut snapshot = Vec::new();
        for path in paths {
            snapshot.push(a.get(&path).await);
        }
        snapshot
    }
}

#[tokio::test]
async fn another_tenant_gets_404_on_every_route_and_changes_nothing() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    // The same agent id in both tenants: only the key's tenant counts.
    let b = Oi::new(&app, &app.b.admin_key, "agent-a");
    let fixture = Fixture::build(a).await;
    let version = a.intent(&fixture.intent).await["version"].as_i64().unwrap();
    assert_eq!(version, 2, "created, then one dependency");
    let events_before = a.events(&fixture.intent).await.len();
    let before = fixture.snapshot(a).await;

    // B's own things, so its lists have something to show.
    let b_intent = b.create_intent("tenant B's intent").await;
    let b_portfolio = id_of(&b.create("/portfolios", json!({ "name": "B" })).await);
    let b_subscription = id_of(
        &b.create("/subscriptions", json!({ "intent_id": b_intent }))
            .await,
    );

    for probe in fixture.probes(version) {
        expect_not_found(b, &probe).await;
    }
    // B's resources cannot point at A's.
    let links = [
        probe(Method::POST, "/intents".into())
            .body(json!({ "title": "x", "parent_intent_id": fixture.intent })),
        probe(Method::POST, "/intents".into())
            .body(json!({ "title": "x", "depends_on": [fixture.intent] })),
        probe(Method::POST, format!("/intents/{b_intent}/dependencies"))
            .body(json!({ "dependency_id": fixture.intent }))
            .if_match(1),
        probe(Method::POST, format!("/portfolios/{b_portfolio}/intents"))
            .body(json!({ "intent_id": fixture.intent })),
        probe(Method::POST, "/subscriptions".into()).body(json!({ "intent_id": fixture.intent })),
        probe(Method::POST, "/subscriptions".into())
            .body(json!({ "portfolio_id": fixture.portfolio })),
    ];
    for link in &links {
        expect_not_found(b, link).await;
    }

    // B's lists show B's things only.
    assert_eq!(
        ids(&list(&b.get("/intents").await, "intents")),
        [b_intent.as_str()]
    );
    assert_eq!(
        ids(&list(&b.get("/portfolios").await, "portfolios")),
        [b_portfolio.as_str()]
    );
    assert_eq!(
        ids(&list(&b.get("/subscriptions").await, "subscriptions")),
        [b_subscription.as_str()]
    );
    let filtered = b
        .get(&format!("/subscriptions?intent_id={}", fixture.intent))
        .await;
    assert_eq!(list(&filtered, "subscriptions"), Vec::<Value>::new());
    let b_own = b.intent(&b_intent).await;
    assert_eq!(
        (&b_own["version"], &b_own["depends_on"]),
        (&json!(1), &json!([]))
    );

    // A's data is exactly as it was.
    let intent = a.intent(&fixture.intent).await;
    assert_eq!(intent["version"], version);
    assert_eq!(a.events(&fixture.intent).await.len(), events_before);
    assert_eq!(fixture.snapshot(a).await, before);
}

#[tokio::test]
async fn live_streams_carry_only_the_callers_tenant() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "shared-agent");
    let b = Oi::new(&app, &app.b.admin_key, "shared-agent");
    let a_intent = a.create_intent("A").await;
    let b_intent = b.create_intent("B").await;
    for (caller, id) in [(a, &a_intent), (b, &b_intent)] {
        let assign = json!({ "agent_id": "shared-agent" });
        caller
            .update(Method::POST, &format!("/intents/{id}/agents"), assign)
            .await;
    }
    let stream_path = "/agents/shared-agent/subscribe";
    let mut live = open_stream(b, stream_path, None).await;
    // A replay from the very beginning holds B's events only.
    let mut replay = open_stream(b, stream_path, Some("oev_")).await;
    let b_events = ids(&b.events(&b_intent).await);
    let replayed: Vec<String> = replay
        .take(b_events.len())
        .await
        .into_iter()
        .map(|message| message.id.expect("replayed events have ids"))
        .collect();
    assert_eq!(replayed, b_events);

    // A's event comes first on the bus; B's stream must skip it.
    expect(a.patch_state(&a_intent, 1, "secret", json!("a")).await, 200);
    expect(
        b.patch_state(&b_intent, 1, "visible", json!("b")).await,
        200,
    );
    for stream in [&mut live, &mut replay] {
        let message = stream.next().await;
        assert_eq!(message.event, "state_patched");
        assert_eq!(message.data["intent_id"], b_intent, "{message:?}");
    }
}

#[tokio::test]
async fn concurrent_patches_at_one_version_have_exactly_one_winner() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = a.create_intent("contended").await;
    let keys: Vec<String> = (0..20).map(|n| format!("k{n}")).collect();
    let patches = keys
        .iter()
        .enumerate()
        .map(|(n, key)| a.patch_state(&id, 1, key, json!(n)));
    let results = join_all(patches).await;

    let winners: Vec<usize> = (0..results.len())
        .filter(|&n| results[n].0 == 200)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 409, "{body}");
        assert_envelope(body, "CONFLICT");
        assert_eq!(body["current_version"], 2, "{body}");
    }
    let winner = winners[0];
    let intent = a.intent(&id).await;
    assert_eq!(intent["version"], 2);
    assert_eq!(patched_keys(&intent["state"]), [format!("k{winner}")]);
    assert_eq!(intent["state"][format!("k{winner}")], winner);
    let patches: Vec<Value> = a
        .events(&id)
        .await
        .into_iter()
        .filter(|event| event["event_type"] == "state_patched")
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(
        patches[0]["payload"]["patches"][0]["path"],
        format!("k{winner}")
    );
}

#[tokio::test]
async fn a_lapsed_lease_frees_its_scope_and_leased_scopes_refuse_other_agents() {
    let app = spawn_app().await;
    let agent_a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let agent_b = agent_a.as_agent("agent-b");
    let id = agent_a.create_intent("leased").await;
    let leases_path = format!("/intents/{id}/leases");
    let first = expect(agent_a.acquire_lease(&id, "plan", 1).await, 201);
    assert_eq!(
        (&first["agent_id"], &first["status"]),
        (&json!("agent-a"), &json!("active"))
    );

    let (status, refused) = agent_b.acquire_lease(&id, "plan", 300).await;
    assert_eq!(status, 409, "{refused}");
    assert_envelope(&refused, "CONFLICT");
    assert_eq!(refused["existing_lease"]["id"], first["id"], "{refused}");
    assert_eq!(refused["existing_lease"]["agent_id"], "agent-a");

    let deadline = tokio::time::Instant::now() + LEASE_WAIT;
    let second = loop {
        let (status, body) = agent_b.acquire_lease(&id, "plan", 300).await;
        if status == 201 {
            break body;
        }
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["existing_lease"]["id"], first["id"], "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "a 1 s lease still held after {LEASE_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (&second["agent_id"], &second["status"]),
        (&json!("agent-b"), &json!("active"))
    );
    let leases = list(&agent_a.get(&leases_path).await, "leases");
    let statuses: Vec<(String, Value)> = leases
        .iter()
        .map(|lease| (id_of(lease), lease["status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            (id_of(&second), json!("active")),
            (id_of(&first), json!("expired"))
        ]
    );
    // Its former holder cannot renew the lapsed lease.
    let renew = agent_a
        .call(
            Method::PATCH,
            &format!("{leases_path}/{}", id_of(&first)),
            Some(&json!({ "duration_seconds": 60 })),
            None,
        )
        .await;
    assert_envelope(&expect(renew, 409), "CONFLICT");

    // agent-b holds "plan": agent-a may not patch it, by key or by pointer.
    for path in ["plan", "/plan/steps"] {
        let (status, body) = agent_a.patch_state(&id, 1, path, json!("a's plan")).await;
        assert_eq!(status, 409, "{path}: {body}");
        assert_envelope(&body, "CONFLICT");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("'plan'") && message.contains("agent-b"),
            "{message}"
        );
        assert_eq!(body["existing_lease"]["id"], second["id"], "{body}");
    }
    // Other scopes stay free, and the holder writes its own.
    expect(agent_a.patch_state(&id, 1, "notes", json!("a")).await, 200);
    expect(
        agent_b.patch_state(&id, 2, "plan", json!("b's plan")).await,
        200,
    );
    let intent = agent_a.intent(&id).await;
    assert_eq!(intent["version"], 3);
    assert_eq!(intent["state"], json!({ "notes": "a", "plan": "b's plan" }));
}

/// The intents as they read, with what depends on each.
async fn graph_of(caller: Oi<'_>, ids: &[&str]) -> Vec<(Value, Value)> {
    let mut graph = Vec::new();
    for id in ids {
        let dependents = caller.get(&format!("/intents/{id}/dependents")).await;
        graph.push((caller.intent(id).await, dependents));
    }
    graph
}

#[tokio::test]
async fn dependencies_that_would_close_a_cycle_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let (x, y, z) = (
        a.create_intent("x").await,
        a.create_intent("y").await,
        a.create_intent("z").await,
    );
    expect(a.add_dependency(&x, 1, &y).await, 200);
    expect(a.add_dependency(&y, 1, &z).await, 200);
    let before = graph_of(a, &[&x, &y, &z]).await;
    assert_eq!(before[0].0["depends_on"], json!([y]));
    assert_eq!(before[1].0["depends_on"], json!([z]));

    for (from, version, to) in [(&z, 1, &x), (&z, 1, &y), (&x, 2, &x)] {
        let (status, body) = a.add_dependency(from, version, to).await;
        assert_eq!(status, 400, "{from} -> {to}: {body}");
        assert_envelope(&body, "VALIDATION_ERROR");
    }
    assert_eq!(graph_of(a, &[&x, &y, &z]).await, before);
    let z_events = a.events(&z).await;
    assert_eq!(z_events.len(), 1, "only intent_created: {z_events:?}");

    // An edge that closes no cycle is still accepted, though z is already reachable.
    let added = expect(a.add_dependency(&x, 2, &z).await, 200);
    let mut expected = vec![y.clone(), z.clone()];
    expected.sort();
    assert_eq!(added["depends_on"], json!(expected));
    assert_eq!(added["version"], 3);
}

#[tokio::test]
async fn opposite_dependencies_added_at_once_never_form_a_cycle() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let mut pairs = Vec::new();
    for n in 0..10 {
        pairs.push((
            a.create_intent(&format!("left {n}")).await,
            a.create_intent(&format!("right {n}")).await,
        ));
    }
    let attempts = pairs
        .iter()
        .flat_map(|(left, right)| [(left, right), (right, left)])
        .map(|(from, to)| a.add_dependency(from, 1, to));
    let results = join_all(attempts).await;
    let mut cycles = Vec::new();
    for ((left, right), outcome) in pairs.iter().zip(results.chunks(2)) {
        assert!(
            outcome
                .iter()
                .all(|(status, _)| [200, 400].contains(status)),
            "{outcome:?}"
        );
        if a.intent(left).await["depends_on"] == json!([right])
            && a.intent(right).await["depends_on"] == json!([left])
        {
            cycles.push(format!("{left} <-> {right}"));
        }
    }
    assert!(
        cycles.is_empty(),
        "{} of {} pairs depend on each other: {cycles:?}",
        cycles.len(),
        pairs.len()
    );
    // Exactly one direction of each pair won.
    for outcome in results.chunks(2) {
        let accepted = outcome.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(accepted, 1, "{outcome:?}");
    }
}

/// Patches the key `k<version>` at `version`.
async fn patch_at(caller: Oi<'_>, id: &str, version: i64) {
    expect(
        caller
            .patch_state(id, version, &format!("k{version}"), json!(version))
            .await,
        200,
    );
}

#[tokio::test]
async fn a_stream_resumes_after_last_event_id_without_gaps_or_duplicates() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = a.create_intent("streamed").await;
    let mut stream = open_stream(a, &format!("/intents/{id}/subscribe"), None).await;
    for version in 1..=3 {
        patch_at(a, &id, version).await;
    }
    let seen = stream.take(3).await;
    for (message, expected) in seen.iter().zip(2..) {
        assert_eq!(message.event, "state_patched", "{message:?}");
        assert_eq!(version(message), expected, "{message:?}");
        assert_eq!(message.id.as_deref(), message.data["id"].as_str());
    }
    let last_seen = seen[2].id.clone().expect("events have ids");
    drop(stream);

    for version in 4..=5 {
        patch_at(a, &id, version).await;
    }
    // Resume on the reference server's spelling of the route.
    let mut resumed = open_stream(a, &format!("/subscribe/intents/{id}"), Some(&last_seen)).await;
    let replayed = resumed.take(2).await;
    let versions: Vec<&Value> = replayed.iter().map(version).collect();
    assert_eq!(versions, [5, 6], "{replayed:?}");
    // Live events follow the replay; nothing is delivered twice.
    patch_at(a, &id, 6).await;
    let live = resumed.next().await;
    assert_eq!(version(&live), 7, "{live:?}");

    // Every id the streams gave is the logged event's, in log order.
    let logged = ids(&a.events(&id).await);
    let streamed: Vec<String> = seen
        .iter()
        .chain(&replayed)
        .chain([&live])
        .map(|message| message.id.clone().expect("events have ids"))
        .collect();
    assert_eq!(streamed, logged[1..], "the log starts with intent_created");
}

/// Reads a stream until `status_changed`, answering the versions of what it delivered.
async fn versions_until_status_change(stream: &mut SseStream) -> Vec<i64> {
    let mut versions = Vec::new();
    loop {
        let message = stream.next().await;
        versions.push(version(&message).as_i64().expect("a versioned event"));
        if message.event == "status_changed" {
            return versions;
        }
    }
}

#[tokio::test]
async fn events_sort_in_the_order_they_happened() {
    const PATCHES: i64 = 500;
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = a.create_intent("busy").await;
    let path = format!("/intents/{id}/subscribe");
    let mut live = open_stream(a, &path, None).await;
    // Back-to-back writes: on SQLite many share a millisecond.
    for version in 1..=PATCHES {
        expect(a.patch_state(&id, version, "k", json!(version)).await, 200);
    }
    expect(a.set_status(&id, PATCHES + 1, "active").await, 200);
    let all: Vec<i64> = (2..=PATCHES + 2).collect();

    let listed = a.get(&format!("/intents/{id}/events?limit=1000")).await;
    let logged = list(&listed, "events");
    let logged_versions: Vec<i64> = logged[1..]
        .iter()
        .map(|event| event["payload"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(logged_versions, all, "the log is out of order");
    assert_eq!(
        versions_until_status_change(&mut live).await,
        all,
        "the live stream dropped or reordered events"
    );
    let middle = PATCHES as usize / 2;
    let mut resumed = open_stream(a, &path, logged[middle]["id"].as_str()).await;
    assert_eq!(
        versions_until_status_change(&mut resumed).await,
        all[middle..],
        "the replay after Last-Event-ID is wrong"
    );
}

#[tokio::test]
async fn an_event_types_filter_delivers_only_those_types() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = a.create_intent("filtered").await;
    let path = format!("/intents/{id}/subscribe?event_types=status_changed");
    let mut stream = open_stream(a, &path, None).await;
    expect(a.patch_state(&id, 1, "k1", json!(1)).await, 200);
    expect(a.set_status(&id, 2, "active").await, 200);
    expect(a.patch_state(&id, 3, "k2", json!(2)).await, 200);
    expect(a.set_status(&id, 4, "completed").await, 200);
    let messages = stream.take(2).await;
    let seen: Vec<(&str, &Value)> = messages
        .iter()
        .map(|message| (message.event.as_str(), &message.data["payload"]["status"]))
        .collect();
    assert_eq!(
        seen,
        [
            ("status_changed", &json!("active")),
            ("status_changed", &json!("completed"))
        ]
    );
}

#[tokio::test]
async fn a_closed_intent_is_closed_on_every_route() {
    let app = spawn_app().await;
    // Agent-scope keys: admin keys pass every ACL.
    let key = app.create_key("tenant-a", &[Scope::Agent]).await;
    let owner = Oi::new(&app, &key, "owner");
    let stranger = owner.as_agent("stranger");
    let id = owner.create_intent("closed").await;
    let i = |path: &str| format!("/intents/{id}{path}");
    expect(owner.patch_state(&id, 1, "secret", json!("s")).await, 200);
    let attachment = id_of(
        &owner
            .create(
                &i("/attachments"),
                json!({ "filename": "a.txt", "mime_type": "text/plain",
                        "storage_url": "https://files.example/a.txt" }),
            )
            .await,
    );
    let acl = owner
        .update(
            Method::PUT,
            &i("/acl"),
            json!({ "default_policy": "closed",
                    "entries": [{ "principal_id": "reader", "permission": "read" }] }),
        )
        .await;
    let entry = id_of(&acl["entries"][0]);
    let owners = id_of(
        &owner
            .create("/portfolios", json!({ "name": "owner's" }))
            .await,
    );
    owner
        .create(
            &format!("/portfolios/{owners}/intents"),
            json!({ "intent_id": id }),
        )
        .await;
    let strangers = id_of(
        &stranger
            .create("/portfolios", json!({ "name": "stranger's" }))
            .await,
    );

    let mut violations = Vec::new();
    // The stranger sees no trace of the closed intent in listings.
    for (path, name) in [
        ("/intents".to_string(), "intents"),
        (format!("/portfolios/{owners}"), "intents"),
        (format!("/portfolios/{owners}/intents"), "intents"),
    ] {
        if ids(&list(&stranger.get(&path).await, name)).contains(&id) {
            violations.push(format!("GET {path} shows the closed intent"));
        }
    }
    // Every write is refused; the destructive ones come last.
    let writes = [
        probe(Method::POST, i("/state"))
            .body(json!({ "state": { "secret": "overwritten" } }))
            .if_match(2),
        probe(Method::POST, format!("/portfolios/{strangers}/intents"))
            .body(json!({ "intent_id": id })),
        probe(Method::DELETE, format!("/portfolios/{owners}/intents/{id}")),
        probe(Method::DELETE, i(&format!("/attachments/{attachment}"))),
        probe(Method::DELETE, i(&format!("/acl/entries/{entry}"))),
        probe(Method::DELETE, i("")),
    ];
    for write in writes {
        let (status, answer) = send(write.request(stranger)).await;
        if status != 403 {
            violations.push(format!(
                "{} {} answered {status}: {answer}",
                write.method, write.path
            ));
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The tenant's audit records (one page of up to 100).
async fn audit_records(app: &TestApp, key: &str) -> (Vec<Value>, i64) {
    let (status, body) = send(app.with_key(Method::GET, "/v1/audit?pageSize=100", key)).await;
    assert_eq!(status, 200, "{body}");
    let page = &body["data"];
    (list(page, "items"), page["total"].as_i64().unwrap())
}

#[tokio::test]
async fn every_mutation_appends_to_the_audit_trail_and_the_chain_verifies() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "auditor");
    let id = a.create_intent("audited").await;
    expect(a.patch_state(&id, 1, "k", json!(1)).await, 200);
    // A refused write leaves no record.
    let (status, _) = a.patch_state(&id, 1, "k", json!(2)).await;
    assert_eq!(status, 409);
    expect(a.set_status(&id, 2, "active").await, 200);
    expect(a.acquire_lease(&id, "plan", 60).await, 201);
    a.create(
        &format!("/intents/{id}/costs"),
        json!({ "cost_type": "tokens", "amount": 3, "unit": "tokens" }),
    )
    .await;
    let portfolio = id_of(&a.create("/portfolios", json!({ "name": "audited" })).await);
    let doomed = a.create_intent("deleted").await;
    expect(
        a.call(Method::DELETE, &format!("/intents/{doomed}"), None, None)
            .await,
        204,
    );

    let (records, total) = audit_records(&app, &app.a.admin_key).await;
    assert_eq!(records.len() as i64, total, "one page holds them all");
    let sequences: Vec<i64> = records
        .iter()
        .map(|r| r["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=total).collect::<Vec<_>>());
    let face: Vec<&Value> = records
        .iter()
        .filter(|r| r["eventType"].as_str().unwrap().starts_with("openintent."))
        .collect();
    let seen: Vec<(&str, &str, &str)> = face
        .iter()
        .map(|r| {
            (
                r["eventType"].as_str().unwrap(),
                r["subject"].as_str().unwrap(),
                r["actor"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("openintent.intent_created", id.as_str()),
        ("openintent.state_patched", &id),
        ("openintent.status_changed", &id),
        ("openintent.lease_acquired", &id),
        ("openintent.cost_recorded", &id),
        ("openintent.portfolio_created", &portfolio),
        ("openintent.intent_created", &doomed),
        ("openintent.intent_deleted", &doomed),
    ]
    .map(|(event_type, subject)| (event_type, subject, "auditor"));
    assert_eq!(seen, expected);
    // Each logged event is audited under its own id.
    let mut audited: Vec<String> = face[..4]
        .iter()
        .map(|r| r["data"]["eventId"].as_str().unwrap().to_string())
        .collect();
    let mut logged = ids(&a.events(&id).await);
    audited.sort();
    logged.sort();
    assert_eq!(audited, logged);

    let (status, verified) =
        send(app.with_key(Method::GET, "/v1/audit/verify", &app.a.admin_key)).await;
    assert_eq!(status, 200, "{verified}");
    let verified = &verified["data"];
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["eventCount"], total);
    assert_eq!(verified["firstInvalidSequence"], Value::Null);
    assert_eq!(verified["headHash"], records.last().unwrap()["hash"]);

    // Tenant B's trail has none of it.
    let (b_records, _) = audit_records(&app, &app.b.admin_key).await;
    assert!(
        b_records
            .iter()
            .all(|r| !r["eventType"].as_str().unwrap().starts_with("openintent.")),
        "{b_records:?}"
    );
}

#[tokio::test]
async fn malformed_requests_get_the_error_envelope_and_change_nothing() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = a.create_intent("untouched").await;
    let state_path = format!("/intents/{id}/state");
    let status_path = format!("/intents/{id}/status");
    let set = json!({ "patches": [{ "op": "set", "path": "k", "value": 1 }] });
    let post = |path: &str, if_match: Option<&str>| {
        let request = a.request(Method::POST, path);
        match if_match {
            Some(version) => request.header("If-Match", version),
            None => request,
        }
    };
    let raw = |path: &str, if_match: Option<&str>, text: &'static str| {
        post(path, if_match)
            .header("content-type", "application/json")
            .body(text)
    };
    let invalid = "VALIDATION_ERROR";
    let cases: Vec<(&str, RequestBuilder, u16, &str)> = vec![
        (
            "invalid JSON",
            raw("/intents", None, "{not json"),
            400,
            invalid,
        ),
        (
            "truncated JSON",
            raw(&state_path, Some("1"), "{\"patches\": ["),
            400,
            invalid,
        ),
        (
            "missing If-Match",
            post(&state_path, None).json(&set),
            400,
            invalid,
        ),
        (
            "non-numeric If-Match",
            post(&state_path, Some("latest")).json(&set),
            400,
            invalid,
        ),
        (
            "title of the wrong type",
            post("/intents", None).json(&json!({ "title": 42 })),
            400,
            invalid,
        ),
        (
            "patches of the wrong type",
            post(&state_path, Some("1")).json(&json!({ "patches": "k=1" })),
            400,
            invalid,
        ),
        (
            "unknown status",
            post(&status_path, Some("1")).json(&json!({ "status": "done" })),
            400,
            invalid,
        ),
        (
            "draft to completed",
            post(&status_path, Some("1")).json(&json!({ "status": "completed" })),
            400,
            invalid,
        ),
        (
            "stale If-Match",
            post(&state_path, Some("7")).json(&set),
            409,
            "CONFLICT",
        ),
    ];
    let mut answers = HashMap::new();
    for (case, request, expected, code) in cases {
        let (status, body) = send(request).await;
        assert_eq!(status, expected, "{case}: {body}");
        assert_envelope(&body, code);
        if expected == 400 {
            assert!(body["errors"].is_array(), "{case}: {body}");
        }
        answers.insert(case, body);
    }
    let missing = &answers["missing If-Match"];
    assert_eq!(missing["error"]["details"][0]["path"], json!(["If-Match"]));
    assert_eq!(answers["stale If-Match"]["current_version"], 1);

    // A read-only key reads but may not write.
    let read_key = app.create_key("tenant-a", &[Scope::Read]).await;
    let reader = Oi::new(&app, &read_key, "reader");
    reader.intent(&id).await;
    let writes = [
        probe(Method::POST, "/intents".into()).body(json!({ "title": "nope" })),
        probe(Method::POST, state_path.clone())
            .body(set)
            .if_match(1),
        probe(Method::POST, status_path.clone())
            .body(json!({ "status": "active" }))
            .if_match(1),
        probe(Method::POST, format!("/intents/{id}/leases")).body(json!({ "scope": "plan" })),
        probe(Method::DELETE, format!("/intents/{id}")),
    ];
    for write in writes {
        let (status, answer) = send(write.request(reader)).await;
        assert_eq!(status, 403, "{} {}: {answer}", write.method, write.path);
        assert_envelope(&answer, "FORBIDDEN");
    }

    let intent = a.intent(&id).await;
    assert_eq!(
        (&intent["version"], &intent["status"]),
        (&json!(1), &json!("draft"))
    );
    assert_eq!(intent["state"], json!({}));
    assert_eq!(a.events(&id).await.len(), 1, "only intent_created");
    assert_eq!(list(&a.get("/intents").await, "intents").len(), 1);
}

#[tokio::test]
async fn streams_on_one_instance_see_writes_made_through_another() {
    let app = spawn_app().await;
    if std::env::var("TEST_DATABASE_URL").is_err() {
        // Several instances share events through PostgreSQL (LISTEN/NOTIFY); SQLite is one.
        return;
    }
    let other = app.another_instance(|_| {}).await;
    let writer = Oi::new(&app, &app.a.admin_key, "writer");
    let id = writer.create_intent("shared").await;
    let path = format!("/api/v1/intents/{id}/subscribe");
    let request = app
        .client
        .get(other.url(&path))
        .header("x-api-key", &app.a.admin_key)
        .header("X-Agent-ID", "reader");
    let mut stream = greeted(SseStream::connect(request, &path).await).await;

    expect(writer.patch_state(&id, 1, "k", json!(1)).await, 200);
    let message = stream.next().await;
    assert_eq!(message.event, "state_patched", "{message:?}");
    assert_eq!(message.data["intent_id"], id);
    assert_eq!(version(&message), &json!(2));
    assert_eq!(
        message.id.as_deref(),
        ids(&writer.events(&id).await).last().map(String::as_str)
    );
}

#[tokio::test]
async fn deleting_an_intent_removes_it_from_its_dependents() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let first = a.create_intent("first").await;
    let second = a.create_intent("second").await;
    let body = json!({ "title": "waits", "depends_on": [first, second, first] });
    let waiting = a.create("/intents", body).await;
    let waiting_id = id_of(&waiting);
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(
        waiting["depends_on"],
        json!(expected),
        "sorted, without repeats"
    );

    let path = format!("/intents/{first}");
    expect(a.call(Method::DELETE, &path, None, None).await, 204);

    assert_eq!(a.intent(&waiting_id).await["depends_on"], json!([second]));
    let dependencies = a.get(&format!("/intents/{waiting_id}/dependencies")).await;
    assert_eq!(ids(&list(&dependencies, "dependencies")), vec![second]);
    expect(a.call(Method::GET, &path, None, None).await, 404);
}

#[tokio::test]
async fn state_is_capped_at_one_mebibyte_however_it_is_patched() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = a.create_intent("big").await;
    let chunk = "x".repeat(600_000);
    expect(a.patch_state(&id, 1, "first", json!(chunk)).await, 200);
    let refused = expect(a.patch_state(&id, 2, "second", json!(chunk)).await, 400);
    assert_envelope(&refused, "VALIDATION_ERROR");
    let intent = a.intent(&id).await;
    assert_eq!(intent["version"], 2);
    assert_eq!(intent["state"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn federation_dispatch_to_a_private_or_metadata_address_is_refused_before_anything() {
    let app = spawn_app().await;
    let a = Oi::new(&app, &app.a.admin_key, "agent-a");
    let intent = a.create_intent("stays home").await;
    for peer in [
        "http://169.254.169.254",
        "http://127.0.0.1:9",
        "http://[::ffff:10.0.0.1]",
    ] {
        let body = json!({ "intent_id": intent, "target_server": peer });
        let (status, answer) = a
            .call(Method::POST, "/federation/dispatch", Some(&body), None)
            .await;
        assert_eq!(status, 400, "{peer}: {answer}");
        assert_envelope(&answer, "VALIDATION_ERROR");
        assert!(answer.to_string().contains("target_server"), "{answer}");
    }
    let status = a.get("/federation/status").await;
    assert_eq!(status["enabled"], false);
}

/// RFC-0019: each event is checked against the audit record that sealed it, so an event
/// edited in the database (its payload, or its stamped hash) is named by the verification.
#[tokio::test]
async fn an_event_edited_in_the_database_breaks_its_intent_chain() {
    let app = spawn_app().await;
    let oi = Oi::new(&app, &app.a.admin_key, "agent-a");
    let id = oi.create_intent("chained").await;
    let (status, _) = oi.patch_state(&id, 1, "step", json!(1)).await;
    assert_eq!(status, 200);
    let events = oi.events(&id).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["previous_event_hash"], events[0]["event_hash"]);
    let verify = format!("/intents/{id}/events/verify");
    let intact = oi.get(&verify).await;
    assert_eq!(intact["valid"], true, "{intact}");

    let patched = events[1]["id"].as_str().unwrap();
    app.raw_sql(&format!(
        "UPDATE oi_events SET payload = '{{\"step\":99}}' WHERE id = '{patched}'"
    ))
    .await;
    let edited = oi.get(&verify).await;
    assert_eq!(edited["valid"], false, "{edited}");
    assert_eq!(edited["breaks"].as_array().unwrap().len(), 1);
    assert_eq!(edited["breaks"][0]["event_id"], patched);

    let created = events[0]["id"].as_str().unwrap();
    app.raw_sql(&format!(
        "UPDATE oi_events SET event_hash = '{}' WHERE id = '{created}'",
        "0".repeat(64)
    ))
    .await;
    let rehashed = oi.get(&verify).await;
    let broken: Vec<&Value> = rehashed["breaks"].as_array().unwrap().iter().collect();
    assert_eq!(broken.len(), 2, "{rehashed}");
    assert_eq!(broken[0]["event_id"], created);
    // Another tenant sees no such intent.
    let other = Oi::new(&app, &app.b.admin_key, "agent-a");
    let (status, _) = other.call(Method::GET, &verify, None, None).await;
    assert_eq!(status, 404);
}
