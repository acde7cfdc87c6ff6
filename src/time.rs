//! Time as the service stores and shows it: milliseconds since the Unix epoch in the
//! database (one integer type on both backends, cheap to compare and index), RFC 3339 UTC
//! with milliseconds on the wire (`2024-01-15T10:30:00.000Z`).

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time in milliseconds.
pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

/// Renders stored milliseconds as RFC 3339 UTC with millisecond precision.
pub fn rfc3339(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_milliseconds_and_z() {
        assert_eq!(rfc3339(1_705_314_600_000), "2024-01-15T10:30:00.000Z");
        assert_eq!(rfc3339(1_705_314_600_123), "2024-01-15T10:30:00.123Z");
    }
}
