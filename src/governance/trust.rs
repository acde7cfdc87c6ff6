//! Trust tiers `T0` (new, everything reviewed) to `T4` (most autonomy).

use std::{fmt, str::FromStr};

use crate::error::Error;

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
