//! Integration tests: each test starts the real server on an ephemeral port over a fresh
//! database (a SQLite file, or a PostgreSQL schema when `TEST_DATABASE_URL` is set; Redis
//! when `TEST_REDIS_URL` is set) and speaks HTTP to it.

mod helpers;

mod agents;
mod approval_queue;
mod audit;
mod audit_checkpoints;
mod auth;
mod cli;
mod console;
mod conventions;
mod domains;
mod errors;
mod event_feed;
mod governance;
mod hardening_depth;
mod hardening_edge;
mod hardening_policy;
mod hardening_surface;
mod identity;
mod intents;
mod keys;
mod openapi_docs;
mod openapi_examples;
mod openintent;
mod ops;
mod outbound_secrets;
mod people;
mod quickstart;
mod ratelimit;
mod separation;
mod server_log;
mod sse;
mod subscription_webhooks;
mod webhooks;
