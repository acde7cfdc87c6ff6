//! `POST /tools/invoke`: the tool proxy. One invocation is two short units of work around
//! the call, never one held open across it:
//!
//! 1. resolve and lock the grant, check it ([`super::grants`]), record the invocation as
//!    `pending` (so the hourly limit counts it, and a crash leaves a trace: a call still
//!    pending past the longest a call may take reads as an error) — commit;
//! 2. open the credential's material, make the call through the shared outbound client;
//! 3. settle the invocation with the outcome, secrets redacted, log `tool.invoked` (on the
//!    intent's log when the invocation names one), seal a refreshed OAuth2 token back —
//!    commit.
//!
//! A refusal writes no invocation: it is audited as `tool.denied`. An `idempotency_key`
//! makes a retry answer the first call's outcome without calling again.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    adapters::{self, Attempt, Call, ExecutionConfig},
    grants::{refused, Resolved, Work},
    material::{redacted_parameters, Material},
    prefixes, Credential, Grant, Invocation, INVOCATION_STATUSES,
};
use crate::{
    audit::{self, AuditEvent},
    auth::Scope,
    error::{Error, Result, ToolCode},
    ids,
    openintent::{
        documents::Document,
        records::{object, one_of, require_text},
        Caller, NewEvent, Tools,
    },
    outbound::{Failure, Reply},
    store::openintent::documents::DocumentQuery,
    time::{now_ms, protocol_instant, Millis},
};

/// How long past the longest call a pending invocation is given before it reads as lost.
pub const SETTLE_MARGIN_MS: Millis = 60_000;
/// How much of a reply that is not JSON is kept, as `{"raw": …}`.
const MAX_RAW_CHARS: usize = 5_000;
const MAX_LIST: i64 = 1_000;

#[derive(Debug, Deserialize)]
pub struct InvokeIn {
    #[serde(alias = "tool")]
    pub tool_name: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub grant_id: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// `{intent_id, task_id, plan_id}`; the same fields are also read at the top level.
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub intent_id: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
}

/// What an invocation answers.
#[derive(Debug, Serialize)]
pub struct InvokeOut {
    pub invocation_id: String,
    pub tool_name: String,
    pub grant_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: i64,
    /// True when this answers an earlier call with the same `idempotency_key`.
    pub replayed: bool,
}

impl InvokeOut {
    fn of(invocation: &Invocation, replayed: bool) -> Self {
        InvokeOut {
            invocation_id: invocation.id.clone(),
            tool_name: invocation.tool.clone(),
            grant_id: invocation.grant_id.clone(),
            status: invocation.status.clone(),
            result: invocation.result.clone(),
            error: invocation
                .error
                .as_ref()
                .and_then(|error| error.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string),
            duration_ms: invocation.duration_ms.unwrap_or(0),
            replayed,
        }
    }
}

/// `POST /invocations`: an invocation the agent made itself, recorded against its grant.
#[derive(Debug, Deserialize)]
pub struct RecordIn {
    pub grant_id: String,
    pub service: String,
    pub tool: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub cost: Option<Value>,
    #[serde(default)]
    pub duration_ms: Option<i64>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub context: Option<Value>,
}

fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

fn context_text(
    context: &Map<String, Value>,
    field: &str,
    top: Option<String>,
) -> Result<Option<String>> {
    match (top, context.get(field)) {
        (Some(top), _) => Ok(Some(top)),
        (None, None | Some(Value::Null)) => Ok(None),
        (None, Some(Value::String(id))) => Ok(Some(id.clone())),
        (None, Some(_)) => Err(Error::invalid(
            &[&format!("context.{field}")],
            "must be an id",
        )),
    }
}

/// The settled state of a call: status, result, error message, HTTP status.
struct Settled {
    status: &'static str,
    result: Option<Value>,
    error: Option<String>,
    http_status: Option<u16>,
    /// The error the caller gets after the invocation is settled, if any.
    failure: Option<(ToolCode, String)>,
}

impl Settled {
    fn placeholder(tool: &str, grant: &Grant, parameters: &Map<String, Value>) -> Self {
        Settled {
            status: "success",
            result: Some(json!({
                "tool_name": tool,
                "service": grant.service,
                "parameters": parameters,
                "message": format!(
                    "tool '{tool}' invoked through the server's proxy; the credential has no \
                     execution config (metadata.base_url), so nothing was called"
                ),
                "placeholder": true,
            })),
            error: None,
            http_status: None,
            failure: None,
        }
    }

    /// The outcome of a call, every secret value redacted.
    fn of(outcome: std::result::Result<Reply, Failure>, material: &Material) -> Self {
        match outcome {
            Ok(reply) => {
                let text = material.redact(&String::from_utf8_lossy(&reply.body));
                let result = serde_json::from_str::<Value>(&text).unwrap_or_else(
                    |_| json!({ "raw": text.chars().take(MAX_RAW_CHARS).collect::<String>() }),
                );
                let status = reply.status;
                let (settled, error, failure) = match status {
                    200..=299 => ("success", None, None),
                    500.. => {
                        let message = format!("the service answered HTTP {status}");
                        (
                            "error",
                            Some(message.clone()),
                            Some((ToolCode::ServiceError, message)),
                        )
                    }
                    _ => (
                        "error",
                        Some(format!("the service answered HTTP {status}")),
                        None,
                    ),
                };
                Settled {
                    status: settled,
                    result: Some(result),
                    error,
                    http_status: Some(status),
                    failure,
                }
            }
            Err(failure) => {
                let message = material.redact(&failure.to_string());
                let status = match failure {
                    Failure::Refused(_) => "denied",
                    _ => "error",
                };
                Settled {
                    status,
                    result: None,
                    error: Some(message.clone()),
                    http_status: None,
                    failure: Some((ToolCode::ProxyError, message)),
                }
            }
        }
    }
}

impl Tools {
    pub async fn invoke(&self, caller: &Caller, input: InvokeIn) -> Result<InvokeOut> {
        caller.principal.require(Scope::Agent)?;
        require_text(&input.tool_name, "tool_name", 200)?;
        let agent = self.attributed(caller, input.agent_id).await?;
        let parameters = as_map(object(input.parameters.unwrap_or_default(), "parameters")?);
        let context = input.context.unwrap_or_default();
        let work = Work {
            intent_id: context_text(&context, "intent_id", input.intent_id)?,
            task_id: context_text(&context, "task_id", input.task_id)?,
            plan_id: context_text(&context, "plan_id", None)?,
        };
        if let Some(intent_id) = &work.intent_id {
            self.intent(caller, intent_id).await?;
        }
        let id = match &input.idempotency_key {
            Some(key) => {
                require_text(key, "idempotency_key", 200)?;
                let id = keyed_id(caller, &agent, key);
                match self.document::<Invocation>(caller, &id).await {
                    Ok(earlier) => return replay(earlier.observed(now_ms())),
                    Err(Error::NotFound { .. }) => id,
                    Err(other) => return Err(other),
                }
            }
            None => ids::new_id(prefixes::INVOCATION),
        };
        let tool = input.tool_name;
        let started = now_ms();
        let mut change = self.change(caller).await?;
        let resolved = match change
            .resolve_grant(
                self,
                &agent,
                &tool,
                input.grant_id.as_deref(),
                &work,
                &parameters,
            )
            .await
        {
            Ok(resolved) => resolved,
            Err(refusal @ Error::Tool { .. }) => {
                drop(change);
                return Err(self.audit_denial(caller, &agent, &tool, refusal).await);
            }
            Err(other) => return Err(other),
        };
        let Resolved { grant, credential } = resolved;
        let mut invocation_context = Map::new();
        for (field, value) in [
            ("intent_id", &work.intent_id),
            ("task_id", &work.task_id),
            ("plan_id", &work.plan_id),
        ] {
            if let Some(value) = value {
                invocation_context.insert(field.into(), Value::from(value.as_str()));
            }
        }
        let mut invocation = Invocation {
            id: id.clone(),
            invocation_id: id.clone(),
            grant_id: grant.id.clone(),
            service: grant.service.clone(),
            tool: tool.clone(),
            agent_id: agent.clone(),
            parameters: redacted_parameters(&parameters),
            status: "pending".into(),
            result: None,
            error: None,
            cost: None,
            duration_ms: None,
            idempotency_key: input.idempotency_key,
            context: invocation_context,
            version: 1,
            timestamp: protocol_instant(started),
        };
        change
            .insert_document(
                &invocation,
                started,
                "an invocation with this idempotency_key is in progress",
            )
            .await?;
        let authorized = json!({
            "invocation_id": id, "grant_id": grant.id, "service": grant.service, "tool": tool,
            "parameters_summary": invocation.parameters,
        });
        change.audit("tool.authorized", &id, authorized).await?;
        change.commit().await?;

        let traceparent = caller
            .trace_id
            .as_deref()
            .map(|trace| crate::openintent::traceparent(trace, &id));
        let (settled, fingerprint, refreshed) = self
            .call(
                caller,
                &tool,
                &grant,
                &credential,
                &parameters,
                traceparent.as_deref(),
            )
            .await?;
        let finished = now_ms();
        invocation.status = settled.status.into();
        invocation.result = settled.result.clone();
        invocation.error = settled
            .error
            .as_ref()
            .map(|message| as_map(json!({ "message": message })));
        invocation.duration_ms = Some(finished - started);
        if let Some(status) = settled.http_status {
            invocation
                .context
                .insert("http_status".into(), Value::from(status));
        }
        if let Some(fingerprint) = fingerprint {
            invocation
                .context
                .insert("request_fingerprint".into(), Value::from(fingerprint));
        }
        invocation.version += 1;
        let mut change = self.change(caller).await?;
        change
            .save_document(&invocation, invocation.version - 1, finished)
            .await?;
        if let Some(token) = refreshed {
            self.seal_refreshed_token(&mut change, caller, &credential, token)
                .await?;
        }
        let payload = json!({
            "invocation_id": id, "grant_id": grant.id, "service": grant.service, "tool": tool,
            "parameters_summary": invocation.parameters, "status": invocation.status,
            "duration_ms": invocation.duration_ms, "http_status": settled.http_status,
        });
        match &work.intent_id {
            Some(intent_id) => {
                change
                    .record(NewEvent::new(intent_id, "tool.invoked", payload))
                    .await?;
            }
            None => change.audit("tool.invoked", &id, payload).await?,
        }
        change.commit().await?;
        match settled.failure {
            Some((code, message)) => Err(Error::Tool {
                code,
                message,
                details: json!({ "grant_id": grant.id, "invocation_id": id }),
            }),
            None => Ok(InvokeOut::of(&invocation, false)),
        }
    }

    /// Makes the call the credential describes (or none, for the placeholder result).
    async fn call(
        &self,
        caller: &Caller,
        tool: &str,
        grant: &Grant,
        credential: &Credential,
        parameters: &Map<String, Value>,
        traceparent: Option<&str>,
    ) -> Result<(Settled, Option<String>, Option<String>)> {
        let info = &credential.info;
        let Some(config) = ExecutionConfig::of(&info.metadata, &info.auth_type)? else {
            return Ok((Settled::placeholder(tool, grant, parameters), None, None));
        };
        let mut material = match &credential.sealed {
            Some(sealed) => Material::open(self.secrets(), &caller.tenant, &info.id, sealed)?,
            None => Material::default(),
        };
        let grant_hosts = grant.allowed_hosts();
        let call = Call {
            config: &config,
            tool,
            parameters,
            material: &material,
            grant_hosts: grant_hosts.as_deref(),
            traceparent,
        };
        match adapters::execute(self.outbound(), &call).await {
            Ok(Attempt {
                outcome,
                fingerprint,
                refreshed_token,
            }) => {
                if let Some(token) = &refreshed_token {
                    // Redacted too: a service may echo the token it was called with.
                    material.set("refreshed_access_token", token.clone());
                }
                let settled = Settled::of(outcome, &material);
                Ok((settled, Some(fingerprint), refreshed_token))
            }
            Err(refusal) => {
                let message = material.redact(&refusal.to_string());
                let settled = Settled {
                    status: "denied",
                    result: None,
                    error: Some(message.clone()),
                    http_status: None,
                    failure: Some((ToolCode::GrantParameterDenied, message)),
                };
                Ok((settled, None, None))
            }
        }
    }

    /// Seals a token an OAuth2 refresh obtained into the credential, unless the credential
    /// changed meanwhile (a rotation wins over a refresh).
    async fn seal_refreshed_token(
        &self,
        change: &mut crate::openintent::Change<'_>,
        caller: &Caller,
        used: &Credential,
        token: String,
    ) -> Result<()> {
        let mut current: Credential = change.document(self.store(), &used.info.id).await?;
        let Some(sealed) = current
            .sealed
            .as_ref()
            .filter(|_| current.info.version == used.info.version)
        else {
            return Ok(());
        };
        let mut material =
            Material::open(self.secrets(), &caller.tenant, &current.info.id, sealed)?;
        material.set("access_token", token);
        current.sealed = Some(material.seal(self.secrets(), &caller.tenant, &current.info.id)?);
        current.info.secret_fields = material.fields();
        current.info.version += 1;
        let now = now_ms();
        change
            .save_document(&current, current.info.version - 1, now)
            .await?;
        let data = json!({ "credential_id": current.info.id, "refreshed": "access_token" });
        change
            .audit("credential.token_refreshed", &current.info.id, data)
            .await
    }

    /// Audits a refusal as `tool.denied` (its own unit of work: the refused one rolled back)
    /// and hands the refusal back.
    async fn audit_denial(
        &self,
        caller: &Caller,
        agent: &str,
        tool: &str,
        refusal: Error,
    ) -> Error {
        let Error::Tool {
            code,
            message,
            details,
        } = &refusal
        else {
            return refusal;
        };
        let data = json!({
            "tool": tool, "error_code": code.as_str(), "reason": message, "grant_id": details["grant_id"],
        });
        let event = AuditEvent {
            event_type: "openintent.tool.denied",
            actor: agent,
            subject: tool,
            data,
        };
        match audit::append_alone(self.store(), &caller.tenant, event).await {
            Ok(()) => refusal,
            Err(err) => err,
        }
    }

    pub async fn record_invocation(&self, caller: &Caller, input: RecordIn) -> Result<Invocation> {
        caller.principal.require(Scope::Agent)?;
        let agent = self.attributed(caller, input.agent_id).await?;
        require_text(&input.tool, "tool", 200)?;
        let status = input.status.unwrap_or_else(|| "success".into());
        one_of(&status, &INVOCATION_STATUSES, "status")?;
        let objects = |value: Option<Value>, field: &str| -> Result<Option<Map<String, Value>>> {
            value
                .map(|value| object(value, field).map(as_map))
                .transpose()
        };
        let parameters = objects(input.parameters, "parameters")?.unwrap_or_default();
        let error = objects(input.error, "error")?;
        let cost = objects(input.cost, "cost")?;
        let context = objects(input.context, "context")?.unwrap_or_default();
        if input.duration_ms.is_some_and(|ms| ms < 0) {
            return Err(Error::invalid(&["duration_ms"], "must not be negative"));
        }
        let now = now_ms();
        let mut change = self.change(caller).await?;
        let grant = match change
            .document::<Grant>(self.store(), &input.grant_id)
            .await
        {
            Ok(grant) if grant.agent_id == agent => grant,
            Ok(_) => {
                return Err(refused(
                    ToolCode::GrantNotFound,
                    Some(&input.grant_id),
                    format!("grant {} is not agent '{agent}'s", input.grant_id),
                ))
            }
            Err(err) => return Err(err),
        };
        if grant.service != input.service {
            return Err(Error::invalid(
                &["service"],
                format!("the grant is for service '{}'", grant.service),
            ));
        }
        let id = ids::new_id(prefixes::INVOCATION);
        let invocation = Invocation {
            id: id.clone(),
            invocation_id: id.clone(),
            grant_id: grant.id,
            service: grant.service,
            tool: input.tool,
            agent_id: agent,
            parameters: redacted_parameters(&parameters),
            status,
            result: input.result,
            error,
            cost,
            duration_ms: input.duration_ms,
            idempotency_key: input.idempotency_key,
            context,
            version: 1,
            timestamp: protocol_instant(now),
        };
        change
            .insert_document(&invocation, now, "the invocation exists")
            .await?;
        let data = json!({
            "invocation_id": id, "grant_id": invocation.grant_id, "tool": invocation.tool,
            "status": invocation.status, "recorded": true,
        });
        change.audit("tool.invoked", &id, data).await?;
        change.commit().await?;
        Ok(invocation)
    }

    /// A grant's invocations, oldest first.
    pub async fn grant_invocations(
        &self,
        caller: &Caller,
        grant_id: &str,
        limit: i64,
    ) -> Result<Vec<Invocation>> {
        let _: Grant = self.document(caller, grant_id).await?;
        let query = DocumentQuery {
            kind: Invocation::KIND,
            parent: Some(grant_id),
            status: None,
            namespace: None,
            tags: &[],
            live_at: None,
            limit: limit.clamp(1, MAX_LIST),
            offset: 0,
        };
        let now = now_ms();
        let invocations: Vec<Invocation> = self.documents(caller, &query).await?;
        Ok(invocations.into_iter().map(|i| i.observed(now)).collect())
    }

    pub async fn get_invocation(&self, caller: &Caller, id: &str) -> Result<Invocation> {
        let invocation: Invocation = self.document(caller, id).await?;
        Ok(invocation.observed(now_ms()))
    }
}

/// The invocation id an idempotency key stands for (per tenant and agent).
fn keyed_id(caller: &Caller, agent: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{agent}\n{key}", caller.tenant));
    let hex: String = digest[..13].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}_{hex}", prefixes::INVOCATION)
}

fn replay(earlier: Invocation) -> Result<InvokeOut> {
    match earlier.status.as_str() {
        "pending" => Err(Error::Conflict(
            "an invocation with this idempotency_key is still in progress".into(),
        )),
        _ => Ok(InvokeOut::of(&earlier, true)),
    }
}
