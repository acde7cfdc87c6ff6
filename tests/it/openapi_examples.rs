//! The documents against the running server: each request body example is sent as Swagger
//! UI's "Try it out" would send it, and every answer must fit the response schema the document
//! gives for its status (types, enums, required fields, and no undocumented fields).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use intendedops::auth::Scope;

use crate::helpers::{send, spawn_app, TestApp};

/// The components schema a `$ref` names, or the schema itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn is_annotation(schema: &Value) -> bool {
    schema.as_object().is_some_and(|keys| {
        keys.keys()
            .all(|key| ["description", "title", "default", "example"].contains(&key.as_str()))
    })
}

/// Records where `value` does not fit `schema`.
fn fit(doc: &Value, schema: &Value, value: &Value, at: &str, misfits: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    for member in schema["allOf"].as_array().into_iter().flatten() {
        if !is_annotation(member) {
            fit(doc, member, value, at, misfits);
        }
    }
    let alternatives: Vec<&Value> = ["anyOf", "oneOf"]
        .iter()
        .flat_map(|key| schema[*key].as_array().into_iter().flatten())
        .collect();
    if !alternatives.is_empty()
        && !alternatives.iter().any(|alternative| {
            let mut ignored = Vec::new();
            fit(doc, alternative, value, at, &mut ignored);
            ignored.is_empty()
        })
    {
        misfits.push(format!(
            "{at}: fits none of {alternatives:?} (value {value})"
        ));
    }
    let fits_type = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("unknown type {other}"),
    };
    if !fits_type {
        misfits.push(format!("{at}: is not {} (value {value})", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            misfits.push(format!("{at}: {value} is none of {allowed:?}"));
        }
    }
    if let Some(items) = value.as_array() {
        for (index, item) in items.iter().enumerate() {
            fit(
                doc,
                &schema["items"],
                item,
                &format!("{at}[{index}]"),
                misfits,
            );
        }
    }
    let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object())
    else {
        return;
    };
    for required in schema["required"].as_array().into_iter().flatten() {
        if !object.contains_key(required.as_str().unwrap()) {
            misfits.push(format!("{at}: lacks required {required}"));
        }
    }
    let required = |key: &str| {
        schema["required"]
            .as_array()
            .is_some_and(|names| names.contains(&json!(key)))
    };
    for (key, item) in object {
        let at = format!("{at}.{key}");
        match properties.get(key) {
            // Optional fields answer null when unset.
            Some(_) if item.is_null() && !required(key) => {}
            Some(property) => fit(doc, property, item, &at, misfits),
            None if schema["additionalProperties"].is_object() => {
                fit(doc, &schema["additionalProperties"], item, &at, misfits)
            }
            None => misfits.push(format!("{at}: not documented")),
        }
    }
}

/// A caller of one face with its document, collecting every misfit.
struct Face<'a> {
    app: &'a TestApp,
    doc: Value,
    /// What the document's paths are relative to (`/api/v1` for OpenIntent).
    prefix: &'a str,
    headers: Vec<(&'static str, String)>,
    misfits: Vec<String>,
}

impl<'a> Face<'a> {
    async fn new(app: &'a TestApp, document: &str, prefix: &'a str) -> Face<'a> {
        let (status, doc) = send(app.request(Method::GET, document)).await;
        assert_eq!(status, 200);
        Face {
            app,
            doc,
            prefix,
            headers: vec![("x-api-key", app.a.admin_key.clone())],
            misfits: Vec::new(),
        }
    }

    /// Sends the following requests with `key`.
    fn as_key(&mut self, key: &str) {
        self.headers[0] = ("x-api-key", key.to_string());
    }

    /// The document's example of the operation's request body.
    fn example(&self, method: &Method, template: &str) -> Value {
        let operation = &self.doc["paths"][template][method.as_str().to_lowercase()];
        let (_, media) = operation["requestBody"]["content"]
            .as_object()
            .and_then(|content| content.iter().next())
            .unwrap_or_else(|| panic!("{method} {template} has no request body"));
        resolve(&self.doc, &media["schema"])["example"].clone()
    }

    /// Sends `body` (the operation's example when `None` and it has a body) to `path`, an
    /// instance of `template`; checks the status and the answer against the document.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Value>,
        if_match: Option<i64>,
        expected: u16,
    ) -> Value {
        let operation = self.doc["paths"][template][method.as_str().to_lowercase()].clone();
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let body = body.or_else(|| {
            operation["requestBody"]
                .is_object()
                .then(|| self.example(&method, template))
        });
        let mut request = self
            .app
            .request(method.clone(), &format!("{}{path}", self.prefix));
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(version) = if_match {
            request = request.header("If-Match", version.to_string());
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let (status, answer) = send(request).await;
        let at = format!("{method} {path}");
        assert_eq!(status.as_u16(), expected, "{at} with {body:?}: {answer}");
        let responses = &operation["responses"];
        let response = match &responses[status.as_str()] {
            Value::Null => &responses["default"],
            found => found,
        };
        assert!(
            response.is_object(),
            "{at}: status {status} is not documented"
        );
        match response["content"]
            .as_object()
            .and_then(|c| c.values().next())
        {
            Some(media) => fit(&self.doc, &media["schema"], &answer, &at, &mut self.misfits),
            None => assert_eq!(
                status,
                StatusCode::NO_CONTENT,
                "{at}: no content documented"
            ),
        }
        answer
    }

    /// Sends the operation's example (if it takes a body), as "Try it out" does.
    async fn try_it(&mut self, method: Method, template: &str, path: &str, expected: u16) -> Value {
        self.call(method, template, path, None, None, expected)
            .await
    }

    async fn get(&mut self, template: &str, path: &str) -> Value {
        self.try_it(Method::GET, template, path, 200).await
    }
}

#[tokio::test]
async fn v1_examples_work_and_answers_fit_the_document() {
    let app = spawn_app().await;
    let mut v1 = Face::new(&app, "/openapi.json", "").await;
    v1.try_it(Method::POST, "/v1/agents", "/v1/agents", 201)
        .await;
    let submitted = v1
        .try_it(Method::POST, "/v1/intents", "/v1/intents", 201)
        .await;
    v1.try_it(Method::POST, "/v1/intents", "/v1/intents", 200)
        .await;
    let id = submitted["data"]["intentId"].as_str().unwrap().to_string();
    v1.get("/v1/intents", "/v1/intents").await;
    v1.get("/v1/intents/{id}", &format!("/v1/intents/{id}"))
        .await;
    let queue = v1.get("/v1/approvals", "/v1/approvals").await;
    let approval = queue["data"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    v1.get("/v1/approvals/{id}", &format!("/v1/approvals/{approval}"))
        .await;
    // The admin key submitted the intents, so it may not approve them: an approver key does.
    let approver = app.create_key("tenant-a", &[Scope::Approver]).await;
    let approve = "/v1/approvals/{id}/approve";
    v1.as_key(&approver);
    v1.try_it(
        Method::POST,
        approve,
        &format!("/v1/approvals/{approval}/approve"),
        200,
    )
    .await;
    v1.as_key(&app.a.admin_key);
    let complete = "/v1/intents/{id}/complete";
    v1.try_it(
        Method::POST,
        complete,
        &format!("/v1/intents/{id}/complete"),
        200,
    )
    .await;

    // A second and third invoice: one rejected, one failed.
    let mut other = v1.example(&Method::POST, "/v1/intents");
    for (key, approve, report) in [("r", false, None), ("f", true, Some("fail"))] {
        other["idempotencyKey"] = json!(format!("invoice-{key}"));
        let submitted = v1
            .call(
                Method::POST,
                "/v1/intents",
                "/v1/intents",
                Some(other.clone()),
                None,
                201,
            )
            .await;
        let id = submitted["data"]["intentId"].as_str().unwrap().to_string();
        let queue = v1.get("/v1/approvals", "/v1/approvals").await;
        let approval = queue["data"]["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (template, path) = match approve {
            true => (
                "/v1/approvals/{id}/approve",
                format!("/v1/approvals/{approval}/approve"),
            ),
            false => (
                "/v1/approvals/{id}/reject",
                format!("/v1/approvals/{approval}/reject"),
            ),
        };
        v1.as_key(&approver);
        v1.try_it(Method::POST, template, &path, 200).await;
        v1.as_key(&app.a.admin_key);
        if let Some(report) = report {
            let template = format!("/v1/intents/{{id}}/{report}");
            let path = format!("/v1/intents/{id}/{report}");
            v1.try_it(Method::POST, &template, &path, 200).await;
        }
    }
    let agent = "/v1/agents/{id}";
    v1.try_it(Method::PATCH, agent, "/v1/agents/billing-agent", 200)
        .await;
    v1.get("/v1/agents", "/v1/agents").await;
    v1.get(agent, "/v1/agents/billing-agent").await;
    v1.get(
        "/v1/agents/{id}/metrics",
        "/v1/agents/billing-agent/metrics",
    )
    .await;
    v1.get("/v1/stats", "/v1/stats").await;
    v1.get("/v1/domains", "/v1/domains").await;
    v1.get(
        "/v1/domains/{domain}/intent-types/{type}",
        "/v1/domains/billing/intent-types/send_invoice",
    )
    .await;
    v1.get("/v1/policies", "/v1/policies").await;
    v1.try_it(
        Method::POST,
        "/v1/policies/simulate",
        "/v1/policies/simulate",
        200,
    )
    .await;
    v1.try_it(Method::PUT, "/v1/policies", "/v1/policies", 200)
        .await;
    v1.get("/v1/audit", "/v1/audit?pageSize=100").await;
    v1.get("/v1/audit/verify", "/v1/audit/verify").await;
    v1.try_it(Method::POST, "/v1/keys", "/v1/keys", 201).await;
    v1.get("/v1/keys", "/v1/keys").await;
    let user = v1.try_it(Method::POST, "/v1/users", "/v1/users", 201).await;
    let user = format!("/v1/users/{}", user["data"]["id"].as_str().unwrap());
    v1.get("/v1/users", "/v1/users").await;
    v1.get("/v1/users/{id}", &user).await;
    let sign_in = json!({"tenantId": "tenant-a", "email": "alice@example.com",
                         "password": "correct horse battery staple"});
    v1.call(
        Method::POST,
        "/v1/auth/login",
        "/v1/auth/login",
        Some(sign_in),
        None,
        200,
    )
    .await;
    v1.try_it(Method::PATCH, "/v1/users/{id}", &user, 200).await;
    // Creating a webhook resolves its host (outside traffic): only the list is exercised.
    v1.get("/v1/webhooks", "/v1/webhooks").await;
    v1.get("/health", "/health").await;
    v1.get("/ready", "/ready").await;
    // Errors: the envelope with and without field details.
    v1.try_it(Method::GET, "/v1/intents/{id}", "/v1/intents/int_none", 404)
        .await;
    v1.call(
        Method::POST,
        "/v1/intents",
        "/v1/intents",
        Some(json!({})),
        None,
        400,
    )
    .await;
    assert!(v1.misfits.is_empty(), "{}", v1.misfits.join("\n"));
}

#[tokio::test]
async fn openintent_examples_work_and_answers_fit_the_document() {
    let app = spawn_app().await;
    let mut oi = Face::new(&app, "/api/v1/openapi.json", "/api/v1").await;
    oi.headers.push(("X-Agent-ID", "research-agent".into()));
    let post = Method::POST;
    let intent = oi.try_it(post.clone(), "/intents", "/intents", 201).await;
    let id = intent["id"].as_str().unwrap().to_string();
    let at = |suffix: &str| format!("/intents/{id}{suffix}");
    let patched = oi
        .call(
            post.clone(),
            "/intents/{id}/state",
            &at("/state"),
            None,
            Some(1),
            200,
        )
        .await;
    let version = patched["version"].as_i64().unwrap();
    oi.call(
        post.clone(),
        "/intents/{id}/status",
        &at("/status"),
        None,
        Some(version),
        200,
    )
    .await;
    oi.get("/intents", "/intents").await;
    oi.get("/intents/{id}", &at("")).await;
    oi.try_it(post.clone(), "/intents/{id}/events", &at("/events"), 201)
        .await;
    oi.get("/intents/{id}/events", &at("/events")).await;
    oi.try_it(post.clone(), "/intents/{id}/agents", &at("/agents"), 200)
        .await;
    oi.get("/intents/{id}/agents", &at("/agents")).await;

    let lease = oi
        .try_it(post.clone(), "/intents/{id}/leases", &at("/leases"), 201)
        .await;
    let lease_path = at(&format!("/leases/{}", lease["id"].as_str().unwrap()));
    let lease_template = "/intents/{id}/leases/{lease_id}";
    oi.try_it(Method::PATCH, lease_template, &lease_path, 200)
        .await;
    oi.get("/intents/{id}/leases", &at("/leases")).await;
    oi.try_it(Method::DELETE, lease_template, &lease_path, 204)
        .await;

    let child = oi
        .try_it(
            post.clone(),
            "/intents/{parent_id}/children",
            &at("/children"),
            201,
        )
        .await;
    let child_id = child["id"].as_str().unwrap().to_string();
    let other = oi.try_it(post.clone(), "/intents", "/intents", 201).await;
    let other_id = other["id"].as_str().unwrap().to_string();
    oi.call(
        post.clone(),
        "/intents/{id}/dependencies",
        &format!("/intents/{child_id}/dependencies"),
        Some(json!({ "dependency_id": other_id })),
        child["version"].as_i64(),
        200,
    )
    .await;
    for list in ["children", "descendants", "ready", "blocked", "graph"] {
        oi.get(&format!("/intents/{{id}}/{list}"), &at(&format!("/{list}")))
            .await;
    }
    oi.get(
        "/intents/{id}/ancestors",
        &format!("/intents/{child_id}/ancestors"),
    )
    .await;
    oi.get(
        "/intents/{id}/dependencies",
        &format!("/intents/{child_id}/dependencies"),
    )
    .await;
    oi.get(
        "/intents/{id}/dependents",
        &format!("/intents/{other_id}/dependents"),
    )
    .await;

    for record in ["arbitrate", "decisions", "attachments", "costs", "failures"] {
        let template = format!("/intents/{{id}}/{record}");
        let path = at(&format!("/{record}"));
        oi.try_it(post.clone(), &template, &path, 201).await;
        if record != "arbitrate" {
            oi.get(&template, &path).await;
        }
    }
    let retry = "/intents/{id}/retry-policy";
    oi.try_it(Method::PUT, retry, &at("/retry-policy"), 200)
        .await;
    oi.get(retry, &at("/retry-policy")).await;

    let portfolio = oi
        .try_it(post.clone(), "/portfolios", "/portfolios", 201)
        .await;
    let portfolio_path = format!("/portfolios/{}", portfolio["id"].as_str().unwrap());
    oi.call(
        post.clone(),
        "/portfolios/{id}/intents",
        &format!("{portfolio_path}/intents"),
        Some(json!({ "intent_id": id, "role": "primary", "priority": 10 })),
        None,
        201,
    )
    .await;
    oi.get("/portfolios", "/portfolios").await;
    oi.get("/portfolios/{id}", &portfolio_path).await;
    oi.get(
        "/portfolios/{id}/intents",
        &format!("{portfolio_path}/intents"),
    )
    .await;
    oi.get("/intents/{id}/portfolios", &at("/portfolios")).await;
    let status = format!("{portfolio_path}/status");
    oi.try_it(Method::PATCH, "/portfolios/{id}/status", &status, 200)
        .await;

    oi.try_it(
        post.clone(),
        "/intents/{id}/acl/entries",
        &at("/acl/entries"),
        201,
    )
    .await;
    oi.try_it(Method::PUT, "/intents/{id}/acl", &at("/acl"), 200)
        .await;
    oi.get("/intents/{id}/acl", &at("/acl")).await;
    for decision in ["approve", "deny"] {
        let request = oi
            .try_it(
                post.clone(),
                "/intents/{id}/access-requests",
                &at("/access-requests"),
                201,
            )
            .await;
        let path = at(&format!(
            "/access-requests/{}/{decision}",
            request["id"].as_str().unwrap()
        ));
        let template = format!("/intents/{{id}}/access-requests/{{request_id}}/{decision}");
        oi.try_it(post.clone(), &template, &path, 200).await;
    }
    oi.get("/intents/{id}/access-requests", &at("/access-requests"))
        .await;

    let mut subscription = oi.example(&post, "/subscriptions");
    subscription["intent_id"] = json!(id);
    oi.call(
        post.clone(),
        "/subscriptions",
        "/subscriptions",
        Some(subscription),
        None,
        201,
    )
    .await;
    oi.get("/subscriptions", "/subscriptions").await;
    rfc_0012_to_0017_examples(&mut oi, &id).await;
    rfc_0013_examples(&mut oi, &other_id).await;
    rfc_0014_examples(&mut oi).await;
    rfc_0026_examples(&mut oi).await;
    rfc_0021_examples(&mut oi, &id).await;
    oi.get("/server/config", "/server/config").await;
    oi.try_it(
        Method::DELETE,
        "/intents/{id}",
        &format!("/intents/{other_id}"),
        204,
    )
    .await;
    assert!(oi.misfits.is_empty(), "{}", oi.misfits.join("\n"));
}

/// The examples of governance, approval requests, escalations, coordinator leases and
/// decision records, against `intent`. One key asks and decides: its approval is a
/// separation-of-duties refusal (the error envelope is checked), its denial withdraws.
async fn rfc_0013_examples(oi: &mut Face<'_>, intent: &str) {
    let post = Method::POST;
    let at = |tail: &str| format!("/intents/{intent}{tail}");
    let version = oi.get("/intents/{id}", &at("")).await["version"]
        .as_i64()
        .unwrap();
    let put = Method::PUT;
    let set = oi.example(&put, "/intents/{id}/governance");
    oi.call(
        put,
        "/intents/{id}/governance",
        &at("/governance"),
        Some(set),
        Some(version),
        200,
    )
    .await;
    oi.get("/intents/{id}/governance", &at("/governance")).await;
    let delete = Method::DELETE;
    oi.call(
        delete,
        "/intents/{id}/governance",
        &at("/governance"),
        None,
        Some(version + 1),
        200,
    )
    .await;
    let request = oi
        .try_it(
            post.clone(),
            "/intents/{id}/approvals",
            &at("/approvals"),
            201,
        )
        .await;
    let approval = at(&format!("/approvals/{}", request["id"].as_str().unwrap()));
    oi.get("/intents/{id}/approvals/{approval_id}", &approval)
        .await;
    for (decision, expected) in [("approve", 403), ("deny", 200)] {
        let template = format!("/intents/{{id}}/approvals/{{approval_id}}/{decision}");
        oi.try_it(
            post.clone(),
            &template,
            &format!("{approval}/{decision}"),
            expected,
        )
        .await;
    }
    let escalation = oi
        .try_it(
            post.clone(),
            "/intents/{id}/escalations",
            &at("/escalations"),
            201,
        )
        .await;
    oi.get("/escalations", &format!("/escalations?intent_id={intent}"))
        .await;
    let resolve = format!(
        "/escalations/{}/resolve",
        escalation["id"].as_str().unwrap()
    );
    oi.try_it(post.clone(), "/escalations/{id}/resolve", &resolve, 403)
        .await;

    let mut lease = oi.example(&post, "/coordinators");
    lease["intent_id"] = json!(intent);
    lease["agent_id"] = json!("research-agent");
    let lease = oi
        .call(
            post.clone(),
            "/coordinators",
            "/coordinators",
            Some(lease),
            None,
            201,
        )
        .await;
    let lease_id = lease["id"].as_str().unwrap().to_string();
    oi.get("/coordinators/{id}", &format!("/coordinators/{lease_id}"))
        .await;
    oi.get("/intents/{id}/coordinators", &at("/coordinators"))
        .await;
    let beat = format!("/coordinators/{lease_id}/heartbeat");
    oi.try_it(post.clone(), "/coordinators/{id}/heartbeat", &beat, 200)
        .await;
    let mut decision = oi.example(&post, "/decisions");
    decision["intent_id"] = json!(intent);
    decision["coordinator_id"] = json!(lease_id);
    oi.call(post, "/decisions", "/decisions", Some(decision), None, 201)
        .await;
    oi.get(
        "/intents/{id}/coordinator-decisions",
        &at("/coordinator-decisions"),
    )
    .await;
}

/// The examples of tasks, plans, memory, agent lifecycle and triggers, against `intent`.
async fn rfc_0012_to_0017_examples(oi: &mut Face<'_>, intent: &str) {
    let (post, patch) = (Method::POST, Method::PATCH);
    let mut task = oi.example(&post, "/tasks");
    task["intent_id"] = json!(intent);
    let task = oi
        .call(post.clone(), "/tasks", "/tasks", Some(task), None, 201)
        .await;
    let task_path = format!("/tasks/{}", task["id"].as_str().unwrap());
    oi.get("/tasks/{id}", &task_path).await;
    oi.call(patch.clone(), "/tasks/{id}", &task_path, None, Some(1), 200)
        .await;
    oi.get("/intents/{id}/tasks", &format!("/intents/{intent}/tasks"))
        .await;
    let mut plan = oi.example(&post, "/plans");
    plan["intent_id"] = json!(intent);
    let plan = oi
        .call(post.clone(), "/plans", "/plans", Some(plan), None, 201)
        .await;
    let plan_path = format!("/plans/{}", plan["id"].as_str().unwrap());
    oi.get("/plans/{id}", &plan_path).await;
    oi.call(patch.clone(), "/plans/{id}", &plan_path, None, Some(1), 200)
        .await;
    oi.get("/intents/{id}/plans", &format!("/intents/{intent}/plans"))
        .await;

    let entry = oi.try_it(post.clone(), "/memory", "/memory", 201).await;
    let entry_path = format!("/memory/{}", entry["id"].as_str().unwrap());
    oi.get("/memory/{id}", &entry_path).await;
    oi.call(
        patch.clone(),
        "/memory/{id}",
        &entry_path,
        None,
        Some(1),
        200,
    )
    .await;
    oi.get("/agents/{agent_id}/memory", "/agents/research-agent/memory")
        .await;
    oi.try_it(Method::DELETE, "/memory/{id}", &entry_path, 204)
        .await;

    oi.try_it(post.clone(), "/agents/register", "/agents/register", 201)
        .await;
    let agent = "/agents/research-agent";
    oi.try_it(
        post.clone(),
        "/agents/{agent_id}/heartbeat",
        &format!("{agent}/heartbeat"),
        200,
    )
    .await;
    oi.get("/agents/{agent_id}/record", &format!("{agent}/record"))
        .await;
    oi.get("/agents", "/agents").await;
    oi.try_it(
        patch.clone(),
        "/agents/{agent_id}/status",
        &format!("{agent}/status"),
        200,
    )
    .await;

    let trigger = oi.try_it(post.clone(), "/triggers", "/triggers", 201).await;
    let trigger_path = format!("/triggers/{}", trigger["trigger_id"].as_str().unwrap());
    oi.get("/triggers/{id}", &trigger_path).await;
    oi.get("/triggers", "/triggers").await;
    oi.call(patch, "/triggers/{id}", &trigger_path, None, Some(1), 200)
        .await;
    oi.try_it(
        post,
        "/triggers/{id}/fire",
        &format!("{trigger_path}/fire"),
        200,
    )
    .await;
    oi.try_it(Method::DELETE, "/triggers/{id}", &trigger_path, 204)
        .await;
    oi.get("/federation/status", "/federation/status").await;
}

/// The examples of vaults, credentials, grants, invocations and the tool proxy (the
/// example credential has no execution config: invoking answers the placeholder result).
async fn rfc_0014_examples(oi: &mut Face<'_>) {
    let (post, patch, delete) = (Method::POST, Method::PATCH, Method::DELETE);
    let id_of = |value: &Value| value["id"].as_str().unwrap().to_string();
    let vault = id_of(&oi.try_it(post.clone(), "/vaults", "/vaults", 201).await);
    let vault_path = format!("/vaults/{vault}");
    oi.get("/vaults", "/vaults").await;
    oi.get("/vaults/{id}", &vault_path).await;
    let mut body = oi.example(&post, "/credentials");
    body["vault_id"] = json!(vault);
    let credential = oi
        .call(
            post.clone(),
            "/credentials",
            "/credentials",
            Some(body),
            None,
            201,
        )
        .await;
    let credential = id_of(&credential);
    let second = oi
        .try_it(
            post.clone(),
            "/vaults/{id}/credentials",
            &format!("{vault_path}/credentials"),
            201,
        )
        .await;
    oi.get(
        "/vaults/{id}/credentials",
        &format!("{vault_path}/credentials"),
    )
    .await;
    let credential_path = format!("/credentials/{credential}");
    oi.get("/credentials/{id}", &credential_path).await;
    oi.try_it(
        patch.clone(),
        "/credentials/{id}/rotate",
        &format!("{credential_path}/rotate"),
        200,
    )
    .await;
    let mut body = oi.example(&post, "/grants");
    body["credential_id"] = json!(credential);
    let grant = id_of(
        &oi.call(post.clone(), "/grants", "/grants", Some(body), None, 201)
            .await,
    );
    let grant_path = format!("/grants/{grant}");
    oi.get("/grants/{id}", &grant_path).await;
    oi.get("/agents/{agent_id}/grants", "/agents/research-agent/grants")
        .await;
    oi.get("/tools/granted", "/tools/granted").await;
    for (action, template) in [
        ("suspend", "/grants/{id}/suspend"),
        ("resume", "/grants/{id}/resume"),
    ] {
        oi.try_it(
            patch.clone(),
            template,
            &format!("{grant_path}/{action}"),
            200,
        )
        .await;
    }
    oi.try_it(
        post.clone(),
        "/grants/{id}/delegate",
        &format!("{grant_path}/delegate"),
        201,
    )
    .await;
    let invoked = oi
        .try_it(post.clone(), "/tools/invoke", "/tools/invoke", 200)
        .await;
    assert_eq!(invoked["result"]["placeholder"], json!(true), "{invoked}");
    let mut body = oi.example(&post, "/invocations");
    body["grant_id"] = json!(grant);
    let recorded = oi
        .call(
            post.clone(),
            "/invocations",
            "/invocations",
            Some(body),
            None,
            201,
        )
        .await;
    oi.get(
        "/invocations/{id}",
        &format!("/invocations/{}", id_of(&recorded)),
    )
    .await;
    oi.get(
        "/grants/{id}/invocations",
        &format!("{grant_path}/invocations"),
    )
    .await;
    oi.try_it(delete.clone(), "/grants/{id}", &grant_path, 200)
        .await;
    let second_path = format!("/credentials/{}", id_of(&second));
    oi.try_it(delete.clone(), "/credentials/{id}", &second_path, 200)
        .await;
    oi.try_it(delete, "/vaults/{id}", &vault_path, 204).await;
}

/// The examples of channels and messages, on `intent` (a request, read and replied to by the
/// one agent of this test, then the channel closed).
async fn rfc_0021_examples(oi: &mut Face<'_>, intent: &str) {
    let (post, patch) = (Method::POST, Method::PATCH);
    let mut body = oi.example(&post, "/intents/{id}/channels");
    body["members"] = json!(["research-agent"]);
    let path = format!("/intents/{intent}/channels");
    let channel = oi
        .call(
            post.clone(),
            "/intents/{id}/channels",
            &path,
            Some(body),
            None,
            201,
        )
        .await;
    oi.get("/intents/{id}/channels", &path).await;
    let at = format!("/channels/{}", channel["id"].as_str().unwrap());
    oi.get("/channels/{id}", &at).await;
    oi.call(
        patch.clone(),
        "/channels/{id}",
        &at,
        Some(json!({"members": ["research-agent"]})),
        None,
        200,
    )
    .await;
    let mut body = oi.example(&post, "/channels/{id}/messages");
    body["to"] = json!("research-agent");
    let messages = format!("{at}/messages");
    let message = oi
        .call(
            post.clone(),
            "/channels/{id}/messages",
            &messages,
            Some(body),
            None,
            201,
        )
        .await;
    oi.get("/channels/{id}/messages", &messages).await;
    let one = format!("{messages}/{}", message["id"].as_str().unwrap());
    oi.get("/channels/{id}/messages/{message_id}", &one).await;
    oi.try_it(patch, "/channels/{id}/messages/{message_id}", &one, 200)
        .await;
    let mut reply = oi.example(&post, "/channels/{id}/messages");
    reply.as_object_mut().unwrap().remove("message_type");
    let path = format!("{one}/reply");
    oi.call(
        post,
        "/channels/{id}/messages/{message_id}/reply",
        &path,
        Some(reply),
        None,
        201,
    )
    .await;
    oi.try_it(Method::DELETE, "/channels/{id}", &at, 200).await;
}

/// The example answer to a suspended intent's question (suspended here as the SDK does it).
async fn rfc_0026_examples(oi: &mut Face<'_>) {
    let post = Method::POST;
    let intent = oi.try_it(post.clone(), "/intents", "/intents", 201).await;
    let at = format!("/intents/{}", intent["id"].as_str().unwrap());
    let mut version = intent["version"].as_i64().unwrap();
    for status in ["active", "suspended_awaiting_input"] {
        let body = json!({ "status": status });
        let path = format!("{at}/status");
        oi.call(
            post.clone(),
            "/intents/{id}/status",
            &path,
            Some(body),
            Some(version),
            200,
        )
        .await;
        version += 1;
    }
    let respond = oi.example(&post, "/intents/{id}/suspend/respond");
    let question = json!({ "patches": [{ "op": "set", "path": "/_suspension", "value": {
        "id": respond["suspension_id"], "question": "Refund?", "response_type": "choice",
        "choices": [{ "value": "approve", "label": "Approve", "description": "Send the refund" }],
    }}]});
    let state = format!("{at}/state");
    oi.call(
        post.clone(),
        "/intents/{id}/state",
        &state,
        Some(question),
        Some(version),
        200,
    )
    .await;
    let answer = oi
        .try_it(
            post,
            "/intents/{id}/suspend/respond",
            &format!("{at}/suspend/respond"),
            200,
        )
        .await;
    assert_eq!(answer["choice_label"], json!("Approve"), "{answer}");
}

#[test]
fn the_fit_check_catches_what_does_not_fit() {
    let doc = json!({"components": {"schemas": {
        "Status": {"type": "string", "enum": ["on", "off"]},
        "Thing": {
            "type": "object",
            "required": ["id", "status"],
            "properties": {
                "id": {"type": "string"},
                "status": {"$ref": "#/components/schemas/Status"},
                "count": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "either": {"anyOf": [{"type": "string"}, {"type": "object"}]}
            }
        }
    }}});
    let thing = json!({"$ref": "#/components/schemas/Thing"});
    let mut misfits = Vec::new();
    let good = json!({"id": "a", "status": "on", "count": null, "tags": ["x"], "either": {}});
    fit(&doc, &thing, &good, "good", &mut misfits);
    assert!(misfits.is_empty(), "{misfits:#?}");
    let bad = json!({"status": "dim", "count": 1.5, "tags": [1], "either": 2, "extra": true});
    fit(&doc, &thing, &bad, "bad", &mut misfits);
    // No id, status not in the enum, count not an integer, a tag not a string, `either`
    // neither, `extra` undocumented.
    assert_eq!(misfits.len(), 6, "{misfits:#?}");
}

#[tokio::test]
async fn every_documented_example_fits_its_schema() {
    let app = spawn_app().await;
    for document in ["/openapi.json", "/api/v1/openapi.json"] {
        let (_, doc) = send(app.request(Method::GET, document)).await;
        let mut misfits = Vec::new();
        for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
            if !schema["example"].is_null() {
                fit(&doc, schema, &schema["example"], name, &mut misfits);
            }
        }
        assert!(misfits.is_empty(), "{document}:\n{}", misfits.join("\n"));
    }
}
