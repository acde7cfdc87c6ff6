//! Per-connection time limits, so slow or silent clients cannot hold file descriptors:
//!
//! - **header read**: from a request's first byte (or from the connection's opening, for its
//!   first request) to its complete head, at most [`ConnectionLimits::header_read`] — an
//!   absolute deadline, so dripping a byte at a time does not extend it;
//! - **idle**: a connection with no request being handled on which no byte moves either way
//!   for [`ConnectionLimits::idle`] is closed (a kept-alive connection between requests, a
//!   response the client stopped reading).
//!
//! While a request is being handled the connection has no deadline of its own: the request
//! timeout middleware bounds the handler. The state is a few atomics updated as bytes move
//! (see [`Watched`]) and as requests start and finish (see [`RequestGuard`]); the watchdog
//! ([`Activity::expired`]) sleeps until the nearest deadline.

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::Notify,
    time::Instant,
};

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub idle: Duration,
}

/// "No request head is being read" in [`Activity::head_started`].
const NO_HEAD: u64 = u64::MAX;

/// What one connection's watchdog knows; times are milliseconds since the connection opened.
pub struct Activity {
    opened: Instant,
    last_io: AtomicU64,
    /// When the first byte of the request head being read arrived, or [`NO_HEAD`].
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    /// Woken when a request finishes, so the watchdog picks up the idle deadline.
    finished: Notify,
}

/// A snapshot of [`Activity`], for [`deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    last_io: u64,
    head_started: Option<u64>,
    in_flight: usize,
}

/// When the connection must close (ms since it opened), if nothing changes; `None` while a
/// request is being handled.
fn deadline(state: State, limits: ConnectionLimits) -> Option<u64> {
    if state.in_flight > 0 {
        return None;
    }
    let idle = state.last_io.saturating_add(millis(limits.idle));
    let head = state
        .head_started
        .map(|started| started.saturating_add(millis(limits.header_read)));
    Some(head.map_or(idle, |head| head.min(idle)))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Activity {
    /// A connection that just opened: its first request head is due from now.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            opened: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            finished: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        millis(self.opened.elapsed())
    }

    fn state(&self) -> State {
        let head_started = self.head_started.load(Ordering::Acquire);
        State {
            last_io: self.last_io.load(Ordering::Acquire),
            head_started: (head_started != NO_HEAD).then_some(head_started),
            in_flight: self.in_flight.load(Ordering::Acquire),
        }
    }

    fn bytes_read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Release);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            // The first byte of the next request starts its header deadline; later bytes
            // leave it where it is.
            let _ = self.head_started.compare_exchange(
                NO_HEAD,
                now,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    fn bytes_written(&self) {
        self.last_io.store(self.now(), Ordering::Release);
    }

    /// A request head arrived and its handling starts; the guard marks the end.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NO_HEAD, Ordering::Release);
        RequestGuard(self.clone())
    }

    /// Resolves once the connection has run out of time.
    pub async fn expired(&self, limits: ConnectionLimits) {
        loop {
            match deadline(self.state(), limits) {
                Some(at) if at <= self.now() => return,
                Some(at) => {
                    let at = self.opened + Duration::from_millis(at);
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.finished.notified() => {}
                    }
                }
                None => self.finished.notified().await,
            }
        }
    }
}

/// Held while a request is handled (dropped too if the client goes away mid-request).
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        // The idle clock starts when the response head is ready; its body's bytes keep the
        // connection alive as they are written.
        self.0.bytes_written();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.finished.notify_one();
    }
}

/// A connection's socket, telling its [`Activity`] when bytes move.
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bytes_written();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bytes_written();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn state(last_io: u64, head_started: Option<u64>, in_flight: usize) -> State {
        State {
            last_io,
            head_started,
            in_flight,
        }
    }

    #[test]
    fn a_head_must_be_complete_within_the_header_timeout_of_its_first_byte() {
        // Bytes keep arriving (last_io moves), the deadline does not.
        assert_eq!(deadline(state(0, Some(0), 0), LIMITS), Some(10_000));
        assert_eq!(deadline(state(9_000, Some(0), 0), LIMITS), Some(10_000));
        assert_eq!(
            deadline(state(70_000, Some(65_000), 0), LIMITS),
            Some(75_000)
        );
    }

    #[test]
    fn between_requests_the_idle_timeout_applies() {
        assert_eq!(deadline(state(5_000, None, 0), LIMITS), Some(65_000));
        // A response being written keeps moving the deadline.
        assert_eq!(deadline(state(50_000, None, 0), LIMITS), Some(110_000));
        // A header timeout longer than the idle one never extends it.
        let long_header = ConnectionLimits {
            header_read: Duration::from_secs(600),
            ..LIMITS
        };
        assert_eq!(deadline(state(0, Some(0), 0), long_header), Some(60_000));
    }

    #[test]
    fn no_connection_deadline_while_a_request_is_handled() {
        assert_eq!(deadline(state(0, None, 1), LIMITS), None);
    }

    #[tokio::test]
    async fn a_head_deadline_runs_only_from_a_first_byte_outside_requests() {
        let activity = Activity::new();
        assert!(
            activity.state().head_started.is_some(),
            "the first head is due"
        );
        let guard = activity.request_started();
        activity.bytes_read(); // the body
        assert_eq!(
            (activity.state().head_started, activity.state().in_flight),
            (None, 1)
        );
        drop(guard);
        assert_eq!(
            (activity.state().head_started, activity.state().in_flight),
            (None, 0)
        );
        activity.bytes_read(); // the next request's first byte
        assert!(activity.state().head_started.is_some());
    }
}
