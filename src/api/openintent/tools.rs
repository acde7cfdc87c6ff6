//! RFC-0014 routes: credential vaults, credentials, tool grants, invocations and the tool
//! proxy. Vaults, credentials and grants are managed with admin keys; agents invoke.

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    Object, OpenApi,
};

use super::{
    created_document, document, documents, done, parse, reader, writer, Body, DocAnswer,
    DocCreated, DocList, Done, OiResult, OiTag,
};
use crate::{
    api::{
        schema::{examples, vocabularies, JsonValue, Word},
        security::TenantKey,
        types::{Documented, JsonObject},
    },
    openintent::{
        tools::{
            self,
            grants::{DelegationIn, GrantIn},
            invoke::{InvokeIn, RecordIn},
            vaults::{CredentialIn, RotationIn, VaultIn},
        },
        Tools,
    },
};

vocabularies! {
    AuthType => tools::AUTH_TYPES;
    /// `pending` only while the call is out.
    InvocationStatus => ["pending", "success", "denied", "error"];
    CredentialStatus => ["active", "expired", "revoked"];
    GrantStatus => ["active", "suspended", "expired", "revoked"];
    GrantSource => ["direct", "delegated"];
}

/// A vault: a named set of credentials owned by a user.
#[derive(Debug, Object)]
#[oai(example)]
pub struct VaultDoc {
    id: String,
    owner_id: String,
    name: String,
    /// Its credentials' ids, oldest first.
    credentials: Vec<String>,
    version: i64,
    created_at: String,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct VaultBody {
    owner_id: String,
    /// Unique per owner.
    name: String,
}

/// A credential as every answer shows it: never its secret material.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CredentialDoc {
    id: String,
    vault_id: String,
    service: String,
    label: String,
    auth_type: Word<AuthType>,
    /// What grants of it may be given.
    scopes_available: Vec<String>,
    status: Word<CredentialStatus>,
    /// How calls are made: `base_url`, `endpoints`, `auth`, `adapter` (`rest`, `oauth2`,
    /// `webhook`), `token_url`, `token_grant_type`, `timeout_ms` (clamped to 1-30 s),
    /// `allowed_hosts`. Without `base_url`, invoking answers a placeholder result.
    metadata: JsonObject,
    /// The names of the secret fields held sealed (never their values).
    secret_fields: Vec<String>,
    version: i64,
    created_at: String,
    rotated_at: Option<String>,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CredentialBody {
    /// Required on `POST /credentials`; the path's on `POST /vaults/{id}/credentials`.
    vault_id: Option<String>,
    service: String,
    label: String,
    /// Default `api_key`.
    auth_type: Option<Word<AuthType>>,
    scopes_available: Option<Vec<String>>,
    /// The execution config. Secret fields sent here (`api_key`, `token`, `access_token`,
    /// `refresh_token`, `client_id`, `client_secret`, `username`, `password`,
    /// `signing_secret`) are moved into the sealed material.
    metadata: Option<JsonObject>,
    /// The secret material, sealed at rest and never answered.
    secret: Option<JsonObject>,
    expires_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RotationBody {
    /// The new secret material.
    secret: Option<JsonObject>,
    /// New execution config, if it changes too.
    metadata: Option<JsonObject>,
}

/// A tool grant.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct GrantDoc {
    id: String,
    credential_id: String,
    /// The credential's service.
    service: String,
    agent_id: String,
    granted_by: String,
    /// A subset of the credential's `scopes_available`.
    scopes: Vec<String>,
    /// `max_invocations_per_hour` (per clock hour), `allowed_parameters` (lists of values,
    /// or `<param>_max` / `<param>_min` bounds), `denied_parameters`, `allowed_hosts`.
    constraints: Option<JsonObject>,
    source: Word<GrantSource>,
    delegatable: bool,
    delegation_depth: Option<i64>,
    /// The grant this one was delegated from.
    delegated_from: Option<String>,
    /// `{intent_id, task_id, plan_id, tools}` it is bound to.
    context: JsonObject,
    status: Word<GrantStatus>,
    expires_at: Option<String>,
    version: i64,
    created_at: String,
    revoked_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct GrantBody {
    credential_id: String,
    agent_id: String,
    granted_by: String,
    scopes: Option<Vec<String>>,
    constraints: Option<JsonObject>,
    /// Default false.
    delegatable: Option<bool>,
    /// Default 1 when delegatable, else 0.
    delegation_depth: Option<i64>,
    context: Option<JsonObject>,
    /// Absent: the grant does not expire.
    expires_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct DelegationBody {
    /// The agent receiving the grant (`target_agent_id` is read too).
    agent_id: String,
    /// A subset of the source grant's; default all of them.
    scopes: Option<Vec<String>>,
    /// Its hourly limit may not exceed the source's (default: the source's).
    constraints: Option<JsonObject>,
    context: Option<JsonObject>,
    /// No later than the source's (default: the source's).
    expires_at: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct RevokedDoc {
    /// `revoked`.
    status: String,
    grant_id: String,
    /// Grants revoked now: this one and those delegated from it.
    revoked: i64,
}

/// One invocation of a grant.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct InvocationDoc {
    id: String,
    /// The id again, under the RFC's name.
    invocation_id: String,
    grant_id: String,
    service: String,
    tool: String,
    agent_id: String,
    /// As sent, secret-looking fields redacted.
    parameters: JsonObject,
    status: Word<InvocationStatus>,
    result: Option<Documented<JsonValue>>,
    error: Option<JsonObject>,
    cost: Option<JsonObject>,
    duration_ms: Option<i64>,
    idempotency_key: Option<String>,
    /// `intent_id`, `task_id`; `http_status` and `request_fingerprint` of a proxied call.
    context: JsonObject,
    version: i64,
    timestamp: String,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct InvocationBody {
    grant_id: String,
    /// The grant's service.
    service: String,
    tool: String,
    /// Default: the calling agent, which must hold the grant.
    agent_id: Option<String>,
    parameters: Option<JsonObject>,
    /// Default `success`.
    status: Option<Word<InvocationStatus>>,
    result: Option<Documented<JsonValue>>,
    error: Option<JsonObject>,
    cost: Option<JsonObject>,
    duration_ms: Option<i64>,
    idempotency_key: Option<String>,
    context: Option<JsonObject>,
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct InvokeBody {
    /// A grant scope (`charges.read`), `<service>.<scope>`, or a service name.
    tool_name: String,
    /// Default: the calling agent.
    agent_id: Option<String>,
    parameters: Option<JsonObject>,
    /// Use this grant rather than resolving one.
    grant_id: Option<String>,
    /// A retry with the same key answers the first call's outcome without calling again.
    idempotency_key: Option<String>,
    /// `{intent_id, task_id, plan_id}` of the work; with an intent, `tool.invoked` is logged
    /// on it.
    context: Option<JsonObject>,
}

/// What the tool proxy answers (`status` `error`: the service answered 4xx; 5xx and
/// failures to call are 502 errors naming the invocation).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct InvokeDoc {
    invocation_id: String,
    tool_name: String,
    grant_id: String,
    status: Word<InvocationStatus>,
    /// The service's JSON answer (or `{"raw": text}`), every secret value redacted.
    result: Option<Documented<JsonValue>>,
    error: Option<String>,
    duration_ms: i64,
    /// True when this answers an earlier call with the same `idempotency_key`.
    replayed: bool,
}

/// One tool an agent may use: a scope of one of its active grants.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct GrantedToolDoc {
    grant_id: String,
    service: String,
    /// The scope: what `tool_name` names in `POST /tools/invoke`.
    tool: String,
    constraints: JsonObject,
    source: Word<GrantSource>,
    delegated_from: Option<String>,
    context: JsonObject,
    expires_at: Option<String>,
}

/// The tools an agent may use now (RFC-0014 §2.3).
#[derive(Debug, Object)]
#[oai(example)]
pub struct GrantedToolsDoc {
    agent_id: String,
    tools: Vec<GrantedToolDoc>,
}

examples! {
    GrantedToolDoc => {
        "grant_id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "service": "search",
        "tool": "web_search",
        "constraints": {"max_invocations_per_hour": 100},
        "source": "direct",
        "context": {},
        "expires_at": "2026-03-07T10:00:00.000+00:00"
    }
    GrantedToolsDoc => {
        "agent_id": "research-agent",
        "tools": [{
            "grant_id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K",
            "service": "search",
            "tool": "web_search",
            "constraints": {"max_invocations_per_hour": 100},
            "source": "direct",
            "context": {}
        }]
    }
    VaultDoc => {
        "id": "vault_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "owner_id": "user-ops-lead",
        "name": "acme-production",
        "credentials": ["cred_01HN4X8M2R7T9V3W5X6Y7Z8A9B"],
        "version": 2,
        "created_at": "2026-02-07T10:00:00.000+00:00"
    }
    VaultBody => {"owner_id": "user-ops-lead", "name": "acme-production"}
    CredentialDoc => {
        "id": "cred_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "vault_id": "vault_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "service": "search",
        "label": "search-production",
        "auth_type": "api_key",
        "scopes_available": ["web_search"],
        "status": "active",
        "metadata": {"base_url": "https://search.example.com", "auth": {"header_name": "X-API-Key"}},
        "secret_fields": ["api_key"],
        "version": 1,
        "created_at": "2026-02-07T10:00:00.000+00:00"
    }
    CredentialBody => {
        "vault_id": "vault_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "service": "search",
        "label": "search-production",
        "auth_type": "api_key",
        "scopes_available": ["web_search"],
        "secret": {"api_key": "sk-example-not-a-real-key"}
    }
    RotationBody => {"secret": {"api_key": "sk-example-rotated-key"}}
    GrantDoc => {
        "id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "credential_id": "cred_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "service": "search",
        "agent_id": "research-agent",
        "granted_by": "user-ops-lead",
        "scopes": ["web_search"],
        "constraints": {"max_invocations_per_hour": 100},
        "source": "direct",
        "delegatable": true,
        "delegation_depth": 1,
        "context": {},
        "status": "active",
        "expires_at": "2026-03-07T10:00:00.000+00:00",
        "version": 1,
        "created_at": "2026-02-07T10:00:00.000+00:00"
    }
    GrantBody => {
        "credential_id": "cred_01HN4X8M2R7T9V3W5X6Y7Z8A9B",
        "agent_id": "research-agent",
        "granted_by": "user-ops-lead",
        "scopes": ["web_search"],
        "constraints": {"max_invocations_per_hour": 100},
        "delegatable": true,
        "expires_at": "2099-03-07T10:00:00Z"
    }
    DelegationBody => {
        "agent_id": "synth-agent",
        "constraints": {"max_invocations_per_hour": 10}
    }
    RevokedDoc => {"status": "revoked", "grant_id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K", "revoked": 2}
    InvocationDoc => {
        "id": "inv_01HN4XA2B3C4D5E6F7G8H9J0K1",
        "invocation_id": "inv_01HN4XA2B3C4D5E6F7G8H9J0K1",
        "grant_id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "service": "search",
        "tool": "web_search",
        "agent_id": "research-agent",
        "parameters": {"query": "quarterly filings"},
        "status": "success",
        "result": {"hits": 3},
        "duration_ms": 120,
        "context": {"http_status": 200, "request_fingerprint": "9f2c1a7b3d4e5f60"},
        "version": 2,
        "timestamp": "2026-02-07T10:30:00.000+00:00"
    }
    InvocationBody => {
        "grant_id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "service": "search",
        "tool": "web_search",
        "parameters": {"query": "quarterly filings"},
        "status": "success",
        "duration_ms": 120
    }
    InvokeBody => {
        "tool_name": "web_search",
        "agent_id": "research-agent",
        "parameters": {"query": "quarterly filings"},
        "idempotency_key": "search-q1-1"
    }
    InvokeDoc => {
        "invocation_id": "inv_01HN4XA2B3C4D5E6F7G8H9J0K1",
        "tool_name": "web_search",
        "grant_id": "grant_01HN4X9A1B2C3D4E5F6G7H8J9K",
        "status": "success",
        "result": {"hits": 3},
        "duration_ms": 120,
        "replayed": false
    }
}

pub struct ToolsOi(pub Tools);

#[OpenApi(tag = "OiTag::Tools")]
impl ToolsOi {
    /// Create a vault (admin keys; 409 when the owner has one of that name).
    #[oai(path = "/vaults", method = "post", operation_id = "oi_create_vault")]
    async fn create_vault(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<VaultBody>,
    ) -> OiResult<DocCreated<VaultDoc>> {
        let caller = reader(&key, req)?;
        created_document(
            self.0
                .create_vault(&caller, parse::<VaultIn, _>(body)?)
                .await,
        )
    }

    /// The tenant's vaults, oldest first (a bare array).
    #[oai(path = "/vaults", method = "get", operation_id = "oi_list_vaults")]
    async fn list_vaults(
        &self,
        key: TenantKey,
        req: &Request,
        owner_id: Query<Option<String>>,
    ) -> OiResult<DocList<VaultDoc>> {
        documents(
            self.0
                .list_vaults(&reader(&key, req)?, owner_id.0.as_deref())
                .await,
        )
    }

    #[oai(path = "/vaults/:id", method = "get", operation_id = "oi_get_vault")]
    async fn get_vault(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<VaultDoc>> {
        document(self.0.get_vault(&reader(&key, req)?, &id).await)
    }

    /// Delete a vault and its credentials; their grants are revoked (admin keys).
    #[oai(
        path = "/vaults/:id",
        method = "delete",
        operation_id = "oi_delete_vault"
    )]
    async fn delete_vault(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Done> {
        done(self.0.delete_vault(&reader(&key, req)?, &id).await)
    }

    /// Add a credential to a vault (admin keys). Its secret material is sealed and never
    /// answered; its execution config's addresses must be permitted targets.
    #[oai(
        path = "/credentials",
        method = "post",
        operation_id = "oi_create_credential"
    )]
    async fn create_credential(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<CredentialBody>,
    ) -> OiResult<DocCreated<CredentialDoc>> {
        let caller = reader(&key, req)?;
        created_document(
            self.0
                .create_credential(&caller, parse::<CredentialIn, _>(body)?)
                .await,
        )
    }

    /// Add a credential to this vault (as `POST /credentials`).
    #[oai(
        path = "/vaults/:id/credentials",
        method = "post",
        operation_id = "oi_create_vault_credential"
    )]
    async fn create_vault_credential(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<CredentialBody>,
    ) -> OiResult<DocCreated<CredentialDoc>> {
        let caller = reader(&key, req)?;
        let mut input = parse::<CredentialIn, _>(body)?;
        input.vault_id = Some(id.0);
        created_document(self.0.create_credential(&caller, input).await)
    }

    /// A vault's credentials, oldest first (a bare array).
    #[oai(
        path = "/vaults/:id/credentials",
        method = "get",
        operation_id = "oi_list_credentials"
    )]
    async fn list_credentials(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocList<CredentialDoc>> {
        documents(self.0.list_credentials(&reader(&key, req)?, &id).await)
    }

    #[oai(
        path = "/credentials/:id",
        method = "get",
        operation_id = "oi_get_credential"
    )]
    async fn get_credential(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<CredentialDoc>> {
        document(self.0.get_credential(&reader(&key, req)?, &id).await)
    }

    /// Replace a credential's material; its id and grants stay (admin keys).
    #[oai(
        path = "/credentials/:id/rotate",
        method = "patch",
        operation_id = "oi_rotate_credential"
    )]
    async fn rotate_credential(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<RotationBody>,
    ) -> OiResult<DocAnswer<CredentialDoc>> {
        let caller = reader(&key, req)?;
        document(
            self.0
                .rotate_credential(&caller, &id, parse::<RotationIn, _>(body)?)
                .await,
        )
    }

    /// Revoke a credential for good, and every grant of it (admin keys).
    #[oai(
        path = "/credentials/:id",
        method = "delete",
        operation_id = "oi_revoke_credential"
    )]
    async fn revoke_credential(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<CredentialDoc>> {
        document(self.0.revoke_credential(&reader(&key, req)?, &id).await)
    }

    /// Grant an agent scopes of a credential (admin keys; scopes the credential does not
    /// declare, or constraints this server does not enforce, are 400).
    #[oai(path = "/grants", method = "post", operation_id = "oi_create_grant")]
    async fn create_grant(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<GrantBody>,
    ) -> OiResult<DocCreated<GrantDoc>> {
        let caller = reader(&key, req)?;
        created_document(
            self.0
                .create_grant(&caller, parse::<GrantIn, _>(body)?)
                .await,
        )
    }

    #[oai(path = "/grants/:id", method = "get", operation_id = "oi_get_grant")]
    async fn get_grant(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<GrantDoc>> {
        document(self.0.get_grant(&reader(&key, req)?, &id).await)
    }

    /// Revoke a grant and every grant delegated from it (admin keys, or the delegating agent).
    #[oai(
        path = "/grants/:id",
        method = "delete",
        operation_id = "oi_revoke_grant"
    )]
    async fn revoke_grant(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<RevokedDoc>> {
        let revoked = self.0.revoke_grant(&reader(&key, req)?, &id).await;
        document(revoked.map(
            |count| serde_json::json!({ "status": "revoked", "grant_id": id.0, "revoked": count }),
        ))
    }

    /// Suspend an active grant (admin keys); its delegated grants are suspended with it.
    #[oai(
        path = "/grants/:id/suspend",
        method = "patch",
        operation_id = "oi_suspend_grant"
    )]
    async fn suspend_grant(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<GrantDoc>> {
        document(
            self.0
                .set_grant_suspended(&reader(&key, req)?, &id, true)
                .await,
        )
    }

    /// Resume a suspended grant (admin keys).
    #[oai(
        path = "/grants/:id/resume",
        method = "patch",
        operation_id = "oi_resume_grant"
    )]
    async fn resume_grant(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<GrantDoc>> {
        document(
            self.0
                .set_grant_suspended(&reader(&key, req)?, &id, false)
                .await,
        )
    }

    /// The grant's agent passes a subset of it to another agent (RFC-0014 §5.1).
    #[oai(
        path = "/grants/:id/delegate",
        method = "post",
        operation_id = "oi_delegate_grant"
    )]
    async fn delegate_grant(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<DelegationBody>,
    ) -> OiResult<DocCreated<GrantDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .delegate_grant(&caller, &id, parse::<DelegationIn, _>(body)?)
                .await,
        )
    }

    /// An agent's grants, oldest first, every status (a bare array).
    #[oai(
        path = "/agents/:agent_id/grants",
        method = "get",
        operation_id = "oi_list_agent_grants"
    )]
    async fn agent_grants(
        &self,
        key: TenantKey,
        req: &Request,
        agent_id: Path<String>,
    ) -> OiResult<DocList<GrantDoc>> {
        documents(self.0.agent_grants(&reader(&key, req)?, &agent_id).await)
    }

    /// Record an invocation the agent made itself, against its grant.
    #[oai(
        path = "/invocations",
        method = "post",
        operation_id = "oi_record_invocation"
    )]
    async fn record_invocation(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<InvocationBody>,
    ) -> OiResult<DocCreated<InvocationDoc>> {
        let caller = writer(&key, req)?;
        created_document(
            self.0
                .record_invocation(&caller, parse::<RecordIn, _>(body)?)
                .await,
        )
    }

    #[oai(
        path = "/invocations/:id",
        method = "get",
        operation_id = "oi_get_invocation"
    )]
    async fn get_invocation(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<DocAnswer<InvocationDoc>> {
        document(self.0.get_invocation(&reader(&key, req)?, &id).await)
    }

    /// A grant's invocations, oldest first (a bare array).
    #[oai(
        path = "/grants/:id/invocations",
        method = "get",
        operation_id = "oi_list_invocations"
    )]
    async fn grant_invocations(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Default 50, at most 1000.
        limit: Query<Option<i64>>,
    ) -> OiResult<DocList<InvocationDoc>> {
        documents(
            self.0
                .grant_invocations(&reader(&key, req)?, &id, limit.0.unwrap_or(50))
                .await,
        )
    }

    /// The tools an agent (default: the calling agent) may use now: one entry per scope of each
    /// active grant.
    #[oai(
        path = "/tools/granted",
        method = "get",
        operation_id = "oi_granted_tools"
    )]
    async fn granted(
        &self,
        key: TenantKey,
        req: &Request,
        agent_id: Query<Option<String>>,
    ) -> OiResult<DocAnswer<GrantedToolsDoc>> {
        let caller = reader(&key, req)?;
        let agent = agent_id.0.unwrap_or_else(|| caller.agent_id.clone());
        document(self.0.granted_tools(&caller, &agent).await)
    }

    /// Invoke a tool through the server's proxy: the grant is resolved and checked, the call
    /// made with the credential applied, the outcome recorded; secrets never come back.
    #[oai(
        path = "/tools/invoke",
        method = "post",
        operation_id = "oi_invoke_tool"
    )]
    async fn invoke(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<InvokeBody>,
    ) -> OiResult<DocAnswer<InvokeDoc>> {
        let caller = writer(&key, req)?;
        document(self.0.invoke(&caller, parse::<InvokeIn, _>(body)?).await)
    }
}
