//! IntendedOps: a multi-tenant governance platform for AI agents, speaking both the
//! IntendedOps API (`/v1`) and the OpenIntent Coordination Protocol (`/api/v1`).
//!
//! Data flows one way: `api` (HTTP faces) → core services (`auth`, `tenants`, …) → `store`
//! (all SQL). See docs/DESIGN.md.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bus;
pub mod canonical;
pub mod cli;
pub mod config;
pub mod error;
pub mod feed;
pub mod governance;
mod http;
pub mod ids;
pub mod metrics;
pub mod openintent;
pub mod outbound;
pub mod outbox;
pub mod pagination;
pub mod ratelimit;
pub mod redis;
pub mod secrets;
pub mod services;
pub mod signing;
pub mod store;
pub mod supervisor;
pub mod telemetry;
pub mod tenants;
pub mod time;
pub mod webhooks;
pub mod work;

pub use app::App;
pub use config::AppConfig;
