//! The closed vocabularies of the `/v1` face, documented as string enums: fields carry them
//! as [`Word`](crate::api::schema::Word)s, the core's string on the wire. Where the core keeps
//! the list, the document takes it from there.

use poem_openapi::Enum;

use crate::{
    api::schema::vocabularies,
    governance::{lifecycle, trust},
};

vocabularies! {
    /// Lifecycle of a governed intent.
    IntentStatus => lifecycle::IntentStatus::ALL.map(lifecycle::IntentStatus::as_str);
    /// Trust tiers, lowest first.
    TrustTier => trust::TrustTier::ALL.map(trust::TrustTier::as_str);
    /// Events a webhook endpoint can subscribe to.
    WebhookEvent => crate::webhooks::EVENTS;
    /// What a policy decided.
    Outcome => ["auto_approve", "require_approval", "block"];
    /// Where an approval stands; `cancelled` when its intent was withdrawn while it waited.
    ApprovalStatus => crate::governance::approvals::STATUSES;
    /// One approver's choice.
    ApprovalChoice => ["approve", "reject"];
    /// An intent type's risk level.
    Risk => ["low", "medium", "high", "critical"];
    /// The kind of value an intent type generates.
    ValueCategory => ["efficiency", "revenue", "risk_mitigation", "cost_savings"];
    /// A `suspended` agent's submissions are refused.
    AgentStatus => ["active", "suspended"];
    /// What moved an agent's trust.
    TrustCause => ["completed", "failed", "rejected", "blocked"];
    /// `pending`: an attempt is due at `nextAttemptAt`; `dead`: the retries ran out.
    DeliveryStatus => ["pending", "delivered", "dead"];
    /// `default`: the shipped policy; `tenant`: a version the tenant stored.
    PolicySource => ["default", "tenant"];
}

/// `healthy` whenever the process answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum HealthStatus {
    Healthy,
}

/// `degraded` while a configured Redis is unreachable (the instance still serves, counting
/// rate limits in process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ReadinessStatus {
    Ready,
    Degraded,
}
