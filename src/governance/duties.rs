//! Separation of duties: who may not approve an intent. The principal who submitted it — its
//! key, the agent it acted as, the person who owns that key — cannot approve it, and where a
//! tenant has console users, only people count toward a quorum (two keys minted by one
//! operator are still one operator).

use crate::{auth::Principal, store::intents::IntentRow};

/// Who asked for what an approval decides: a `/v1` intent's submitter, or the requester of
/// an OpenIntent approval request or escalation.
#[derive(Debug, Clone, Copy)]
pub struct Submitter<'a> {
    pub key_id: Option<&'a str>,
    /// The person owning that key.
    pub person: Option<&'a str>,
    pub agent_id: &'a str,
}

impl<'a> Submitter<'a> {
    pub fn of_intent(intent: &'a IntentRow) -> Self {
        Submitter {
            key_id: intent.submitted_by.as_deref(),
            person: intent.submitted_by_user.as_deref(),
            agent_id: &intent.agent_id,
        }
    }
}

/// Why `decider` may not approve what `submitter` asked for, if it may not.
pub fn approval_conflict(decider: &Principal, submitter: Submitter<'_>) -> Option<String> {
    if submitter.key_id == Some(&*decider.key_id) {
        return Some("the key that submitted it cannot approve it".into());
    }
    if let (Some(person), Some(asker)) = (&decider.person, submitter.person) {
        if **person == *asker {
            return Some(
                "you submitted it (through a key you own); another person must approve \
                 it"
                .into(),
            );
        }
    }
    if decider.is_bound() && decider.may_act_as(submitter.agent_id) {
        return Some(format!(
            "this key acts as agent '{}', which submitted it",
            submitter.agent_id
        ));
    }
    None
}

/// Why `decider` may not decide at all in a tenant that has console users: a key no person
/// owns cannot stand for a person in a quorum.
pub fn unaccountable(decider: &Principal, tenant_has_people: bool) -> Option<String> {
    (tenant_has_people && decider.person.is_none()).then(|| {
        "this tenant has console users, so approvals are decided by people: sign in, or use \
         a key owned by a user (created with an owner)"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::{Scope, TenantId};

    fn intent(submitted_by: &str, owner: Option<&str>) -> IntentRow {
        IntentRow {
            id: "int_1".into(),
            intent_type: "send_invoice".into(),
            domain: "billing".into(),
            agent_id: "billing-bot".into(),
            status: "pending_approval".into(),
            params: "{}".into(),
            description: None,
            justification: None,
            idempotency_key: None,
            request_hash: String::new(),
            decision: None,
            result: None,
            value_cents: None,
            error: None,
            created_at: 0,
            updated_at: 0,
            completed_at: None,
            submitted_by: Some(submitted_by.into()),
            submitted_by_user: owner.map(Into::into),
        }
    }

    fn key(id: &str) -> Principal {
        Principal::for_key(TenantId::parse("t").unwrap(), id, vec![Scope::Admin])
    }

    #[test]
    fn the_submitter_cannot_approve_through_its_key_its_person_or_its_agent() {
        assert!(
            approval_conflict(&key("key_a"), Submitter::of_intent(&intent("key_a", None)))
                .is_some()
        );
        assert!(
            approval_conflict(&key("key_b"), Submitter::of_intent(&intent("key_a", None)))
                .is_none()
        );
        let owned = Principal {
            person: Some("usr_1".into()),
            ..key("key_b")
        };
        assert!(approval_conflict(
            &owned,
            Submitter::of_intent(&intent("key_a", Some("usr_1")))
        )
        .is_some());
        assert!(approval_conflict(
            &owned,
            Submitter::of_intent(&intent("key_a", Some("usr_2")))
        )
        .is_none());
        let bound = Principal {
            agents: Arc::from(["billing-bot".to_string()]),
            ..key("key_c")
        };
        assert!(approval_conflict(&bound, Submitter::of_intent(&intent("key_a", None))).is_some());
    }

    #[test]
    fn ownerless_keys_decide_only_where_there_are_no_people() {
        assert!(unaccountable(&key("key_a"), false).is_none());
        assert!(unaccountable(&key("key_a"), true).is_some());
    }
}
