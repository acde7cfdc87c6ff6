//! Server-Sent Events as both faces send them: one message per item (`id:` when it has one,
//! `event:`, `data:` JSON text) and a keep-alive comment on an idle stream.

use std::time::Duration;

use futures_util::stream::{BoxStream, Stream, StreamExt};
use poem::web::sse::Event;
use poem_openapi::{payload::EventStream, types::ToJSON};

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// An item of a stream, as one SSE message.
pub trait SseItem: ToJSON + Send + 'static {
    fn into_event(self) -> Event;
}

/// `items` as the SSE response body.
pub fn event_stream<M: SseItem>(
    items: impl Stream<Item = M> + Send + 'static,
) -> EventStream<BoxStream<'static, M>> {
    EventStream::new(items.boxed())
        .keep_alive(KEEP_ALIVE)
        .to_event(M::into_event)
}
