//! The OpenIntent face (`/api/v1`): the routes of RFCs 0001–0011 plus the ones the Python
//! SDK calls, served from the protocol core (`crate::openintent`).
//!
//! Conventions of this face: snake_case JSON; request bodies are read as JSON and parsed into
//! the core's typed inputs (so unknown fields sent by newer SDKs are ignored, wrong types are
//! 400s); lists come wrapped in an object named after what they hold (`{"intents": [...]}`),
//! which is what the SDK reads; the caller's agent identity is `X-Agent-ID` as the agent
//! registry admits it ([`identity`]).
//! Request bodies are read as JSON documented by the types of [`bodies`] (so the core can
//! name every failing field); answers are the wire objects of [`resources`], built from the
//! core's types.

pub mod access;
pub mod bodies;
pub mod channels;
pub mod coordinators;
pub mod discovery;
pub mod error;
pub mod federation;
pub mod governance;
pub mod graph;
pub mod identities;
pub mod identity;
pub mod intents;
pub mod leases;
pub mod lifecycle;
pub mod memory;
pub mod portfolios;
pub mod records;
pub mod resources;
pub mod streams;
pub mod suspension;
pub mod tasks;
pub mod tools;
pub mod triggers;
pub mod verifiable;
pub mod vocab;

use poem::Request;
use poem_openapi::{
    payload::Json,
    types::{ToJSON, Type},
    ApiResponse, ExtraHeader, OpenApiService, Tags,
};

use self::{error::OiError, identity::ActingAgent, resources::Listing};
use crate::{
    api::{security::TenantKey, types::Documented},
    auth::Scope,
    error::Error,
    openintent::{Caller, OpenIntent, Version},
};

#[derive(Tags)]
pub enum OiTag {
    /// RFC-0001 intents: state, status, events, agents.
    Intents,
    /// RFC-0002 intent graphs.
    Graphs,
    /// RFC-0003 scope leases.
    Leases,
    /// RFC-0004, 0005, 0009, 0010: arbitration, decisions, attachments, costs, retries.
    Records,
    /// RFC-0007 portfolios.
    Portfolios,
    /// RFC-0011 access control.
    Access,
    /// RFC-0006 subscriptions and SSE streams.
    Subscriptions,
    /// RFC-0012 tasks and plans.
    Tasks,
    /// RFC-0015 agent memory.
    Memory,
    /// RFC-0016 agent lifecycle and health.
    Lifecycle,
    /// RFC-0017 triggers.
    Triggers,
    /// RFC-0013 governance: policies, approval requests, escalations, coordinator leases,
    /// decision records.
    Governance,
    /// RFC-0014 credential vaults, tool grants and the tool proxy.
    Tools,
    /// RFC-0021 channels and messages between agents.
    Channels,
    /// RFC-0026 server configuration.
    Server,
}

/// 200 with the resource.
pub type Answer<T> = Json<T>;

/// 201 with the created resource.
#[derive(ApiResponse)]
pub enum Created<T: Type + ToJSON> {
    #[oai(status = 201)]
    Created(Json<T>),
}

/// 204: done, nothing to show.
#[derive(ApiResponse)]
pub enum Done {
    #[oai(status = 204)]
    NoContent,
}

pub type OiResult<T> = Result<T, OiError>;

fn fail(err: Error) -> OiError {
    OiError::from(err)
}

/// 200 with the core's answer on the wire.
pub fn ok<T, W: From<T>>(result: crate::error::Result<T>) -> OiResult<Answer<W>> {
    result.map(|value| Json(W::from(value))).map_err(fail)
}

/// 201 with the created resource on the wire.
pub fn created<T, W: From<T> + Type + ToJSON>(
    result: crate::error::Result<T>,
) -> OiResult<Created<W>> {
    result
        .map(|value| Created::Created(Json(W::from(value))))
        .map_err(fail)
}

/// 200 with a list wrapped as the SDK reads it (`{"intents": [...]}`).
pub fn listed<T, L>(result: crate::error::Result<Vec<T>>) -> OiResult<Answer<L>>
where
    L: Listing,
    L::Item: From<T>,
{
    result
        .map(|items| Json(L::wrap(items.into_iter().map(L::Item::from).collect())))
        .map_err(fail)
}

/// 200 with a document of the core (`Serialize`), documented as `D`.
pub type DocAnswer<D> = Json<Documented<D>>;
/// 201 with a new document of the core.
pub type DocCreated<D> = Created<Documented<D>>;
/// 200 with documents as a bare array (what the SDK reads for RFC 0012-0017 lists).
pub type DocList<D> = Json<Documented<Vec<D>>>;

fn to_wire<T: serde::Serialize, D>(value: &T) -> OiResult<Documented<D>> {
    serde_json::to_value(value)
        .map(Documented::new)
        .map_err(|err| fail(Error::Internal(err.into())))
}

pub fn document<T: serde::Serialize, D>(result: crate::error::Result<T>) -> OiResult<DocAnswer<D>> {
    Ok(Json(to_wire(&result.map_err(fail)?)?))
}

pub fn created_document<T: serde::Serialize, D: Type>(
    result: crate::error::Result<T>,
) -> OiResult<DocCreated<D>> {
    Ok(Created::Created(Json(to_wire(&result.map_err(fail)?)?)))
}

pub fn documents<T: serde::Serialize, D>(
    result: crate::error::Result<Vec<T>>,
) -> OiResult<DocList<D>> {
    Ok(Json(to_wire(&result.map_err(fail)?)?))
}

/// 204.
pub fn done(result: crate::error::Result<()>) -> OiResult<Done> {
    result.map(|()| Done::NoContent).map_err(fail)
}

/// The caller of a read: the key's tenant and the verified acting agent ([`identity`]).
pub fn reader(key: &TenantKey, req: &Request) -> OiResult<Caller> {
    let Some(ActingAgent(agent_id)) = req.extensions().get::<ActingAgent>() else {
        return Err(fail(Error::Internal(anyhow::anyhow!(
            "the acting agent was not resolved for this request"
        ))));
    };
    Ok(Caller {
        tenant: key.0.tenant_id.clone(),
        agent_id: agent_id.clone(),
        admin: key.0.has(Scope::Admin),
        principal: key.0.clone(),
        trace_id: req
            .headers()
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .and_then(crate::openintent::trace_id_of),
    })
}

/// The caller of a mutation: as [`reader`], and the key must have the `agent` scope.
pub fn writer(key: &TenantKey, req: &Request) -> OiResult<Caller> {
    key.require(Scope::Agent).map_err(OiError::from)?;
    reader(key, req)
}

/// The `If-Match` version (`3`, `"3"` or `W/"3"`); required on versioned writes. Read from
/// the request itself: the operations' `If-Match` parameter documents it, this reports a
/// missing or malformed one in the face's envelope.
pub fn if_match(req: &Request) -> OiResult<Version> {
    let raw = req.headers().get("if-match").ok_or_else(|| {
        fail(Error::invalid(
            &["If-Match"],
            "the If-Match header (the intent's version) is required",
        ))
    })?;
    raw.to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Version)
        .ok_or_else(|| fail(Error::invalid(&["If-Match"], "must be an integer version")))
}

/// A versioned change: the writing caller, the `If-Match` version and the parsed body.
pub fn versioned<T: serde::de::DeserializeOwned, D>(
    key: &TenantKey,
    req: &Request,
    body: Body<D>,
) -> OiResult<(Caller, Version, T)> {
    Ok((writer(key, req)?, if_match(req)?, parse(body)?))
}

/// A request body: the JSON as sent, documented as `T`.
pub type Body<T> = Json<Documented<T>>;

/// Reads a body into a core input type (400 naming serde's complaint).
pub fn parse<T: serde::de::DeserializeOwned, D>(body: Body<D>) -> OiResult<T> {
    crate::openintent::records::parse_body(body.0.value).map_err(fail)
}

/// The face's route groups: RFCs 0001–0011, then the later RFCs (a tuple holds at most 16).
pub type Apis = (
    (
        intents::IntentsOi,
        graph::GraphOi,
        leases::LeasesOi,
        records::RecordsOi,
        portfolios::PortfoliosOi,
        access::AccessOi,
        streams::StreamsOi,
        suspension::SuspensionOi,
        discovery::ServerOi,
    ),
    (
        tasks::TasksOi,
        memory::MemoryOi,
        lifecycle::LifecycleOi,
        triggers::TriggersOi,
        federation::FederationOi,
        governance::GovernanceOi,
        coordinators::CoordinatorsOi,
        tools::ToolsOi,
        channels::ChannelsOi,
        identities::IdentitiesOi,
        verifiable::VerifiableOi,
    ),
);

/// The face's OpenAPI service, to be nested at `/api/v1`.
pub fn openapi(core: &OpenIntent) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            (
                intents::IntentsOi(core.intents.clone()),
                graph::GraphOi(core.graphs.clone()),
                leases::LeasesOi(core.leases.clone()),
                records::RecordsOi(core.records.clone()),
                portfolios::PortfoliosOi(core.portfolios.clone()),
                access::AccessOi(core.access.clone()),
                streams::StreamsOi(core.subscriptions.clone()),
                suspension::SuspensionOi(core.intents.clone()),
                discovery::ServerOi,
            ),
            (
                tasks::TasksOi(core.tasks.clone(), core.plans.clone()),
                memory::MemoryOi(core.memory.clone()),
                lifecycle::LifecycleOi(core.lifecycle.clone()),
                triggers::TriggersOi(core.triggers.clone()),
                federation::FederationOi(core.federation.clone()),
                governance::GovernanceOi(core.intents.clone(), core.approvals.clone()),
                coordinators::CoordinatorsOi(core.coordinators.clone()),
                tools::ToolsOi(core.tools.clone()),
                channels::ChannelsOi(core.channels.clone()),
                identities::IdentitiesOi(core.identities.clone()),
                verifiable::VerifiableOi(core.verifiable.clone()),
            ),
        ),
        "IntendedOps — OpenIntent Coordination Protocol",
        env!("CARGO_PKG_VERSION"),
    )
    .server("/api/v1")
    .extra_request_header::<Option<String>, _>(ExtraHeader::new("X-Agent-ID").description(
        "The acting agent (`research-agent`), an agent of `/v1/agents`. A key bound to \
                 agents may name only those (else 403). Absent: the key's first bound agent, or \
                 the key id for an unbound key.",
    ))
    .description(
        "The OpenIntent face of IntendedOps (protocol 0.1): intents with versioned state, \
         graphs, leases, arbitration, attachments, SSE subscriptions, portfolios, costs, \
         retries, access control. Authenticate with `X-API-Key`; name the agent with `X-Agent-ID`.",
    )
}
