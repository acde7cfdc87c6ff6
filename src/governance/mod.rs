//! The governance core: the domain catalog, agents, intent submission and lifecycle, trust
//! tiers. No HTTP types here; the store holds the SQL.

pub mod agents;
pub mod approvals;
pub mod catalog;
pub mod duties;
pub mod intents;
pub mod lifecycle;
pub mod policies;
pub mod policy;
pub mod registry;
pub mod standing;
pub mod stats;
pub mod submission;
pub mod summary;
pub mod trust;
