//! Trust tiers `T0` (new, everything reviewed) to `T4` (most autonomy) and the trust score
//! that earns them.
//!
//! The formula (score 0–100, every agent starts at 0 and `T0`):
//! - a completed intent adds its risk weight: low 1, medium 2, high 4, critical 8;
//! - a failed intent takes off twice its weight **and demotes one tier at once**; the score is
//!   then capped just below the threshold of the lost tier, so it must be earned again;
//! - a human rejection takes off the intent's weight; a blocked attempt takes off 1;
//! - a tier needs both a score and a record of completed intents:
//!   `T1` 10 and 5, `T2` 25 and 15, `T3` 50 and 40, `T4` 80 and 100. Promotions happen on a
//!   completion once both are met; any drop below the current tier's score demotes at once.
//!
//! An admin's pinned tier overrides the earned one; the score keeps moving underneath.
//!
//! Agents report their own outcomes, so a completion earns credit only when the agent could
//! not have fabricated it alone ([`CreditRule`]): it came at least a minimum time after the
//! intent was approved (by a person or by policy), and no more than a capped number of
//! completions per agent count in any hour. Other completions complete the intent but move
//! no trust. Failures, rejections and blocks are never capped: demotion stays immediate.

use std::{fmt, str::FromStr};

use super::catalog::Risk;
use crate::{error::Error, time::Millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustTier {
    T0,
    T1,
    T2,
    T3,
    T4,
}

impl TrustTier {
    pub const ALL: [TrustTier; 5] = [
        TrustTier::T0,
        TrustTier::T1,
        TrustTier::T2,
        TrustTier::T3,
        TrustTier::T4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrustTier::T0 => "T0",
            TrustTier::T1 => "T1",
            TrustTier::T2 => "T2",
            TrustTier::T3 => "T3",
            TrustTier::T4 => "T4",
        }
    }

    /// `(minimum score, minimum completed intents)` to hold this tier.
    pub fn requirement(self) -> (f64, i64) {
        match self {
            TrustTier::T0 => (0.0, 0),
            TrustTier::T1 => (10.0, 5),
            TrustTier::T2 => (25.0, 15),
            TrustTier::T3 => (50.0, 40),
            TrustTier::T4 => (80.0, 100),
        }
    }

    fn below(self) -> TrustTier {
        match self {
            TrustTier::T0 | TrustTier::T1 => TrustTier::T0,
            TrustTier::T2 => TrustTier::T1,
            TrustTier::T3 => TrustTier::T2,
            TrustTier::T4 => TrustTier::T3,
        }
    }

    fn above(self) -> Option<TrustTier> {
        match self {
            TrustTier::T0 => Some(TrustTier::T1),
            TrustTier::T1 => Some(TrustTier::T2),
            TrustTier::T2 => Some(TrustTier::T3),
            TrustTier::T3 => Some(TrustTier::T4),
            TrustTier::T4 => None,
        }
    }

    /// The highest tier `score` and `completed` qualify for.
    pub fn earned(score: f64, completed: i64) -> TrustTier {
        TrustTier::ALL
            .into_iter()
            .rev()
            .find(|tier| {
                let (min_score, min_record) = tier.requirement();
                score >= min_score && completed >= min_record
            })
            .unwrap_or(TrustTier::T0)
    }
}

impl fmt::Display for TrustTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrustTier {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        TrustTier::ALL
            .into_iter()
            .find(|tier| tier.as_str() == raw)
            .ok_or_else(|| Error::invalid(&["trustTier"], "must be one of T0, T1, T2, T3, T4"))
    }
}

/// What happened that moves trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustEvent {
    Completed(Risk),
    Failed(Risk),
    Rejected(Risk),
    Blocked,
}

impl TrustEvent {
    pub fn name(self) -> &'static str {
        match self {
            TrustEvent::Completed(_) => "completed",
            TrustEvent::Failed(_) => "failed",
            TrustEvent::Rejected(_) => "rejected",
            TrustEvent::Blocked => "blocked",
        }
    }
}

/// An agent's earned standing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub tier: TrustTier,
    pub score: f64,
    /// Completed intents: the track record promotions need.
    pub completed: i64,
}

fn weight(risk: Risk) -> f64 {
    match risk {
        Risk::Low => 1.0,
        Risk::Medium => 2.0,
        Risk::High => 4.0,
        Risk::Critical => 8.0,
    }
}

impl Standing {
    /// The standing after `event`, per the formula above.
    pub fn after(self, event: TrustEvent) -> Standing {
        let mut next = self;
        match event {
            TrustEvent::Completed(risk) => {
                next.score += weight(risk);
                next.completed += 1;
                next.tier = next
                    .tier
                    .max(TrustTier::earned(next.score.min(100.0), next.completed));
            }
            TrustEvent::Failed(risk) => {
                next.score -= 2.0 * weight(risk);
                next.tier = next.tier.below();
                if let Some(lost) = next.tier.above() {
                    next.score = next.score.min(lost.requirement().0 - 1.0);
                }
            }
            TrustEvent::Rejected(risk) => next.score -= weight(risk),
            TrustEvent::Blocked => next.score -= 1.0,
        }
        next.score = next.score.clamp(0.0, 100.0);
        // Demotion: a record, once earned, stays; only the score can take a tier away.
        while next.tier > TrustTier::T0 && next.score < next.tier.requirement().0 {
            next.tier = next.tier.below();
        }
        next
    }
}

/// The length of the window the hourly credit cap counts in.
pub const CREDIT_WINDOW_MS: Millis = 3_600_000;

/// Which reported completions earn trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditRule {
    /// Minimum time from approval to completion: a report sooner than this is not credible.
    pub min_execution_ms: Millis,
    /// Credited completions per agent per hour.
    pub per_hour: i64,
}

impl Default for CreditRule {
    fn default() -> Self {
        CreditRule {
            min_execution_ms: 60_000,
            per_hour: 10,
        }
    }
}

/// The credited completions of an agent's current hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditWindow {
    pub start: Millis,
    pub count: i64,
}

/// The verdict on one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credit {
    /// Credited; the window with this completion counted.
    Granted(CreditWindow),
    /// Reported sooner after approval than the minimum.
    TooFast,
    /// The hour's cap is reached.
    CapReached,
}

impl CreditRule {
    /// Judges a completion reported `since_approval` ms after its approval, at `now`.
    pub fn judge(&self, since_approval: Millis, window: CreditWindow, now: Millis) -> Credit {
        if since_approval < self.min_execution_ms {
            return Credit::TooFast;
        }
        let window = if now - window.start >= CREDIT_WINDOW_MS {
            CreditWindow {
                start: now,
                count: 0,
            }
        } else {
            window
        };
        if window.count >= self.per_hour {
            return Credit::CapReached;
        }
        Credit::Granted(CreditWindow {
            count: window.count + 1,
            ..window
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_earn_credit_only_after_the_minimum_time_and_under_the_hourly_cap() {
        let rule = CreditRule {
            min_execution_ms: 1_000,
            per_hour: 2,
        };
        let empty = CreditWindow { start: 0, count: 0 };
        let now = 10 * CREDIT_WINDOW_MS;
        assert_eq!(rule.judge(999, empty, now), Credit::TooFast);
        let Credit::Granted(first) = rule.judge(1_000, empty, now) else {
            panic!("a completion after the minimum time is credited");
        };
        assert_eq!(
            first,
            CreditWindow {
                start: now,
                count: 1
            }
        );
        let Credit::Granted(second) = rule.judge(5_000, first, now + 1) else {
            panic!("the second of the hour is credited");
        };
        assert_eq!(rule.judge(5_000, second, now + 2), Credit::CapReached);
        let next_hour = rule.judge(5_000, second, now + CREDIT_WINDOW_MS);
        assert!(matches!(next_hour, Credit::Granted(w) if w.count == 1));
    }

    fn fresh() -> Standing {
        Standing {
            tier: TrustTier::T0,
            score: 0.0,
            completed: 0,
        }
    }

    #[test]
    fn promotion_needs_score_and_record() {
        let mut standing = fresh();
        // Two critical completions: score 16, but only 2 completed: still T0.
        for _ in 0..2 {
            standing = standing.after(TrustEvent::Completed(Risk::Critical));
        }
        assert_eq!((standing.tier, standing.score), (TrustTier::T0, 16.0));
        for _ in 0..3 {
            standing = standing.after(TrustEvent::Completed(Risk::Low));
        }
        assert_eq!((standing.tier, standing.completed), (TrustTier::T1, 5));
    }

    #[test]
    fn a_failure_demotes_at_once_and_the_tier_must_be_earned_again() {
        let mut standing = Standing {
            tier: TrustTier::T2,
            score: 40.0,
            completed: 20,
        };
        standing = standing.after(TrustEvent::Failed(Risk::Low));
        assert_eq!((standing.tier, standing.score), (TrustTier::T1, 24.0));
        standing = standing.after(TrustEvent::Completed(Risk::Low));
        assert_eq!(
            standing.tier,
            TrustTier::T2,
            "25 again with the record: earned back"
        );
        let floor = fresh().after(TrustEvent::Failed(Risk::Critical));
        assert_eq!((floor.tier, floor.score), (TrustTier::T0, 0.0));
    }

    #[test]
    fn rejections_and_blocks_lower_the_score_and_can_demote() {
        let standing = Standing {
            tier: TrustTier::T1,
            score: 10.5,
            completed: 6,
        };
        assert_eq!(standing.after(TrustEvent::Blocked).score, 9.5);
        assert_eq!(standing.after(TrustEvent::Blocked).tier, TrustTier::T0);
        assert_eq!(
            standing.after(TrustEvent::Rejected(Risk::Low)).tier,
            TrustTier::T0
        );
        let high = Standing {
            tier: TrustTier::T1,
            score: 30.0,
            completed: 6,
        };
        assert_eq!(
            high.after(TrustEvent::Rejected(Risk::High)).tier,
            TrustTier::T1
        );
        assert!(fresh().after(TrustEvent::Blocked).score == 0.0);
    }
}
