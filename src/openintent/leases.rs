//! Scope leases (RFC-0003): one agent at a time owns a scope of an intent; leases expire on
//! their own, and state patches to a scope leased by another agent are refused.

use serde_json::json;

use super::{model::Lease, prefixes, Caller, Change, Leases, NewEvent};
use crate::{
    error::{Error, Result},
    ids,
    store::openintent::leases::{self as lease_rows, LeaseRow},
    time::now_ms,
};

/// Longest lease one request may take or renew to: a day.
pub const MAX_LEASE_SECONDS: i64 = 86_400;

fn check_duration(seconds: i64) -> Result<i64> {
    match (1..=MAX_LEASE_SECONDS).contains(&seconds) {
        true => Ok(seconds * 1000),
        false => Err(Error::invalid(
            &["duration_seconds"],
            "must be between 1 and 86400",
        )),
    }
}

fn conflict(message: String, holder: &LeaseRow) -> Error {
    Error::LeaseConflict {
        message,
        lease: json!(Lease::from(holder)),
    }
}

/// Refuses (409, naming the lease) when another agent holds an active lease on a scope.
pub(crate) async fn ensure_scopes_free(
    change: &mut Change<'_>,
    intent_id: &str,
    scopes: &[String],
) -> Result<()> {
    let tenant = change.tenant().clone();
    for scope in scopes {
        if let Some(holder) =
            lease_rows::active_on_scope(change.tx(), &tenant, intent_id, scope).await?
        {
            if holder.agent_id != change.caller.agent_id {
                return Err(conflict(
                    format!("scope '{scope}' is leased by agent '{}'", holder.agent_id),
                    &holder,
                ));
            }
        }
    }
    Ok(())
}

impl Leases {
    pub async fn acquire_lease(
        &self,
        caller: &Caller,
        intent_id: &str,
        scope: &str,
        seconds: i64,
    ) -> Result<Lease> {
        let duration = check_duration(seconds)?;
        if scope.is_empty() || scope.len() > 200 {
            return Err(Error::invalid(&["scope"], "must be 1-200 characters"));
        }
        let mut change = self.change(caller).await?;
        // Locks the intent row (PostgreSQL): acquisitions on one intent run one at a time.
        change.intent(self.store(), intent_id).await?;
        let now = now_ms();
        lease_rows::expire_lapsed(change.tx(), &caller.tenant, intent_id, now).await?;
        let tenant = &caller.tenant;
        if let Some(holder) =
            lease_rows::active_on_scope(change.tx(), tenant, intent_id, scope).await?
        {
            return Err(conflict(
                format!(
                    "lease on scope '{scope}' is already held by agent '{}'",
                    holder.agent_id
                ),
                &holder,
            ));
        }
        let row = LeaseRow {
            tenant_id: tenant.clone(),
            id: ids::new_id(prefixes::LEASE),
            intent_id: intent_id.to_string(),
            agent_id: caller.agent_id.clone(),
            scope: scope.to_string(),
            status: "active".into(),
            expires_at: now + duration,
            acquired_at: now,
            released_at: None,
        };
        lease_rows::insert(change.tx(), &row).await?;
        change
            .record(NewEvent::new(
                intent_id,
                "lease_acquired",
                json!({ "lease_id": row.id, "scope": scope, "agent_id": row.agent_id, "expires_at": crate::time::protocol_instant(row.expires_at) }),
            ))
            .await?;
        change.commit().await?;
        Ok(Lease::from(&row))
    }

    /// The caller's active lease, for renewal or release.
    async fn own_lease(
        change: &mut Change<'_>,
        intent_id: &str,
        lease_id: &str,
    ) -> Result<LeaseRow> {
        let tenant = change.tenant().clone();
        let lease = lease_rows::get(change.tx(), &tenant, intent_id, lease_id)
            .await?
            .ok_or(Error::NotFound { what: "lease" })?;
        if lease.agent_id != change.caller.agent_id {
            return Err(Error::Forbidden(format!(
                "the lease is held by agent '{}'",
                lease.agent_id
            )));
        }
        Ok(lease)
    }

    pub async fn renew_lease(
        &self,
        caller: &Caller,
        intent_id: &str,
        lease_id: &str,
        seconds: i64,
    ) -> Result<Lease> {
        let duration = check_duration(seconds)?;
        let mut change = self.change(caller).await?;
        let mut lease = Self::own_lease(&mut change, intent_id, lease_id).await?;
        let now = now_ms();
        if lease.status != "active" || lease.expires_at <= now {
            return Err(conflict(
                "the lease is no longer active; acquire a new one".into(),
                &lease,
            ));
        }
        lease.expires_at = now + duration;
        lease_rows::update(change.tx(), &lease).await?;
        change
            .announce(NewEvent::new(
                intent_id,
                "lease_renewed",
                json!({ "lease_id": lease.id, "scope": lease.scope }),
            ))
            .await?;
        change.commit().await?;
        Ok(Lease::from(&lease))
    }

    /// Releases the caller's lease; releasing one that already ended changes nothing.
    pub async fn release_lease(
        &self,
        caller: &Caller,
        intent_id: &str,
        lease_id: &str,
    ) -> Result<()> {
        let mut change = self.change(caller).await?;
        let mut lease = Self::own_lease(&mut change, intent_id, lease_id).await?;
        if lease.status != "active" {
            return Ok(());
        }
        lease.status = "released".into();
        lease.released_at = Some(now_ms());
        lease_rows::update(change.tx(), &lease).await?;
        change
            .record(NewEvent::new(
                intent_id,
                "lease_released",
                json!({ "lease_id": lease.id, "scope": lease.scope }),
            ))
            .await?;
        change.commit().await
    }

    pub async fn list_leases(&self, caller: &Caller, intent_id: &str) -> Result<Vec<Lease>> {
        self.intent(caller, intent_id).await?;
        let rows = lease_rows::list(self.store(), &caller.tenant, intent_id).await?;
        Ok(rows.iter().map(Lease::from).collect())
    }
}
