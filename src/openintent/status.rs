//! The intent lifecycle (RFC-0001, with RFC-0026's suspension).

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    Draft,
    Active,
    Blocked,
    SuspendedAwaitingInput,
    Completed,
    Abandoned,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 6] = [
        IntentStatus::Draft,
        IntentStatus::Active,
        IntentStatus::Blocked,
        IntentStatus::SuspendedAwaitingInput,
        IntentStatus::Completed,
        IntentStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Draft => "draft",
            IntentStatus::Active => "active",
            IntentStatus::Blocked => "blocked",
            IntentStatus::SuspendedAwaitingInput => "suspended_awaiting_input",
            IntentStatus::Completed => "completed",
            IntentStatus::Abandoned => "abandoned",
        }
    }

    /// A status as stored (or sent): `None` for a word that is not one.
    pub fn from_stored(raw: &str) -> Option<Self> {
        IntentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }

    /// Parses a status named at `field` of a request.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        IntentStatus::from_stored(raw).ok_or_else(|| {
                Error::invalid(
                    &[field],
                    "must be one of draft, active, blocked, suspended_awaiting_input, completed, abandoned",
                )
            })
    }

    /// The state machine: draft → active | abandoned; active → blocked | completed |
    /// abandoned | suspended_awaiting_input; blocked and suspended → active | abandoned;
    /// completed and abandoned are final.
    pub fn can_become(self, next: IntentStatus) -> bool {
        use IntentStatus::*;
        matches!(
            (self, next),
            (Draft, Active | Abandoned)
                | (
                    Active,
                    Blocked | Completed | Abandoned | SuspendedAwaitingInput
                )
                | (Blocked | SuspendedAwaitingInput, Active | Abandoned)
        )
    }

    pub fn is_done(self) -> bool {
        matches!(self, IntentStatus::Completed | IntentStatus::Abandoned)
    }
}

#[cfg(test)]
mod tests {
    use super::IntentStatus::*;
    use super::*;

    #[test]
    fn the_lifecycle_allows_exactly_the_rfc_transitions() {
        let allowed: Vec<(IntentStatus, IntentStatus)> = IntentStatus::ALL
            .into_iter()
            .flat_map(|from| IntentStatus::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Draft, Active),
                (Draft, Abandoned),
                (Active, Blocked),
                (Active, SuspendedAwaitingInput),
                (Active, Completed),
                (Active, Abandoned),
                (Blocked, Active),
                (Blocked, Abandoned),
                (SuspendedAwaitingInput, Active),
                (SuspendedAwaitingInput, Abandoned),
            ]
        );
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in IntentStatus::ALL {
            assert_eq!(
                IntentStatus::parse(status.as_str(), "status").unwrap(),
                status
            );
        }
        assert!(IntentStatus::parse("done", "status").is_err());
    }
}
