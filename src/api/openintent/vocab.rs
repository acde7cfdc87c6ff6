//! The closed vocabularies of the OpenIntent face, documented as string enums (the core
//! parses and checks them, reporting its own errors). Where the core keeps the list, the
//! document takes it from there.

use crate::{
    api::schema::vocabularies,
    openintent::{access, model, portfolios, records::retries, status},
};

vocabularies! {
    /// The intent lifecycle (RFC-0001, with RFC-0026's suspension).
    IntentStatus => status::CoordinationStatus::ALL.map(status::CoordinationStatus::as_str);
    PortfolioStatus => portfolios::STATUSES;
    MembershipRole => portfolios::ROLES;
    /// `read` lets an agent read a closed intent; `write` and `admin` also change it.
    Permission => access::PERMISSIONS;
    /// A state patch's operation (`replace` and `add` are read as `set`).
    PatchOp => ["set", "append", "remove", "replace", "add"];
    /// A lapsed `active` lease shows as `expired`; `revoked` when its holder lost access.
    LeaseStatus => model::LeaseStatus::ALL.map(model::LeaseStatus::as_str);
    EdgeType => model::EdgeKind::ALL.map(model::EdgeKind::as_str);
    ArbitrationStatus => ["pending"];
    RetryStrategy => retries::STRATEGIES;
    /// Who may touch an intent that has no ACL entry for them.
    AclPolicy => ["open", "closed"];
    AccessRequestStatus => ["pending", "approved", "denied"];
    /// What an SSE stream follows.
    StreamKind => ["intents", "portfolios", "agents"];
}
