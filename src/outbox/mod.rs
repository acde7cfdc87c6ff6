//! Writing `/v1` events, inside the transaction of the change that causes them: the event
//! joins the tenant's durable event log (what `GET /v1/events` replays) with a delivery for
//! each endpoint subscribed to it, so both exist exactly when the change does and survive any
//! crash after the commit. An event goes to the endpoints enabled and subscribed when the
//! change's transaction looks (on SQLite, whose writes are serialized, that is exactly at its
//! commit).

use serde_json::Value;

pub mod envelope;

use envelope::{envelope, to_js_json};

use crate::{
    error::Result,
    ids,
    ids::TenantId,
    store::webhooks::{self, DeliveryRow, EventRow},
    time::{now_ms, Millis},
};

/// Id prefixes: events (the body's `id`), deliveries.
pub const EVENT_ID_PREFIX: &str = "whk";
pub const DELIVERY_ID_PREFIX: &str = "dlv";

/// A `/v1` event about to be logged, in the webhook envelope: its id and body are fixed now,
/// once: every attempt to every endpoint and every stream sends these exact bytes.
pub fn render(tenant: &TenantId, event: &str, data: &Value) -> EventRow {
    let id = ids::new_id(EVENT_ID_PREFIX);
    let now = now_ms();
    EventRow {
        body: envelope(&id, now, tenant, event, data),
        id,
        tenant_id: tenant.clone(),
        event: event.to_string(),
        created_at: now,
    }
}

/// An event whose whole body the caller gives (the OpenIntent face's RFC-0006 deliveries),
/// written as `JSON.stringify` would write it.
pub fn render_body(tenant: &TenantId, event: &str, body: &Value) -> EventRow {
    EventRow {
        id: ids::new_id(EVENT_ID_PREFIX),
        tenant_id: tenant.clone(),
        event: event.to_string(),
        body: to_js_json(body),
        created_at: now_ms(),
    }
}

/// Logs `row` in the caller's transaction (with the bus `notification` PostgreSQL delivers
/// at commit, if any) with a delivery due now for each enabled endpoint subscribed to it.
pub async fn enqueue(
    tx: &mut sqlx::AnyConnection,
    row: &EventRow,
    notification: Option<(&str, &str)>,
) -> Result<()> {
    webhooks::insert_event(&mut *tx, row, notification).await?;
    let endpoints = webhooks::subscribers(&mut *tx, &row.tenant_id, &row.event).await?;
    deliver_to_at(tx, row, &endpoints, row.created_at).await
}

/// Logs `row` in the caller's transaction with a delivery due now for each of `endpoints`.
pub async fn enqueue_to(
    tx: &mut sqlx::AnyConnection,
    row: &EventRow,
    endpoints: &[String],
) -> Result<()> {
    webhooks::insert_event(&mut *tx, row, None).await?;
    deliver_to_at(tx, row, endpoints, row.created_at).await
}

/// Queues a delivery of the logged event `row` to each of `endpoints`, due at `row`'s time
/// (for a live event) or later (for a recovered one: `due`).
pub async fn deliver_to_at(
    tx: &mut sqlx::AnyConnection,
    row: &EventRow,
    endpoints: &[String],
    due: Millis,
) -> Result<()> {
    for endpoint_id in endpoints {
        let delivery = DeliveryRow {
            id: ids::new_id(DELIVERY_ID_PREFIX),
            tenant_id: row.tenant_id.clone(),
            endpoint_id: endpoint_id.clone(),
            event_id: row.id.clone(),
            event: row.event.clone(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: due,
            last_status_code: None,
            last_error: None,
            created_at: due,
            updated_at: due,
        };
        webhooks::insert_delivery(&mut *tx, &delivery).await?;
    }
    Ok(())
}
