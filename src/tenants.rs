//! Tenant administration (used by the CLI): creating the unit of isolation.

use crate::{
    audit::{actors, event_types, AuditEvent},
    error::{Error, Result},
    ids::TenantId,
    store::{self, tenants::TenantRow},
    time::now_ms,
    work::{UnitOfWork, Writer},
};

pub struct TenantService {
    writer: Writer,
}

impl TenantService {
    pub fn new(writer: Writer) -> Self {
        Self { writer }
    }

    /// Creates a tenant; an existing id is a conflict.
    pub async fn create(&self, id: &TenantId, name: Option<&str>) -> Result<TenantRow> {
        let row = TenantRow {
            id: id.to_string(),
            name: name.unwrap_or(id.as_str()).trim().to_string(),
            created_at: now_ms(),
        };
        let mut work = self.writer.begin(id).await?;
        match store::tenants::insert(&mut work, &row).await {
            Err(err) if store::is_unique_violation(&err) => {
                return Err(Error::Conflict(format!("tenant '{id}' already exists")))
            }
            other => other?,
        }
        work.audit(created_event(&row, actors::CLI)).await?;
        work.commit().await?.publish();
        Ok(row)
    }

    /// Sets the tenant's per-key request limit (requests per minute), or restores the default
    /// with `None`. Instances pick the change up within [`crate::ratelimit::LIMIT_CACHE_TTL`].
    pub async fn set_rate_limit(&self, id: &TenantId, per_minute: Option<u32>) -> Result<()> {
        let mut work = self.writer.begin(id).await?;
        let found =
            store::tenants::set_rate_limit(&mut work, id, per_minute.map(i64::from)).await?;
        let data = serde_json::json!({ "requestsPerMinute": per_minute });
        record_setting(work, found, event_types::TENANT_RATE_LIMIT_CHANGED, data).await
    }

    /// Sets whether unknown OpenIntent agents are registered on first use (`None`: the
    /// server's default, on in development mode only). Instances pick the change up within
    /// [`crate::governance::registry::CACHE_TTL`].
    pub async fn set_auto_register_agents(&self, id: &TenantId, on: Option<bool>) -> Result<()> {
        let mut work = self.writer.begin(id).await?;
        let found = store::tenants::set_auto_register_agents(&mut work, id, on).await?;
        let data = serde_json::json!({ "autoRegisterAgents": on });
        record_setting(
            work,
            found,
            event_types::TENANT_AGENT_REGISTRATION_CHANGED,
            data,
        )
        .await
    }

    /// Creates the tenant unless it exists (development tenant at start-up).
    pub async fn ensure(&self, id: &TenantId, name: &str) -> Result<()> {
        let row = TenantRow {
            id: id.to_string(),
            name: name.to_string(),
            created_at: now_ms(),
        };
        let mut work = self.writer.begin(id).await?;
        // An existing tenant: nothing written, nothing to commit.
        if store::tenants::insert_if_absent(&mut work, &row).await? {
            work.audit(created_event(&row, actors::SYSTEM)).await?;
            work.commit().await?.publish();
        }
        Ok(())
    }
}

/// Audits a changed tenant setting and commits; `found` false: the tenant does not exist.
async fn record_setting(
    mut work: UnitOfWork,
    found: bool,
    event_type: &'static str,
    data: serde_json::Value,
) -> Result<()> {
    if !found {
        return Err(Error::NotFound { what: "tenant" });
    }
    let id = work.tenant().clone();
    let event = AuditEvent {
        event_type,
        actor: actors::CLI,
        subject: id.as_str(),
        data,
    };
    work.audit(event).await?;
    work.commit().await?.publish();
    Ok(())
}

fn created_event<'a>(row: &'a TenantRow, actor: &'a str) -> AuditEvent<'a> {
    AuditEvent {
        event_type: event_types::TENANT_CREATED,
        actor,
        subject: &row.id,
        data: serde_json::json!({ "name": row.name }),
    }
}
