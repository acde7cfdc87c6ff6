//! Console users: the people who approve, administer and watch a tenant. Passwords are
//! argon2id hashes computed on the blocking pool; a change of role or a disabling revokes the
//! user's sessions at once, on every instance (sessions are read from the database).

use std::str::FromStr;

use serde_json::json;

use super::{password, Scope, TenantId};
use crate::{
    audit::{event_types, AuditEvent},
    error::{Error, FieldError, Result},
    ids,
    pagination::{Page, PageRequest},
    store::{self, tenants, users, users::UserRow},
    time::{now_ms, Millis},
    work::Writer,
};

/// The prefix of user ids.
pub const USER_ID_PREFIX: &str = "usr";
const MIN_PASSWORD_LEN: usize = 12;
const MAX_PASSWORD_LEN: usize = 1024;
const MAX_EMAIL_LEN: usize = 254;

/// What a person may do in the console (and through the API with their session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, keys, webhooks and policy.
    Admin,
    /// Read everything and decide approvals.
    Approver,
    /// Read only.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Approver, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
        }
    }

    /// The API scopes a session of this role carries.
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Role::Admin => vec![Scope::Admin],
            Role::Approver => vec![Scope::Approver],
            Role::Viewer => vec![Scope::Read],
        }
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or_else(|| Error::invalid(&["role"], "must be one of admin, approver, viewer"))
    }
}

/// A user as shown to admins: never the password hash.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub disabled_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            role: row.role.parse()?,
            id: row.id,
            email: row.email,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// An admin's change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub struct UserService {
    writer: Writer,
}

impl UserService {
    pub fn new(writer: Writer) -> Self {
        Self { writer }
    }

    /// Creates a user of `tenant` on behalf of `actor`; an email already in use is a conflict.
    pub async fn create(
        &self,
        tenant: &TenantId,
        actor: &str,
        email: &str,
        role: Role,
        password: String,
    ) -> Result<User> {
        let email = normalize_email(email);
        let mut errors = Vec::new();
        if !valid_email(&email) {
            errors.push(FieldError::new(&["email"], "must be an email address"));
        }
        if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.chars().count()) {
            errors.push(FieldError::new(
                &["password"],
                format!("must be {MIN_PASSWORD_LEN}-{MAX_PASSWORD_LEN} characters"),
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = now_ms();
        let row = UserRow {
            id: ids::new_id(USER_ID_PREFIX),
            tenant_id: tenant.clone(),
            email,
            role: role.as_str().into(),
            password_hash: password::hash_blocking(password).await?,
            disabled_at: None,
            created_at: now,
            updated_at: now,
        };
        let mut work = self.writer.begin(tenant).await?;
        if !tenants::exists(&mut work, tenant).await? {
            return Err(Error::NotFound { what: "tenant" });
        }
        match users::insert(&mut work, &row).await {
            Err(err) if store::is_unique_violation(&err) => {
                return Err(Error::Conflict(format!(
                    "a user with email {} already exists",
                    row.email
                )))
            }
            other => other?,
        }
        let event = AuditEvent {
            event_type: event_types::USER_CREATED,
            actor,
            subject: &row.id,
            data: json!({ "email": row.email, "role": row.role }),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        User::try_from(row)
    }

    pub async fn list(&self, tenant: &TenantId, page: PageRequest) -> Result<Page<User>> {
        let (rows, total) =
            users::list(self.writer.store(), tenant, page.limit(), page.offset()).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(User::try_from)
                .collect::<Result<_>>()?,
            total,
            request: page,
        })
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<User> {
        let mut conn = self.writer.store().reader().acquire().await?;
        users::get(&mut conn, tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "user" })
            .and_then(User::try_from)
    }

    /// The enabled user of `tenant` named by `reference` (a user id or an email).
    pub async fn find_enabled(&self, tenant: &TenantId, reference: &str) -> Result<User> {
        let row = if reference.starts_with(USER_ID_PREFIX) && !reference.contains('@') {
            let mut conn = self.writer.store().reader().acquire().await?;
            users::get(&mut conn, tenant, reference).await?
        } else {
            users::by_email(self.writer.store(), tenant, &normalize_email(reference)).await?
        };
        match row {
            Some(row) if row.disabled_at.is_none() => User::try_from(row),
            _ => Err(Error::invalid(
                &["owner"],
                "must name an enabled user of this tenant (user id or email)",
            )),
        }
    }

    /// Changes a user's role or disabled state on behalf of `actor`. Either change revokes
    /// every session of the user: a session carries the powers of the role it began with.
    pub async fn update(
        &self,
        tenant: &TenantId,
        actor: &str,
        id: &str,
        update: UserUpdate,
    ) -> Result<User> {
        let now = now_ms();
        let mut work = self.writer.begin(tenant).await?;
        let current = users::get(&mut work, tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let role = update
            .role
            .map_or(current.role.clone(), |r| r.as_str().into());
        let disabled_at = match update.disabled {
            Some(true) => current.disabled_at.or(Some(now)),
            Some(false) => None,
            None => current.disabled_at,
        };
        if role == current.role && disabled_at == current.disabled_at {
            return User::try_from(current);
        }
        users::update(&mut work, tenant, id, &role, disabled_at, now).await?;
        let revoked = users::revoke_sessions_of(&mut work, tenant, id, now).await?;
        let event = AuditEvent {
            event_type: event_types::USER_UPDATED,
            actor,
            subject: id,
            data: json!({
                "role": role,
                "roleBefore": current.role,
                "disabled": disabled_at.is_some(),
                "sessionsRevoked": revoked,
            }),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        User::try_from(UserRow {
            role,
            disabled_at,
            updated_at: now,
            ..current
        })
    }
}

/// Emails compare case-insensitively (as every mail provider people use treats them).
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Alice@Example.COM "), "alice@example.com");
        assert!(valid_email("alice@example.com"));
        for bad in [
            "alice",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn roles_map_to_scopes() {
        assert_eq!(Role::Viewer.scopes(), vec![Scope::Read]);
        assert_eq!("approver".parse::<Role>().unwrap(), Role::Approver);
        assert!("root".parse::<Role>().is_err());
    }
}
