//! `/v1/webhooks`: a tenant's webhook endpoints, their secrets and deliveries (admin scope).

use std::sync::Arc;

use chrono::DateTime;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    types::{Example, MaybeUndefined},
    ApiResponse, Object, OpenApi,
};
use serde_json::json;

use crate::{
    api::{
        error::ApiResult,
        schema::{example, example_json, examples, Word},
        security::Credential,
        types::{patch, Data, ListPage},
        v1::vocab::{DeliveryStatus, WebhookEvent},
        Tag,
    },
    auth::Scope,
    error::Error,
    ids::{DeliveryId, EndpointId},
    pagination::PageRequest,
    store::webhooks::AttemptRow,
    time::rfc3339,
    webhooks::{
        Delivery, Endpoint, EndpointInput, PingResult, Recovered, WebhookService, WithSecret,
    },
};

/// A webhook endpoint (the secret is shown only at creation and rotation).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct WebhookOut {
    id: String,
    url: String,
    events: Vec<Word<WebhookEvent>>,
    description: Option<String>,
    enabled: bool,
    /// Why the endpoint is disabled (by an admin, or automatically after failing for days).
    disabled_reason: Option<String>,
    /// Start of the current run of failed deliveries.
    failing_since: Option<String>,
    /// Until when the secret replaced by the last rotation still signs
    /// (`x-intendedops-signature-previous`).
    previous_secret_valid_until: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Endpoint> for WebhookOut {
    fn from(endpoint: Endpoint) -> Self {
        WebhookOut {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events.into_iter().map(Word::new).collect(),
            description: endpoint.description,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            failing_since: endpoint.failing_since.map(rfc3339),
            previous_secret_valid_until: endpoint.previous_secret_until.map(rfc3339),
            created_at: rfc3339(endpoint.created_at),
            updated_at: rfc3339(endpoint.updated_at),
        }
    }
}

/// The endpoint with its signing secret: store it now, it is not shown again.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct WebhookWithSecretOut {
    #[oai(flatten)]
    endpoint: WebhookOut,
    /// HMAC-SHA256 key of `x-intendedops-signature`.
    secret: String,
}

impl From<WithSecret> for WebhookWithSecretOut {
    fn from(created: WithSecret) -> Self {
        WebhookWithSecretOut {
            endpoint: created.endpoint.into(),
            secret: created.secret,
        }
    }
}

/// What the endpoint answered a test ping.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PingOut {
    /// The ping's `id` (also in `x-intendedops-id`).
    event_id: String,
    /// The endpoint answered 2xx.
    delivered: bool,
    /// The HTTP status it answered; null when no response came.
    status_code: Option<u16>,
    /// Why it did not count as delivered (status, timeout, connection or address refusal).
    error: Option<String>,
    latency_ms: u64,
}

/// A receiver that answered 200 in 42 ms.
impl Example for PingOut {
    fn example() -> Self {
        PingOut {
            event_id: "whk_01HN4X9C3D4E5F6G7H8J9K0M1N".into(),
            delivered: true,
            status_code: Some(200),
            error: None,
            latency_ms: 42,
        }
    }
}

impl From<PingResult> for PingOut {
    fn from(ping: PingResult) -> Self {
        PingOut {
            event_id: ping.event_id,
            delivered: ping.delivered,
            status_code: ping.status_code,
            error: ping.error,
            latency_ms: ping.latency_ms,
        }
    }
}

#[derive(Debug, Object)]
#[oai(
    rename_all = "camelCase",
    deny_unknown_fields,
    example,
    skip_serializing_if_is_none
)]
pub struct CreateWebhookIn {
    /// Where to POST events: a public http(s) URL.
    url: String,
    /// Events to receive.
    events: Vec<Word<WebhookEvent>>,
    description: Option<String>,
    /// Defaults to true.
    enabled: Option<bool>,
}

impl Example for CreateWebhookIn {
    fn example() -> Self {
        CreateWebhookIn {
            url: "https://example.com/webhooks/intendedops".into(),
            events: ["intent.submitted", "intent.approved", "intent.rejected"]
                .map(|event| Word::new(event.into()))
                .into(),
            description: Some("Approvals channel".into()),
            enabled: None,
        }
    }
}

#[derive(Debug, Object)]
#[oai(
    rename_all = "camelCase",
    deny_unknown_fields,
    example,
    skip_serializing_if_is_none
)]
pub struct UpdateWebhookIn {
    url: Option<String>,
    events: Option<Vec<Word<WebhookEvent>>>,
    /// null clears it.
    description: MaybeUndefined<String>,
    /// Re-enabling clears the disabled reason and the failing run.
    enabled: Option<bool>,
}

/// Re-enables an endpoint that was disabled after failing.
impl Example for UpdateWebhookIn {
    fn example() -> Self {
        UpdateWebhookIn {
            url: None,
            events: None,
            description: MaybeUndefined::Undefined,
            enabled: Some(true),
        }
    }
}

/// One attempt to deliver.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AttemptOut {
    attempt: i64,
    started_at: String,
    /// The receiver's HTTP status; absent when no response came.
    status_code: Option<i64>,
    error: Option<String>,
    latency_ms: i64,
}

impl From<AttemptRow> for AttemptOut {
    fn from(row: AttemptRow) -> Self {
        AttemptOut {
            attempt: row.attempt,
            started_at: rfc3339(row.started_at),
            status_code: row.status_code,
            error: row.error,
            latency_ms: row.latency_ms,
        }
    }
}

/// One event's delivery to the endpoint.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct DeliveryOut {
    id: String,
    /// The event's id: the body's `id` and the `x-intendedops-id` header.
    event_id: String,
    event: Word<WebhookEvent>,
    status: Word<DeliveryStatus>,
    next_attempt_at: Option<String>,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    attempts: Vec<AttemptOut>,
    created_at: String,
    updated_at: String,
}

impl From<Delivery> for DeliveryOut {
    fn from(delivery: Delivery) -> Self {
        let row = delivery.row;
        DeliveryOut {
            next_attempt_at: (row.status == "pending").then(|| rfc3339(row.next_attempt_at)),
            id: row.id,
            event_id: row.event_id,
            event: Word::new(row.event),
            status: Word::new(row.status),
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            attempts: delivery
                .attempts
                .into_iter()
                .map(AttemptOut::from)
                .collect(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

impl Example for WebhookOut {
    fn example() -> Self {
        example(json!({
            "id": "whe_01HN4X0A1B2C3D4E5F6G7H8J9K",
            "url": "https://example.com/webhooks/intendedops",
            "events": ["intent.submitted", "intent.approved", "intent.rejected"],
            "description": "Approvals channel",
            "enabled": true,
            "disabledReason": null,
            "failingSince": null,
            "previousSecretValidUntil": null,
            "createdAt": "2024-01-15T09:00:00.000Z",
            "updatedAt": "2024-01-15T09:00:00.000Z"
        }))
    }
}

impl Example for WebhookWithSecretOut {
    fn example() -> Self {
        let mut created = example_json::<WebhookOut>();
        created["secret"] = json!("whsec_4f9a1c7e2b8d3f6a0c5e9b1d7f3a8c2e");
        example(created)
    }
}

/// The seed's approval event, delivered at the second attempt.
impl Example for DeliveryOut {
    fn example() -> Self {
        example(json!({
            "id": "dlv_01HN4X7M8N9P0Q1R2S3T4V5W6X",
            "eventId": "whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
            "event": "intent.approved",
            "status": "delivered",
            "nextAttemptAt": null,
            "lastStatusCode": 200,
            "lastError": null,
            "attempts": [
                {"attempt": 1, "startedAt": "2024-01-15T10:30:00.100Z", "statusCode": 503, "error": "HTTP 503", "latencyMs": 112},
                {"attempt": 2, "startedAt": "2024-01-15T10:30:02.300Z", "statusCode": 200, "error": null, "latencyMs": 87}
            ],
            "createdAt": "2024-01-15T10:30:00.000Z",
            "updatedAt": "2024-01-15T10:30:02.400Z"
        }))
    }
}

#[derive(ApiResponse)]
pub enum CreateWebhookResponse {
    /// The endpoint is registered; `secret` is shown only here.
    #[oai(status = 201)]
    Created(Json<Data<WebhookWithSecretOut>>),
}

/// Where a recovery starts.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct RecoverIn {
    /// RFC 3339 date-time: events from this moment on (and not before the endpoint existed).
    since: String,
}

impl Example for RecoverIn {
    fn example() -> Self {
        RecoverIn {
            since: "2024-01-15T00:00:00Z".into(),
        }
    }
}

/// What a recovery queued.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct RecoveredOut {
    /// Events the endpoint had no delivery of (missed while disabled), now queued.
    queued: u64,
    /// Deliveries that had exhausted their retries, due again now.
    requeued: u64,
    /// The per-call maximum was queued: call again with the same `since` for the rest.
    more: bool,
}

examples! {
    RecoveredOut => { "queued": 12, "requeued": 3, "more": false }
}

impl From<Recovered> for RecoveredOut {
    fn from(recovered: Recovered) -> Self {
        RecoveredOut {
            queued: recovered.queued,
            requeued: recovered.requeued,
            more: recovered.more,
        }
    }
}

#[derive(ApiResponse)]
pub enum RecoverResponse {
    /// The deliveries are queued; they go out as any delivery does (to an enabled endpoint).
    #[oai(status = 202)]
    Accepted(Json<Data<RecoveredOut>>),
}

#[derive(ApiResponse)]
pub enum RetryResponse {
    /// The delivery is due again now.
    #[oai(status = 202)]
    Accepted(Json<Data<DeliveryOut>>),
}

pub struct WebhooksApi {
    webhooks: Arc<WebhookService>,
}

impl WebhooksApi {
    pub fn new(webhooks: Arc<WebhookService>) -> Self {
        Self { webhooks }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Webhooks")]
impl WebhooksApi {
    /// The tenant's webhook endpoints, newest first.
    #[oai(path = "/webhooks", method = "get", operation_id = "list_webhooks")]
    async fn list(
        &self,
        auth: Credential,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<WebhookOut>>>> {
        let caller = auth.require(Scope::Admin)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let endpoints = self.webhooks.list(&caller.tenant_id, request).await?;
        Ok(Json(Data::new(ListPage::from_page(
            endpoints,
            WebhookOut::from,
        ))))
    }

    /// Register an endpoint. The URL must be public http(s); the response holds the signing
    /// secret, shown only now. Each event is POSTed as compact JSON, signed in
    /// `x-intendedops-signature` (hex HMAC-SHA256 of the body with the secret):
    /// `{"id":"whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G","timestamp":"2024-01-15T10:30:00.000Z",
    /// "tenantId":"tenant123","event":"intent.approved","data":{"intentId":"int_abc123",
    /// "type":"billing.send_invoice","status":"approved","approvedBy":"user_456"}}`.
    #[oai(path = "/webhooks", method = "post", operation_id = "create_webhook")]
    async fn create(
        &self,
        auth: Credential,
        body: Json<CreateWebhookIn>,
    ) -> ApiResult<CreateWebhookResponse> {
        let caller = auth.require(Scope::Admin)?;
        let body = body.0;
        let input = EndpointInput {
            url: Some(body.url),
            events: Some(words(body.events)),
            description: Some(body.description),
            enabled: body.enabled,
        };
        let created = self
            .webhooks
            .create(&caller.tenant_id, &caller.key_id, input)
            .await?;
        Ok(CreateWebhookResponse::Created(Json(Data::new(
            created.into(),
        ))))
    }

    /// One endpoint.
    #[oai(path = "/webhooks/:id", method = "get", operation_id = "get_webhook")]
    async fn get(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
    ) -> ApiResult<Json<Data<WebhookOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let endpoint = self.webhooks.get(&caller.tenant_id, &id).await?;
        Ok(Json(Data::new(endpoint.into())))
    }

    /// Change an endpoint's URL, events, description, or enable/disable it.
    #[oai(
        path = "/webhooks/:id",
        method = "patch",
        operation_id = "update_webhook"
    )]
    async fn update(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
        body: Json<UpdateWebhookIn>,
    ) -> ApiResult<Json<Data<WebhookOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let body = body.0;
        let input = EndpointInput {
            url: body.url,
            events: body.events.map(words),
            description: patch(body.description, |d| d),
            enabled: body.enabled,
        };
        let endpoint = self
            .webhooks
            .update(&caller.tenant_id, &caller.key_id, &id, input)
            .await?;
        Ok(Json(Data::new(endpoint.into())))
    }

    /// Delete an endpoint; its undelivered events are given up.
    #[oai(
        path = "/webhooks/:id",
        method = "delete",
        operation_id = "delete_webhook"
    )]
    async fn delete(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
    ) -> ApiResult<Json<Data<WebhookOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let endpoint = self
            .webhooks
            .delete(&caller.tenant_id, &caller.key_id, &id)
            .await?;
        Ok(Json(Data::new(endpoint.into())))
    }

    /// Replace the signing secret. For 24 hours the old secret still signs every delivery in
    /// `x-intendedops-signature-previous`, so consumers can switch without losing events.
    #[oai(
        path = "/webhooks/:id/rotate",
        method = "post",
        operation_id = "rotate_webhook_secret"
    )]
    async fn rotate(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
    ) -> ApiResult<Json<Data<WebhookWithSecretOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let rotated = self
            .webhooks
            .rotate(&caller.tenant_id, &caller.key_id, &id)
            .await?;
        Ok(Json(Data::new(rotated.into())))
    }

    /// Send the endpoint a signed `ping` event now and report what it answered. The ping has
    /// the body shape and headers of every delivery, signed with the current secret (and the
    /// previous one during a rotation); it is not queued or retried. Works on a disabled
    /// endpoint too, to check it before re-enabling.
    #[oai(
        path = "/webhooks/:id/test",
        method = "post",
        operation_id = "test_webhook"
    )]
    async fn test(&self, auth: Credential, id: Path<EndpointId>) -> ApiResult<Json<Data<PingOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let ping = self.webhooks.ping(&caller.tenant_id, &id).await?;
        Ok(Json(Data::new(ping.into())))
    }

    /// The endpoint's deliveries, newest first, each with every attempt.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        operation_id = "list_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<DeliveryOut>>>> {
        let caller = auth.require(Scope::Admin)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let deliveries = self
            .webhooks
            .deliveries(&caller.tenant_id, &id, request)
            .await?;
        Ok(Json(Data::new(ListPage::from_page(
            deliveries,
            DeliveryOut::from,
        ))))
    }

    /// Deliver again now, whatever the delivery's state.
    #[oai(
        path = "/webhooks/:id/deliveries/:delivery_id/retry",
        method = "post",
        operation_id = "retry_webhook_delivery"
    )]
    async fn retry(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
        delivery_id: Path<DeliveryId>,
    ) -> ApiResult<RetryResponse> {
        let caller = auth.require(Scope::Admin)?;
        let delivery = self
            .webhooks
            .retry(&caller.tenant_id, &caller.key_id, &id, &delivery_id)
            .await?;
        Ok(RetryResponse::Accepted(Json(Data::new(delivery.into()))))
    }

    /// Re-queue what the endpoint did not get since `since`: every subscribed event it has
    /// no delivery of (those logged while it was disabled) and every delivery that exhausted
    /// its retries. Delivered events are not sent again; receivers deduplicate by
    /// `webhook-id` anyway. Audited as `webhook.recovery.requested`.
    #[oai(
        path = "/webhooks/:id/recover",
        method = "post",
        operation_id = "recover_webhook"
    )]
    async fn recover(
        &self,
        auth: Credential,
        id: Path<EndpointId>,
        body: Json<RecoverIn>,
    ) -> ApiResult<RecoverResponse> {
        let caller = auth.require(Scope::Admin)?;
        let since = DateTime::parse_from_rfc3339(body.0.since.trim())
            .map_err(|_| Error::invalid(&["since"], "must be an RFC 3339 date-time"))?
            .timestamp_millis();
        let recovered = self
            .webhooks
            .recover(&caller.tenant_id, &caller.key_id, &id, since)
            .await?;
        Ok(RecoverResponse::Accepted(Json(Data::new(recovered.into()))))
    }
}

/// The event names as the service reads them (it reports unknown ones with their path).
fn words(events: Vec<Word<WebhookEvent>>) -> Vec<String> {
    events.into_iter().map(|event| event.value).collect()
}
