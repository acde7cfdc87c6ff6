//! Request lines of rejected requests (401 and 429) arrive in floods when a client loops on a
//! bad key or over its limit. The first few of each window are logged like any other request;
//! the rest are counted and summarised in one warning per window, so the log shows the flood
//! without drowning in it.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

/// Request lines of rejected requests logged one by one per window.
const LOGGED_PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_secs(10);

/// Whether a status is a rejection this log summarises.
pub fn is_rejection(status: u16) -> bool {
    matches!(status, 401 | 429)
}

pub struct RejectedRequests {
    window: Mutex<Window>,
    /// Set while a window holds suppressed lines, so other requests can flush it cheaply.
    holding: AtomicBool,
}

struct Window {
    started: Instant,
    logged: u32,
    /// Suppressed lines per status.
    suppressed: BTreeMap<u16, u64>,
}

/// Lines suppressed in a window that ended, per status.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub suppressed: BTreeMap<u16, u64>,
    pub over: Duration,
}

impl Default for RejectedRequests {
    fn default() -> Self {
        Self {
            window: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: BTreeMap::new(),
            }),
            holding: AtomicBool::new(false),
        }
    }
}

impl RejectedRequests {
    /// Notes a rejected request at `now`: true when its line should be logged; and the summary
    /// of the window it closed, if any.
    pub fn note(&self, status: u16, now: Instant) -> (bool, Option<Summary>) {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let summary = window.roll(now);
        let log_it = window.logged < LOGGED_PER_WINDOW;
        if log_it {
            window.logged += 1;
        } else {
            *window.suppressed.entry(status).or_default() += 1;
            self.holding.store(true, Ordering::Relaxed);
        }
        (log_it, summary)
    }

    /// The summary of a window that ended before `now` with suppressed lines; costs one atomic
    /// read when there is none (called on every request).
    pub fn flush(&self, now: Instant) -> Option<Summary> {
        if !self.holding.load(Ordering::Relaxed) {
            return None;
        }
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let summary = window.roll(now);
        if summary.is_some() {
            self.holding.store(false, Ordering::Relaxed);
        }
        summary
    }
}

impl Window {
    /// Starts a new window if this one is over; the summary of its suppressed lines, if any.
    fn roll(&mut self, now: Instant) -> Option<Summary> {
        let over = now.saturating_duration_since(self.started);
        if over < WINDOW {
            return None;
        }
        self.started = now;
        self.logged = 0;
        let suppressed = std::mem::take(&mut self.suppressed);
        (!suppressed.is_empty()).then_some(Summary { suppressed, over })
    }
}

impl Summary {
    /// Logs the summary as one warning.
    pub fn log(&self) {
        let counts: Vec<String> = self
            .suppressed
            .iter()
            .map(|(status, count)| format!("{count} × {status}"))
            .collect();
        tracing::warn!(
            "{} more rejected requests in the last {} s were not logged one by one \
             (401: bad or revoked keys; 429: over a rate limit); see \
             intendedops_http_requests_total for the full counts",
            counts.join(", "),
            self.over.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_logged_in_part_then_summarised_once_per_window() {
        let log = RejectedRequests::default();
        let start = Instant::now();
        let mut logged = 0;
        for i in 0..1000 {
            let (log_it, summary) = log.note(if i % 2 == 0 { 401 } else { 429 }, start);
            logged += u32::from(log_it);
            assert_eq!(summary, None);
        }
        assert_eq!(logged, LOGGED_PER_WINDOW);
        assert_eq!(
            log.flush(start + WINDOW / 2),
            None,
            "the window is still open"
        );
        let summary = log.flush(start + WINDOW).expect("the window closed");
        let suppressed: u64 = summary.suppressed.values().sum();
        assert_eq!(suppressed, 1000 - u64::from(LOGGED_PER_WINDOW));
        assert_eq!(summary.suppressed.len(), 2);
        assert_eq!(log.flush(start + WINDOW * 3), None, "summarised once");
        // A new window logs its first lines again.
        assert!(log.note(401, start + WINDOW * 3).0);
    }
}
