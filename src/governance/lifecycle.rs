//! The intent state machine. Every status change goes through [`IntentStatus::check`], so a
//! transition outside the machine is refused the same way everywhere (409
//! `INVALID_TRANSITION`).
//!
//! ```text
//! pending ──▶ pending_approval ──▶ approved ──▶ completed
//!    │  │            │    │            └──────▶ failed
//!    │  └──▶ approved │    ├──▶ rejected
//!    ├──▶ blocked     │    └──▶ expired
//!    └──▶ cancelled ◀─┘
//! ```

use std::{fmt, str::FromStr};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentStatus {
    Pending,
    PendingApproval,
    Approved,
    Rejected,
    Blocked,
    Expired,
    Cancelled,
    Completed,
    Failed,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 9] = [
        IntentStatus::Pending,
        IntentStatus::PendingApproval,
        IntentStatus::Approved,
        IntentStatus::Rejected,
        IntentStatus::Blocked,
        IntentStatus::Expired,
        IntentStatus::Cancelled,
        IntentStatus::Completed,
        IntentStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Pending => "pending",
            IntentStatus::PendingApproval => "pending_approval",
            IntentStatus::Approved => "approved",
            IntentStatus::Rejected => "rejected",
            IntentStatus::Blocked => "blocked",
            IntentStatus::Expired => "expired",
            IntentStatus::Cancelled => "cancelled",
            IntentStatus::Completed => "completed",
            IntentStatus::Failed => "failed",
        }
    }

    /// Whether the machine allows `self → to`.
    pub fn can_become(self, to: IntentStatus) -> bool {
        use IntentStatus::*;
        matches!(
            (self, to),
            (Pending, PendingApproval | Approved | Blocked | Cancelled)
                | (PendingApproval, Approved | Rejected | Expired | Cancelled)
                | (Approved, Completed | Failed)
        )
    }

    /// `Ok` when `self → to` is allowed, else `INVALID_TRANSITION` naming `action`.
    pub fn check(self, to: IntentStatus, action: &'static str) -> Result<(), Error> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(Error::InvalidTransition {
                action,
                from: self.as_str().to_string(),
            })
        }
    }
}

impl fmt::Display for IntentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntentStatus {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        IntentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| {
                Error::invalid(
                    &["status"],
                    format!(
                        "must be one of {}",
                        IntentStatus::ALL.map(IntentStatus::as_str).join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::IntentStatus::{self, *};

    #[test]
    fn terminal_statuses_go_nowhere() {
        for terminal in [Rejected, Blocked, Expired, Cancelled, Completed, Failed] {
            assert!(
                IntentStatus::ALL.iter().all(|to| !terminal.can_become(*to)),
                "{terminal}"
            );
        }
    }

    #[test]
    fn outcomes_are_reported_only_for_approved_intents() {
        assert!(Approved.can_become(Completed) && Approved.can_become(Failed));
        assert!(!Pending.can_become(Completed) && !PendingApproval.can_become(Failed));
        assert!(Pending.can_become(Cancelled) && PendingApproval.can_become(Cancelled));
        assert!(!Approved.can_become(Cancelled));
        assert!(Pending.check(Completed, "complete").is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for status in IntentStatus::ALL {
            assert_eq!(status.as_str().parse::<IntentStatus>().unwrap(), status);
        }
        assert!("done".parse::<IntentStatus>().is_err());
    }
}
