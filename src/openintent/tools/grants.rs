//! Tool grants: creation (scopes no wider than the credential declares, constraints this
//! server enforces, or a 400), delegation (never wider than the source, depth decremented),
//! suspension, cascading revocation, and the resolution of the grant an invocation uses.
//!
//! **Resolution order** (for `POST /tools/invoke`): a `grant_id` the request names is used
//! as is (it must be the agent's, and cover the tool). Otherwise, among the agent's grants
//! that cover the tool — a scope equal to the tool name, or to it without the
//! `<service>.` prefix, or the tool in `context.tools`; after those, a grant whose service
//! is the tool name — the first usable one is taken, preferring: a scope match over a
//! service match, a grant bound to the invocation's task or intent over an unbound one,
//! direct over delegated, then the oldest. When none is usable the answer names why the
//! best one is not (expired, revoked, suspended, bound elsewhere, …); when the agent holds
//! grants on the service but none with the scope, `GRANT_SCOPE_INSUFFICIENT` lists the
//! scopes it has.
//!
//! `max_invocations_per_hour` counts the invocations of a grant in the current clock hour
//! (UTC), under the grant's row lock, so concurrent calls on any instance cannot pass it.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    adapters, prefixes, vaults::check_scopes, vaults::require_manager, Credential, Grant,
    Invocation,
};
use crate::{
    auth::identity::{check_acting_as, valid_agent_id},
    error::{Error, Result, ToolCode},
    ids,
    openintent::{
        documents::Document,
        records::{instant, require_text},
        tasks::Task,
        Caller, Change, Tools,
    },
    time::{now_ms, parse_instant, protocol_instant, DayBound, Millis},
};

const HOUR_MS: Millis = 3_600_000;
const CONTEXT_FIELDS: [&str; 3] = ["intent_id", "task_id", "plan_id"];

#[derive(Debug, Deserialize)]
pub struct GrantIn {
    pub credential_id: String,
    pub agent_id: String,
    pub granted_by: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub constraints: Option<Map<String, Value>>,
    #[serde(default)]
    pub delegatable: bool,
    #[serde(default)]
    pub delegation_depth: Option<i64>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `POST /grants/{id}/delegate`.
#[derive(Debug, Deserialize)]
pub struct DelegationIn {
    #[serde(alias = "target_agent_id")]
    pub agent_id: String,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub constraints: Option<Map<String, Value>>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// What an invocation is part of.
#[derive(Debug, Default, Clone)]
pub struct Work {
    pub intent_id: Option<String>,
    pub task_id: Option<String>,
    pub plan_id: Option<String>,
}

impl Work {
    fn get(&self, field: &str) -> Option<&str> {
        match field {
            "intent_id" => self.intent_id.as_deref(),
            "task_id" => self.task_id.as_deref(),
            _ => self.plan_id.as_deref(),
        }
    }
}

/// A refusal of the tool proxy naming `grant`.
pub(super) fn refused(code: ToolCode, grant: Option<&str>, message: impl Into<String>) -> Error {
    Error::Tool {
        code,
        message: message.into(),
        details: json!({ "grant_id": grant }),
    }
}

/// The constraint checks, from a grant's stored (validated) constraints.
#[derive(Debug, Default)]
struct Constraints {
    per_hour: Option<i64>,
    allowed: Map<String, Value>,
    denied: Map<String, Value>,
    hosts: Option<Vec<String>>,
}

impl Constraints {
    /// Validates what a request sends: only what this server enforces (a constraint it
    /// ignored would be a promise broken).
    fn parse(raw: Option<Map<String, Value>>) -> Result<Option<Map<String, Value>>> {
        let Some(raw) = raw else { return Ok(None) };
        let bad = |field: &str, message: &str| {
            Error::invalid(&[&format!("constraints.{field}")], message.to_string())
        };
        for (name, value) in &raw {
            match (name.as_str(), value) {
                (_, Value::Null) => {}
                ("max_invocations_per_hour", value) => {
                    if value.as_i64().is_none_or(|n| n < 1) {
                        return Err(bad(name, "must be a positive integer"));
                    }
                }
                ("allowed_parameters", Value::Object(rules)) => {
                    for (param, rule) in rules {
                        let bound = param.ends_with("_max") || param.ends_with("_min");
                        let fits = match bound {
                            true => rule.is_number() || rule.is_array(),
                            false => rule.is_array(),
                        };
                        if !fits {
                            return Err(bad(
                                &format!("{name}.{param}"),
                                "must be a list of allowed values (or a number for a _max/_min bound)",
                            ));
                        }
                    }
                }
                ("denied_parameters", Value::Object(rules)) => {
                    if rules.values().any(|rule| !rule.is_array()) {
                        return Err(bad(name, "must map parameters to lists of denied values"));
                    }
                }
                ("allowed_hosts", value) => {
                    adapters::hosts(Some(value), "constraints.allowed_hosts")?;
                }
                ("max_cost_per_invocation" | "ip_allowlist", _) => {
                    return Err(bad(
                        name,
                        "is not enforced by this server; leave it out (or null)",
                    ));
                }
                _ => return Err(bad(name, "is not a constraint this server knows")),
            }
        }
        Ok(Some(raw))
    }

    fn of(grant: &Grant) -> Self {
        let Some(stored) = &grant.constraints else {
            return Constraints::default();
        };
        let rules = |name: &str| {
            stored
                .get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Constraints {
            per_hour: stored
                .get("max_invocations_per_hour")
                .and_then(Value::as_i64),
            allowed: rules("allowed_parameters"),
            denied: rules("denied_parameters"),
            hosts: adapters::hosts(stored.get("allowed_hosts"), "allowed_hosts")
                .ok()
                .flatten(),
        }
    }

    /// Why `parameters` break the rules, if they do.
    fn check_parameters(&self, parameters: &Map<String, Value>) -> Option<String> {
        let at = |path: &str| lookup(parameters, path).cloned();
        for (name, rule) in &self.allowed {
            let (path, bound) = match (name.strip_suffix("_max"), name.strip_suffix("_min")) {
                (Some(path), _) if rule.is_number() => (path, Some(true)),
                (_, Some(path)) if rule.is_number() => (path, Some(false)),
                _ => (name.as_str(), None),
            };
            let Some(value) = at(path) else { continue };
            let fits = match bound {
                Some(is_max) => {
                    value
                        .as_f64()
                        .zip(rule.as_f64())
                        .is_some_and(|(v, limit)| match is_max {
                            true => v <= limit,
                            false => v >= limit,
                        })
                }
                None => rule
                    .as_array()
                    .is_some_and(|allowed| allowed.contains(&value)),
            };
            if !fits {
                return Some(format!(
                    "parameter '{path}' is outside what the grant allows ({name}: {rule})"
                ));
            }
        }
        for (path, denied) in &self.denied {
            if let Some(value) = at(path) {
                if denied
                    .as_array()
                    .is_some_and(|denied| denied.contains(&value))
                {
                    return Some(format!("parameter '{path}' has a value the grant denies"));
                }
            }
        }
        None
    }
}

/// The value at a dotted path (`metadata.test_mode`) of the parameters.
fn lookup<'a>(parameters: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = parameters.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

/// A context binding: only `intent_id`, `task_id`, `plan_id` (strings) and `tools` (names).
fn parse_context(raw: Option<Map<String, Value>>) -> Result<Map<String, Value>> {
    let raw = raw.unwrap_or_default();
    for (name, value) in &raw {
        let fits = match name.as_str() {
            "intent_id" | "task_id" | "plan_id" => value.is_string() || value.is_null(),
            "tools" => value
                .as_array()
                .is_some_and(|tools| tools.iter().all(Value::is_string)),
            _ => false,
        };
        if !fits {
            return Err(Error::invalid(
                &[&format!("context.{name}")],
                "a grant's context holds intent_id, task_id, plan_id (ids) and tools (names)",
            ));
        }
    }
    Ok(raw
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .collect())
}

fn future_instant(raw: Option<&str>, now: Millis) -> Result<Option<String>> {
    let at = instant(raw, "expires_at")?;
    match at
        .as_deref()
        .and_then(|at| parse_instant(at, DayBound::Start))
    {
        Some(at) if at <= now => Err(Error::invalid(&["expires_at"], "must be in the future")),
        _ => Ok(at),
    }
}

/// Whether `b` ends no later than `a` does (`None`: never).
fn ends_by(b: Option<&str>, a: Option<&str>) -> bool {
    let ms = |at: Option<&str>| at.and_then(|at| parse_instant(at, DayBound::Start));
    match (ms(a), ms(b)) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b <= a,
    }
}

impl Tools {
    pub async fn create_grant(&self, caller: &Caller, input: GrantIn) -> Result<Grant> {
        require_manager(caller)?;
        if !valid_agent_id(&input.agent_id) {
            return Err(Error::invalid(&["agent_id"], "must be an agent id"));
        }
        require_text(&input.granted_by, "granted_by", 200)?;
        check_scopes(&input.scopes, "scopes")?;
        let constraints = Constraints::parse(input.constraints)?;
        let context = parse_context(input.context)?;
        let now = now_ms();
        let expires_at = future_instant(input.expires_at.as_deref(), now)?;
        let depth = input
            .delegation_depth
            .unwrap_or(i64::from(input.delegatable));
        if depth < 0 || (!input.delegatable && depth != 0) {
            return Err(Error::invalid(
                &["delegation_depth"],
                "must be 0 for a grant that is not delegatable, and not negative",
            ));
        }
        let mut change = self.change(caller).await?;
        let credential: Credential = change.document(self.store(), &input.credential_id).await?;
        let credential = credential.info.observed(now);
        if credential.status != "active" {
            return Err(Error::Conflict(format!(
                "the credential is {}",
                credential.status
            )));
        }
        let undeclared: Vec<&String> = input
            .scopes
            .iter()
            .filter(|scope| !credential.scopes_available.contains(scope))
            .collect();
        if !undeclared.is_empty() {
            return Err(Error::invalid(
                &["scopes"],
                format!(
                    "the credential does not declare {undeclared:?} (its scopes_available: {:?})",
                    credential.scopes_available
                ),
            ));
        }
        if !ends_by(expires_at.as_deref(), credential.expires_at.as_deref()) {
            return Err(Error::invalid(
                &["expires_at"],
                "must not be after the credential expires",
            ));
        }
        let grant = Grant {
            id: ids::new_id(prefixes::GRANT),
            credential_id: credential.id,
            service: credential.service,
            agent_id: input.agent_id,
            granted_by: input.granted_by,
            scopes: input.scopes,
            constraints,
            source: "direct".into(),
            delegatable: input.delegatable,
            delegation_depth: Some(depth),
            delegated_from: None,
            context,
            status: "active".into(),
            expires_at,
            version: 1,
            created_at: protocol_instant(now),
            revoked_at: None,
        };
        issue(change, grant, now, "grant.created", json!({})).await
    }

    pub async fn get_grant(&self, caller: &Caller, id: &str) -> Result<Grant> {
        let grant: Grant = self.document(caller, id).await?;
        Ok(grant.observed(now_ms()))
    }

    /// An agent's grants, oldest first (every status).
    pub async fn agent_grants(&self, caller: &Caller, agent_id: &str) -> Result<Vec<Grant>> {
        let query = crate::store::openintent::documents::DocumentQuery {
            kind: Grant::KIND,
            parent: Some(agent_id),
            status: None,
            namespace: None,
            tags: &[],
            live_at: None,
            limit: 1_000,
            offset: 0,
        };
        let grants: Vec<Grant> = self.documents(caller, &query).await?;
        let now = now_ms();
        Ok(grants
            .into_iter()
            .map(|grant| grant.observed(now))
            .collect())
    }

    /// RFC-0014 §2.3: the tools an agent may use now, one per scope of each usable grant.
    pub async fn granted_tools(&self, caller: &Caller, agent_id: &str) -> Result<Value> {
        let tools: Vec<Value> = self
            .agent_grants(caller, agent_id)
            .await?
            .into_iter()
            .filter(|grant| grant.status == "active")
            .flat_map(|grant| {
                grant
                    .scopes
                    .iter()
                    .map(|scope| {
                        json!({
                            "grant_id": grant.id, "service": grant.service, "tool": scope,
                            "constraints": grant.constraints.clone().unwrap_or_default(),
                            "source": grant.source, "delegated_from": grant.delegated_from,
                            "context": grant.context, "expires_at": grant.expires_at,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(json!({ "agent_id": agent_id, "tools": tools }))
    }

    /// Revokes a grant and every grant delegated from it: `grant.revoked` for each.
    pub async fn revoke_grant(&self, caller: &Caller, id: &str) -> Result<usize> {
        let mut change = self.change(caller).await?;
        let grant: Grant = change.document(self.store(), id).await?;
        may_withdraw(caller, &grant)?;
        let family: Vec<Grant> = change.documents_in::<Grant>(&grant.credential_id).await?;
        let doomed = descendants(&family, id);
        let revoked = revoke_all(&mut change, doomed, "revoked").await?;
        if revoked == 0 {
            // Already revoked: said again, and the unit of work records the request.
            change
                .audit(
                    "grant.revoked",
                    id,
                    json!({ "grant_id": id, "already": true }),
                )
                .await?;
        }
        change.commit().await?;
        Ok(revoked)
    }

    /// Suspends (`suspend`) or resumes a grant; its delegated grants follow it, as each
    /// invocation checks the whole chain.
    pub async fn set_grant_suspended(
        &self,
        caller: &Caller,
        id: &str,
        suspend: bool,
    ) -> Result<Grant> {
        require_manager(caller)?;
        let now = now_ms();
        let mut change = self.change(caller).await?;
        let mut grant: Grant = change.document(self.store(), id).await?;
        let (from, to, event) = match suspend {
            true => ("active", "suspended", "grant.suspended"),
            false => ("suspended", "active", "grant.resumed"),
        };
        let observed = grant.clone().observed(now).status;
        if observed != from {
            return Err(Error::InvalidTransition {
                action: if suspend { "suspend" } else { "resume" },
                from: observed,
            });
        }
        grant.status = to.into();
        grant.version += 1;
        change.save_document(&grant, grant.version - 1, now).await?;
        audit_grant(&mut change, &grant, event, json!({})).await?;
        change.commit().await?;
        Ok(grant)
    }

    /// RFC-0014 §5.1: the grant's agent passes a subset of it to another agent.
    pub async fn delegate_grant(
        &self,
        caller: &Caller,
        id: &str,
        input: DelegationIn,
    ) -> Result<Grant> {
        if !valid_agent_id(&input.agent_id) {
            return Err(Error::invalid(&["agent_id"], "must be an agent id"));
        }
        let now = now_ms();
        let mut change = self.change(caller).await?;
        let source: Grant = change.document(self.store(), id).await?;
        check_acting_as(
            self.store(),
            &caller.principal,
            &source.agent_id,
            "delegate a grant of",
        )
        .await?;
        let source = source.observed(now);
        if source.status != "active" {
            return Err(Error::Conflict(format!("the grant is {}", source.status)));
        }
        if !source.delegatable || source.delegation_depth.is_some_and(|depth| depth < 1) {
            return Err(Error::Forbidden("this grant may not be delegated".into()));
        }
        let scopes = input.scopes.unwrap_or_else(|| source.scopes.clone());
        check_scopes(&scopes, "scopes")?;
        if let Some(wider) = scopes.iter().find(|scope| !source.scopes.contains(scope)) {
            return Err(Error::invalid(
                &["scopes"],
                format!("'{wider}' is not among the source grant's scopes"),
            ));
        }
        let mut constraints = Constraints::parse(input.constraints)?.unwrap_or_default();
        let source_limit = Constraints::of(&source).per_hour;
        match (
            source_limit,
            constraints
                .get("max_invocations_per_hour")
                .and_then(Value::as_i64),
        ) {
            (Some(source), Some(asked)) if asked > source => {
                return Err(Error::invalid(
                    &["constraints.max_invocations_per_hour"],
                    format!("must not exceed the source grant's {source}"),
                ))
            }
            (Some(source), None) => {
                constraints.insert("max_invocations_per_hour".into(), Value::from(source));
            }
            _ => {}
        }
        let mut context = parse_context(input.context)?;
        for field in CONTEXT_FIELDS {
            match (
                source.bound_to(field),
                context.get(field).and_then(Value::as_str),
            ) {
                (Some(bound), Some(asked)) if bound != asked && field != "task_id" => {
                    return Err(Error::invalid(
                        &[&format!("context.{field}")],
                        "must be the source grant's",
                    ))
                }
                (Some(bound), None) => {
                    context.insert(field.into(), Value::from(bound));
                }
                _ => {}
            }
        }
        let expires_at =
            future_instant(input.expires_at.as_deref(), now)?.or(source.expires_at.clone());
        if !ends_by(expires_at.as_deref(), source.expires_at.as_deref()) {
            return Err(Error::invalid(
                &["expires_at"],
                "must not be after the source grant expires",
            ));
        }
        let depth = source.delegation_depth.map(|depth| depth - 1);
        let grant = Grant {
            id: ids::new_id(prefixes::GRANT),
            credential_id: source.credential_id.clone(),
            service: source.service.clone(),
            agent_id: input.agent_id,
            granted_by: source.agent_id.clone(),
            scopes,
            constraints: (!constraints.is_empty()).then_some(constraints),
            source: "delegated".into(),
            delegatable: depth.is_none_or(|depth| depth > 0),
            delegation_depth: depth,
            delegated_from: Some(source.id.clone()),
            context,
            status: "active".into(),
            expires_at,
            version: 1,
            created_at: protocol_instant(now),
            revoked_at: None,
        };
        let extra =
            json!({ "source_grant_id": source.id, "delegation_depth": grant.delegation_depth });
        issue(change, grant, now, "grant.delegated", extra).await
    }
}

/// Stores a new grant, audits it as `event` and commits.
async fn issue(
    mut change: Change<'_>,
    grant: Grant,
    now: Millis,
    event: &str,
    extra: Value,
) -> Result<Grant> {
    change
        .insert_document(&grant, now, "the grant exists")
        .await?;
    audit_grant(&mut change, &grant, event, extra).await?;
    change.commit().await?;
    Ok(grant)
}

/// An admin key, or the agent a grant was delegated by, may withdraw it.
fn may_withdraw(caller: &Caller, grant: &Grant) -> Result<()> {
    let delegator = grant.source == "delegated" && caller.principal.may_act_as(&grant.granted_by);
    match delegator {
        true => Ok(()),
        false => require_manager(caller),
    }
}

/// `root` and every grant delegated from it, down the chain, among `family`.
fn descendants(family: &[Grant], root: &str) -> Vec<Grant> {
    let mut found: Vec<Grant> = family.iter().filter(|g| g.id == root).cloned().collect();
    let mut next = 0;
    while next < found.len() {
        let parent = found[next].id.clone();
        found.extend(
            family
                .iter()
                .filter(|g| g.delegated_from.as_deref() == Some(&parent))
                .cloned(),
        );
        next += 1;
    }
    found
}

/// Revokes each grant not revoked yet; how many it revoked.
pub(super) async fn revoke_all(
    change: &mut Change<'_>,
    grants: Vec<Grant>,
    reason: &str,
) -> Result<usize> {
    let now = now_ms();
    let mut revoked = 0;
    for mut grant in grants {
        if grant.status == "revoked" {
            continue;
        }
        grant.status = "revoked".into();
        grant.revoked_at = Some(protocol_instant(now));
        grant.version += 1;
        change.save_document(&grant, grant.version - 1, now).await?;
        audit_grant(change, &grant, "grant.revoked", json!({ "reason": reason })).await?;
        revoked += 1;
    }
    Ok(revoked)
}

async fn audit_grant(
    change: &mut Change<'_>,
    grant: &Grant,
    event: &str,
    extra: Value,
) -> Result<()> {
    let mut data = json!({
        "grant_id": grant.id, "credential_id": grant.credential_id, "agent_id": grant.agent_id,
        "scopes": grant.scopes, "expires_at": grant.expires_at,
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    change.audit(event, &grant.id, data).await
}

/// How a grant covers a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Coverage {
    Scope,
    Service,
}

fn coverage(grant: &Grant, tool: &str) -> Option<Coverage> {
    let scoped = tool.strip_prefix(&format!("{}.", grant.service));
    let by_scope = grant
        .scopes
        .iter()
        .any(|scope| scope == tool || Some(scope.as_str()) == scoped);
    let listed = grant
        .context
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| tools.iter().any(|t| t.as_str() == Some(tool)));
    match (by_scope || listed, grant.service == tool) {
        (true, _) => Some(Coverage::Scope),
        (false, true) => Some(Coverage::Service),
        _ => None,
    }
}

/// The grant an invocation will use, checked and locked, with its credential.
pub(super) struct Resolved {
    pub grant: Grant,
    pub credential: Credential,
}

impl Change<'_> {
    /// Resolves, locks and checks the grant `agent` would use for `tool` (see the module's
    /// order), and checks the invocation against it: its chain, credential, context,
    /// parameter rules and hourly limit.
    pub(super) async fn resolve_grant(
        &mut self,
        tools: &Tools,
        agent: &str,
        tool: &str,
        named: Option<&str>,
        work: &Work,
        parameters: &Map<String, Value>,
    ) -> Result<Resolved> {
        let now = now_ms();
        let candidates: Vec<Grant> = match named {
            Some(id) => match self.document::<Grant>(tools.store(), id).await {
                Ok(grant) if grant.agent_id == agent => vec![grant],
                Ok(_) | Err(Error::NotFound { .. }) => {
                    return Err(refused(
                        ToolCode::GrantNotFound,
                        Some(id),
                        format!("agent '{agent}' holds no grant {id}"),
                    ))
                }
                Err(other) => return Err(other),
            },
            None => self.documents_of::<Grant>(agent).await?,
        };
        let mut covering: Vec<(Coverage, &Grant)> = candidates
            .iter()
            .filter_map(|grant| coverage(grant, tool).map(|how| (how, grant)))
            .collect();
        if covering.is_empty() {
            return Err(uncovered(&candidates, agent, tool, named));
        }
        let bound_here = |grant: &Grant| {
            CONTEXT_FIELDS.iter().any(|field| {
                grant.bound_to(field).is_some() && grant.bound_to(field) == work.get(field)
            })
        };
        covering.sort_by_key(|(how, grant)| {
            (
                *how,
                !bound_here(grant),
                grant.source != "direct",
                grant.created_at.clone(),
            )
        });
        let mut first_refusal = None;
        for (_, grant) in covering {
            let locked: Grant = self.document(tools.store(), &grant.id).await?;
            match self.usable(tools, locked, work, parameters, now).await {
                Ok(resolved) => return Ok(resolved),
                Err(refusal @ Error::Tool { .. }) => {
                    first_refusal.get_or_insert(refusal);
                }
                Err(other) => return Err(other),
            }
        }
        Err(first_refusal.expect("at least one grant covers the tool"))
    }

    async fn usable(
        &mut self,
        tools: &Tools,
        grant: Grant,
        work: &Work,
        parameters: &Map<String, Value>,
        now: Millis,
    ) -> Result<Resolved> {
        let grant = grant.observed(now);
        let id = Some(grant.id.as_str());
        let mut chain = vec![grant.clone()];
        while let Some(parent) = chain.last().and_then(|g| g.delegated_from.clone()) {
            let parent: Grant = self.document(tools.store(), &parent).await?;
            chain.push(parent.observed(now));
        }
        for link in &chain {
            let code = match link.status.as_str() {
                "active" => continue,
                "expired" => ToolCode::GrantExpired,
                "suspended" => ToolCode::GrantSuspended,
                _ => ToolCode::GrantRevoked,
            };
            let whose = if link.id == grant.id {
                ""
            } else {
                " (the grant it was delegated from)"
            };
            return Err(refused(
                code,
                id,
                format!("grant {} is {}{whose}", link.id, link.status),
            ));
        }
        for field in CONTEXT_FIELDS {
            if let Some(bound) = grant.bound_to(field) {
                if work.get(field) != Some(bound) {
                    return Err(refused(
                        ToolCode::GrantContextMismatch,
                        id,
                        format!("grant {} is bound to {field} {bound}; name it in the invocation's context", grant.id),
                    ));
                }
            }
        }
        if let Some(task_id) = grant.bound_to("task_id") {
            let running = match self.document::<Task>(tools.store(), task_id).await {
                Ok(task) => task.status.as_str() == "running",
                Err(Error::NotFound { .. }) => false,
                Err(other) => return Err(other),
            };
            if !running {
                return Err(refused(
                    ToolCode::GrantContextMismatch,
                    id,
                    format!("task {task_id} is not running"),
                ));
            }
        }
        let credential: Credential = self.document(tools.store(), &grant.credential_id).await?;
        match credential.info.clone().observed(now).status.as_str() {
            "active" => {}
            "expired" => {
                return Err(refused(
                    ToolCode::CredentialExpired,
                    id,
                    "the grant's credential has expired",
                ))
            }
            _ => {
                return Err(refused(
                    ToolCode::CredentialRevoked,
                    id,
                    "the grant's credential is revoked",
                ))
            }
        }
        for link in &chain {
            if let Some(why) = Constraints::of(link).check_parameters(parameters) {
                return Err(refused(ToolCode::GrantParameterDenied, id, why));
            }
        }
        if let Some(limit) = Constraints::of(&grant).per_hour {
            let hour_start = now - now.rem_euclid(HOUR_MS);
            let used = self
                .count_documents_since::<Invocation>(&grant.id, hour_start)
                .await?;
            if used >= limit {
                let retry_after = (hour_start + HOUR_MS - now + 999) / 1000;
                return Err(Error::Tool {
                    code: ToolCode::GrantRateLimited,
                    message: format!("grant {} allows {limit} invocations per hour", grant.id),
                    details: json!({ "grant_id": grant.id, "retry_after_seconds": retry_after }),
                });
            }
        }
        Ok(Resolved { grant, credential })
    }
}

impl Grant {
    /// The grant's `allowed_hosts` constraint.
    pub fn allowed_hosts(&self) -> Option<Vec<String>> {
        Constraints::of(self).hosts
    }
}

/// The refusal when no grant covers the tool.
fn uncovered(candidates: &[Grant], agent: &str, tool: &str, named: Option<&str>) -> Error {
    let on_service: Vec<&Grant> = candidates
        .iter()
        .filter(|grant| tool.starts_with(&format!("{}.", grant.service)) || named.is_some())
        .collect();
    match on_service.first() {
        Some(grant) => Error::Tool {
            code: ToolCode::GrantScopeInsufficient,
            message: format!("grant {} does not include '{tool}'", grant.id),
            details: json!({
                "grant_id": grant.id,
                "requested_scope": tool,
                "available_scopes": on_service.iter().flat_map(|g| g.scopes.iter()).collect::<Vec<_>>(),
            }),
        },
        None => refused(
            ToolCode::GrantNotFound,
            None,
            format!("no grant lets agent '{agent}' use tool '{tool}'"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, from: Option<&str>) -> Grant {
        Grant {
            id: id.into(),
            credential_id: "cred".into(),
            service: "stripe".into(),
            agent_id: "a".into(),
            granted_by: "u".into(),
            scopes: vec!["charges.read".into()],
            constraints: None,
            source: "direct".into(),
            delegatable: true,
            delegation_depth: Some(1),
            delegated_from: from.map(str::to_string),
            context: Map::new(),
            status: "active".into(),
            expires_at: None,
            version: 1,
            created_at: "2026-01-01T00:00:00.000+00:00".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn tools_are_covered_by_scope_then_service() {
        let g = grant("g", None);
        assert_eq!(coverage(&g, "charges.read"), Some(Coverage::Scope));
        assert_eq!(coverage(&g, "stripe.charges.read"), Some(Coverage::Scope));
        assert_eq!(coverage(&g, "stripe"), Some(Coverage::Service));
        assert_eq!(coverage(&g, "refunds.create"), None);
        assert_eq!(coverage(&g, "github.charges.read"), None);
    }

    #[test]
    fn revocation_reaches_every_descendant() {
        let family = vec![
            grant("a", None),
            grant("b", Some("a")),
            grant("c", Some("b")),
            grant("d", None),
        ];
        let ids: Vec<String> = descendants(&family, "a")
            .into_iter()
            .map(|g| g.id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn parameter_rules_are_enforced() {
        let raw = json!({
            "allowed_parameters": {"currency": ["usd", "eur"], "amount_max": 500},
            "denied_parameters": {"metadata.test_mode": [true]},
        });
        let stored = Constraints::parse(raw.as_object().cloned()).unwrap();
        let mut g = grant("g", None);
        g.constraints = stored;
        let rules = Constraints::of(&g);
        let check = |params: Value| rules.check_parameters(params.as_object().unwrap());
        assert_eq!(check(json!({"currency": "usd", "amount": 100})), None);
        assert!(check(json!({"currency": "gbp"})).is_some());
        assert!(check(json!({"amount": 501})).is_some());
        assert!(check(json!({"metadata": {"test_mode": true}})).is_some());
        assert_eq!(check(json!({"metadata": {"test_mode": false}})), None);
    }

    #[test]
    fn unenforced_constraints_are_refused() {
        for bad in [
            json!({"ip_allowlist": ["10.0.0.1"]}),
            json!({"max_cost_per_invocation": 2.5}),
            json!({"max_invocations_per_hour": 0}),
            json!({"allowed_parameters": {"currency": "usd"}}),
            json!({"surprise": 1}),
        ] {
            assert!(
                Constraints::parse(bad.as_object().cloned()).is_err(),
                "{bad}"
            );
        }
        let nulls = json!({"ip_allowlist": null, "max_cost_per_invocation": null});
        assert!(Constraints::parse(nulls.as_object().cloned()).is_ok());
    }
}
