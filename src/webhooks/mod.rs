//! Signed webhooks: tenants register endpoints for events; every event is written to an outbox
//! in the transaction of its change ([`outbox`]), fanned out to the subscribed endpoints and
//! sent with retries by [`delivery`]. Bodies and signatures are in [`payload`]; which targets
//! may be called is [`crate::outbound`]'s business.

pub mod delivery;
mod sealing;
pub mod sender;
pub mod standard;

use std::{collections::HashMap, sync::Arc};

use serde_json::json;

use crate::outbound::target::TargetPolicy;
use crate::{
    audit::AuditEvent,
    auth::TenantId,
    error::{Error, FieldError, Result},
    ids,
    outbox::{self, envelope},
    pagination::{Page, PageRequest},
    secrets::SecretBox,
    store::webhooks::{self, AttemptRow, DeliveryRow, EndpointRow, SecretColumns},
    time::{now_ms, Millis},
    work::Writer,
};
use sealing::{Reseal, SigningSecrets};
use sender::{Message, Outcome, Sender};

/// The id prefix of endpoints.
pub const ENDPOINT_ID_PREFIX: &str = "whe";

/// The events an endpoint can subscribe to (SPEC.md §3 "Webhooks", plus `intent.blocked` and
/// `intent.cancelled`).
pub const EVENTS: [&str; 9] = [
    "intent.submitted",
    "intent.approved",
    "intent.rejected",
    "intent.blocked",
    "intent.cancelled",
    "intent.completed",
    "intent.failed",
    "agent.registered",
    "agent.trust.changed",
];

/// The event of an endpoint's test ping (`POST /v1/webhooks/{id}/test`); never subscribed to,
/// never queued.
pub const PING_EVENT: &str = "ping";

/// How long the secret replaced by a rotation keeps signing (in a second header).
pub const ROTATION_GRACE_MS: Millis = 24 * 3600 * 1000;

const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 500;

mod audit_events {
    pub const CREATED: &str = "webhook.created";
    pub const UPDATED: &str = "webhook.updated";
    pub const DELETED: &str = "webhook.deleted";
    pub const ROTATED: &str = "webhook.secret.rotated";
    pub const REDELIVERY: &str = "webhook.redelivery.requested";
    pub const RECOVERY: &str = "webhook.recovery.requested";
}

/// Most missed events one recovery queues; a longer gap takes more calls (each resumes where
/// the last stopped, as missed events then have deliveries).
pub const MAX_RECOVERED: i64 = 10_000;

/// What a recovery queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Events the endpoint had no delivery of (missed while disabled or unsubscribed), queued.
    pub queued: u64,
    /// Dead deliveries (retries exhausted) made due again.
    pub requeued: u64,
    /// [`MAX_RECOVERED`] missed events were queued and more may remain: call again.
    pub more: bool,
}

/// An endpoint as its tenant sees it: never the secret.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<Millis>,
    /// Until when the secret replaced by the last rotation still signs.
    pub previous_secret_until: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl From<&EndpointRow> for Endpoint {
    fn from(row: &EndpointRow) -> Self {
        Endpoint {
            id: row.id.clone(),
            url: row.url.clone(),
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            description: row.description.clone(),
            enabled: row.enabled == 1,
            disabled_reason: row.disabled_reason.clone(),
            failing_since: row.failing_since,
            previous_secret_until: row.secrets.previous_secret_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// An endpoint with its secret: the answer to creation and rotation only.
pub struct WithSecret {
    pub endpoint: Endpoint,
    pub secret: String,
}

/// A registration or a change; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A delivery with every attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub row: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

/// What a test ping to an endpoint got back.
#[derive(Debug, Clone)]
pub struct PingResult {
    /// The `id` of the ping's body (and its `x-intendedops-id`).
    pub event_id: String,
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
}

pub struct WebhookService {
    writer: Writer,
    targets: TargetPolicy,
    sender: Arc<Sender>,
    secrets: Arc<SecretBox>,
}

impl WebhookService {
    pub fn new(
        writer: Writer,
        targets: TargetPolicy,
        sender: Arc<Sender>,
        secrets: Arc<SecretBox>,
    ) -> Self {
        Self {
            writer,
            targets,
            sender,
            secrets,
        }
    }

    /// At start-up: the configured keys must open the stored signing secrets (a missing or
    /// wrong key is a start-up error), and secrets stored in clear before sealing existed are
    /// sealed now. Returns how many endpoints were sealed.
    pub async fn secure_stored_secrets(&self) -> Result<usize> {
        sealing::check_keys(self.writer.store(), &self.secrets).await?;
        sealing::reseal(self.writer.store(), &self.secrets, Reseal::InClear).await
    }

    /// Re-seals every stored signing secret under the current key (`intendedops secrets
    /// rotate`); returns how many endpoints changed.
    pub async fn reseal_under_current_key(&self) -> Result<usize> {
        sealing::reseal(
            self.writer.store(),
            &self.secrets,
            Reseal::NotUnderCurrentKey,
        )
        .await
    }

    /// Sends the endpoint a signed `ping` now, as a delivery would be sent (same headers,
    /// secrets and address checks), and reports what came back. Nothing is queued or retried,
    /// and a disabled endpoint can be pinged too: that is how to check it before re-enabling.
    pub async fn ping(&self, tenant: &TenantId, id: &str) -> Result<PingResult> {
        let mut conn = self.writer.store().reader().acquire().await?;
        let row = found(webhooks::get_endpoint(&mut conn, tenant, id).await?)?;
        drop(conn);
        let event_id = ids::new_id(outbox::EVENT_ID_PREFIX);
        let now = now_ms();
        let data = json!({
            "endpointId": row.id,
            "message": "A test event from IntendedOps: the endpoint is reachable and can verify \
                        signatures. No action is needed.",
        });
        let body = envelope::envelope(&event_id, now, tenant, PING_EVENT, &data);
        let outcome =
            match SigningSecrets::open(&self.secrets, tenant.as_str(), id, &row.secrets, now) {
                Ok(signing) => {
                    self.sender
                        .send(&Message {
                            url: &row.url,
                            event_id: &event_id,
                            event: PING_EVENT,
                            created_at: now,
                            body: &body,
                            secret: &signing.current,
                            previous_secret: signing.previous.as_deref().map(String::as_str),
                        })
                        .await
                }
                Err(err) => Outcome::not_sent(err),
            };
        tracing::info!(tenant = %tenant, endpoint = %row.id, delivered = outcome.delivered(),
            status = outcome.status_code, "webhook test ping sent");
        Ok(PingResult {
            event_id,
            delivered: outcome.delivered(),
            status_code: outcome.status_code,
            latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
            error: outcome.error,
        })
    }

    pub async fn create(
        &self,
        tenant: &TenantId,
        actor: &str,
        input: EndpointInput,
    ) -> Result<WithSecret> {
        let (Some(url), Some(events)) = (&input.url, &input.events) else {
            let mut missing = Vec::new();
            if input.url.is_none() {
                missing.push(FieldError::new(&["url"], "is required"));
            }
            if input.events.is_none() {
                missing.push(FieldError::new(&["events"], "is required"));
            }
            return Err(Error::Validation(missing));
        };
        let events = checked_events(events)?;
        let description = checked_description(input.description.flatten())?;
        let (row, secret) = self
            .new_endpoint(
                tenant,
                url,
                &events,
                description,
                input.enabled.unwrap_or(true),
            )
            .await?;
        let mut work = self.writer.begin(tenant).await?;
        webhooks::insert_endpoint(&mut work, &row).await?;
        work.audit(change_event(audit_events::CREATED, actor, &row))
            .await?;
        work.commit().await?.publish();
        Ok(WithSecret {
            endpoint: Endpoint::from(&row),
            secret,
        })
    }

    /// A new endpoint of `tenant` for `url` (checked as a safe target) and its signing secret
    /// (returned in clear once, stored sealed); not yet stored.
    pub async fn new_endpoint(
        &self,
        tenant: &TenantId,
        url: &str,
        events: &[String],
        description: Option<String>,
        enabled: bool,
    ) -> Result<(EndpointRow, String)> {
        let url = self.checked_url(url, "url").await?;
        let now = now_ms();
        let id = ids::new_id(ENDPOINT_ID_PREFIX);
        let secret = standard::new_secret();
        let sealed = sealing::seal(&self.secrets, tenant.as_str(), &id, &secret)?;
        let row = EndpointRow {
            tenant_id: tenant.clone(),
            id,
            url,
            events: json!(events).to_string(),
            description,
            secrets: SecretColumns {
                secret: sealed.text(),
                secret_key_id: Some(sealed.key_id),
                previous_secret: None,
                previous_secret_key_id: None,
                previous_secret_until: None,
            },
            enabled: i64::from(enabled),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        Ok((row, secret))
    }

    pub async fn update(
        &self,
        tenant: &TenantId,
        actor: &str,
        id: &str,
        input: EndpointInput,
    ) -> Result<Endpoint> {
        let url = match &input.url {
            Some(url) => Some(self.checked_url(url, "url").await?),
            None => None,
        };
        let events = input.events.as_deref().map(checked_events).transpose()?;
        let description = input.description.map(checked_description).transpose()?;
        let mut work = self.writer.begin(tenant).await?;
        let mut row = found(webhooks::get_endpoint(&mut work, tenant, id).await?)?;
        if let Some(url) = url {
            row.url = url;
        }
        if let Some(events) = events {
            row.events = json!(events).to_string();
        }
        if let Some(description) = description {
            row.description = description;
        }
        if let Some(enabled) = input.enabled {
            let was_enabled = row.enabled == 1;
            if enabled && !was_enabled {
                // Re-enabled: a fresh start.
                row.disabled_reason = None;
                row.failing_since = None;
            }
            if !enabled && was_enabled {
                row.disabled_reason = Some(format!("disabled by {actor}"));
            }
            row.enabled = i64::from(enabled);
        }
        row.updated_at = now_ms();
        webhooks::update_endpoint(&mut work, &row).await?;
        work.audit(change_event(audit_events::UPDATED, actor, &row))
            .await?;
        work.commit().await?.publish();
        Ok(Endpoint::from(&row))
    }

    /// A new secret; the old one keeps signing (header `x-intendedops-signature-previous`)
    /// for [`ROTATION_GRACE_MS`], so consumers can switch without dropping events.
    pub async fn rotate(&self, tenant: &TenantId, actor: &str, id: &str) -> Result<WithSecret> {
        let mut work = self.writer.begin(tenant).await?;
        let mut row = found(webhooks::get_endpoint(&mut work, tenant, id).await?)?;
        let now = now_ms();
        let secret = standard::new_secret();
        let sealed = sealing::seal(&self.secrets, tenant.as_str(), id, &secret)?;
        // The sealed current secret moves as it is: its seal binds the endpoint, not the column.
        let stored = &mut row.secrets;
        stored.previous_secret = Some(std::mem::replace(&mut stored.secret, sealed.text()));
        stored.previous_secret_key_id = stored.secret_key_id.replace(sealed.key_id);
        stored.previous_secret_until = Some(now + ROTATION_GRACE_MS);
        row.updated_at = now;
        webhooks::update_endpoint(&mut work, &row).await?;
        work.audit(change_event(audit_events::ROTATED, actor, &row))
            .await?;
        work.commit().await?.publish();
        Ok(WithSecret {
            endpoint: Endpoint::from(&row),
            secret,
        })
    }

    /// Deletes the endpoint; its undelivered events are given up.
    pub async fn delete(&self, tenant: &TenantId, actor: &str, id: &str) -> Result<Endpoint> {
        let mut work = self.writer.begin(tenant).await?;
        let row = found(webhooks::get_endpoint(&mut work, tenant, id).await?)?;
        webhooks::delete_endpoint(&mut work, tenant, id, now_ms()).await?;
        work.audit(change_event(audit_events::DELETED, actor, &row))
            .await?;
        work.commit().await?.publish();
        Ok(Endpoint::from(&row))
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Endpoint> {
        let mut conn = self.writer.store().reader().acquire().await?;
        let row = found(webhooks::get_endpoint(&mut conn, tenant, id).await?)?;
        Ok(Endpoint::from(&row))
    }

    pub async fn list(&self, tenant: &TenantId, page: PageRequest) -> Result<Page<Endpoint>> {
        let (rows, total) =
            webhooks::list_endpoints(self.writer.store(), tenant, page.limit(), page.offset())
                .await?;
        Ok(Page {
            items: rows.iter().map(Endpoint::from).collect(),
            total,
            request: page,
        })
    }

    /// The endpoint's deliveries, newest first, each with its attempts.
    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        self.get(tenant, endpoint_id).await?;
        let (rows, total) = webhooks::list_deliveries(
            self.writer.store(),
            tenant,
            endpoint_id,
            page.limit(),
            page.offset(),
        )
        .await?;
        let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
        let mut attempts: HashMap<String, Vec<AttemptRow>> = HashMap::new();
        for attempt in webhooks::attempts_of(self.writer.store(), &ids).await? {
            attempts
                .entry(attempt.delivery_id.clone())
                .or_default()
                .push(attempt);
        }
        let deliveries = rows
            .into_iter()
            .map(|row| Delivery {
                attempts: attempts.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect();
        Ok(Page {
            items: deliveries,
            total,
            request: page,
        })
    }

    /// Makes a delivery due again now (whatever its state): a manual redelivery.
    pub async fn retry(
        &self,
        tenant: &TenantId,
        actor: &str,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<Delivery> {
        let mut work = self.writer.begin(tenant).await?;
        let mut row = webhooks::get_delivery(&mut work, tenant, endpoint_id, delivery_id)
            .await?
            .ok_or(Error::NotFound { what: "delivery" })?;
        let now = now_ms();
        webhooks::requeue_delivery(&mut work, delivery_id, now).await?;
        let event = AuditEvent {
            event_type: audit_events::REDELIVERY,
            actor,
            subject: delivery_id,
            data: json!({"endpointId": endpoint_id, "eventId": row.event_id, "event": row.event}),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        row.status = "pending".into();
        row.next_attempt_at = now;
        let attempts = webhooks::attempts_of(self.writer.store(), &[delivery_id]).await?;
        Ok(Delivery { row, attempts })
    }

    /// Re-queues what the endpoint did not get of the events since `since` (at most its
    /// creation): a delivery of each subscribed event it has none of (missed while it was
    /// disabled) and its dead deliveries, due now, audited. Delivered and pending deliveries
    /// stay as they are; the log keeps events as long as webhook deliveries are kept.
    pub async fn recover(
        &self,
        tenant: &TenantId,
        actor: &str,
        endpoint_id: &str,
        since: Millis,
    ) -> Result<Recovered> {
        let mut work = self.writer.begin(tenant).await?;
        let row = found(webhooks::get_endpoint(&mut work, tenant, endpoint_id).await?)?;
        let events: Vec<String> = serde_json::from_str(&row.events).unwrap_or_default();
        let now = now_ms();
        let since = since.max(row.created_at);
        let missed = webhooks::events_missed_by(
            &mut work,
            tenant,
            endpoint_id,
            &events,
            (since, now),
            MAX_RECOVERED,
        )
        .await?;
        let endpoint = [row.id.clone()];
        for event in &missed {
            outbox::deliver_to_at(&mut work, event, &endpoint, now).await?;
        }
        let requeued =
            webhooks::requeue_dead_since(&mut work, tenant, endpoint_id, since, now).await?;
        let recovered = Recovered {
            queued: missed.len() as u64,
            requeued,
            more: missed.len() as i64 == MAX_RECOVERED,
        };
        let event = AuditEvent {
            event_type: audit_events::RECOVERY,
            actor,
            subject: endpoint_id,
            data: json!({
                "since": crate::time::rfc3339(since),
                "queued": recovered.queued,
                "requeued": recovered.requeued,
            }),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        Ok(recovered)
    }

    /// A URL the service may call (see [`target`]), normalized; else a 400 naming `field`.
    /// Every outbound target a tenant names passes here: webhook endpoints, federation peers.
    pub async fn checked_url(&self, url: &str, field: &str) -> Result<String> {
        let url = url.trim();
        if url.len() > MAX_URL_LEN {
            return Err(Error::invalid(
                &[field],
                format!("must be at most {MAX_URL_LEN} characters"),
            ));
        }
        match self.targets.check(url).await {
            Ok(parsed) => Ok(parsed.to_string()),
            Err(unsafe_target) => Err(Error::invalid(&[field], unsafe_target.to_string())),
        }
    }
}

fn found(row: Option<EndpointRow>) -> Result<EndpointRow> {
    row.ok_or(Error::NotFound { what: "webhook" })
}

/// The subscribed events, deduplicated in the catalog's order; at least one, all known.
fn checked_events(events: &[String]) -> Result<Vec<String>> {
    let unknown: Vec<FieldError> = events
        .iter()
        .enumerate()
        .filter(|(_, event)| !EVENTS.contains(&event.as_str()))
        .map(|(i, event)| {
            FieldError::new(
                &["events", &i.to_string()],
                format!("unknown event '{event}'; known: {}", EVENTS.join(", ")),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Validation(unknown));
    }
    if events.is_empty() {
        return Err(Error::invalid(&["events"], "must list at least one event"));
    }
    Ok(EVENTS
        .iter()
        .filter(|known| events.iter().any(|e| e == *known))
        .map(|known| known.to_string())
        .collect())
}

fn checked_description(description: Option<String>) -> Result<Option<String>> {
    let description = description
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        return Err(Error::invalid(
            &["description"],
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok(description)
}

/// The audit record of an endpoint change: never the secret.
fn change_event<'a>(
    event_type: &'static str,
    actor: &'a str,
    row: &'a EndpointRow,
) -> AuditEvent<'a> {
    AuditEvent {
        event_type,
        actor,
        subject: &row.id,
        data: json!({
            "url": row.url,
            "events": serde_json::from_str::<serde_json::Value>(&row.events).unwrap_or_default(),
            "enabled": row.enabled == 1,
        }),
    }
}
