//! A governed intent's lifecycle: the intent as stored, its state machine, and the one
//! transition engine ([`apply_transition`]) every status change after submission goes
//! through (cancel, complete, fail, approve, reject, expire). Every change is checked by
//! [`IntentStatus::check`], so a transition outside the machine is refused the same way
//! everywhere (409 `INVALID_TRANSITION`).
//!
//! ```text
//! pending ──▶ pending_approval ──▶ approved ──▶ completed
//!    │  │            │    │            └──────▶ failed
//!    │  └──▶ approved │    ├──▶ rejected
//!    ├──▶ blocked     │    └──▶ expired
//!    └──▶ cancelled ◀─┘
//! ```

use std::{fmt, str::FromStr};

use serde_json::{json, Value};

use crate::{
    audit::AuditEvent,
    canonical,
    error::{Error, Result},
    store::{
        approvals, intents,
        intents::{IntentRow, StatusChange},
    },
    time::{now_ms, Millis},
    work::UnitOfWork,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentStatus {
    Pending,
    PendingApproval,
    Approved,
    Rejected,
    Blocked,
    Expired,
    Cancelled,
    Completed,
    Failed,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 9] = [
        IntentStatus::Pending,
        IntentStatus::PendingApproval,
        IntentStatus::Approved,
        IntentStatus::Rejected,
        IntentStatus::Blocked,
        IntentStatus::Expired,
        IntentStatus::Cancelled,
        IntentStatus::Completed,
        IntentStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Pending => "pending",
            IntentStatus::PendingApproval => "pending_approval",
            IntentStatus::Approved => "approved",
            IntentStatus::Rejected => "rejected",
            IntentStatus::Blocked => "blocked",
            IntentStatus::Expired => "expired",
            IntentStatus::Cancelled => "cancelled",
            IntentStatus::Completed => "completed",
            IntentStatus::Failed => "failed",
        }
    }

    /// Whether the machine allows `self → to`.
    pub fn can_become(self, to: IntentStatus) -> bool {
        use IntentStatus::*;
        matches!(
            (self, to),
            (Pending, PendingApproval | Approved | Blocked | Cancelled)
                | (PendingApproval, Approved | Rejected | Expired | Cancelled)
                | (Approved, Completed | Failed)
        )
    }

    /// `Ok` when `self → to` is allowed, else `INVALID_TRANSITION` naming `action`.
    pub fn check(self, to: IntentStatus, action: &'static str) -> Result<(), Error> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(Error::InvalidTransition {
                action,
                from: self.as_str().to_string(),
            })
        }
    }
}

impl fmt::Display for IntentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntentStatus {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        IntentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| {
                Error::invalid(
                    &["status"],
                    format!(
                        "must be one of {}",
                        IntentStatus::ALL.map(IntentStatus::as_str).join(", ")
                    ),
                )
            })
    }
}

/// An intent as stored.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub intent_type: String,
    pub domain: String,
    pub agent_id: String,
    pub status: IntentStatus,
    pub params: Value,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub idempotency_key: Option<String>,
    /// The policy decision: outcome, rule, reason, policy version (set by the policy engine).
    pub decision: Option<Value>,
    pub result: Option<Value>,
    pub value_cents: Option<i64>,
    pub error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub completed_at: Option<Millis>,
}

impl Intent {
    /// Whether policy sent this intent to the approval queue (so it has approvals to show).
    pub fn asked_for_approval(&self) -> bool {
        self.decision
            .as_ref()
            .and_then(|decision| decision.get("outcome"))
            .and_then(Value::as_str)
            == Some("require_approval")
    }

    pub(crate) fn from_row(row: IntentRow) -> Result<Self> {
        let json_column = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        Ok(Intent {
            status: row.status.parse()?,
            params: serde_json::from_str(&row.params).unwrap_or_default(),
            decision: json_column(row.decision),
            result: json_column(row.result),
            id: row.id,
            intent_type: row.intent_type,
            domain: row.domain,
            agent_id: row.agent_id,
            description: row.description,
            justification: row.justification,
            idempotency_key: row.idempotency_key,
            value_cents: row.value_cents,
            error: row.error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            completed_at: row.completed_at,
        })
    }
}

/// Applies a status change allowed by the state machine, with its audit record and event,
/// inside the caller's change. The update is conditional on the status read, so of two racing
/// changes exactly one applies and the other gets `INVALID_TRANSITION`.
pub(crate) async fn apply_transition(
    work: &mut UnitOfWork,
    actor: &str,
    id: &str,
    transition: Transition<'_>,
) -> Result<Moved> {
    let tenant = work.tenant().clone();
    let current = intents::get(work, &tenant, id)
        .await?
        .ok_or(Error::NotFound { what: "intent" })?;
    let from: IntentStatus = current.status.parse()?;
    from.check(transition.to, transition.action)?;
    let now = now_ms();
    let applied = intents::change_status(
        work,
        &tenant,
        id,
        from.as_str(),
        transition.to.as_str(),
        now,
        &transition.change,
    )
    .await?;
    if !applied {
        return Err(Error::InvalidTransition {
            action: transition.action,
            from: "no longer ".to_string() + from.as_str(),
        });
    }
    let mut data = transition.data;
    if from == IntentStatus::PendingApproval {
        // However the intent leaves the queue (a decision, a cancellation, an expiry), no
        // approval of it may stay pending: the queue, the stats and the gauge count them.
        let (status, reason) = approval_closure(transition.to);
        let closed =
            approvals::resolve_pending_of_intent(work, &tenant, id, status, reason, now).await?;
        if closed > 0 {
            data["closedApprovals"] = json!(closed);
        }
    }
    let mut notice = intent_notice(
        id,
        &current.intent_type,
        &current.domain,
        &current.agent_id,
        transition.to,
        &Receipt::of_row(&current),
    );
    notice["previousStatus"] = json!(from.as_str());
    if transition.to == IntentStatus::Approved {
        // The seed's shape of `intent.approved`.
        notice["approvedBy"] = json!(actor);
    }
    if let Value::Object(details) = &data {
        for (key, value) in details {
            notice[key.as_str()] = value.clone();
        }
    }
    data["from"] = json!(from.as_str());
    data["to"] = json!(transition.to.as_str());
    let event = AuditEvent {
        event_type: transition.event_type,
        actor,
        subject: id,
        data,
    };
    work.audit(event).await?;
    work.emit(transition.event_type, id, &notice).await?;
    let updated = intents::get(work, &tenant, id)
        .await?
        .ok_or(Error::NotFound { what: "intent" })?;
    Ok(Moved {
        intent: Intent::from_row(updated)?,
        entered_previous_at: current.updated_at,
    })
}

/// The status and reason an approval still pending gets when its intent moves to `to` (the
/// state machine lets `pending_approval` become only these four).
fn approval_closure(to: IntentStatus) -> (&'static str, &'static str) {
    match to {
        IntentStatus::Approved => ("approved", "approved"),
        IntentStatus::Expired => ("expired", "expired"),
        IntentStatus::Cancelled => ("cancelled", "intent cancelled"),
        _ => ("rejected", "rejected"),
    }
}

/// What an executor checks before acting: the digest of the action that was decided on and
/// the policy version that routed it. Intent detail (in `decision`) and every intent webhook
/// carry both.
pub(crate) struct Receipt {
    pub action_digest: String,
    /// `None` for an intent stored without a decision.
    pub policy_version: Option<i64>,
}

impl Receipt {
    /// Lowercase hex SHA-256 of the canonical JSON ([`canonical`]) of
    /// `{"agentId","domain","params","type"}`: exactly what was submitted and decided on.
    pub fn action_digest(
        intent_type: &str,
        domain: &str,
        agent_id: &str,
        params: &Value,
    ) -> String {
        let action = json!({
            "type": intent_type,
            "domain": domain,
            "agentId": agent_id,
            "params": params,
        });
        canonical::sha256_hex(canonical::to_canonical(&action).as_bytes())
    }

    /// The receipt of a stored intent.
    pub fn of_row(row: &IntentRow) -> Receipt {
        let params: Value = serde_json::from_str(&row.params).unwrap_or_default();
        let decision: Option<Value> = row
            .decision
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok());
        Receipt {
            action_digest: Self::action_digest(
                &row.intent_type,
                &row.domain,
                &row.agent_id,
                &params,
            ),
            policy_version: decision
                .as_ref()
                .and_then(|decision| decision["policyVersion"].as_i64()),
        }
    }
}

/// The common part of an intent's webhook `data`.
pub(crate) fn intent_notice(
    id: &str,
    intent_type: &str,
    domain: &str,
    agent_id: &str,
    status: IntentStatus,
    receipt: &Receipt,
) -> Value {
    json!({
        "intentId": id,
        "type": intent_type,
        "domain": domain,
        "agentId": agent_id,
        "status": status.as_str(),
        "actionDigest": receipt.action_digest,
        "policyVersion": receipt.policy_version,
    })
}

/// An intent after a status change.
pub(crate) struct Moved {
    pub intent: Intent,
    /// When the intent had entered the status it just left.
    pub entered_previous_at: Millis,
}

/// One status change: where to, what to record.
pub(crate) struct Transition<'a> {
    pub to: IntentStatus,
    pub action: &'static str,
    pub event_type: &'static str,
    pub change: StatusChange<'a>,
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::IntentStatus::{self, *};

    #[test]
    fn terminal_statuses_go_nowhere() {
        for terminal in [Rejected, Blocked, Expired, Cancelled, Completed, Failed] {
            assert!(
                IntentStatus::ALL.iter().all(|to| !terminal.can_become(*to)),
                "{terminal}"
            );
        }
    }

    #[test]
    fn outcomes_are_reported_only_for_approved_intents() {
        assert!(Approved.can_become(Completed) && Approved.can_become(Failed));
        assert!(!Pending.can_become(Completed) && !PendingApproval.can_become(Failed));
        assert!(Pending.can_become(Cancelled) && PendingApproval.can_become(Cancelled));
        assert!(!Approved.can_become(Cancelled));
        assert!(Pending.check(Completed, "complete").is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for status in IntentStatus::ALL {
            assert_eq!(status.as_str().parse::<IntentStatus>().unwrap(), status);
        }
        assert!("done".parse::<IntentStatus>().is_err());
    }
}
