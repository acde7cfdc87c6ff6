//! RFC-0006 routes: subscription records and the SSE streams, under both the SDK's spelling
//! (`/intents/{id}/subscribe`) and the reference server's (`/subscribe/intents/{id}`).

use super::{
    bodies::SubscriptionIn,
    created, done,
    error::OiError,
    listed, parse, reader,
    resources::{IntentEvent, Subscription, SubscriptionList},
    vocab::StreamKind,
    writer, Answer, Body, Created, Done, OiResult, OiTag,
};
use crate::{
    api::{
        error::framework_error,
        schema::{example_json, Word},
        security::TenantKey,
        sse::{event_stream, SseItem},
    },
    openintent::{
        records::RecordKind,
        streams::{StreamItem, StreamTarget},
        Subscriptions,
    },
};
use futures_util::stream::{self, BoxStream};
use poem::{web::sse::Event, Request};
use poem_openapi::{
    param::{Path, Query},
    payload::EventStream,
    types::Example,
    ApiResponse, Object, OpenApi,
};

/// What a stream follows, from the path's `intents`, `portfolios` or `agents` (else no route).
fn target(kind: &str, id: String) -> OiResult<StreamTarget> {
    match kind {
        "intents" => Ok(StreamTarget::Intent(id)),
        "portfolios" => Ok(StreamTarget::Portfolio(id)),
        "agents" => Ok(StreamTarget::Agent(id)),
        _ => Err(OiError::from(framework_error(&poem::Error::from_status(
            poem::http::StatusCode::NOT_FOUND,
        )))),
    }
}

pub struct StreamsOi(pub Subscriptions);

/// One SSE message: `event:` the event type, `id:` its id (none on the first, `connected`,
/// message), `data:` the event as JSON.
#[derive(Object)]
#[oai(example)]
struct SseMessage {
    id: Option<String>,
    event: String,
    /// The event as `GET /intents/{id}/events` lists it, as JSON text;
    /// `{"status":"connected"}` first.
    data: String,
}

/// A state patch as the stream carries it (`id:` and `event:` lines, `data:` the event).
impl Example for SseMessage {
    fn example() -> Self {
        let event = example_json::<IntentEvent>();
        SseMessage {
            id: event["id"].as_str().map(str::to_string),
            event: "state_patched".into(),
            data: event.to_string(),
        }
    }
}

impl SseItem for SseMessage {
    fn into_event(self) -> Event {
        let event = Event::message(self.data).event_type(self.event);
        match self.id {
            Some(id) => event.id(id),
            None => event,
        }
    }
}

impl From<StreamItem> for SseMessage {
    fn from(item: StreamItem) -> Self {
        SseMessage {
            id: item.id,
            event: item.event_type,
            data: item.data,
        }
    }
}

#[derive(ApiResponse)]
enum StreamAnswer {
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, SseMessage>>),
}

impl StreamsOi {
    async fn open(
        &self,
        key: &TenantKey,
        req: &Request,
        target: StreamTarget,
        event_types: Option<String>,
    ) -> OiResult<StreamAnswer> {
        let caller = reader(key, req)?;
        let last_event_id = req
            .headers()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let types = event_types.map(|raw| {
            raw.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        });
        let subscription = self
            .0
            .subscribe_stream(&caller, target, last_event_id, types)
            .await
            .map_err(super::fail)?;
        let items = stream::unfold(subscription, |mut subscription| async move {
            let next = subscription.next().await?;
            Some((SseMessage::from(next), subscription))
        });
        Ok(StreamAnswer::Events(event_stream(items)))
    }
}

#[OpenApi(tag = "OiTag::Subscriptions")]
impl StreamsOi {
    /// Record a subscription. Live delivery is by the SSE streams below; with a `webhook_url`,
    /// also by signed, retried POSTs of `{"subscription_id", "event"}`.
    #[oai(
        path = "/subscriptions",
        method = "post",
        operation_id = "oi_subscribe"
    )]
    async fn subscribe(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<SubscriptionIn>,
    ) -> OiResult<Created<Subscription>> {
        let caller = writer(&key, req)?;
        created(self.0.subscribe(&caller, parse(body)?).await)
    }

    /// The tenant's subscriptions, optionally for one intent or portfolio.
    #[oai(
        path = "/subscriptions",
        method = "get",
        operation_id = "oi_list_subscriptions"
    )]
    async fn subscriptions(
        &self,
        key: TenantKey,
        req: &Request,
        intent_id: Query<Option<String>>,
        portfolio_id: Query<Option<String>>,
    ) -> OiResult<Answer<SubscriptionList>> {
        let caller = reader(&key, req)?;
        let found = self
            .0
            .subscriptions(&caller, intent_id.0.as_deref(), portfolio_id.0.as_deref())
            .await;
        listed(found)
    }

    #[oai(
        path = "/subscriptions/:id",
        method = "delete",
        operation_id = "oi_unsubscribe"
    )]
    async fn unsubscribe(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult<Done> {
        let caller = writer(&key, req)?;
        done(
            self.0
                .delete_record(
                    &caller,
                    RecordKind::Subscription,
                    None,
                    &id,
                    "subscription_deleted",
                )
                .await,
        )
    }

    /// Stream events (SSE): an intent's, a portfolio's intents' (following members as they
    /// join and leave), or those of the intents an agent is assigned to and the agent's own.
    /// `Last-Event-ID` resumes; `event_types=a,b` filters.
    #[oai(
        path = "/:kind/:id/subscribe",
        method = "get",
        operation_id = "oi_stream"
    )]
    async fn stream(
        &self,
        key: TenantKey,
        req: &Request,
        kind: Path<Word<StreamKind>>,
        id: Path<String>,
        event_types: Query<Option<String>>,
    ) -> OiResult<StreamAnswer> {
        self.open(&key, req, target(&kind.0.value, id.0)?, event_types.0)
            .await
    }

    /// The reference server's spelling of the same streams.
    #[oai(
        path = "/subscribe/:kind/:id",
        method = "get",
        operation_id = "oi_stream_ref"
    )]
    async fn stream_ref(
        &self,
        key: TenantKey,
        req: &Request,
        kind: Path<Word<StreamKind>>,
        id: Path<String>,
        event_types: Query<Option<String>>,
    ) -> OiResult<StreamAnswer> {
        self.open(&key, req, target(&kind.0.value, id.0)?, event_types.0)
            .await
    }
}
