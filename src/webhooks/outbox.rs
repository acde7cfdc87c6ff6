//! Writing events to the outbox, inside the transaction of the change that causes them: the
//! event and its deliveries exist exactly when the change does, and survive any crash after
//! the commit. An event goes to the endpoints enabled and subscribed when the change's
//! transaction looks (on SQLite, whose writes are serialized, that is exactly at its commit).

use serde_json::Value;

use super::{payload::envelope, DELIVERY_ID_PREFIX, EVENT_ID_PREFIX};
use crate::{
    auth::TenantId,
    error::Result,
    ids,
    store::webhooks::{self, DeliveryRow, EventRow},
    time::now_ms,
};

/// Puts `event` with `data` in the outbox of `tenant`, in the caller's transaction, with a
/// delivery due now for each enabled endpoint subscribed to it (tenants without webhooks pay
/// one indexed read). The body is rendered now, once: every attempt to every endpoint sends
/// these exact bytes.
pub async fn enqueue(
    tx: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    event: &str,
    data: &Value,
) -> Result<()> {
    let endpoints = webhooks::subscribers(&mut *tx, tenant.as_str(), event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let id = ids::new_id(EVENT_ID_PREFIX);
    let now = now_ms();
    let body = envelope(&id, now, tenant, event, data);
    let row = EventRow {
        id,
        tenant_id: tenant.to_string(),
        event: event.to_string(),
        body,
        created_at: now,
    };
    webhooks::insert_event(&mut *tx, &row).await?;
    for endpoint_id in endpoints {
        let delivery = DeliveryRow {
            id: ids::new_id(DELIVERY_ID_PREFIX),
            tenant_id: row.tenant_id.clone(),
            endpoint_id,
            event_id: row.id.clone(),
            event: row.event.clone(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        webhooks::insert_delivery(&mut *tx, &delivery).await?;
    }
    Ok(())
}
