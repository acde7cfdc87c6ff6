//! RFC-0006 subscriptions: records of who follows which intents' events. Live delivery is the
//! SSE streams ([`super::streams`]); a subscription with a `webhook_url` is also delivered by
//! POST, through the same signed, retried outbox as `/v1` webhooks: it gets an endpoint of its
//! own (shown in `GET /v1/webhooks` with its delivery log, its secret returned once as
//! `webhook_secret`), and every event of the intents it follows is queued for that endpoint in
//! the event's transaction, with the RFC's body `{"subscription_id", "event"}`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    model::Event,
    records::{instant, store_record, Record, RecordFields, RecordKind},
    Caller, Change, Subscriptions,
};
use crate::{
    error::{Error, Result},
    outbox,
    store::{
        openintent::{portfolios as portfolio_rows, webhook_targets, webhook_targets::TargetRow},
        webhooks as endpoint_rows,
    },
    time::{now_ms, parse_instant, DayBound},
};

#[derive(Debug, Deserialize)]
pub struct SubscriptionIn {
    #[serde(default)]
    pub intent_id: Option<String>,
    #[serde(default)]
    pub portfolio_id: Option<String>,
    #[serde(default)]
    pub subscriber_id: Option<String>,
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// Who follows which intents' events (a tenant-level record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub intent_id: Option<String>,
    pub portfolio_id: Option<String>,
    pub subscriber_id: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub webhook_url: Option<String>,
    pub webhook_endpoint_id: Option<String>,
    pub active: bool,
    pub expires_at: Option<String>,
}

impl RecordFields for Subscription {
    const KIND: RecordKind = RecordKind::Subscription;
    fn owner(&self) -> Option<&str> {
        None
    }
}

/// A subscription just made, with the signing secret of its webhook (shown this once).
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub subscription: Record<Subscription>,
    pub webhook_secret: Option<String>,
}

/// The event name webhook deliveries of protocol events carry (`x-intendedops-event`).
fn delivery_event(event_type: &str) -> String {
    format!("openintent.{event_type}")
}

impl Subscriptions {
    /// A subscription to an intent's or portfolio's events (or every intent's), listed and
    /// deletable; with a `webhook_url`, delivered there too.
    pub async fn subscribe(
        &self,
        caller: &Caller,
        input: SubscriptionIn,
    ) -> Result<NewSubscription> {
        let tenant = &caller.tenant;
        if let Some(intent_id) = &input.intent_id {
            // 404 for unknown ids, 403 for a closed intent the caller may not read.
            self.intent(caller, intent_id).await?;
        }
        if let Some(portfolio_id) = &input.portfolio_id {
            if portfolio_rows::get(self.store(), tenant, portfolio_id)
                .await?
                .is_none()
            {
                return Err(Error::NotFound { what: "portfolio" });
            }
        }
        for event_type in &input.event_types {
            super::intents::check_event_type(event_type)?;
        }
        let expires_at = instant(input.expires_at.as_deref(), "expires_at")?;
        // The target is checked (scheme, address) before anything is stored.
        let endpoint = match &input.webhook_url {
            Some(url) => Some(
                self.webhooks
                    .new_endpoint(&caller.tenant, url, &[], None, true)
                    .await
                    .map_err(|err| err.renamed_field("url", "webhook_url"))?,
            ),
            None => None,
        };
        let fields = Subscription {
            intent_id: input.intent_id.clone(),
            portfolio_id: input.portfolio_id.clone(),
            subscriber_id: self.attributed(caller, input.subscriber_id).await?,
            event_types: input.event_types.clone(),
            webhook_url: endpoint.as_ref().map(|(row, _)| row.url.clone()),
            webhook_endpoint_id: endpoint.as_ref().map(|(row, _)| row.id.clone()),
            active: true,
            expires_at: expires_at.clone(),
        };
        let mut change = self.change(caller).await?;
        let subscription = store_record(&mut change, fields).await?;
        let id = subscription.id.clone();
        let mut webhook_secret = None;
        if let Some((mut row, signing_secret)) = endpoint {
            row.description = Some(format!("OpenIntent subscription {id}"));
            endpoint_rows::insert_endpoint(change.tx(), &row).await?;
            let target = TargetRow {
                subscription_id: id.clone(),
                endpoint_id: row.id.clone(),
                intent_id: input.intent_id.clone(),
                portfolio_id: input.portfolio_id.clone(),
                event_types: json!(input.event_types).to_string(),
                expires_at: expires_at
                    .as_deref()
                    .and_then(|at| parse_instant(at, DayBound::Start)),
            };
            webhook_targets::insert(change.tx(), tenant, &target).await?;
            // Shown once: it signs every delivery (`x-intendedops-signature`).
            webhook_secret = Some(signing_secret);
        }
        change
            .audit("subscription_created", &id, json!(subscription))
            .await?;
        change.commit().await?;
        Ok(NewSubscription {
            subscription,
            webhook_secret,
        })
    }

    pub async fn subscriptions(
        &self,
        caller: &Caller,
        intent_id: Option<&str>,
        portfolio_id: Option<&str>,
    ) -> Result<Vec<Record<Subscription>>> {
        let all: Vec<Record<Subscription>> = self.records_of(caller, None).await?;
        Ok(all
            .into_iter()
            .filter(|s| intent_id.is_none_or(|id| s.fields.intent_id.as_deref() == Some(id)))
            .filter(|s| portfolio_id.is_none_or(|id| s.fields.portfolio_id.as_deref() == Some(id)))
            .collect())
    }
}

impl Change<'_> {
    /// Queues a protocol event of `intent_id` for the webhooks of the subscriptions
    /// following that intent.
    pub(super) async fn queue_for_webhooks(
        &mut self,
        intent_id: &str,
        event_type: &str,
        event: &Event,
    ) -> Result<()> {
        let tenant = self.caller.tenant.clone();
        let targets = webhook_targets::following(self.tx(), &tenant, intent_id, now_ms()).await?;
        for target in targets.iter().filter(|t| t.wants(event_type)) {
            let body = json!({ "subscription_id": target.subscription_id, "event": event });
            let row = outbox::render_body(&tenant, &delivery_event(event_type), &body);
            outbox::enqueue_to(self.tx(), &row, std::slice::from_ref(&target.endpoint_id)).await?;
        }
        Ok(())
    }

    /// A deleted subscription's webhook stops: its target goes and its endpoint is disabled
    /// (kept, with its delivery log).
    pub(super) async fn forget_webhook(&mut self, subscription_id: &str) -> Result<()> {
        let tenant = self.caller.tenant.clone();
        if let Some(endpoint) = webhook_targets::delete(self.tx(), &tenant, subscription_id).await?
        {
            let reason = "its OpenIntent subscription was deleted";
            endpoint_rows::disable_endpoint(self.tx(), &tenant, &endpoint, reason, now_ms())
                .await?;
        }
        Ok(())
    }
}
