//! The HTTP faces: each module parses and authorizes a request, makes one call into the
//! core, and maps the result. No SQL and no business rules here.

pub mod console;
pub mod docs;
pub mod error;
pub mod openintent;
pub mod ops;
pub mod schema;
pub mod security;
pub mod sse;
pub mod types;
pub mod v1;

use poem_openapi::{OpenApiService, Tags};

use crate::services::Services;

#[derive(Tags)]
pub enum Tag {
    /// Health, readiness, metrics.
    Operations,
    /// API keys of the caller's tenant.
    Keys,
    /// Console users (people) and their sign-in sessions.
    Users,
    /// The domain catalog: intent types, risk, params schemas.
    Domains,
    /// Agents registered by the tenant.
    Agents,
    /// Governed intents: submission, queries, outcomes.
    Intents,
    /// The approval queue.
    Approvals,
    /// The tenant's governance policy.
    Policies,
    /// The tenant's hash-chained audit trail.
    Audit,
    /// Signed webhooks: endpoints, secrets, deliveries.
    Webhooks,
    /// The tenant's events, live (SSE) and replayed.
    Events,
}

pub type Apis = (
    ops::OpsApi,
    v1::domains::DomainsApi,
    v1::agents::AgentsApi,
    v1::intents::IntentsApi,
    v1::approvals::ApprovalsApi,
    v1::policies::PoliciesApi,
    v1::stats::StatsApi,
    v1::audit::AuditApi,
    v1::checkpoints::CheckpointsApi,
    v1::keys::KeysApi,
    v1::usage::UsageApi,
    v1::users::UsersApi,
    v1::session::SessionApi,
    v1::webhooks::WebhooksApi,
    v1::event_stream::EventStreamApi,
);

/// The OpenAPI service with every operation of both faces.
pub fn openapi(services: &Services) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            ops::OpsApi::new(
                services.store.clone(),
                services.redis.clone(),
                services.limiter.clone(),
            ),
            v1::domains::DomainsApi::new(services.catalog.clone()),
            v1::agents::AgentsApi::new(services.agents.clone()),
            v1::intents::IntentsApi::new(services.intents.clone(), services.approvals.clone()),
            v1::approvals::ApprovalsApi::new(services.approvals.clone(), services.intents.clone()),
            v1::policies::PoliciesApi::new(services.policies.clone(), services.intents.clone()),
            v1::stats::StatsApi::new(services.stats.clone()),
            v1::audit::AuditApi::new(services.audit.clone()),
            v1::checkpoints::CheckpointsApi::new(services.audit.checkpoints().clone()),
            v1::keys::KeysApi::new(
                services.keys.clone(),
                (
                    services.verifier.clone(),
                    services.limiter.clone(),
                    services.metrics.clone(),
                ),
            ),
            v1::usage::UsageApi::new(
                services.keys.clone(),
                services.limiter.clone(),
                services.stats.clone(),
            ),
            v1::users::UsersApi::new(services.users.clone()),
            v1::session::SessionApi::new(services.sessions.clone(), services.users.clone()),
            v1::webhooks::WebhooksApi::new(services.webhooks.clone()),
            v1::event_stream::EventStreamApi::new(services.feed.clone()),
        ),
        "IntendedOps",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Governance platform for AI agents: typed intents, policy and trust tiers, human \
         approvals, a hash-chained audit trail. Authenticate with `x-api-key`, or as a console \
         user with the session cookie of `POST /v1/auth/login` (plus `X-CSRF-Token` on writes).",
    )
}
