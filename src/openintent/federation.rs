//! Federation (RFC-0022): not offered by this server. Its status says so honestly, and a
//! dispatch is refused: first, like every outbound target a tenant names, if the peer is not
//! a safe address (a 400 naming `target_server`), then because federation is disabled (403).
//! No request is ever sent to the peer.

use serde::{Deserialize, Serialize};

use super::{Caller, Federation};
use crate::error::{Error, Result};

/// `GET /federation/status`.
#[derive(Debug, Clone, Serialize)]
pub struct FederationStatus {
    pub enabled: bool,
    pub server_did: Option<String>,
    pub trust_policy: &'static str,
    pub peer_count: i64,
    pub active_dispatches: i64,
    pub total_dispatches: i64,
    pub total_received: i64,
}

/// `POST /federation/dispatch` (the fields this server reads before refusing).
#[derive(Debug, Deserialize)]
pub struct DispatchInput {
    pub intent_id: String,
    pub target_server: String,
    #[serde(default)]
    pub callback_url: Option<String>,
}

impl Federation {
    pub fn federation_status(&self) -> FederationStatus {
        FederationStatus {
            enabled: false,
            server_did: None,
            trust_policy: "allowlist",
            peer_count: 0,
            active_dispatches: 0,
            total_dispatches: 0,
            total_received: 0,
        }
    }

    pub async fn dispatch(&self, caller: &Caller, input: DispatchInput) -> Result<()> {
        self.intent(caller, &input.intent_id).await?;
        self.webhooks
            .checked_url(&input.target_server, "target_server")
            .await?;
        if let Some(callback) = &input.callback_url {
            self.webhooks.checked_url(callback, "callback_url").await?;
        }
        Err(Error::Forbidden(
            "federation is disabled on this server: intents are not dispatched to other servers"
                .into(),
        ))
    }
}
