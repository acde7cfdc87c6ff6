//! Access control (RFC-0011): an intent's default policy (`open` or `closed`), ACL entries,
//! and access requests that an authorized agent approves or denies.
//!
//! Enforcement: on a `closed` intent only its creator, agents holding an unexpired entry
//! (`read` to read; `write` or `admin` to change) and admin-scope keys get through; everyone
//! else gets 403. Open intents (the default) cost nothing extra.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    records::{decode, instant, require_text, store_record, Record, RecordKind},
    Access, Caller, Change, NewEvent,
};
use crate::{
    error::{Error, Result},
    store::{
        openintent::{
            intents as intent_rows, intents::IntentRow, leases as lease_rows,
            records as record_rows,
        },
        Store,
    },
    time::{now_ms, parse_instant, protocol_instant, DayBound},
};

pub const PERMISSIONS: [&str; 3] = ["read", "write", "admin"];

#[derive(Debug, Deserialize)]
pub struct EntryIn {
    pub principal_id: String,
    #[serde(default = "default_principal_type")]
    pub principal_type: String,
    #[serde(default = "default_permission")]
    pub permission: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AclIn {
    #[serde(default = "default_policy")]
    pub default_policy: String,
    #[serde(default)]
    pub entries: Vec<EntryIn>,
}

#[derive(Debug, Deserialize)]
pub struct AccessRequestIn {
    pub principal_id: String,
    #[serde(default = "default_principal_type")]
    pub principal_type: String,
    #[serde(default = "default_permission")]
    pub requested_permission: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AccessDecisionIn {
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One ACL entry: who may do what to the intent, until when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AclEntry {
    pub intent_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub permission: String,
    pub granted_by: String,
    pub granted_at: String,
    pub expires_at: Option<String>,
    pub reason: Option<String>,
}

impl AclEntry {
    fn allows(&self, agent_id: &str, write: bool) -> bool {
        let unexpired = self
            .expires_at
            .as_deref()
            .and_then(|at| parse_instant(at, DayBound::Start))
            .is_none_or(|at| at > now_ms());
        let strong_enough = !write || matches!(self.permission.as_str(), "write" | "admin");
        self.principal_id == agent_id && unexpired && strong_enough
    }
}

/// A request for access, `pending` until an authorized agent approves or denies it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessRequest {
    pub intent_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub requested_permission: String,
    pub reason: String,
    pub capabilities: Vec<String>,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
}

/// An intent's access control list.
#[derive(Debug, Clone)]
pub struct Acl {
    pub intent_id: String,
    pub default_policy: String,
    pub entries: Vec<Record<AclEntry>>,
}

fn default_principal_type() -> String {
    "agent".into()
}
fn default_permission() -> String {
    "read".into()
}
fn default_policy() -> String {
    "open".into()
}

fn check_permission(raw: &str, field: &str) -> Result<()> {
    match PERMISSIONS.contains(&raw) {
        true => Ok(()),
        false => Err(Error::invalid(
            &[field],
            "must be one of read, write, admin",
        )),
    }
}

/// Whether an entry lets its principal do what `write` asks, now.
/// 403 unless the caller may read (or, with `write`, change) this intent.
pub(crate) async fn check_access(
    store: &Store,
    caller: &Caller,
    intent: &IntentRow,
    write: bool,
) -> Result<()> {
    if intent.acl_policy != "closed" || caller.admin || intent.created_by == caller.agent_id {
        return Ok(());
    }
    let rows = record_rows::list(
        store,
        &caller.tenant,
        RecordKind::AclEntry.name(),
        Some(&intent.id),
    )
    .await?;
    let entries = rows
        .iter()
        .map(decode::<AclEntry>)
        .collect::<Result<Vec<_>>>()?;
    match entries
        .iter()
        .any(|entry| entry.fields.allows(&caller.agent_id, write))
    {
        true => Ok(()),
        false => Err(Error::Forbidden(format!(
            "intent {} is closed to agent '{}'",
            intent.id, caller.agent_id
        ))),
    }
}

impl Access {
    pub async fn acl(&self, caller: &Caller, intent_id: &str) -> Result<Acl> {
        let intent = self.intent(caller, intent_id).await?;
        let entries = self.records_of(caller, Some(intent_id)).await?;
        Ok(Acl {
            intent_id: intent.id,
            default_policy: intent.acl_policy,
            entries,
        })
    }

    /// Replaces the default policy and every entry.
    pub async fn set_acl(&self, caller: &Caller, intent_id: &str, input: AclIn) -> Result<Acl> {
        if !["open", "closed"].contains(&input.default_policy.as_str()) {
            return Err(Error::invalid(
                &["default_policy"],
                "must be open or closed",
            ));
        }
        let mut change = self.change(caller).await?;
        let mut intent = change.intent(self.store(), intent_id).await?;
        intent.acl_policy = input.default_policy.clone();
        intent_rows::update(change.tx(), &intent).await?;
        let tenant = caller.tenant.clone();
        record_rows::delete_for_intent(
            change.tx(),
            &tenant,
            RecordKind::AclEntry.name(),
            intent_id,
        )
        .await?;
        let mut entries = Vec::new();
        for entry in input.entries {
            entries.push(add_entry(&mut change, intent_id, entry).await?);
        }
        change
            .announce(NewEvent::new(
                intent_id,
                "acl_updated",
                json!({ "default_policy": input.default_policy, "entries": entries.len() }),
            ))
            .await?;
        change.commit().await?;
        Ok(Acl {
            intent_id: intent.id,
            default_policy: intent.acl_policy,
            entries,
        })
    }

    pub async fn grant_access(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: EntryIn,
    ) -> Result<Record<AclEntry>> {
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        let entry = add_entry(&mut change, intent_id, input).await?;
        change
            .record(NewEvent::new(
                intent_id,
                "access_granted",
                json!({ "entry": entry }),
            ))
            .await?;
        change.commit().await?;
        Ok(entry)
    }

    pub async fn request_access(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: AccessRequestIn,
    ) -> Result<Record<AccessRequest>> {
        require_text(&input.principal_id, "principal_id", 200)?;
        check_permission(&input.requested_permission, "requested_permission")?;
        let mut change = self.change(caller).await?;
        // Asking needs no access to the intent (that is the point), only that it exists.
        if !intent_rows::exists(change.tx(), &caller.tenant, intent_id).await? {
            return Err(Error::NotFound { what: "intent" });
        }
        let fields = AccessRequest {
            intent_id: intent_id.to_string(),
            principal_id: input.principal_id,
            principal_type: input.principal_type,
            requested_permission: input.requested_permission,
            reason: input.reason,
            capabilities: input.capabilities,
            status: "pending".into(),
            decided_by: None,
            decided_at: None,
            decision_reason: None,
        };
        let request = store_record(&mut change, fields).await?;
        change
            .record(NewEvent::new(
                intent_id,
                "access_requested",
                json!({ "access_request_id": request.id, "principal_id": request.fields.principal_id }),
            ))
            .await?;
        change.commit().await?;
        Ok(request)
    }

    /// Approves (granting an entry) or denies a pending request; a decided one answers 409.
    pub async fn decide_access_request(
        &self,
        caller: &Caller,
        intent_id: &str,
        request_id: &str,
        approve: bool,
        input: AccessDecisionIn,
    ) -> Result<Record<AccessRequest>> {
        let tenant = caller.tenant.clone();
        let kind = RecordKind::AccessRequest.name();
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        let row = record_rows::get_in(change.tx(), &tenant, kind, request_id)
            .await?
            .filter(|row| row.intent_id.as_deref() == Some(intent_id))
            .ok_or(Error::NotFound {
                what: "access request",
            })?;
        let mut request = decode::<AccessRequest>(&row)?;
        if request.fields.status != "pending" {
            return Err(Error::Conflict(format!(
                "this access request is already {}",
                request.fields.status
            )));
        }
        let status = if approve { "approved" } else { "denied" };
        let decided = &mut request.fields;
        decided.status = status.into();
        decided.decided_by = Some(
            input
                .decided_by
                .clone()
                .unwrap_or_else(|| caller.agent_id.clone()),
        );
        decided.decided_at = Some(protocol_instant(now_ms()));
        decided.decision_reason = input.reason.clone();
        let body = serde_json::to_string(&request).map_err(|err| Error::Internal(err.into()))?;
        record_rows::replace_body(change.tx(), &tenant, kind, request_id, &body).await?;
        if approve {
            let entry = EntryIn {
                principal_id: request.fields.principal_id.clone(),
                principal_type: request.fields.principal_type.clone(),
                permission: input
                    .permission
                    .unwrap_or_else(|| request.fields.requested_permission.clone()),
                reason: input.reason,
                expires_at: input.expires_at,
            };
            add_entry(&mut change, intent_id, entry).await?;
        }
        change
            .record(NewEvent::new(
                intent_id,
                &format!("access_request_{status}"),
                json!({ "access_request_id": request_id }),
            ))
            .await?;
        change.commit().await?;
        Ok(request)
    }
}

impl Access {
    /// Removes an ACL entry; the principal's active leases on the intent are revoked with it.
    pub async fn revoke_access(
        &self,
        caller: &Caller,
        intent_id: &str,
        entry_id: &str,
    ) -> Result<()> {
        let tenant = caller.tenant.clone();
        let kind = RecordKind::AclEntry.name();
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        let entry = record_rows::get_in(change.tx(), &tenant, kind, entry_id)
            .await?
            .filter(|row| row.intent_id.as_deref() == Some(intent_id))
            .ok_or(Error::NotFound { what: "ACL entry" })?;
        record_rows::delete(change.tx(), &tenant, kind, entry_id).await?;
        let principal = decode::<AclEntry>(&entry)?.fields.principal_id;
        let leases =
            lease_rows::revoke_held_by(change.tx(), &tenant, intent_id, &principal, now_ms())
                .await?;
        change
            .record(NewEvent::new(
                intent_id,
                "access_revoked",
                json!({ "entry_id": entry_id, "principal_id": principal, "leases_revoked": leases }),
            ))
            .await?;
        change.commit().await
    }
}

/// Validates and stores one ACL entry in the change's transaction.
async fn add_entry(
    change: &mut Change<'_>,
    intent_id: &str,
    input: EntryIn,
) -> Result<Record<AclEntry>> {
    require_text(&input.principal_id, "principal_id", 200)?;
    check_permission(&input.permission, "permission")?;
    let fields = AclEntry {
        intent_id: intent_id.to_string(),
        principal_id: input.principal_id,
        principal_type: input.principal_type,
        permission: input.permission,
        granted_by: change.caller.agent_id.clone(),
        granted_at: protocol_instant(now_ms()),
        expires_at: instant(input.expires_at.as_deref(), "expires_at")?,
        reason: input.reason,
    };
    store_record(change, fields).await
}

super::records::intent_records! {
    AclEntry => AclEntry;
    AccessRequest => AccessRequest;
}
