//! An agent's trust record as outcomes arrive: the score and tier moves of [`super::trust`]
//! applied inside the caller's transaction, audited, announced, and counted in metrics once
//! the transaction commits.

use serde_json::json;

use super::{
    agents::event_types,
    lifecycle::Intent,
    trust::{Credit, CreditRule, CreditWindow, Standing, TrustEvent, TrustTier},
};
use crate::{
    audit::AuditEvent,
    auth::TenantId,
    error::Result,
    metrics::Metrics,
    store::agents,
    time::{now_ms, Millis},
    work::UnitOfWork,
};

/// An agent's move to another trust tier, reported to metrics once its transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierMove {
    pub tier: TrustTier,
    pub promoted: bool,
}

impl TierMove {
    pub fn record(self, metrics: &Metrics, tenant: &TenantId) {
        metrics.trust_moved(tenant.as_str(), self.tier.as_str(), self.promoted);
    }
}

/// Moves `agent_id`'s trust for `event` (caused by `intent_id`) inside the caller's change,
/// and audits the change as `agent.trust.changed`. Returns the tier move, if the tier changed.
pub async fn record_trust_event(
    work: &mut UnitOfWork,
    agent_id: &str,
    event: TrustEvent,
    intent_id: &str,
) -> Result<Option<TierMove>> {
    let tenant = work.tenant().clone();
    let Some(row) = agents::get(work, &tenant, agent_id).await? else {
        return Ok(None);
    };
    let before = Standing {
        tier: row.trust_tier.parse().unwrap_or(TrustTier::T0),
        score: row.trust_score,
        completed: row.completed_count,
    };
    let after = before.after(event);
    if after == before {
        return Ok(None);
    }
    agents::update_trust(
        work,
        &tenant,
        agent_id,
        after.tier.as_str(),
        after.score,
        after.completed,
        now_ms(),
    )
    .await?;
    let audit_event = AuditEvent {
        event_type: event_types::AGENT_TRUST_CHANGED,
        actor: crate::audit::actors::SYSTEM,
        subject: agent_id,
        data: json!({
            "cause": event.name(),
            "intentId": intent_id,
            "tierBefore": before.tier.as_str(),
            "tier": after.tier.as_str(),
            "scoreBefore": before.score,
            "score": after.score,
            "completed": after.completed,
        }),
    };
    let mut notice = audit_event.data.clone();
    notice["agentId"] = json!(agent_id);
    work.audit(audit_event).await?;
    work.emit(event_types::AGENT_TRUST_CHANGED, agent_id, &notice)
        .await?;
    Ok((after.tier != before.tier).then_some(TierMove {
        tier: after.tier,
        promoted: after.tier > before.tier,
    }))
}

/// Moves trust for a reported completion of `intent` that came `since_approval` ms after its
/// approval, if [`CreditRule`] credits it; an uncredited one is audited as
/// `agent.trust.withheld` with the reason, and moves nothing.
pub async fn credit_completion(
    work: &mut UnitOfWork,
    intent: &Intent,
    event: TrustEvent,
    since_approval: Millis,
    rule: CreditRule,
) -> Result<Option<TierMove>> {
    let tenant = work.tenant().clone();
    let Some(row) = agents::get(work, &tenant, &intent.agent_id).await? else {
        return Ok(None);
    };
    let seen = CreditWindow {
        start: row.credit_window_start,
        count: row.credit_window_count,
    };
    let withheld = match rule.judge(since_approval, seen, now_ms()) {
        Credit::Granted(next) => {
            let moved = agents::advance_credit_window(
                work,
                &tenant,
                &intent.agent_id,
                (seen.start, seen.count),
                (next.start, next.count),
            )
            .await?;
            if moved {
                return record_trust_event(work, &intent.agent_id, event, &intent.id).await;
            }
            "another completion of this agent was being credited at the same moment".to_string()
        }
        Credit::TooFast => format!(
            "completed {since_approval} ms after approval; completions earn trust only {} ms or \
             more after approval",
            rule.min_execution_ms
        ),
        Credit::CapReached => format!(
            "{} completions of this agent already earned trust this hour",
            rule.per_hour
        ),
    };
    let audit_event = AuditEvent {
        event_type: event_types::AGENT_TRUST_WITHHELD,
        actor: crate::audit::actors::SYSTEM,
        subject: &intent.agent_id,
        data: json!({ "intentId": intent.id, "cause": event.name(), "reason": withheld }),
    };
    work.audit(audit_event).await?;
    Ok(None)
}
