//! Access control (RFC-0011): an intent's default policy (`open` or `closed`), ACL entries,
//! and access requests that an authorized agent approves or denies.
//!
//! Enforcement: on a `closed` intent only its creator, agents holding an unexpired entry
//! (`read` to read; `write` or `admin` to change) and admin-scope keys get through; everyone
//! else gets 403. Open intents (the default) cost nothing extra.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    records::{instant, require_text, store_record, RecordKind},
    views::parse_json,
    Caller, Change, NewEvent, OpenIntent,
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
    time::{now_ms, parse_instant, rfc3339, DayBound},
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
fn entry_allows(entry: &Value, agent_id: &str, write: bool) -> bool {
    let unexpired = entry["expires_at"]
        .as_str()
        .and_then(|at| parse_instant(at, DayBound::Start))
        .is_none_or(|at| at > now_ms());
    let strong_enough = !write || matches!(entry["permission"].as_str(), Some("write" | "admin"));
    entry["principal_id"] == agent_id && unexpired && strong_enough
}

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
        caller.tenant.as_str(),
        RecordKind::AclEntry.name(),
        Some(&intent.id),
    )
    .await?;
    let entries: Vec<Value> = rows.iter().map(|row| parse_json(&row.body)).collect();
    match entries
        .iter()
        .any(|entry| entry_allows(entry, &caller.agent_id, write))
    {
        true => Ok(()),
        false => Err(Error::Forbidden(format!(
            "intent {} is closed to agent '{}'",
            intent.id, caller.agent_id
        ))),
    }
}

impl OpenIntent {
    pub async fn acl(&self, caller: &Caller, intent_id: &str) -> Result<Value> {
        let intent = self.intent(caller, intent_id).await?;
        let entries = self
            .records_of(caller, RecordKind::AclEntry, Some(intent_id))
            .await?;
        Ok(
            json!({ "intent_id": intent_id, "default_policy": intent.acl_policy, "entries": entries }),
        )
    }

    /// Replaces the default policy and every entry.
    pub async fn set_acl(&self, caller: &Caller, intent_id: &str, input: AclIn) -> Result<Value> {
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
        let tenant = caller.tenant.to_string();
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
        Ok(
            json!({ "intent_id": intent_id, "default_policy": intent.acl_policy, "entries": entries }),
        )
    }

    pub async fn grant_access(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: EntryIn,
    ) -> Result<Value> {
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
    ) -> Result<Value> {
        require_text(&input.principal_id, "principal_id", 200)?;
        check_permission(&input.requested_permission, "requested_permission")?;
        let mut change = self.change(caller).await?;
        // Asking needs no access to the intent (that is the point), only that it exists.
        if !intent_rows::exists(change.tx(), caller.tenant.as_str(), intent_id).await? {
            return Err(Error::NotFound { what: "intent" });
        }
        let fields = json!({
            "principal_id": input.principal_id,
            "principal_type": input.principal_type,
            "requested_permission": input.requested_permission,
            "reason": input.reason,
            "capabilities": input.capabilities,
            "status": "pending",
            "decided_by": null,
            "decided_at": null,
            "decision_reason": null,
        });
        let (id, request) = store_record(
            &mut change,
            RecordKind::AccessRequest,
            Some(intent_id),
            fields,
        )
        .await?;
        change
            .record(NewEvent::new(
                intent_id,
                "access_requested",
                json!({ "access_request_id": id, "principal_id": request["principal_id"] }),
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
    ) -> Result<Value> {
        let tenant = caller.tenant.to_string();
        let kind = RecordKind::AccessRequest.name();
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        let row = record_rows::get_in(change.tx(), &tenant, kind, request_id)
            .await?
            .filter(|row| row.intent_id.as_deref() == Some(intent_id))
            .ok_or(Error::NotFound {
                what: "access request",
            })?;
        let mut request = parse_json(&row.body);
        if request["status"] != "pending" {
            return Err(Error::Conflict(format!(
                "this access request is already {}",
                request["status"].as_str().unwrap_or("decided")
            )));
        }
        let status = if approve { "approved" } else { "denied" };
        request["status"] = json!(status);
        request["decided_by"] = json!(input
            .decided_by
            .clone()
            .unwrap_or_else(|| caller.agent_id.clone()));
        request["decided_at"] = json!(rfc3339(now_ms()));
        request["decision_reason"] = json!(input.reason);
        record_rows::replace_body(change.tx(), &tenant, kind, request_id, &request.to_string())
            .await?;
        if approve {
            let entry = EntryIn {
                principal_id: request["principal_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                principal_type: request["principal_type"]
                    .as_str()
                    .unwrap_or("agent")
                    .to_string(),
                permission: input.permission.unwrap_or_else(|| {
                    request["requested_permission"]
                        .as_str()
                        .unwrap_or("read")
                        .to_string()
                }),
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

impl OpenIntent {
    /// Removes an ACL entry; the principal's active leases on the intent are revoked with it.
    pub async fn revoke_access(
        &self,
        caller: &Caller,
        intent_id: &str,
        entry_id: &str,
    ) -> Result<()> {
        let tenant = caller.tenant.to_string();
        let kind = RecordKind::AclEntry.name();
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        let entry = record_rows::get_in(change.tx(), &tenant, kind, entry_id)
            .await?
            .filter(|row| row.intent_id.as_deref() == Some(intent_id))
            .ok_or(Error::NotFound { what: "ACL entry" })?;
        record_rows::delete(change.tx(), &tenant, kind, entry_id).await?;
        let principal = parse_json(&entry.body)["principal_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
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
async fn add_entry(change: &mut Change<'_>, intent_id: &str, input: EntryIn) -> Result<Value> {
    require_text(&input.principal_id, "principal_id", 200)?;
    check_permission(&input.permission, "permission")?;
    let fields = json!({
        "principal_id": input.principal_id,
        "principal_type": input.principal_type,
        "permission": input.permission,
        "granted_by": change.caller.agent_id,
        "granted_at": rfc3339(now_ms()),
        "expires_at": instant(input.expires_at.as_deref(), "expires_at")?,
        "reason": input.reason,
    });
    let (_, entry) = store_record(change, RecordKind::AclEntry, Some(intent_id), fields).await?;
    Ok(entry)
}
