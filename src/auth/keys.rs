//! API key management: create (the key is returned once), list, revoke, and the seed's
//! development keys.

use std::sync::Arc;

use super::{
    agents_from_column,
    api_key::{self, DEV_KEYS, DEV_TENANT},
    identity, password, scopes_from_column, scopes_to_column,
    users::UserService,
    KeyVerifier, Principal, Scope, TenantId,
};
use crate::{
    audit::{actors, event_types, AuditEvent},
    error::{Error, FieldError, Result},
    ids,
    pagination::{Page, PageRequest},
    store::{api_keys, api_keys::ApiKeyRow, tenants},
    tenants::TenantService,
    time::{now_ms, Millis},
    work::{UnitOfWork, Writer},
};

const MAX_NAME_LEN: usize = 100;

/// A key as shown to its tenant's admins: never the secret.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub prefix: String,
    /// The agents the key may act as; empty: unbound.
    pub agents: Vec<String>,
    /// The user accountable for the key.
    pub owner_user_id: Option<String>,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl From<ApiKeyRow> for KeyInfo {
    fn from(row: ApiKeyRow) -> Self {
        KeyInfo {
            prefix: api_key::display_prefix(row.tenant_id.as_str(), &row.prefix),
            scopes: scopes_from_column(&row.scopes),
            agents: agents_from_column(row.agents.as_deref()),
            owner_user_id: row.owner_user_id,
            id: row.id,
            tenant_id: row.tenant_id.to_string(),
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A key just created, with the full key: the only time it is ever available.
pub struct CreatedKey {
    pub info: KeyInfo,
    pub key: String,
}

/// What a new key is for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Agent ids the key may act as; empty: unbound.
    pub agents: Vec<String>,
    /// The accountable user: a user id or an email of the tenant.
    pub owner: Option<String>,
}

pub struct KeyService {
    writer: Writer,
    verifier: Arc<KeyVerifier>,
    users: Arc<UserService>,
}

impl KeyService {
    pub fn new(writer: Writer, verifier: Arc<KeyVerifier>, users: Arc<UserService>) -> Self {
        Self {
            writer,
            verifier,
            users,
        }
    }

    /// Creates an unbound, ownerless key for `tenant` on behalf of `actor`.
    pub async fn create(
        &self,
        tenant: &TenantId,
        actor: &str,
        name: &str,
        scopes: &[Scope],
    ) -> Result<CreatedKey> {
        let spec = NewKey {
            name: name.to_string(),
            scopes: scopes.to_vec(),
            ..NewKey::default()
        };
        self.issue(tenant, actor, spec).await
    }

    /// Creates a key for `tenant` on behalf of `actor`, bound to `spec.agents` when it names
    /// any and owned by `spec.owner` when set. The tenant must exist.
    pub async fn issue(&self, tenant: &TenantId, actor: &str, spec: NewKey) -> Result<CreatedKey> {
        let name = validate_new_key(&spec)?;
        let owner = match &spec.owner {
            Some(reference) => Some(self.users.find_enabled(tenant, reference).await?.id),
            None => None,
        };
        let mut agents = spec.agents.clone();
        agents.sort();
        agents.dedup();
        let generated = api_key::generate(tenant);
        let row = ApiKeyRow {
            id: ids::new_id(ids::API_KEY),
            tenant_id: tenant.clone(),
            name,
            prefix: generated.lookup_prefix,
            secret_hash: password::hash_blocking(generated.key.clone()).await?,
            scopes: scopes_to_column(&spec.scopes),
            agents: (!agents.is_empty()).then(|| serde_json::json!(agents).to_string()),
            owner_user_id: owner,
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
        };
        let mut work = self.writer.begin(tenant).await?;
        if !tenants::exists(&mut work, tenant).await? {
            return Err(Error::NotFound { what: "tenant" });
        }
        insert_audited(&mut work, actor, &row).await?;
        work.commit().await?.publish();
        Ok(CreatedKey {
            info: row.into(),
            key: generated.key,
        })
    }

    pub async fn list(&self, tenant: &TenantId, page: PageRequest) -> Result<Page<KeyInfo>> {
        let (rows, total) =
            api_keys::list(self.writer.store(), tenant, page.limit(), page.offset()).await?;
        Ok(Page {
            items: rows.into_iter().map(KeyInfo::from).collect(),
            total,
            request: page,
        })
    }

    pub async fn get(&self, tenant: &TenantId, key_id: &str) -> Result<KeyInfo> {
        let mut conn = self.writer.store().reader().acquire().await?;
        api_keys::get(&mut conn, tenant, key_id)
            .await?
            .map(KeyInfo::from)
            .ok_or(Error::NotFound { what: "API key" })
    }

    /// Revokes a key of `tenant` on behalf of `actor`; revoking twice is harmless and
    /// returns the key as it is (and records nothing the second time).
    pub async fn revoke(&self, tenant: &TenantId, actor: &str, key_id: &str) -> Result<KeyInfo> {
        let (info, _) = self
            .revoke_recorded(tenant, actor, key_id, event_types::KEY_REVOKED)
            .await?;
        Ok(info)
    }

    /// Revokes the key `principal` authenticated with, because someone presented it as
    /// leaked (`POST /v1/keys/report-leak`): audited as `key.leak_reported`. `true` when this
    /// report revoked it (`false`: it was revoked already).
    pub async fn revoke_leaked(&self, principal: &Principal) -> Result<(KeyInfo, bool)> {
        self.revoke_recorded(
            &principal.tenant_id,
            actors::LEAK_REPORT,
            &principal.key_id,
            event_types::KEY_LEAK_REPORTED,
        )
        .await
    }

    /// Revokes `key_id`, recording `event_type`; also whether it was revoked just now.
    async fn revoke_recorded(
        &self,
        tenant: &TenantId,
        actor: &str,
        key_id: &str,
        event_type: &str,
    ) -> Result<(KeyInfo, bool)> {
        let mut work = self.writer.begin(tenant).await?;
        let revoked_now = api_keys::revoke(&mut work, tenant, key_id, now_ms()).await?;
        let row = api_keys::get(&mut work, tenant, key_id)
            .await?
            .ok_or(Error::NotFound { what: "API key" })?;
        // Revoked before: nothing written, nothing to commit.
        if revoked_now {
            let event = AuditEvent {
                event_type,
                actor,
                subject: key_id,
                data: serde_json::json!({ "name": row.name }),
            };
            work.audit(event).await?;
            work.commit().await?.publish();
        }
        self.verifier.mark_revoked(key_id);
        Ok((row.into(), revoked_now))
    }

    /// Revokes a key given only its id (operator CLI).
    pub async fn revoke_any_tenant(&self, key_id: &str) -> Result<KeyInfo> {
        let tenant = api_keys::tenant_of(self.writer.store(), key_id)
            .await?
            .ok_or(Error::NotFound { what: "API key" })?;
        self.revoke(&TenantId::parse(&tenant)?, actors::CLI, key_id)
            .await
    }

    /// Makes sure the development tenant and the seed's keys exist (development mode only).
    pub async fn ensure_dev_keys(&self, tenants: &TenantService) -> Result<()> {
        let dev = TenantId::parse(DEV_TENANT)?;
        tenants.ensure(&dev, "Development").await?;
        for (key, scope, agent) in DEV_KEYS {
            let mut conn = self.writer.store().reader().acquire().await?;
            let id = format!("{}_dev_{}", ids::API_KEY, key.replace('-', "_"));
            if api_keys::get(&mut conn, &dev, &id).await?.is_some() {
                continue;
            }
            drop(conn);
            let row = ApiKeyRow {
                id,
                tenant_id: dev.clone(),
                name: key.to_string(),
                prefix: key.to_string(),
                secret_hash: password::hash_blocking(key.to_string()).await?,
                scopes: scopes_to_column(&[scope]),
                agents: agent.map(|agent| serde_json::json!([agent]).to_string()),
                owner_user_id: None,
                created_at: now_ms(),
                last_used_at: None,
                revoked_at: None,
            };
            let mut work = self.writer.begin(&dev).await?;
            match insert_audited(&mut work, actors::SYSTEM, &row).await {
                // Another instance seeded it first.
                Err(Error::Conflict(_)) => continue,
                other => other?,
            }
            work.commit().await?.publish();
        }
        Ok(())
    }
}

/// Inserts the key and its `key.created` audit record; a duplicate id is a conflict.
async fn insert_audited(work: &mut UnitOfWork, actor: &str, row: &ApiKeyRow) -> Result<()> {
    match api_keys::insert(work, row).await {
        Err(err) if crate::store::is_unique_violation(&err) => {
            return Err(Error::Conflict(format!(
                "API key {} already exists",
                row.id
            )))
        }
        other => other?,
    }
    let event = AuditEvent {
        event_type: event_types::KEY_CREATED,
        actor,
        subject: &row.id,
        data: serde_json::json!({
            "name": row.name,
            "scopes": scopes_from_column(&row.scopes),
            "agents": agents_from_column(row.agents.as_deref()),
            "owner": row.owner_user_id,
        }),
    };
    work.audit(event).await?;
    Ok(())
}

fn validate_new_key(spec: &NewKey) -> Result<String> {
    let mut errors = Vec::new();
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        errors.push(FieldError::new(
            &["name"],
            format!("must be 1-{MAX_NAME_LEN} characters"),
        ));
    }
    for (index, agent) in spec.agents.iter().enumerate() {
        if !identity::valid_agent_id(agent) {
            errors.push(FieldError::new(
                &["agents", &index.to_string()],
                "must be an agent id: 1-64 letters, digits, '-', '_' and '.'",
            ));
        }
    }
    if spec.scopes.is_empty() {
        errors.push(FieldError::new(
            &["scopes"],
            "at least one scope is required",
        ));
    }
    if errors.is_empty() {
        Ok(name.to_string())
    } else {
        Err(Error::Validation(errors))
    }
}
