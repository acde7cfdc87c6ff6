//! The IntendedOps governance API (`/v1`): one `#[OpenApi]` struct per area.

pub mod audit;
pub mod keys;
