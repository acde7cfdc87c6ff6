//! The intent lifecycle (RFC-0001, with RFC-0026's suspension).

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordinationStatus {
    Draft,
    Active,
    Blocked,
    SuspendedAwaitingInput,
    Completed,
    Abandoned,
}

impl CoordinationStatus {
    pub const ALL: [CoordinationStatus; 6] = [
        CoordinationStatus::Draft,
        CoordinationStatus::Active,
        CoordinationStatus::Blocked,
        CoordinationStatus::SuspendedAwaitingInput,
        CoordinationStatus::Completed,
        CoordinationStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CoordinationStatus::Draft => "draft",
            CoordinationStatus::Active => "active",
            CoordinationStatus::Blocked => "blocked",
            CoordinationStatus::SuspendedAwaitingInput => "suspended_awaiting_input",
            CoordinationStatus::Completed => "completed",
            CoordinationStatus::Abandoned => "abandoned",
        }
    }

    /// A status as stored (or sent): `None` for a word that is not one.
    pub fn from_stored(raw: &str) -> Option<Self> {
        CoordinationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }

    /// Parses a status named at `field` of a request.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        CoordinationStatus::from_stored(raw).ok_or_else(|| {
                Error::invalid(
                    &[field],
                    "must be one of draft, active, blocked, suspended_awaiting_input, completed, abandoned",
                )
            })
    }

    /// The state machine: draft → active | abandoned; active → blocked | completed |
    /// abandoned | suspended_awaiting_input; blocked and suspended → active | abandoned;
    /// completed and abandoned are final.
    pub fn can_become(self, next: CoordinationStatus) -> bool {
        use CoordinationStatus::*;
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
        matches!(
            self,
            CoordinationStatus::Completed | CoordinationStatus::Abandoned
        )
    }
}

#[cfg(test)]
mod tests {
    use super::CoordinationStatus::*;
    use super::*;

    #[test]
    fn the_lifecycle_allows_exactly_the_rfc_transitions() {
        let allowed: Vec<(CoordinationStatus, CoordinationStatus)> = CoordinationStatus::ALL
            .into_iter()
            .flat_map(|from| {
                CoordinationStatus::ALL
                    .into_iter()
                    .map(move |to| (from, to))
            })
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
        for status in CoordinationStatus::ALL {
            assert_eq!(
                CoordinationStatus::parse(status.as_str(), "status").unwrap(),
                status
            );
        }
        assert!(CoordinationStatus::parse("done", "status").is_err());
    }
}
