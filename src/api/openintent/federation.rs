//! RFC-0022 routes: federation, which this server does not offer.

use poem::Request;
use poem_openapi::{Object, OpenApi};

use super::{document, done, parse, reader, writer, Body, DocAnswer, Done, OiResult, OiTag};
use crate::{
    api::{schema::examples, security::TenantKey},
    openintent::{federation::DispatchInput, Federation},
};

/// This server's federation: disabled, no peers.
#[derive(Debug, Object)]
#[oai(example)]
pub struct FederationStatusDoc {
    enabled: bool,
    server_did: Option<String>,
    trust_policy: String,
    peer_count: i64,
    active_dispatches: i64,
    total_dispatches: i64,
    total_received: i64,
}

/// A dispatch of an intent to another server.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct DispatchIn {
    intent_id: String,
    /// Checked like every outbound target (400 when unsafe), then refused.
    target_server: String,
    agent_id: Option<String>,
    callback_url: Option<String>,
}

examples! {
    FederationStatusDoc => {
        "enabled": false,
        "server_did": null,
        "trust_policy": "allowlist",
        "peer_count": 0,
        "active_dispatches": 0,
        "total_dispatches": 0,
        "total_received": 0
    }
    DispatchIn => {"intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G", "target_server": "https://203.0.113.10"}
}

pub struct FederationOi(pub Federation);

#[OpenApi(tag = "OiTag::Server")]
impl FederationOi {
    /// Federation is disabled on this server.
    #[oai(
        path = "/federation/status",
        method = "get",
        operation_id = "oi_federation_status"
    )]
    async fn status(
        &self,
        key: TenantKey,
        req: &Request,
    ) -> OiResult<DocAnswer<FederationStatusDoc>> {
        reader(&key, req)?;
        document(Ok(self.0.federation_status()))
    }

    /// Always refused: 400 for an unsafe `target_server` or `callback_url`, else 403
    /// (federation is disabled); nothing is sent to the peer.
    #[oai(
        path = "/federation/dispatch",
        method = "post",
        operation_id = "oi_federation_dispatch"
    )]
    async fn dispatch(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<DispatchIn>,
    ) -> OiResult<Done> {
        let caller = writer(&key, req)?;
        done(
            self.0
                .dispatch(&caller, parse::<DispatchInput, _>(body)?)
                .await,
        )
    }
}
