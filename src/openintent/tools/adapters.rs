//! How a credential's calls are made: its execution config (read from its `metadata`, checked
//! when the credential is stored) and the three adapters that apply its secret material.
//!
//! - **REST** (`api_key`, `bearer_token`, `basic_auth`): `base_url` + the tool's endpoint
//!   (`endpoints.<tool>`: `path` with `{param}` placeholders, `method`, `headers`,
//!   `param_mapping` body or query); the key in a header (`auth.header_name`, optional
//!   `auth.header_prefix`) or a query parameter (`auth.location: query`, `auth.query_param`).
//! - **OAuth2** (`oauth2_token`, `oauth2_client_credentials`): as REST with the access token as
//!   bearer; on a 401, one token refresh at `token_url` (`client_credentials`, or
//!   `refresh_token` grant) and one retry; the new token is sealed back into the credential.
//! - **Webhook** (`adapter: webhook`): a POST of `{tool_name, parameters, timestamp}` to
//!   `base_url`, signed `X-OpenIntent-Signature: sha256=<HMAC-SHA256 of the body>` with the
//!   `signing_secret` when there is one.
//!
//! A credential without `base_url` has no execution config: invoking it answers a
//! placeholder result (what the reference server does), so agents can be built before the
//! service is wired.

use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::material::Material;
use crate::{
    error::{Error, Result},
    outbound::{clamp_timeout, target::TargetPolicy, Failure, Outbound, Reply},
    outbox::envelope::sign,
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const ADAPTERS: [&str; 3] = ["rest", "oauth2", "webhook"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Rest,
    OAuth2,
    Webhook,
}

/// Where a REST credential's key goes.
#[derive(Debug, Clone)]
enum KeyPlacement {
    Header { name: String, prefix: String },
    Query(String),
}

/// A credential's validated execution config.
#[derive(Debug, Clone)]
pub struct ExecutionConfig {
    pub adapter: Adapter,
    auth_type: String,
    base_url: Url,
    endpoints: Map<String, Value>,
    key: KeyPlacement,
    timeout: Duration,
    allowed_hosts: Option<Vec<String>>,
    token_url: Option<Url>,
    refresh_grant: String,
}

fn field_error(field: &str, message: impl Into<String>) -> Error {
    Error::invalid(&[&format!("metadata.{field}")], message)
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str, at: &str) -> Result<Option<&'a str>> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(field_error(&format!("{at}{name}"), "must be a string")),
    }
}

fn object<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<Option<&'a Map<String, Value>>> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(field_error(&format!("{at}{name}"), "must be an object")),
    }
}

fn url(raw: &str, field: &str) -> Result<Url> {
    Url::parse(raw)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
        .ok_or_else(|| field_error(field, "must be an absolute http or https URL"))
}

impl ExecutionConfig {
    /// The config `metadata` describes for a credential of `auth_type`; `None` without
    /// `base_url` (placeholder results). Checks shape only: [`Self::check_targets`] checks
    /// the addresses.
    pub fn of(metadata: &Map<String, Value>, auth_type: &str) -> Result<Option<Self>> {
        let Some(base_url) = text(metadata, "base_url", "")? else {
            return Ok(None);
        };
        let base_url = url(base_url, "base_url")?;
        let adapter = match text(metadata, "adapter", "")? {
            Some("rest") => Adapter::Rest,
            Some("oauth2") => Adapter::OAuth2,
            Some("webhook") => Adapter::Webhook,
            Some(_) => {
                return Err(field_error(
                    "adapter",
                    format!("must be one of {}", ADAPTERS.join(", ")),
                ))
            }
            None => match auth_type {
                "api_key" | "bearer_token" | "basic_auth" => Adapter::Rest,
                "oauth2_token" | "oauth2_client_credentials" => Adapter::OAuth2,
                _ => {
                    return Err(field_error(
                        "adapter",
                        format!(
                            "a {auth_type} credential with a base_url must name its adapter \
                             (one of {})",
                            ADAPTERS.join(", ")
                        ),
                    ))
                }
            },
        };
        let endpoints = object(metadata, "endpoints", "")?
            .cloned()
            .unwrap_or_default();
        for (tool, endpoint) in &endpoints {
            let at = format!("endpoints.{tool}.");
            let endpoint = endpoint
                .as_object()
                .ok_or_else(|| field_error(&format!("endpoints.{tool}"), "must be an object"))?;
            if let Some(method) = text(endpoint, "method", &at)? {
                if !["GET", "POST", "PUT", "PATCH", "DELETE"]
                    .contains(&method.to_uppercase().as_str())
                {
                    return Err(field_error(
                        &format!("{at}method"),
                        "must be GET, POST, PUT, PATCH or DELETE",
                    ));
                }
            }
            if let Some(path) = text(endpoint, "path", &at)? {
                if !path.starts_with('/') || path.contains("://") {
                    return Err(field_error(
                        &format!("{at}path"),
                        "must be a path starting with '/'",
                    ));
                }
            }
            if let Some(mapping) = text(endpoint, "param_mapping", &at)? {
                if !["body", "query"].contains(&mapping) {
                    return Err(field_error(
                        &format!("{at}param_mapping"),
                        "must be body or query",
                    ));
                }
            }
            for (name, value) in object(endpoint, "headers", &at)?.into_iter().flatten() {
                if !value.is_string()
                    || reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                {
                    return Err(field_error(
                        &format!("{at}headers.{name}"),
                        "must be a valid header with a string value",
                    ));
                }
            }
        }
        let auth = object(metadata, "auth", "")?.cloned().unwrap_or_default();
        let key = match text(&auth, "location", "auth.")? {
            None | Some("header") => {
                let name = text(&auth, "header_name", "auth.")?.unwrap_or("Authorization");
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(field_error(
                        "auth.header_name",
                        "must be a valid header name",
                    ));
                }
                let prefix = match (text(&auth, "header_prefix", "auth.")?, auth_type) {
                    (Some(prefix), _) => prefix.to_string(),
                    (None, "bearer_token") => "Bearer".into(),
                    (None, _) => String::new(),
                };
                KeyPlacement::Header {
                    name: name.to_string(),
                    prefix,
                }
            }
            Some("query") => KeyPlacement::Query(
                text(&auth, "query_param", "auth.")?
                    .unwrap_or("api_key")
                    .to_string(),
            ),
            Some(_) => return Err(field_error("auth.location", "must be header or query")),
        };
        let timeout_ms = match metadata.get("timeout_ms") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_i64()
                    .ok_or_else(|| field_error("timeout_ms", "must be an integer"))?,
            ),
        };
        let allowed_hosts = hosts(metadata.get("allowed_hosts"), "metadata.allowed_hosts")?;
        let token_url = text(metadata, "token_url", "")?
            .map(|raw| url(raw, "token_url"))
            .transpose()?;
        let refresh_grant = text(metadata, "token_grant_type", "")?
            .unwrap_or("client_credentials")
            .to_string();
        if !["client_credentials", "refresh_token"].contains(&refresh_grant.as_str()) {
            return Err(field_error(
                "token_grant_type",
                "must be client_credentials or refresh_token",
            ));
        }
        let config = ExecutionConfig {
            adapter,
            auth_type: auth_type.to_string(),
            base_url,
            endpoints,
            key,
            timeout: clamp_timeout(timeout_ms, DEFAULT_TIMEOUT),
            allowed_hosts,
            token_url,
            refresh_grant,
        };
        config.check_host(config.base_url.host_str().unwrap_or_default(), None)?;
        Ok(Some(config))
    }

    /// The addresses the config calls must be permitted targets now (400 otherwise).
    pub async fn check_targets(&self, targets: TargetPolicy) -> Result<()> {
        let mut urls = vec![("metadata.base_url", &self.base_url)];
        if let Some(token_url) = &self.token_url {
            urls.push(("metadata.token_url", token_url));
        }
        for (field, url) in urls {
            if let Err(refused) = targets.check(url.as_str()).await {
                return Err(Error::invalid(&[field], refused.to_string()));
            }
        }
        Ok(())
    }

    /// The secret fields the adapter needs, by name, for the 400 of a credential lacking one.
    pub fn check_material(&self, material: &Material) -> Result<()> {
        let needed: &[&[&str]] = match (self.adapter, self.auth_type.as_str()) {
            (Adapter::Webhook, _) => &[],
            (Adapter::OAuth2, _) => &[&["access_token", "client_id"]],
            (Adapter::Rest, "basic_auth") => &[&["username"], &["password"]],
            (Adapter::Rest, _) => &[&["api_key", "token"]],
        };
        for any_of in needed {
            if !any_of.iter().any(|field| material.has(field)) {
                return Err(Error::invalid(
                    &["secret"],
                    format!(
                        "this credential's calls need the secret field {}",
                        any_of.join(" or ")
                    ),
                ));
            }
        }
        if self.adapter == Adapter::OAuth2
            && !material.has("access_token")
            && !(self.token_url.is_some() && material.has("client_secret"))
        {
            return Err(Error::invalid(
                &["secret"],
                "an OAuth2 credential needs an access_token, or a token_url with client_id \
                 and client_secret",
            ));
        }
        Ok(())
    }

    /// Whether `host` is one the credential (and the grant's `allowed_hosts`) allows.
    fn check_host(&self, host: &str, grant_hosts: Option<&[String]>) -> Result<()> {
        let allowed = |list: &[String]| {
            list.iter()
                .any(|allowed| host == allowed || host.ends_with(&format!(".{allowed}")))
        };
        for list in [self.allowed_hosts.as_deref(), grant_hosts]
            .into_iter()
            .flatten()
        {
            if !allowed(list) {
                return Err(Error::invalid(
                    &["metadata.allowed_hosts"],
                    format!("host {host} is not among the allowed hosts"),
                ));
            }
        }
        Ok(())
    }
}

/// An `allowed_hosts` list: lower-case host names.
pub fn hosts(value: Option<&Value>, field: &str) -> Result<Option<Vec<String>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .filter(|host| !host.is_empty())
                    .map(|host| host.trim_end_matches('.').to_ascii_lowercase())
                    .ok_or_else(|| Error::invalid(&[field], "must be a list of host names"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(Error::invalid(&[field], "must be a list of host names")),
    }
}

/// One call to make.
pub struct Call<'a> {
    pub config: &'a ExecutionConfig,
    pub tool: &'a str,
    pub parameters: &'a Map<String, Value>,
    pub material: &'a Material,
    /// The grant's `allowed_hosts`.
    pub grant_hosts: Option<&'a [String]>,
    /// RFC-0020: the `traceparent` the call carries, when the invocation was traced.
    pub traceparent: Option<&'a str>,
}

/// What a call produced, before redaction.
pub struct Attempt {
    pub outcome: std::result::Result<Reply, Failure>,
    /// SHA-256 (16 hex digits) of method, URL without credentials, and parameters.
    pub fingerprint: String,
    /// An OAuth2 access token obtained by a refresh (to be sealed back), if one was.
    pub refreshed_token: Option<String>,
}

/// Why a call was not made at all (the grant's host rules, a parameter the path needs).
pub type Refused = Error;

/// Makes the call through `outbound`.
pub async fn execute(
    outbound: &Outbound,
    call: &Call<'_>,
) -> std::result::Result<Attempt, Refused> {
    match call.config.adapter {
        Adapter::Webhook => webhook(outbound, call).await,
        Adapter::Rest => rest(outbound, call, None).await,
        Adapter::OAuth2 => oauth2(outbound, call).await,
    }
}

fn traced(request: reqwest::RequestBuilder, call: &Call<'_>) -> reqwest::RequestBuilder {
    match call.traceparent {
        Some(traceparent) => request.header("traceparent", traceparent),
        None => request,
    }
}

/// Scalars as query or path text; anything else as JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn fingerprint(method: &Method, url: &Url, parameters: &Map<String, Value>) -> String {
    let digest = Sha256::digest(format!(
        "{method}|{url}|{}",
        Value::Object(parameters.clone())
    ));
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A REST call: with `bearer` (OAuth2's access token) instead of the credential's key.
async fn rest(
    outbound: &Outbound,
    call: &Call<'_>,
    bearer: Option<&str>,
) -> std::result::Result<Attempt, Refused> {
    let config = call.config;
    let endpoint = config
        .endpoints
        .get(call.tool)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let get = |name: &str| endpoint.get(name).and_then(Value::as_str);
    let method = Method::from_bytes(get("method").unwrap_or("POST").to_uppercase().as_bytes())
        .unwrap_or(Method::POST);
    let default_path = format!("/{}", call.tool);
    let template = get("path").unwrap_or(&default_path);
    let mut rest_of = call.parameters.clone();
    let mut path = String::new();
    let mut remaining = template;
    while let Some(open) = remaining.find('{') {
        let Some(close) = remaining[open..].find('}') else {
            break;
        };
        let name = &remaining[open + 1..open + close];
        let value = rest_of.remove(name).ok_or_else(|| {
            Error::invalid(
                &[&format!("parameters.{name}")],
                format!("the endpoint's path needs the parameter '{name}'"),
            )
        })?;
        path.push_str(&remaining[..open]);
        path.extend(url_segment(&as_text(&value)));
        remaining = &remaining[open + close + 1..];
    }
    path.push_str(remaining);
    let mut url = config.base_url.clone();
    let joined = format!("{}{}", config.base_url.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    config.check_host(url.host_str().unwrap_or_default(), call.grant_hosts)?;
    let in_query =
        matches!(method, Method::GET | Method::DELETE) || get("param_mapping") == Some("query");
    if in_query {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &rest_of {
            pairs.append_pair(name, &as_text(value));
        }
    }
    let fingerprint = fingerprint(&method, &url, call.parameters);
    let mut sent_url = url.clone();
    if let (KeyPlacement::Query(param), None) = (&config.key, bearer) {
        if let Some(key) = call.material.get("api_key").or(call.material.get("token")) {
            sent_url.query_pairs_mut().append_pair(param, key);
        }
    }
    let mut request = traced(outbound.request(method, sent_url.clone()), call);
    for (name, value) in endpoint
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        request = request.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    request = match (bearer, config.auth_type.as_str(), &config.key) {
        (Some(token), _, _) => request.bearer_auth(token),
        (None, "basic_auth", _) => request.basic_auth(
            call.material.get("username").unwrap_or_default(),
            call.material.get("password"),
        ),
        (None, _, KeyPlacement::Header { name, prefix }) => {
            match call.material.get("api_key").or(call.material.get("token")) {
                Some(key) if prefix.is_empty() => request.header(name.as_str(), key),
                Some(key) => request.header(name.as_str(), format!("{prefix} {key}")),
                None => request,
            }
        }
        (None, _, KeyPlacement::Query(_)) => request,
    };
    if !in_query {
        request = request
            .header("content-type", "application/json")
            .body(Value::Object(rest_of).to_string());
    }
    let outcome = outbound.send(&sent_url, request, config.timeout).await;
    Ok(Attempt {
        outcome,
        fingerprint,
        refreshed_token: None,
    })
}

/// Percent-encodes one path segment.
fn url_segment(raw: &str) -> impl Iterator<Item = char> + '_ {
    raw.bytes().flat_map(|byte| {
        let keep = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
        let text = match keep {
            true => (byte as char).to_string(),
            false => format!("%{byte:02X}"),
        };
        text.chars().collect::<Vec<_>>()
    })
}

async fn oauth2(outbound: &Outbound, call: &Call<'_>) -> std::result::Result<Attempt, Refused> {
    let mut refreshed_token = None;
    let token = match call.material.get("access_token") {
        Some(token) => token.to_string(),
        None => match refresh(outbound, call).await {
            Ok(token) => {
                refreshed_token = Some(token.clone());
                token
            }
            Err(failure) => return Ok(failed_refresh(call, failure)),
        },
    };
    let mut attempt = rest(outbound, call, Some(&token)).await?;
    let unauthorized = matches!(&attempt.outcome, Ok(reply) if reply.status == 401);
    if unauthorized && refreshed_token.is_none() && can_refresh(call) {
        match refresh(outbound, call).await {
            Ok(token) => {
                attempt = rest(outbound, call, Some(&token)).await?;
                refreshed_token = Some(token);
            }
            Err(failure) => return Ok(failed_refresh(call, failure)),
        }
    }
    attempt.refreshed_token = refreshed_token;
    Ok(attempt)
}

fn can_refresh(call: &Call<'_>) -> bool {
    let material = call.material;
    call.config.token_url.is_some()
        && match call.config.refresh_grant.as_str() {
            "refresh_token" => material.has("refresh_token"),
            _ => material.has("client_id") && material.has("client_secret"),
        }
}

fn failed_refresh(call: &Call<'_>, failure: Failure) -> Attempt {
    let token_url = call
        .config
        .token_url
        .clone()
        .unwrap_or(call.config.base_url.clone());
    Attempt {
        outcome: Err(Failure::Transport(format!(
            "the OAuth2 token refresh failed: {failure}"
        ))),
        fingerprint: fingerprint(&Method::POST, &token_url, &Map::new()),
        refreshed_token: None,
    }
}

/// A new access token from the credential's `token_url`.
async fn refresh(outbound: &Outbound, call: &Call<'_>) -> std::result::Result<String, Failure> {
    let config = call.config;
    let material = call.material;
    let token_url = config
        .token_url
        .clone()
        .filter(|_| can_refresh(call))
        .ok_or_else(|| {
            Failure::Transport("the credential has no way to refresh its token".into())
        })?;
    let mut form = vec![("grant_type", config.refresh_grant.as_str())];
    if config.refresh_grant == "refresh_token" {
        form.push((
            "refresh_token",
            material.get("refresh_token").unwrap_or_default(),
        ));
    }
    let mut request = outbound
        .request(Method::POST, token_url.clone())
        .form(&form);
    if let Some(client_id) = material.get("client_id") {
        request = request.basic_auth(client_id, material.get("client_secret"));
    }
    let reply = outbound.send(&token_url, request, config.timeout).await?;
    if !reply.is_success() {
        return Err(Failure::Transport(format!(
            "the token endpoint answered HTTP {}",
            reply.status
        )));
    }
    serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|body| body["access_token"].as_str().map(str::to_string))
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Failure::Transport("the token endpoint's answer has no access_token".into()))
}

async fn webhook(outbound: &Outbound, call: &Call<'_>) -> std::result::Result<Attempt, Refused> {
    let config = call.config;
    let url = config.base_url.clone();
    config.check_host(url.host_str().unwrap_or_default(), call.grant_hosts)?;
    let body = json!({
        "tool_name": call.tool,
        "parameters": call.parameters,
        "timestamp": crate::time::now_ms() / 1000,
    })
    .to_string();
    let mut request = traced(outbound.request(Method::POST, url.clone()), call)
        .header("content-type", "application/json");
    if let Some(secret) = call.material.get("signing_secret") {
        let signature = sign(secret, body.as_bytes());
        request = request.header("x-openintent-signature", format!("sha256={signature}"));
    }
    let fingerprint = fingerprint(&Method::POST, &url, call.parameters);
    let outcome = outbound
        .send(&url, request.body(body), config.timeout)
        .await;
    Ok(Attempt {
        outcome,
        fingerprint,
        refreshed_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn configs_are_read_from_metadata() {
        assert!(ExecutionConfig::of(&Map::new(), "api_key")
            .unwrap()
            .is_none());
        let rest = ExecutionConfig::of(
            &meta(json!({"base_url": "https://api.example.com"})),
            "api_key",
        )
        .unwrap()
        .unwrap();
        assert_eq!(rest.adapter, Adapter::Rest);
        let oauth = ExecutionConfig::of(
            &meta(json!({"base_url": "https://a.example.com"})),
            "oauth2_token",
        )
        .unwrap()
        .unwrap();
        assert_eq!(oauth.adapter, Adapter::OAuth2);
        for bad in [
            json!({"base_url": "ftp://x"}),
            json!({"base_url": "https://x.example.com", "adapter": "soap"}),
            json!({"base_url": "https://x.example.com", "endpoints": {"t": {"method": "TRACE"}}}),
            json!({"base_url": "https://x.example.com", "endpoints": {"t": {"path": "http://evil/"}}}),
            json!({"base_url": "https://x.example.com", "auth": {"location": "cookie"}}),
            json!({"base_url": "https://x.example.com", "allowed_hosts": ["y.example.com"]}),
        ] {
            assert!(
                ExecutionConfig::of(&meta(bad.clone()), "api_key").is_err(),
                "{bad}"
            );
        }
        assert!(ExecutionConfig::of(
            &meta(json!({"base_url": "https://x.example.com"})),
            "custom"
        )
        .is_err());
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(url_segment("a b/c").collect::<String>(), "a%20b%2Fc");
        assert_eq!(url_segment("ch_123").collect::<String>(), "ch_123");
    }
}
