//! Vaults and credentials. Only admin keys manage them (the RFC's `tools.manage`, a user's
//! business, not an agent's); any key of the tenant reads them, material never included.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    adapters::ExecutionConfig, grants, material::Material, prefixes, Credential, CredentialInfo,
    Grant, Vault, AUTH_TYPES,
};
use crate::{
    audit::{actors, AuditEvent},
    auth::Scope,
    error::{Error, Result},
    ids,
    openintent::documents::from_row,
    openintent::{
        documents::Document,
        records::{instant, one_of, require_text},
        Caller, Change, Tools,
    },
    secrets::SecretError,
    store::openintent::documents::{self as rows, DocumentQuery, DocumentRow},
    time::{now_ms, protocol_instant},
};

const MAX_SCOPES: usize = 200;
const MAX_LIST: i64 = 1_000;

/// Vaults, credentials and grants are managed by admin keys only.
pub(super) fn require_manager(caller: &Caller) -> Result<()> {
    caller.principal.require(Scope::Admin)
}

#[derive(Debug, Deserialize)]
pub struct VaultIn {
    pub owner_id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct CredentialIn {
    /// Also the path's, on `POST /vaults/{id}/credentials`.
    #[serde(default)]
    pub vault_id: Option<String>,
    pub service: String,
    pub label: String,
    #[serde(default)]
    pub auth_type: Option<String>,
    #[serde(default)]
    pub scopes_available: Vec<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// The secret material (`api_key`, `token`, `password`, …); secret fields of `metadata`
    /// are taken as well.
    #[serde(default)]
    pub secret: Option<Map<String, Value>>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `PATCH /credentials/{id}/rotate`: new material, and optionally new metadata.
#[derive(Debug, Deserialize)]
pub struct RotationIn {
    #[serde(default)]
    pub secret: Option<Map<String, Value>>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// A list of scope names: each 1-200 characters, at most [`MAX_SCOPES`].
pub(super) fn check_scopes(scopes: &[String], field: &str) -> Result<()> {
    let each = scopes
        .iter()
        .all(|scope| !scope.trim().is_empty() && scope.chars().count() <= 200);
    match each && scopes.len() <= MAX_SCOPES {
        true => Ok(()),
        false => Err(Error::invalid(
            &[field],
            format!("must be at most {MAX_SCOPES} scope names of 1-200 characters"),
        )),
    }
}

impl Tools {
    pub async fn create_vault(&self, caller: &Caller, input: VaultIn) -> Result<Vault> {
        require_manager(caller)?;
        require_text(&input.owner_id, "owner_id", 200)?;
        require_text(&input.name, "name", 200)?;
        let now = now_ms();
        let vault = Vault {
            id: ids::new_id(prefixes::VAULT),
            owner_id: input.owner_id,
            name: input.name,
            credentials: Vec::new(),
            version: 1,
            created_at: protocol_instant(now),
        };
        let mut change = self.change(caller).await?;
        let duplicate = format!(
            "owner '{}' already has a vault named '{}'",
            vault.owner_id, vault.name
        );
        change.insert_document(&vault, now, &duplicate).await?;
        let data = json!({ "vault_id": vault.id, "owner_id": vault.owner_id, "name": vault.name });
        change.audit("vault.created", &vault.id, data).await?;
        change.commit().await?;
        Ok(vault)
    }

    pub async fn get_vault(&self, caller: &Caller, id: &str) -> Result<Vault> {
        self.document(caller, id).await
    }

    /// The tenant's vaults (of one owner, if named), oldest first.
    pub async fn list_vaults(&self, caller: &Caller, owner_id: Option<&str>) -> Result<Vec<Vault>> {
        self.documents(caller, &query(Vault::KIND, owner_id)).await
    }

    /// Deletes a vault with its credentials (their material is gone for good); their grants
    /// are revoked and kept, for the record.
    pub async fn delete_vault(&self, caller: &Caller, id: &str) -> Result<()> {
        require_manager(caller)?;
        let mut change = self.change(caller).await?;
        let vault: Vault = change.document(self.store(), id).await?;
        let mut revoked = 0;
        for credential_id in &vault.credentials {
            revoked += revoke_grants_of(&mut change, credential_id, "vault deleted").await?;
            change.delete_document::<Credential>(credential_id).await?;
        }
        change.delete_document::<Vault>(id).await?;
        let data =
            json!({ "vault_id": id, "credentials": vault.credentials, "grants_revoked": revoked });
        change.audit("vault.deleted", id, data).await?;
        change.commit().await
    }

    pub async fn create_credential(
        &self,
        caller: &Caller,
        mut input: CredentialIn,
    ) -> Result<CredentialInfo> {
        require_manager(caller)?;
        let vault_id = input
            .vault_id
            .take()
            .ok_or_else(|| Error::invalid(&["vault_id"], "is required"))?;
        require_text(&input.service, "service", 200)?;
        require_text(&input.label, "label", 200)?;
        let auth_type = input.auth_type.take().unwrap_or_else(|| "api_key".into());
        one_of(&auth_type, &AUTH_TYPES, "auth_type")?;
        check_scopes(&input.scopes_available, "scopes_available")?;
        let expires_at = instant(input.expires_at.as_deref(), "expires_at")?;
        let mut metadata = input.metadata.take().unwrap_or_default();
        let material = Material::take(&mut metadata, input.secret.take())?;
        self.check_execution(&metadata, &auth_type, &material)
            .await?;
        let now = now_ms();
        let id = ids::new_id(prefixes::CREDENTIAL);
        let sealed = match material.is_empty() {
            true => None,
            false => Some(material.seal(self.secrets(), &caller.tenant, &id)?),
        };
        let credential = Credential {
            info: CredentialInfo {
                id,
                vault_id,
                service: input.service,
                label: input.label,
                auth_type,
                scopes_available: input.scopes_available,
                status: "active".into(),
                metadata,
                secret_fields: material.fields(),
                version: 1,
                created_at: protocol_instant(now),
                rotated_at: None,
                expires_at,
                revoked_at: None,
            },
            sealed,
        };
        let mut change = self.change(caller).await?;
        let mut vault: Vault = change
            .document(self.store(), &credential.info.vault_id)
            .await?;
        change
            .insert_document(&credential, now, "the credential exists")
            .await?;
        vault.credentials.push(credential.info.id.clone());
        vault.version += 1;
        change.save_document(&vault, vault.version - 1, now).await?;
        let info = &credential.info;
        let data = json!({
            "credential_id": info.id, "vault_id": info.vault_id, "service": info.service,
            "auth_type": info.auth_type, "secret_fields": info.secret_fields,
        });
        change.audit("credential.created", &info.id, data).await?;
        change.commit().await?;
        Ok(credential.info)
    }

    /// The execution config `metadata` describes must be well-formed, call permitted
    /// addresses, and find the secret fields it needs.
    async fn check_execution(
        &self,
        metadata: &Map<String, Value>,
        auth_type: &str,
        material: &Material,
    ) -> Result<()> {
        if let Some(config) = ExecutionConfig::of(metadata, auth_type)? {
            config.check_targets(self.outbound().targets()).await?;
            config.check_material(material)?;
        }
        Ok(())
    }

    pub async fn get_credential(&self, caller: &Caller, id: &str) -> Result<CredentialInfo> {
        let credential: Credential = self.document(caller, id).await?;
        Ok(credential.info.observed(now_ms()))
    }

    /// A vault's credentials, oldest first.
    pub async fn list_credentials(
        &self,
        caller: &Caller,
        vault_id: &str,
    ) -> Result<Vec<CredentialInfo>> {
        self.get_vault(caller, vault_id).await?;
        let credentials: Vec<Credential> = self
            .documents(caller, &query(Credential::KIND, Some(vault_id)))
            .await?;
        let now = now_ms();
        Ok(credentials
            .into_iter()
            .map(|c| c.info.observed(now))
            .collect())
    }

    /// Replaces a credential's material (its id and grants stay): `credential.rotated`.
    pub async fn rotate_credential(
        &self,
        caller: &Caller,
        id: &str,
        input: RotationIn,
    ) -> Result<CredentialInfo> {
        require_manager(caller)?;
        let mut change = self.change(caller).await?;
        let mut credential: Credential = change.document(self.store(), id).await?;
        if credential.info.status == "revoked" {
            return Err(Error::Conflict(
                "a revoked credential cannot be rotated".into(),
            ));
        }
        let mut metadata = input
            .metadata
            .unwrap_or_else(|| credential.info.metadata.clone());
        let material = Material::take(&mut metadata, input.secret)?;
        if material.is_empty() {
            return Err(Error::invalid(
                &["secret"],
                "a rotation needs the new secret material",
            ));
        }
        self.check_execution(&metadata, &credential.info.auth_type, &material)
            .await?;
        let now = now_ms();
        credential.sealed = Some(material.seal(self.secrets(), &caller.tenant, id)?);
        let info = &mut credential.info;
        info.metadata = metadata;
        info.secret_fields = material.fields();
        info.rotated_at = Some(protocol_instant(now));
        info.version += 1;
        change
            .save_document(&credential, credential.info.version - 1, now)
            .await?;
        let data = json!({ "credential_id": id, "rotated_by": caller.principal.key_id.as_ref() });
        change.audit("credential.rotated", id, data).await?;
        change.commit().await?;
        Ok(credential.info)
    }

    /// Revokes a credential for good, and every grant of it: `credential.revoked`.
    pub async fn revoke_credential(&self, caller: &Caller, id: &str) -> Result<CredentialInfo> {
        require_manager(caller)?;
        let mut change = self.change(caller).await?;
        let mut credential: Credential = change.document(self.store(), id).await?;
        if credential.info.status == "revoked" {
            return Ok(credential.info);
        }
        let now = now_ms();
        credential.info.status = "revoked".into();
        credential.info.revoked_at = Some(protocol_instant(now));
        credential.info.version += 1;
        // The material is of no further use: drop it.
        credential.sealed = None;
        change
            .save_document(&credential, credential.info.version - 1, now)
            .await?;
        let affected = revoke_grants_of(&mut change, id, "credential revoked").await?;
        let data = json!({ "credential_id": id, "affected_grants_count": affected });
        change.audit("credential.revoked", id, data).await?;
        change.commit().await?;
        Ok(credential.info)
    }
}

impl Tools {
    /// Every sealed credential must name a configured key (else a clear start-up error, not
    /// invocations failing for hours); with `reseal` (`intendedops secrets rotate`), those
    /// not under the current key are re-sealed under it. Returns how many were re-sealed.
    pub async fn secure_credentials(&self, reseal: bool) -> Result<usize> {
        let secrets = self.secrets();
        let current = secrets.current_key_id().map(str::to_string);
        let mut resealed = 0;
        for row in rows::of_kind(self.store(), Credential::KIND, None).await? {
            let credential: Credential = from_row(&row)?;
            let Some(sealed) = &credential.sealed else {
                continue;
            };
            if !secrets.holds(&sealed.key_id) {
                return Err(Error::Internal(
                    anyhow::anyhow!(SecretError::UnknownKey(sealed.key_id.clone()))
                        .context(format!("credential {} of tenant {}", row.id, row.tenant_id)),
                ));
            }
            if !reseal || current.as_deref() == Some(sealed.key_id.as_str()) {
                continue;
            }
            let (tenant, id) = (&row.tenant_id, &row.id);
            let material = Material::open(secrets, tenant, id, sealed)?;
            let mut updated = credential.clone();
            updated.sealed = Some(material.seal(secrets, tenant, id)?);
            let mut work = self.writer.begin(tenant).await?;
            let stored = DocumentRow {
                doc: serde_json::to_string(&updated).map_err(|err| Error::Internal(err.into()))?,
                updated_at: now_ms(),
                ..row.clone()
            };
            // A credential changed meanwhile was sealed under the current key by that change.
            if rows::update(&mut work, &stored, row.version).await? {
                work.audit(AuditEvent {
                    event_type: "openintent.credential.resealed",
                    actor: actors::SYSTEM,
                    subject: id,
                    data: json!({ "key_id": current }),
                })
                .await?;
                work.commit().await?.publish();
                resealed += 1;
            }
        }
        Ok(resealed)
    }
}

/// A query for the documents of `kind` under `parent` (all of them without one).
fn query<'a>(kind: &'a str, parent: Option<&'a str>) -> DocumentQuery<'a> {
    DocumentQuery {
        kind,
        parent,
        status: None,
        namespace: None,
        tags: &[],
        live_at: None,
        limit: MAX_LIST,
        offset: 0,
    }
}

/// Revokes every live grant of a credential; how many.
async fn revoke_grants_of(
    change: &mut Change<'_>,
    credential_id: &str,
    reason: &str,
) -> Result<usize> {
    let grants: Vec<Grant> = change.documents_in::<Grant>(credential_id).await?;
    grants::revoke_all(change, grants, reason).await
}
