//! `GET /v1/events`: the tenant's events as Server-Sent Events, for the console's live queue
//! and for customers without a public URL to receive webhooks on.

use std::sync::Arc;

use futures_util::stream::{self, BoxStream};
use poem::{web::sse::Event, Request};
use poem_openapi::{
    param::Query, payload::EventStream, types::Example, ApiResponse, Object, OpenApi,
};

use crate::{
    api::{
        error::ApiResult,
        security::Credential,
        sse::{event_stream, SseItem},
        Tag,
    },
    auth::Scope,
    feed::{Feed, FeedItem, FeedRequest},
};

/// One SSE message: `id:` the event id (send it back as `Last-Event-ID` to resume), `event:`
/// its type, `data:` the body a webhook of the event carries.
#[derive(Object)]
#[oai(example)]
struct FeedMessage {
    id: String,
    event: String,
    /// `{"id","timestamp","tenantId","event","data"}` as JSON text, byte for byte the
    /// webhook body.
    data: String,
}

impl Example for FeedMessage {
    fn example() -> Self {
        FeedMessage {
            id: "whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G".into(),
            event: "intent.submitted".into(),
            data: r#"{"id":"whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G","timestamp":"2024-01-15T10:30:00.000Z","tenantId":"acme","event":"intent.submitted","data":{"intentId":"int_01HN4X7KQZ8Y1A2B3C4D5E6F7H","type":"billing.send_invoice","domain":"billing","agentId":"billing-agent","status":"pending_approval"}}"#.into(),
        }
    }
}

impl SseItem for FeedMessage {
    fn into_event(self) -> Event {
        Event::message(self.data).event_type(self.event).id(self.id)
    }
}

impl From<FeedItem> for FeedMessage {
    fn from(item: FeedItem) -> Self {
        FeedMessage {
            id: item.id,
            event: item.event,
            data: item.data,
        }
    }
}

#[derive(ApiResponse)]
enum FeedAnswer {
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, FeedMessage>>),
}

pub struct EventStreamApi {
    feed: Arc<Feed>,
}

impl EventStreamApi {
    pub fn new(feed: Arc<Feed>) -> Self {
        Self { feed }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Events")]
impl EventStreamApi {
    /// The tenant's events as they commit (SSE): the events webhooks carry, with the same
    /// bodies. `types=intent.submitted,intent.approved` filters; reconnecting with the
    /// `Last-Event-ID` header replays what was missed from the event log (kept as long as
    /// webhook deliveries), then continues live.
    #[oai(path = "/events", method = "get", operation_id = "stream_events")]
    async fn stream(
        &self,
        auth: Credential,
        req: &Request,
        types: Query<Option<String>>,
    ) -> ApiResult<FeedAnswer> {
        let caller = auth.require(Scope::Read)?;
        let last_event_id = req
            .headers()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok());
        let request = FeedRequest::parse(types.0.as_deref(), last_event_id)?;
        let feed = self.feed.open(&caller.tenant_id, request);
        let items = stream::unfold(feed, |mut feed| async move {
            let next = feed.next().await?;
            Some((FeedMessage::from(next), feed))
        });
        Ok(FeedAnswer::Events(event_stream(items)))
    }
}
