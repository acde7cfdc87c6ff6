//! Writing events to the outbox, inside the transaction of the change that causes them: the
//! event exists exactly when the change does, and survives any crash after the commit. An
//! event is queued for the endpoints enabled and subscribed when the change's transaction
//! looks (on SQLite, whose writes are serialized, that is exactly at its commit).

use serde_json::Value;

use super::{payload::to_js_json, EVENT_ID_PREFIX};
use crate::{
    auth::TenantId,
    error::Result,
    ids,
    store::webhooks::{self, EventRow},
    time::{now_ms, rfc3339},
};

/// Puts `event` with `data` in the outbox of `tenant`, in the caller's transaction, when an
/// enabled endpoint subscribes to it (so tenants without webhooks pay one indexed read). The
/// body is rendered now, once: every attempt to every endpoint sends these exact bytes.
pub async fn enqueue(
    tx: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    event: &str,
    data: &Value,
) -> Result<()> {
    if !webhooks::any_subscribed(&mut *tx, tenant.as_str(), event).await? {
        return Ok(());
    }
    let id = ids::new_id(EVENT_ID_PREFIX);
    let now = now_ms();
    // The seed's member order: id, timestamp, tenantId, event, data.
    let body = format!(
        "{{\"id\":{},\"timestamp\":{},\"tenantId\":{},\"event\":{},\"data\":{}}}",
        Value::from(id.as_str()),
        Value::from(rfc3339(now)),
        Value::from(tenant.as_str()),
        Value::from(event),
        to_js_json(data),
    );
    let row = EventRow {
        id,
        tenant_id: tenant.to_string(),
        event: event.to_string(),
        body,
        created_at: now,
    };
    webhooks::insert_event(tx, &row).await?;
    Ok(())
}
