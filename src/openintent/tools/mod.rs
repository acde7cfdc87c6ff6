//! RFC-0014 credential vaults and tool scoping: agents use external services without ever
//! holding their credentials.
//!
//! A tenant's admin keeps service credentials in vaults ([`vaults`]); the secret material is
//! sealed under the server's key ([`material`], the secrets module), bound to its credential,
//! and is never answered, logged or copied into a record. A grant ([`grants`]) lets one agent
//! use a credential for some of the scopes it declares, within constraints (calls per hour,
//! parameter rules, hosts), until it expires or is revoked (revocation cascades down the
//! grants delegated from it). An agent invokes a tool through the server ([`invoke`]): the
//! grant is resolved, checked and the call recorded before anything is sent; the call goes
//! out through the shared outbound client with the credential applied by the adapter the
//! credential names ([`adapters`]); what comes back has every secret value redacted.

pub mod adapters;
pub mod grants;
pub mod invoke;
pub mod material;
pub mod vaults;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::documents::{identified_by, Columns, Document};
use crate::time::{parse_instant, DayBound, Millis};

pub const AUTH_TYPES: [&str; 7] = [
    "api_key",
    "oauth2_token",
    "oauth2_client_credentials",
    "bearer_token",
    "basic_auth",
    "connection_string",
    "custom",
];
pub const INVOCATION_STATUSES: [&str; 3] = ["success", "denied", "error"];

/// Id prefixes.
pub mod prefixes {
    pub const VAULT: &str = "vault";
    pub const CREDENTIAL: &str = "cred";
    pub const GRANT: &str = "grant";
    pub const INVOCATION: &str = "inv";
}

/// Whether an optional instant (as stored) is at or before `now`.
fn passed(at: Option<&str>, now: Millis) -> bool {
    at.and_then(|at| parse_instant(at, DayBound::Start))
        .is_some_and(|at| at <= now)
}

/// A vault: a named set of credentials owned by a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vault {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    /// Its credentials' ids, oldest first.
    pub credentials: Vec<String>,
    pub version: i64,
    pub created_at: String,
}

impl Document for Vault {
    const KIND: &'static str = "vault";
    const WHAT: &'static str = "vault";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.owner_id.clone(),
            status: "active".into(),
            unique_key: Some(serde_json::json!(["vault", self.owner_id, self.name]).to_string()),
            ..Columns::default()
        }
    }
}

/// What a credential shows: everything but its sealed material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialInfo {
    pub id: String,
    pub vault_id: String,
    pub service: String,
    pub label: String,
    pub auth_type: String,
    pub scopes_available: Vec<String>,
    /// `active` or `revoked` as stored; `expired` once past `expires_at`.
    pub status: String,
    /// How calls are made (`base_url`, `endpoints`, `auth`, `adapter`, `token_url`, …);
    /// never a secret (secret fields sent here are moved into the sealed material).
    pub metadata: Map<String, Value>,
    /// The names of the secret fields the sealed material holds (`api_key`, …), not values.
    pub secret_fields: Vec<String>,
    pub version: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl CredentialInfo {
    /// The credential as it stands at `now`.
    pub fn observed(mut self, now: Millis) -> Self {
        if self.status == "active" && passed(self.expires_at.as_deref(), now) {
            self.status = "expired".into();
        }
        self
    }
}

/// A stored credential: what it shows, and its sealed secret material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    #[serde(flatten)]
    pub info: CredentialInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<material::SealedMaterial>,
}

impl Document for Credential {
    const KIND: &'static str = "credential";
    const WHAT: &'static str = "credential";

    identified_by!(info.id, info.version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.info.vault_id.clone(),
            status: self.info.status.clone(),
            namespace: Some(self.info.service.clone()),
            ..Columns::default()
        }
    }
}

/// A tool grant: one agent may use one credential for `scopes`, within `constraints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub credential_id: String,
    /// The credential's service, copied so resolution reads no credential per candidate.
    pub service: String,
    pub agent_id: String,
    pub granted_by: String,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Map<String, Value>>,
    /// `direct`, or `delegated` (from `delegated_from`).
    pub source: String,
    pub delegatable: bool,
    /// How many more times it may be delegated; `None`: without limit.
    pub delegation_depth: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_from: Option<String>,
    /// `{intent_id, task_id, plan_id, tools}`: what the grant is bound to, if anything.
    pub context: Map<String, Value>,
    /// `active`, `suspended` or `revoked` as stored; `expired` once past `expires_at`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub version: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl Grant {
    pub fn observed(mut self, now: Millis) -> Self {
        if matches!(self.status.as_str(), "active" | "suspended")
            && passed(self.expires_at.as_deref(), now)
        {
            self.status = "expired".into();
        }
        self
    }

    /// A context binding (`intent_id`, `task_id`, `plan_id`), if set.
    pub fn bound_to(&self, field: &str) -> Option<&str> {
        self.context.get(field).and_then(Value::as_str)
    }
}

impl Document for Grant {
    const KIND: &'static str = "grant";
    const WHAT: &'static str = "grant";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.agent_id.clone(),
            status: self.status.clone(),
            namespace: Some(self.credential_id.clone()),
            ..Columns::default()
        }
    }
}

/// One invocation of a grant: recorded before the call is made (`pending`), settled after.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    /// The resource id, as every resource has; `invocation_id` again for the RFC's readers.
    pub id: String,
    pub invocation_id: String,
    pub grant_id: String,
    pub service: String,
    pub tool: String,
    pub agent_id: String,
    /// As sent, with secret-looking fields redacted.
    pub parameters: Map<String, Value>,
    /// `pending` while the call is out; then `success`, `denied` or `error`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// `intent_id`, `task_id` of the work; `http_status` and `request_fingerprint` of a
    /// proxied call.
    pub context: Map<String, Value>,
    pub version: i64,
    pub timestamp: String,
}

impl Invocation {
    /// A call still `pending` long after the longest a call may take was cut short by a
    /// stop of the server: it reads as an error, since its outcome is unknown.
    pub fn observed(mut self, now: Millis) -> Self {
        let deadline = parse_instant(&self.timestamp, DayBound::Start).map(|at| {
            at + 2 * crate::outbound::MAX_TIMEOUT.as_millis() as Millis + invoke::SETTLE_MARGIN_MS
        });
        if self.status == "pending" && deadline.is_some_and(|deadline| deadline < now) {
            self.status = "error".into();
            let mut error = Map::new();
            error.insert(
                "message".into(),
                Value::from("the server stopped before the outcome of this call was recorded"),
            );
            self.error = Some(error);
        }
        self
    }
}

impl Document for Invocation {
    const KIND: &'static str = "invocation";
    const WHAT: &'static str = "invocation";

    identified_by!(id, version);

    fn columns(&self) -> Columns {
        Columns {
            parent: self.grant_id.clone(),
            status: self.status.clone(),
            namespace: Some(self.agent_id.clone()),
            ..Columns::default()
        }
    }
}
