//! `/v1/keys`: a tenant's API keys (admin scope).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    types::Example,
    ApiResponse, Object, OpenApi,
};

use crate::{
    api::{
        error::ApiResult, schema::examples, security::Credential, types::Data, types::ListPage, Tag,
    },
    auth::{
        api_key,
        keys::{KeyInfo, KeyService, NewKey},
        KeyVerifier, Rejection, Scope, VerifyError,
    },
    error::Error,
    http::verify_presented,
    ids::KeyId,
    metrics::Metrics,
    pagination::PageRequest,
    ratelimit::RateLimiter,
    time::rfc3339,
};

/// An API key as listed: the secret is never shown again after creation.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ApiKeyOut {
    id: String,
    name: String,
    scopes: Vec<Scope>,
    /// The key's visible beginning, to recognise it.
    prefix: String,
    /// The agents the key may act as; empty: unbound (any agent of the tenant).
    agents: Vec<String>,
    /// The console user accountable for the key.
    owner_user_id: Option<String>,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

impl From<KeyInfo> for ApiKeyOut {
    fn from(key: KeyInfo) -> Self {
        ApiKeyOut {
            id: key.id,
            name: key.name,
            scopes: key.scopes,
            prefix: key.prefix,
            agents: key.agents,
            owner_user_id: key.owner_user_id,
            created_at: rfc3339(key.created_at),
            last_used_at: key.last_used_at.map(rfc3339),
            revoked_at: key.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct CreateKeyIn {
    /// A label for people: what uses this key.
    name: String,
    /// What the key may do.
    scopes: Vec<Scope>,
    /// Bind the key to these agent ids: it may then act only as them (on both faces). Keys
    /// for agents should be bound; an unbound key may act as any agent of the tenant.
    agents: Option<Vec<String>>,
    /// The console user accountable for the key (user id or email): the key's decisions
    /// count as that person's, and that person may not approve what the key submits.
    owner: Option<String>,
}

/// A key for the billing agent of the `POST /v1/agents` example, bound to it.
impl Example for CreateKeyIn {
    fn example() -> Self {
        CreateKeyIn {
            name: "billing-agent".into(),
            scopes: vec![Scope::Agent],
            agents: Some(vec!["billing-agent".into()]),
            owner: None,
        }
    }
}

/// The new key, including `key`: copy it now, it is not shown again.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct CreatedKeyOut {
    id: String,
    name: String,
    scopes: Vec<Scope>,
    prefix: String,
    /// The agents the key may act as; empty: unbound.
    agents: Vec<String>,
    owner_user_id: Option<String>,
    /// The full API key, for the `x-api-key` header.
    key: String,
    created_at: String,
}

#[derive(ApiResponse)]
pub enum CreateKeyResponse {
    /// The key was created.
    #[oai(status = 201)]
    Created(Json<Data<CreatedKeyOut>>),
}

examples! {
    ApiKeyOut => {
        "id": "key_01HN4WZ3J5K6M7N8P9Q0R1S2T3",
        "name": "billing-agent",
        "scopes": ["agent"],
        "prefix": "intendedops_tenant123_xK9m",
        "agents": ["billing-agent"],
        "ownerUserId": null,
        "createdAt": "2024-01-15T09:00:00.000Z",
        "lastUsedAt": "2024-01-15T10:30:00.000Z",
        "revokedAt": null
    }
    /// The seed's key format.
    CreatedKeyOut => {
        "id": "key_01HN4WZ3J5K6M7N8P9Q0R1S2T3",
        "name": "billing-agent",
        "scopes": ["agent"],
        "prefix": "intendedops_tenant123_xK9m",
        "agents": ["billing-agent"],
        "ownerUserId": null,
        "key": "intendedops_tenant123_xK9mN2pQ7rS4tU6v",
        "createdAt": "2024-01-15T09:00:00.000Z"
    }
}

/// A key found in the open, to be revoked.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ReportLeakIn {
    /// The full key as found. Only keys that carry a checksum (every key issued since
    /// checksums) can be reported this way.
    key: String,
}

impl Example for ReportLeakIn {
    fn example() -> Self {
        ReportLeakIn {
            key: "intendedops_tenant123_xK9mN2pQ7rS4tU6vW8yZ0aB1cD3eF5gH7iJ9kL2m4A0bC1d".into(),
        }
    }
}

/// What the report did.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct LeakReportOut {
    /// `revoked` (by this report) or `already_revoked`.
    status: String,
    /// The revoked key's id (when this report revoked it).
    key_id: Option<String>,
    revoked_at: Option<String>,
}

examples! {
    LeakReportOut => {
        "status": "revoked",
        "keyId": "key_01HN4WZ3J5K6M7N8P9Q0R1S2T3",
        "revokedAt": "2024-01-15T10:30:00.000Z"
    }
}

pub struct KeysApi {
    keys: Arc<KeyService>,
    verifier: Arc<KeyVerifier>,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
}

impl KeysApi {
    pub fn new(
        keys: Arc<KeyService>,
        (verifier, limiter, metrics): (Arc<KeyVerifier>, Arc<RateLimiter>, Arc<Metrics>),
    ) -> Self {
        Self {
            keys,
            verifier,
            limiter,
            metrics,
        }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Keys")]
impl KeysApi {
    /// List the tenant's API keys, newest first.
    #[oai(path = "/keys", method = "get", operation_id = "list_keys")]
    async fn list(
        &self,
        auth: Credential,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<ApiKeyOut>>>> {
        let caller = auth.require(Scope::Admin)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let keys = self.keys.list(&caller.tenant_id, request).await?;
        Ok(Json(Data::new(ListPage::from_page(keys, ApiKeyOut::from))))
    }

    /// Create an API key. The response is the only time the full key is shown.
    #[oai(path = "/keys", method = "post", operation_id = "create_key")]
    async fn create(
        &self,
        auth: Credential,
        body: Json<CreateKeyIn>,
    ) -> ApiResult<CreateKeyResponse> {
        let caller = auth.require(Scope::Admin)?;
        let body = body.0;
        let spec = NewKey {
            name: body.name,
            scopes: body.scopes,
            agents: body.agents.unwrap_or_default(),
            owner: body.owner,
        };
        let created = self
            .keys
            .issue(&caller.tenant_id, &caller.key_id, spec)
            .await?;
        let info = created.info;
        Ok(CreateKeyResponse::Created(Json(Data::new(CreatedKeyOut {
            id: info.id,
            name: info.name,
            scopes: info.scopes,
            prefix: info.prefix,
            agents: info.agents,
            owner_user_id: info.owner_user_id,
            key: created.key,
            created_at: rfc3339(info.created_at),
        }))))
    }

    /// One API key.
    #[oai(path = "/keys/:id", method = "get", operation_id = "get_key")]
    async fn get(&self, auth: Credential, id: Path<KeyId>) -> ApiResult<Json<Data<ApiKeyOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let key = self.keys.get(&caller.tenant_id, &id).await?;
        Ok(Json(Data::new(key.into())))
    }

    /// Revoke an API key: it stops authenticating at once, on every instance.
    #[oai(path = "/keys/:id", method = "delete", operation_id = "revoke_key")]
    async fn revoke(&self, auth: Credential, id: Path<KeyId>) -> ApiResult<Json<Data<ApiKeyOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let key = self
            .keys
            .revoke(&caller.tenant_id, &caller.key_id, &id)
            .await?;
        Ok(Json(Data::new(key.into())))
    }

    /// Report a leaked key: it is revoked at once, on every instance, and the revocation is
    /// audited as `key.leak_reported`. No credentials are needed: holding the key is the
    /// proof (this is the endpoint secret scanners call). The key must carry a valid
    /// checksum; one that verifies is revoked, one already revoked says so, any other is 404.
    #[oai(
        path = "/keys/report-leak",
        method = "post",
        operation_id = "report_leaked_key"
    )]
    async fn report_leak(
        &self,
        req: &Request,
        body: Json<ReportLeakIn>,
    ) -> ApiResult<Json<Data<LeakReportOut>>> {
        let key = body.0.key.trim();
        if !api_key::carries_checksum(key) {
            return Err(Error::invalid(
                &["key"],
                "is not an API key with a valid checksum (keys issued before checksums are \
                 revoked with DELETE /v1/keys/{id})",
            )
            .into());
        }
        let address = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let verified = verify_presented(&self.limiter, &self.verifier, &self.metrics, key, address)
            .await
            .map_err(|standing| Error::RateLimited {
                retry_after_secs: standing.retry_after,
            })?;
        let report = match verified {
            Ok(principal) => {
                let (info, _) = self.keys.revoke_leaked(&principal).await?;
                LeakReportOut {
                    status: "revoked".into(),
                    key_id: Some(info.id),
                    revoked_at: info.revoked_at.map(rfc3339),
                }
            }
            Err(VerifyError::Rejected(Rejection::Revoked)) => LeakReportOut {
                status: "already_revoked".into(),
                key_id: None,
                revoked_at: None,
            },
            Err(VerifyError::Rejected(_)) => {
                // As a failed authentication: reports cannot probe for keys faster than
                // requests can.
                if let Some(address) = address {
                    let standing = self.limiter.admit_failure(address).await;
                    self.metrics.rate_limit_ruled("address", standing.allowed);
                    if !standing.allowed {
                        return Err(Error::RateLimited {
                            retry_after_secs: standing.retry_after,
                        }
                        .into());
                    }
                }
                return Err(Error::NotFound { what: "API key" }.into());
            }
            Err(VerifyError::Busy) => {
                return Err(Error::RateLimited {
                    retry_after_secs: 1,
                }
                .into())
            }
            Err(VerifyError::Internal(cause)) => {
                return Err(Error::Internal(anyhow::anyhow!(cause)).into())
            }
        };
        Ok(Json(Data::new(report)))
    }
}
