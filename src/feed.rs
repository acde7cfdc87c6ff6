//! The tenant's `/v1` event feed (`GET /v1/events`): the events its webhooks carry, live from
//! the bus, and replayed from the durable event log after `Last-Event-ID`.
//!
//! A stream subscribes to its tenant's bus channel before it reads the log, so nothing falls
//! between the replay and the live feed, and remembers what it replayed so the live feed does
//! not deliver it twice (ids are not compared for order: concurrent commits can publish out of
//! id order). The log is read a page at a time as the client consumes it, so resuming far
//! back costs no more memory than resuming close. A stream that lags behind the bus catches
//! up from the log the same way.

use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
};

use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::{
    auth::TenantId,
    bus::{BusEvent, EventBus, Face},
    error::{Error, FieldError, Result},
    outbox::EVENT_ID_PREFIX,
    store::{webhooks as rows, webhooks::EventRow, Store},
    time::Millis,
    webhooks::EVENTS,
    work::Writer,
};

/// Log rows read per round trip while catching up.
const PAGE: i64 = 500;
/// Replayed ids remembered against duplicates from the live feed: more than the bus can hold
/// for one subscriber plus one page.
const REMEMBERED: usize = 8192;

/// One event of the feed: `id:`, `event:`, and `data:` (the webhook body, as JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub id: String,
    pub event: String,
    pub data: String,
}

impl From<EventRow> for FeedItem {
    fn from(row: EventRow) -> Self {
        FeedItem {
            id: row.id,
            event: row.event,
            data: row.body,
        }
    }
}

/// What a client asks the feed for.
#[derive(Debug, Clone, Default)]
pub struct FeedRequest {
    /// Resume after this event id.
    pub last_event_id: Option<String>,
    /// Only these event types (`None`: all).
    pub types: Option<HashSet<String>>,
}

impl FeedRequest {
    /// Parses the `types` list (comma-separated, each a known event) and `Last-Event-ID`.
    pub fn parse(types: Option<&str>, last_event_id: Option<&str>) -> Result<Self> {
        let types = match types.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(list) => {
                let wanted: HashSet<String> =
                    list.split(',').map(|t| t.trim().to_string()).collect();
                let unknown: Vec<FieldError> = wanted
                    .iter()
                    .filter(|t| !EVENTS.contains(&t.as_str()))
                    .map(|t| {
                        FieldError::new(
                            &["types"],
                            format!("unknown event '{t}'; known: {}", EVENTS.join(", ")),
                        )
                    })
                    .collect();
                if !unknown.is_empty() {
                    return Err(Error::Validation(unknown));
                }
                Some(wanted)
            }
        };
        let last_event_id = match last_event_id.map(str::trim).filter(|id| !id.is_empty()) {
            None => None,
            Some(id) if is_event_id(id) => Some(id.to_string()),
            Some(_) => {
                return Err(Error::invalid(
                    &["Last-Event-ID"],
                    format!("must be the id of an event of this feed ({EVENT_ID_PREFIX}_…)"),
                ))
            }
        };
        Ok(FeedRequest {
            last_event_id,
            types,
        })
    }

    fn wants(&self, event: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.contains(event))
    }
}

fn is_event_id(id: &str) -> bool {
    id.strip_prefix(EVENT_ID_PREFIX)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|ulid| ulid.len() == 26 && ulid.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Most events one page of the log holds.
pub const MAX_PAGE: i64 = 500;
/// How old an event must be before a page shows it: a transaction that logged an event with an
/// earlier id may still be committing, and a consumer that paged past that id would never see
/// it. (The live stream has no such gap: it subscribes before it reads.)
pub const SETTLE_MS: Millis = 2_000;

/// One page of the log for a pull-based consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    pub items: Vec<FeedItem>,
    /// Where the next page starts (`Last-Event-ID` / `after`): the last id this page read,
    /// filtered out or not; `None` when the page is empty.
    pub next: Option<String>,
}

/// Opens feeds.
pub struct Feed {
    store: Store,
    bus: Arc<dyn EventBus>,
}

impl Feed {
    pub fn new(writer: &Writer) -> Self {
        Feed {
            store: writer.store().clone(),
            bus: writer.bus().clone(),
        }
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) of `tenant`'s logged events after `request`'s `Last-Event-ID`, oldest
    /// first, settled at `now` (older than [`SETTLE_MS`]).
    pub async fn page(
        &self,
        tenant: &TenantId,
        request: FeedRequest,
        limit: i64,
        now: Millis,
    ) -> Result<LogPage> {
        let after = request.last_event_id.clone().unwrap_or_default();
        let until = now - SETTLE_MS;
        let rows = rows::events_after(&self.store, tenant, &after, until, limit).await?;
        let next = rows.last().map(|row| row.id.clone());
        let items = rows
            .into_iter()
            .filter(|row| request.wants(&row.event))
            .map(FeedItem::from)
            .collect();
        Ok(LogPage { items, next })
    }

    /// A stream of `tenant`'s events; subscribed to the live feed before this returns.
    pub fn open(&self, tenant: &TenantId, request: FeedRequest) -> FeedStream {
        let receiver = self.bus.subscribe(tenant.as_str());
        FeedStream {
            store: self.store.clone(),
            tenant: tenant.clone(),
            receiver,
            catching_up: request.last_event_id.is_some(),
            last_id: request.last_event_id.clone().unwrap_or_default(),
            request,
            backlog: VecDeque::new(),
            replayed: HashSet::new(),
        }
    }
}

pub struct FeedStream {
    store: Store,
    tenant: TenantId,
    receiver: Receiver<Arc<BusEvent>>,
    /// What the client asked for (its types filter).
    request: FeedRequest,
    /// Reading the log after `last_id` until it is exhausted.
    catching_up: bool,
    /// The newest id read from the log or delivered live.
    last_id: String,
    backlog: VecDeque<FeedItem>,
    replayed: HashSet<String>,
}

impl FeedStream {
    /// The next event; `None` when the bus closes (shutdown).
    pub async fn next(&mut self) -> Option<FeedItem> {
        loop {
            if let Some(next) = self.backlog.pop_front() {
                return Some(next);
            }
            if self.catching_up {
                if let Err(err) = self.read_page().await {
                    tracing::warn!(error = %err, "event feed replay failed");
                    self.catching_up = false;
                }
                continue;
            }
            match self.receiver.recv().await {
                Ok(event) => {
                    if let Some(next) = self.accept(&event).await {
                        return Some(next);
                    }
                }
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn wanted(&self, event: &str) -> bool {
        self.request.wants(event)
    }

    /// A live event, if it is this feed's and new to it.
    async fn accept(&mut self, event: &BusEvent) -> Option<FeedItem> {
        if event.face != Face::Governance
            || !self.wanted(&event.event_type)
            || self.replayed.contains(&event.id)
        {
            return None;
        }
        if event.id > self.last_id {
            self.last_id = event.id.clone();
        }
        if !event.truncated {
            return Some(FeedItem {
                id: event.id.clone(),
                event: event.event_type.clone(),
                data: event.body.clone(),
            });
        }
        // Too large for the bus: read it back from the log.
        match rows::get_event(&self.store, &self.tenant, &event.id).await {
            Ok(row) => row.map(FeedItem::from),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read a large event back");
                None
            }
        }
    }

    /// Queues the next page of the log after `last_id`; the catch-up ends with a short page.
    async fn read_page(&mut self) -> Result<()> {
        let rows =
            rows::events_after(&self.store, &self.tenant, &self.last_id, Millis::MAX, PAGE).await?;
        self.catching_up = rows.len() as i64 == PAGE;
        if self.replayed.len() > REMEMBERED {
            self.replayed.clear();
        }
        for row in rows {
            self.last_id = row.id.clone();
            self.replayed.insert(row.id.clone());
            if self.wanted(&row.event) {
                self.backlog.push_back(row.into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_known_events_and_ids_of_this_feed() {
        let request = FeedRequest::parse(
            Some("intent.submitted, intent.approved"),
            Some("whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G"),
        )
        .unwrap();
        assert_eq!(request.types.unwrap().len(), 2);
        assert_eq!(
            request.last_event_id.as_deref(),
            Some("whk_01HN4X7KQZ8Y1A2B3C4D5E6F7G")
        );
        assert!(FeedRequest::parse(Some("intent.exploded"), None).is_err());
        assert!(FeedRequest::parse(None, Some("oev_01HN4X7KQZ8Y1A2B3C4D5E6F7G")).is_err());
        assert!(FeedRequest::parse(None, Some("whk_1")).is_err());
        let everything = FeedRequest::parse(Some(" "), Some("")).unwrap();
        assert!(everything.types.is_none() && everything.last_event_id.is_none());
    }
}
