//! Who is calling: the tenant, the key, and what the key's scopes allow.

use std::{str::FromStr, sync::Arc};

use crate::error::Error;
pub use crate::ids::TenantId;

/// What a key may do. `admin` includes every other scope; every scope includes `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, poem_openapi::Enum, serde::Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything, including key, webhook and policy management.
    Admin,
    /// Register agents, submit intents, report outcomes, read the tenant's data.
    Agent,
    /// Read and decide approvals, read the tenant's data.
    Approver,
    /// Read-only.
    Read,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Admin, Scope::Agent, Scope::Approver, Scope::Read];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Agent => "agent",
            Scope::Approver => "approver",
            Scope::Read => "read",
        }
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw)
            .ok_or_else(|| {
                Error::invalid(&["scopes"], "must be one of admin, agent, approver, read")
            })
    }
}

/// Serializes scopes for storage as a comma-separated list in canonical order.
pub fn scopes_to_column(scopes: &[Scope]) -> String {
    Scope::ALL
        .into_iter()
        .filter(|scope| scopes.contains(scope))
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads the stored scope list; unknown entries are dropped (never grant what is not understood).
pub fn scopes_from_column(column: &str) -> Vec<Scope> {
    column.split(',').filter_map(|s| s.parse().ok()).collect()
}

/// The stored agent binding (a JSON array) as a list; `None` or unreadable: unbound would be
/// wrong for a corrupt binding, so an unreadable one binds the key to nothing it can name.
pub fn agents_from_column(column: Option<&str>) -> Vec<String> {
    match column {
        None => Vec::new(),
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| vec![String::new()]),
    }
}

/// An authenticated caller: an API key, or a console user's session.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: TenantId,
    /// The credential: an API key id, or the user id of a console session.
    pub key_id: Arc<str>,
    pub scopes: Vec<Scope>,
    /// The agents this credential may act as; empty: an unbound key (any agent).
    pub agents: Arc<[String]>,
    /// The person accountable: a session's user, or the user who owns the key.
    pub person: Option<Arc<str>>,
}

impl Principal {
    /// A key's principal (unbound and ownerless unless set after).
    pub fn for_key(tenant_id: TenantId, key_id: &str, scopes: Vec<Scope>) -> Self {
        Principal {
            tenant_id,
            key_id: key_id.into(),
            scopes,
            agents: Arc::from([]),
            person: None,
        }
    }

    /// True when the key was issued for named agents only.
    pub fn is_bound(&self) -> bool {
        !self.agents.is_empty()
    }

    /// Whether this credential may act as `agent_id`: a bound key only as its agents.
    pub fn may_act_as(&self, agent_id: &str) -> bool {
        !self.is_bound() || self.agents.iter().any(|agent| agent == agent_id)
    }

    /// Who decides, for quorums and separation of duties: the person when there is one
    /// (two keys of one person are one approver), else the credential.
    pub fn decider(&self) -> &str {
        self.person.as_deref().unwrap_or(&self.key_id)
    }

    pub fn has(&self, scope: Scope) -> bool {
        scope == Scope::Read || self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// `Ok` when the key has `scope` (directly or through `admin`), else 403 `FORBIDDEN`.
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this API key lacks the '{}' scope",
                scope.as_str()
            )))
        }
    }
}

/// The principal of a request whose key was verified at the edge (by the rate limiter, which
/// needs the key's tenant anyway), handed to the faces through the request's extensions.
#[derive(Clone)]
pub struct VerifiedKey(pub Arc<Principal>);

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &[Scope]) -> Principal {
        Principal::for_key(TenantId::parse("t").unwrap(), "key_1", scopes.to_vec())
    }

    #[test]
    fn bound_keys_act_only_as_their_agents_and_people_decide_as_themselves() {
        let unbound = principal(&[Scope::Agent]);
        assert!(unbound.may_act_as("anyone") && unbound.decider() == "key_1");
        let bound = Principal {
            agents: Arc::from(["billing-bot".to_string()]),
            person: Some("usr_1".into()),
            ..principal(&[Scope::Agent])
        };
        assert!(bound.may_act_as("billing-bot"));
        assert!(!bound.may_act_as("alice"));
        assert_eq!(bound.decider(), "usr_1");
    }

    #[test]
    fn admin_implies_everything_and_read_is_universal() {
        let admin = principal(&[Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| admin.has(*s)));
        let agent = principal(&[Scope::Agent]);
        assert!(agent.has(Scope::Read) && agent.has(Scope::Agent));
        assert!(!agent.has(Scope::Approver) && !agent.has(Scope::Admin));
        assert!(matches!(
            agent.require(Scope::Admin),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn scope_column_round_trips_in_canonical_order() {
        let column = scopes_to_column(&[Scope::Read, Scope::Agent, Scope::Read]);
        assert_eq!(column, "agent,read");
        assert_eq!(scopes_from_column(&column), vec![Scope::Agent, Scope::Read]);
        assert_eq!(scopes_from_column("agent,superuser"), vec![Scope::Agent]);
    }

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::parse("acme-corp-1").is_ok());
        for bad in ["", "my_tenant", "a b", "ü", &"x".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
