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

/// Which end of a calendar day a bare date (`2024-01-15`) stands for in a range filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayBound {
    Start,
    End,
}

/// Parses an RFC 3339 date-time, or a full date taken as the start or end of that UTC day.
pub fn parse_instant(raw: &str, bound: DayBound) -> Option<Millis> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
        return Some(instant.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(match bound {
        DayBound::Start => start,
        DayBound::End => start + 86_400_000 - 1,
    })
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn parses_date_times_and_whole_days() {
        assert_eq!(
            parse_instant("2024-01-15T10:30:00.000Z", DayBound::Start),
            Some(1_705_314_600_000)
        );
        assert_eq!(
            parse_instant("2024-01-15T11:30:00+01:00", DayBound::End),
            Some(1_705_314_600_000)
        );
        assert_eq!(
            parse_instant("2024-01-15", DayBound::Start),
            Some(1_705_276_800_000)
        );
        assert_eq!(
            parse_instant("2024-01-15", DayBound::End),
            Some(1_705_363_199_999)
        );
        assert_eq!(parse_instant("yesterday", DayBound::Start), None);
        assert_eq!(parse_instant("2024-13-45", DayBound::Start), None);
    }
}
