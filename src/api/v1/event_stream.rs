//! `GET /v1/events`: the tenant's events as Server-Sent Events, for the console's live queue
//! and for customers without a public URL to receive webhooks on; with `Accept:
//! application/json`, one page of the same durable log, for consumers that pull.

use std::sync::Arc;

use futures_util::stream::{self, BoxStream};
use poem::{web::sse::Event, Request};
use poem_openapi::{
    param::Query,
    payload::{EventStream, Json},
    types::Example,
    ApiResponse, Object, OpenApi,
};
use serde_json::Value;

use crate::{
    api::{
        error::ApiResult,
        schema::examples,
        security::Credential,
        sse::{event_stream, SseItem},
        types::{Data, JsonObject},
        Tag,
    },
    auth::Scope,
    error::Error,
    feed::{Feed, FeedItem, FeedRequest, LogPage, MAX_PAGE},
    time::now_ms,
};

/// Events of a page when `limit` is not given.
const DEFAULT_PAGE: i64 = 100;

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

/// One logged event in a page: `data` is the webhook body (the same bytes, parsed).
#[derive(Object)]
struct LoggedEvent {
    id: String,
    event: String,
    data: JsonObject,
}

/// A page of the event log, oldest first.
#[derive(Object)]
#[oai(rename_all = "camelCase", example)]
struct EventPage {
    events: Vec<LoggedEvent>,
    /// Pass as `after` for the next page; null when this page is empty (poll again later
    /// with the same `after`).
    next_after: Option<String>,
}

examples! {
    EventPage => {
        "events": [{
            "id": "whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
            "event": "intent.submitted",
            "data": {"id": "whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G", "timestamp": "2024-01-15T10:30:00.000Z",
                     "tenantId": "acme", "event": "intent.submitted",
                     "data": {"intentId": "int_01HN4X7KQZ8Y1A2B3C4D5E6F7H", "status": "pending_approval"}}
        }],
        "nextAfter": "whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G"
    }
}

impl From<LogPage> for EventPage {
    fn from(page: LogPage) -> Self {
        EventPage {
            events: page
                .items
                .into_iter()
                .map(|item| LoggedEvent {
                    data: JsonObject(serde_json::from_str(&item.data).unwrap_or(Value::Null)),
                    id: item.id,
                    event: item.event,
                })
                .collect(),
            next_after: page.next,
        }
    }
}

#[derive(ApiResponse)]
enum FeedAnswer {
    /// `text/event-stream` (the default), or with `Accept: application/json` one page.
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, FeedMessage>>),
    /// With `Accept: application/json`: a page of the log.
    #[oai(status = 200)]
    Page(Json<Data<EventPage>>),
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
    ///
    /// With `Accept: application/json` it answers one page of the same log instead: up to
    /// `limit` (default 100, at most 500) events after `after` (an event id; or the
    /// `Last-Event-ID` header), oldest first, and `nextAfter` to continue from. A page shows
    /// events once they are two seconds old, so no event that was still committing is paged
    /// past.
    #[oai(path = "/events", method = "get", operation_id = "stream_events")]
    async fn stream(
        &self,
        auth: Credential,
        req: &Request,
        types: Query<Option<String>>,
        after: Query<Option<String>>,
        limit: Query<Option<i64>>,
    ) -> ApiResult<FeedAnswer> {
        let caller = auth.require(Scope::Read)?;
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let wants_page = header("accept").is_some_and(|accept| {
            accept.contains("application/json") && !accept.contains("text/event-stream")
        });
        let last_event_id = after.0.as_deref().or(header("last-event-id"));
        let request = FeedRequest::parse(types.0.as_deref(), last_event_id)?;
        if wants_page {
            let limit = limit.0.unwrap_or(DEFAULT_PAGE);
            if !(1..=MAX_PAGE).contains(&limit) {
                return Err(Error::invalid(&["limit"], format!("must be 1 to {MAX_PAGE}")).into());
            }
            let page = self
                .feed
                .page(&caller.tenant_id, request, limit, now_ms())
                .await?;
            return Ok(FeedAnswer::Page(Json(Data::new(page.into()))));
        }
        let feed = self.feed.open(&caller.tenant_id, request);
        let items = stream::unfold(feed, |mut feed| async move {
            let next = feed.next().await?;
            Some((FeedMessage::from(next), feed))
        });
        Ok(FeedAnswer::Events(event_stream(items)))
    }
}
