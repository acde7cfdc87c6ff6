//! The IntendedOps governance API (`/v1`): one `#[OpenApi]` struct per area.

pub mod agents;
pub mod approvals;
pub mod audit;
pub mod checkpoints;
pub mod domains;
pub mod event_stream;
pub mod intents;
pub mod keys;
pub mod policies;
pub mod session;
pub mod stats;
pub mod usage;
pub mod users;
pub mod vocab;
pub mod webhooks;
