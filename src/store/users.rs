//! Console users (people) and their sessions.

use sqlx::AnyConnection;

use super::{get_by_id, tenant_page, Keyed, Store};
use crate::ids::TenantId;
use crate::time::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub email: String,
    pub role: String,
    pub password_hash: String,
    pub disabled_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Keyed for UserRow {
    const TABLE: &'static str = "users";
    const COLUMNS: &'static str = COLUMNS;
}

const COLUMNS: &str =
    "id, tenant_id, email, role, password_hash, disabled_at, created_at, updated_at";

pub async fn insert(conn: &mut AnyConnection, user: &UserRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (tenant_id, id, email, role, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&user.tenant_id)
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.role)
    .bind(&user.password_hash)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<UserRow>> {
    get_by_id(conn, tenant_id, id).await
}

pub async fn by_email(
    store: &Store,
    tenant_id: &TenantId,
    email: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2"
    ))
    .bind(tenant_id)
    .bind(email)
    .fetch_optional(store.reader())
    .await
}

/// Whether the tenant has any enabled console user: then quorums count people only.
pub async fn any_enabled(conn: &mut AnyConnection, tenant_id: &TenantId) -> sqlx::Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND disabled_at IS NULL LIMIT 1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

/// One page of a tenant's users, oldest first, and the tenant's total.
pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<UserRow>, i64)> {
    tenant_page(
        store,
        "users",
        COLUMNS,
        "created_at, id",
        tenant_id,
        limit,
        offset,
    )
    .await
}

/// Sets role and disabled time; false when the user does not exist.
pub async fn update(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    role: &str,
    disabled_at: Option<Millis>,
    at: Millis,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET role = $3, disabled_at = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(role)
    .bind(disabled_at)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub tenant_id: TenantId,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_seen_at: Millis,
    pub revoked_at: Option<Millis>,
}

pub async fn insert_session(conn: &mut AnyConnection, session: &SessionRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, created_at, \
         expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&session.token_hash)
    .bind(&session.tenant_id)
    .bind(&session.user_id)
    .bind(&session.csrf_token)
    .bind(session.created_at)
    .bind(session.expires_at)
    .bind(session.last_seen_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A session and its user, by the token's hash (sessions are looked up by token alone).
pub async fn session(
    store: &Store,
    token_hash: &str,
) -> sqlx::Result<Option<(SessionRow, UserRow)>> {
    #[derive(sqlx::FromRow)]
    struct Joined {
        #[sqlx(flatten)]
        session: SessionRow,
        email: String,
        role: String,
        password_hash: String,
        disabled_at: Option<Millis>,
        user_created_at: Millis,
        user_updated_at: Millis,
    }
    let joined: Option<Joined> = sqlx::query_as(
        "SELECT s.token_hash, s.tenant_id, s.user_id, s.csrf_token, s.created_at, s.expires_at, \
                s.last_seen_at, s.revoked_at, u.email, u.role, u.password_hash, u.disabled_at, \
                u.created_at AS user_created_at, u.updated_at AS user_updated_at \
         FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
         WHERE s.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(store.reader())
    .await?;
    Ok(joined.map(|row| {
        let user = UserRow {
            id: row.session.user_id.clone(),
            tenant_id: row.session.tenant_id.clone(),
            email: row.email,
            role: row.role,
            password_hash: row.password_hash,
            disabled_at: row.disabled_at,
            created_at: row.user_created_at,
            updated_at: row.user_updated_at,
        };
        (row.session, user)
    }))
}

/// Moves a live session's idle clock forward.
pub async fn touch_session(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    token_hash: &str,
    at: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sessions SET last_seen_at = $3 \
         WHERE tenant_id = $1 AND token_hash = $2 AND last_seen_at < $3",
    )
    .bind(tenant_id)
    .bind(token_hash)
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Revokes one session; true when it was live.
pub async fn revoke_session(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    token_hash: &str,
    at: Millis,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 \
         WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(token_hash)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of a user; how many.
pub async fn revoke_sessions_of(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &str,
    at: Millis,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 \
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
