//! Time as the service stores and shows it: milliseconds since the Unix epoch in the
//! database (one integer type on both backends, cheap to compare and index), RFC 3339 UTC
//! with milliseconds on the wire (`2024-01-15T10:30:00.000Z`).

use std::{
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::{Error, FieldError};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time in milliseconds.
pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

/// Where time-window logic reads the time (rate-limit windows, approval expiry), so tests can
/// move time instead of waiting for it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> Millis;
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        now_ms()
    }
}

/// The wall clock, shared.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// Stopped at `start`.
    pub fn at(start: Millis) -> Arc<Self> {
        Arc::new(ManualClock {
            now: AtomicI64::new(start),
        })
    }

    pub fn advance(&self, by: Duration) {
        let by = Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX);
        self.now.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

/// Renders stored milliseconds as RFC 3339 UTC with millisecond precision.
pub fn rfc3339(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Renders stored milliseconds as the OpenIntent face shows instants: RFC 3339 with a
/// `+00:00` offset, which Python's `datetime.fromisoformat` reads on every version the SDK
/// supports (3.10 refuses a trailing `Z`).
pub fn protocol_instant(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_instants_carry_an_offset() {
        assert_eq!(
            protocol_instant(1_705_314_600_123),
            "2024-01-15T10:30:00.123+00:00"
        );
    }

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

/// Parses an RFC 3339 date-time (an offset-less one as UTC), or a full date taken as the start or end of that UTC day.
pub fn parse_instant(raw: &str, bound: DayBound) -> Option<Millis> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
        return Some(instant.timestamp_millis());
    }
    // Without an offset (Python's naive `datetime.isoformat()`): taken as UTC.
    if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(naive.and_utc().timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(match bound {
        DayBound::Start => start,
        DayBound::End => start + 86_400_000 - 1,
    })
}

/// A creation-time filter: both ends optional and inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

impl TimeRange {
    /// Parses the two query values named `names.0` and `names.1` (each an RFC 3339 date-time
    /// or a whole day), reporting every bad one, and checks they are in order.
    pub fn parse(from: Option<&str>, to: Option<&str>, names: (&str, &str)) -> Result<Self, Error> {
        let mut errors = Vec::new();
        let mut instant = |raw: Option<&str>, name: &str, bound| {
            let parsed = parse_instant(raw?, bound);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    &[name],
                    "must be an RFC 3339 date-time or a YYYY-MM-DD date",
                ));
            }
            parsed
        };
        let range = TimeRange {
            from: instant(from, names.0, DayBound::Start),
            to: instant(to, names.1, DayBound::End),
        };
        if let (Some(from), Some(to)) = (range.from, range.to) {
            if from > to {
                errors.push(FieldError::new(
                    &[names.0],
                    format!("must not be after {}", names.1),
                ));
            }
        }
        if errors.is_empty() {
            Ok(range)
        } else {
            Err(Error::Validation(errors))
        }
    }
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

    #[test]
    fn ranges_report_every_bad_end_and_their_order() {
        let whole_day =
            TimeRange::parse(Some("2024-01-15"), Some("2024-01-15"), ("from", "to")).unwrap();
        assert_eq!(
            whole_day.to.unwrap() - whole_day.from.unwrap(),
            86_400_000 - 1
        );
        match TimeRange::parse(Some("soon"), Some("later"), ("from", "to")) {
            Err(Error::Validation(errors)) => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(TimeRange::parse(Some("2024-02-01"), Some("2024-01-01"), ("from", "to")).is_err());
        assert_eq!(
            TimeRange::parse(None, None, ("from", "to")).unwrap(),
            TimeRange::default()
        );
    }
}
