//! Who is calling: the tenant, the key, and what the key's scopes allow.

use std::{fmt, str::FromStr, sync::Arc};

use crate::error::Error;

/// A validated tenant id: `[A-Za-z0-9-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(Arc<str>);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let valid = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(TenantId(raw.into()))
        } else {
            Err(Error::invalid(
                &["tenantId"],
                "must be 1-64 characters of letters, digits and '-' (no '_': in an API key it \
                 separates the tenant id from the secret)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub key_id: Arc<str>,
    pub scopes: Vec<Scope>,
}

impl Principal {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &[Scope]) -> Principal {
        Principal {
            tenant_id: TenantId::parse("t").unwrap(),
            key_id: "key_1".into(),
            scopes: scopes.to_vec(),
        }
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
