//! Who acts on the OpenIntent face: the agent `X-Agent-ID` names, admitted by the agent
//! registry (the key's binding allows it; the agent is registered, or registered now where
//! the tenant allows it; and active). Without the header: the key's first bound agent, or
//! for an unbound key the key id itself (the protocol's compatibility default).
//!
//! Resolved once per request, before the operation runs, and handed to handlers through the
//! request's extensions; no handler reads the header itself.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::error::OiError;
use crate::{
    auth::{Principal, VerifiedKey},
    error::{Error, Result},
    governance::registry::AgentRegistry,
    openintent::intents::check_agent_id,
};

/// The verified acting agent of a request.
#[derive(Debug, Clone)]
pub struct ActingAgent(pub String);

/// Middleware of the face's routes: resolves [`ActingAgent`] for every keyed request.
pub async fn resolve<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    if let Some(VerifiedKey(principal)) = req.extensions().get::<VerifiedKey>().cloned() {
        let registry = req
            .data::<Arc<AgentRegistry>>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("agent registry is not installed")))
            .map_err(OiError::from)?;
        let agent = acting_agent(registry, &principal, &req)
            .await
            .map_err(OiError::from)?;
        req.extensions_mut().insert(ActingAgent(agent));
    }
    next.call(req).await.map(IntoResponse::into_response)
}

async fn acting_agent(
    registry: &AgentRegistry,
    principal: &Principal,
    req: &Request,
) -> Result<String> {
    let claimed = match req.headers().get("x-agent-id").map(|v| v.to_str()) {
        Some(Ok(agent)) => Some(agent),
        Some(Err(_)) => return Err(Error::invalid(&["X-Agent-ID"], "must be visible ASCII")),
        None => None,
    };
    let agent = match (claimed, principal.agents.first()) {
        (Some(claimed), _) => claimed,
        (None, Some(bound)) => bound.as_str(),
        (None, None) => return Ok(principal.key_id.to_string()),
    };
    check_agent_id(agent)?;
    registry.admit(principal, agent).await?;
    Ok(agent.to_string())
}
