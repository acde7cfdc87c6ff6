//! Acting as an agent: a key bound to agents may act only as them. Every refusal is audited,
//! so an attempt to impersonate another agent is on the record, not only in a log line.

use serde_json::json;

use super::Principal;
use crate::{
    audit::{self, event_types, AuditEvent},
    error::{Error, Result},
    store::Store,
};

/// The longest agent id.
pub const MAX_AGENT_ID_LEN: usize = 64;

/// Agent ids: 1-64 letters, digits, `-`, `_` and `.`, starting with a letter or digit.
pub fn valid_agent_id(id: &str) -> bool {
    (1..=MAX_AGENT_ID_LEN).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `Ok` when `principal` may act as `agent_id`; otherwise audits the attempt
/// (`identity.refused`) and answers 403 `FORBIDDEN`. `action` says what was attempted.
pub async fn check_acting_as(
    store: &Store,
    principal: &Principal,
    agent_id: &str,
    action: &str,
) -> Result<()> {
    if principal.may_act_as(agent_id) {
        return Ok(());
    }
    let event = AuditEvent {
        event_type: event_types::IDENTITY_REFUSED,
        actor: &principal.key_id,
        subject: agent_id,
        data: json!({ "action": action, "boundAgents": &*principal.agents }),
    };
    audit::append_alone(store, &principal.tenant_id, event).await?;
    Err(Error::Forbidden(format!(
        "this API key is bound to agent(s) {}; it cannot act as agent '{agent_id}'",
        principal.agents.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_are_checked() {
        assert!(valid_agent_id("billing-agent") && valid_agent_id("Agent_1.v2"));
        for bad in ["-agent", "", "a b", &"a".repeat(65)] {
            assert!(!valid_agent_id(bad), "{bad:?}");
        }
    }
}
