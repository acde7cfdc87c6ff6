//! Console sign-in and sessions.
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Strict` cookie; the database keeps
//! only its SHA-256, so a database read gives no usable session. Every request reads the
//! session row (console traffic is small), which is what makes sign-out, a role change and a
//! disabling take effect at once on every instance. A session ends at its expiry, after the
//! idle timeout without a request, or when revoked. Mutations with a session must also carry
//! the session's CSRF token in `X-CSRF-Token` (checked by the API's security scheme).

use std::{net::IpAddr, sync::Arc, time::Duration};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    api_key::random_secret,
    password::{self, VerifyError as HashError},
    users::{normalize_email, User},
    Principal, TenantId,
};
use crate::{
    audit::{event_types, AuditEvent},
    error::{Error, Result},
    ratelimit::RateLimiter,
    store::{users, users::SessionRow},
    time::{now_ms, Millis},
    work::Writer,
};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "intendedops_session";
const TOKEN_LEN: usize = 43;
/// The idle clock is written at most this often per session (not on every request), or at
/// half the idle timeout when that is shorter.
const TOUCH_EVERY_MS: Millis = 30_000;
/// How long a sign-in waits for an argon2 slot.
const SLOT_PATIENCE: Duration = Duration::from_secs(2);

/// How long sessions live and how sign-in is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub lifetime: Duration,
    pub idle: Duration,
    /// Always mark the cookie `Secure` (it is anyway for requests that came over HTTPS).
    pub secure_cookies: bool,
    pub login_attempts_per_minute: u32,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            lifetime: Duration::from_secs(12 * 3600),
            idle: Duration::from_secs(30 * 60),
            secure_cookies: false,
            login_attempts_per_minute: 30,
        }
    }
}

/// A sign-in's credentials as sent.
pub struct SignIn<'a> {
    pub tenant: &'a str,
    pub email: &'a str,
    pub password: String,
    pub address: Option<IpAddr>,
}

/// A session just begun: the token goes into the cookie, never anywhere else.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
    pub tenant: TenantId,
    pub expires_at: Millis,
}

/// A session's principal and the CSRF token its mutations must carry.
pub struct ActiveSession {
    pub principal: Arc<Principal>,
    pub csrf_token: String,
    pub expires_at: Millis,
}

/// A hash to verify against when the account does not exist, so that "no such user" takes
/// as long as "wrong password" and the answer does not reveal which emails are users.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2Vzc2lvbmRlY295c2FsdA$\
     2vrq0CBd7WJ5dKqKZ4RrE1mm2mkfrHVFeXK5SRqszJY";

pub struct SessionService {
    writer: Writer,
    limiter: Arc<RateLimiter>,
    policy: SessionPolicy,
}

fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

impl SessionService {
    pub fn new(writer: Writer, limiter: Arc<RateLimiter>, policy: SessionPolicy) -> Self {
        Self {
            writer,
            limiter,
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Checks a person's email and password and begins a session. Every failure is the same
    /// 401, whether the tenant, the user or the password was wrong, or the user is disabled.
    pub async fn sign_in(&self, attempt: SignIn<'_>) -> Result<NewSession> {
        let refused = Error::Unauthorized("email or password is not valid");
        let email = normalize_email(attempt.email);
        let account = format!("{}/{email}", attempt.tenant);
        let quota = self
            .limiter
            .admit_sign_in(
                attempt.address,
                &account,
                self.policy.login_attempts_per_minute,
            )
            .await;
        if !quota.allowed {
            return Err(Error::RateLimited {
                retry_after_secs: quota.retry_after,
            });
        }
        let tenant = TenantId::parse(attempt.tenant).ok();
        let row = match &tenant {
            Some(tenant) => users::by_email(self.writer.store(), tenant, &email).await?,
            None => None,
        };
        let stored = row
            .as_ref()
            .map_or_else(|| DECOY_HASH.to_string(), |row| row.password_hash.clone());
        let matches = password::verify_blocking(attempt.password, stored, SLOT_PATIENCE)
            .await
            .map_err(|err| match err {
                HashError::Busy(_) => Error::RateLimited {
                    retry_after_secs: 1,
                },
                HashError::Task(cause) => Error::Internal(cause.into()),
            })?;
        let (Some(tenant), Some(row), true) = (tenant, row, matches) else {
            return Err(refused);
        };
        if row.disabled_at.is_some() {
            return Err(refused);
        }
        let now = now_ms();
        let token = random_secret(TOKEN_LEN);
        let session = SessionRow {
            token_hash: token_hash(&token),
            tenant_id: tenant.clone(),
            user_id: row.id.clone(),
            csrf_token: random_secret(TOKEN_LEN),
            created_at: now,
            expires_at: now + millis(self.policy.lifetime),
            last_seen_at: now,
            revoked_at: None,
        };
        let mut work = self.writer.begin(&tenant).await?;
        users::insert_session(&mut work, &session).await?;
        let event = AuditEvent {
            event_type: event_types::USER_SIGNED_IN,
            actor: &row.id,
            subject: &row.id,
            data: json!({ "email": row.email, "address": attempt.address.map(|a| a.to_string()) }),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        Ok(NewSession {
            token,
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
            user: User::try_from(row)?,
            tenant,
        })
    }

    /// The live session of `token`, or 401: unknown, revoked, expired, idle too long, or its
    /// user disabled.
    pub async fn authenticate(&self, token: &str) -> Result<ActiveSession> {
        let expired = Error::Unauthorized("the session has ended; sign in again");
        let hash = token_hash(token);
        let Some((session, user)) = users::session(self.writer.store(), &hash).await? else {
            return Err(expired);
        };
        let now = now_ms();
        let live = session.revoked_at.is_none()
            && now < session.expires_at
            && now - session.last_seen_at <= millis(self.policy.idle)
            && user.disabled_at.is_none();
        if !live {
            return Err(expired);
        }
        // Often enough that a session in use never looks idle, rarely enough not to write
        // on every request.
        if now - session.last_seen_at >= TOUCH_EVERY_MS.min(millis(self.policy.idle) / 2) {
            let mut tx = self.writer.store().begin().await?;
            users::touch_session(&mut tx, &session.tenant_id, &hash, now).await?;
            tx.commit().await?;
        }
        let tenant = session.tenant_id.clone();
        let role: super::users::Role = user.role.parse()?;
        let principal = Principal {
            person: Some(user.id.as_str().into()),
            ..Principal::for_key(tenant, &user.id, role.scopes())
        };
        Ok(ActiveSession {
            principal: Arc::new(principal),
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
        })
    }

    /// Ends the session of `token` (signing out twice is harmless).
    pub async fn sign_out(&self, principal: &Principal, token: &str) -> Result<()> {
        let mut work = self.writer.begin(&principal.tenant_id).await?;
        let hash = token_hash(token);
        // Signed out before: nothing written, nothing to commit.
        if users::revoke_session(&mut work, &principal.tenant_id, &hash, now_ms()).await? {
            let event = AuditEvent {
                event_type: event_types::USER_SIGNED_OUT,
                actor: &principal.key_id,
                subject: &principal.key_id,
                data: json!({}),
            };
            work.audit(event).await?;
            work.commit().await?.publish();
        }
        Ok(())
    }
}

fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_hash_is_a_valid_argon2id_hash() {
        assert!(argon2::PasswordHash::new(DECOY_HASH).is_ok());
    }

    #[test]
    fn tokens_are_stored_only_as_their_digest() {
        let token = random_secret(TOKEN_LEN);
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(token_hash(&token), token);
    }
}
