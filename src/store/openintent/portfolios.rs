//! Portfolios (RFC-0007) and their memberships.

use sqlx::AnyConnection;

use crate::{
    ids::TenantId,
    store::{get_by_id, Keyed, Store},
    time::Millis,
};

const COLUMNS: &str = "tenant_id, id, name, description, created_by, status, metadata, \
     governance_policy, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PortfolioRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_by: String,
    pub status: String,
    /// JSON object.
    pub metadata: String,
    /// JSON object.
    pub governance_policy: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Keyed for PortfolioRow {
    const TABLE: &'static str = "oi_portfolios";
    const COLUMNS: &'static str = COLUMNS;
}

pub async fn insert(conn: &mut AnyConnection, row: &PortfolioRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO oi_portfolios ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&row.tenant_id)
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.created_by)
    .bind(&row.status)
    .bind(&row.metadata)
    .bind(&row.governance_policy)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(
    store: &Store,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<PortfolioRow>> {
    get_by_id(store.reader(), tenant_id, id).await
}

/// Whether the portfolio exists, inside a transaction.
pub async fn exists(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    crate::store::exists_by_id::<PortfolioRow>(conn, tenant_id, id).await
}

pub async fn list(
    store: &Store,
    tenant_id: &TenantId,
    created_by: Option<&str>,
) -> sqlx::Result<Vec<PortfolioRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_portfolios WHERE tenant_id = $1 \
         AND ($2 IS NULL OR created_by = $2) ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(created_by)
    .fetch_all(store.reader())
    .await
}

/// Portfolios containing the intent.
pub async fn of_intent(
    store: &Store,
    tenant_id: &TenantId,
    intent_id: &str,
) -> sqlx::Result<Vec<PortfolioRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oi_portfolios WHERE tenant_id = $1 AND id IN \
         (SELECT portfolio_id FROM oi_portfolio_members WHERE tenant_id = $1 AND intent_id = $2) \
         ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(intent_id)
    .fetch_all(store.reader())
    .await
}

pub async fn set_status(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    status: &str,
    now: Millis,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE oi_portfolios SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub portfolio_id: String,
    pub intent_id: String,
    pub id: String,
    pub role: String,
    pub priority: i64,
    pub added_at: Millis,
}

/// Adds or updates (role, priority) a membership.
pub async fn upsert_member(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    row: &MemberRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oi_portfolio_members (tenant_id, portfolio_id, intent_id, id, role, priority, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant_id, portfolio_id, intent_id) DO UPDATE SET role = $5, priority = $6",
    )
    .bind(tenant_id)
    .bind(&row.portfolio_id)
    .bind(&row.intent_id)
    .bind(&row.id)
    .bind(&row.role)
    .bind(row.priority)
    .bind(row.added_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn remove_member(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    portfolio_id: &str,
    intent_id: &str,
) -> sqlx::Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM oi_portfolio_members WHERE tenant_id = $1 AND portfolio_id = $2 AND intent_id = $3",
    )
    .bind(tenant_id)
    .bind(portfolio_id)
    .bind(intent_id)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// A portfolio's members, highest priority first.
pub async fn members(
    store: &Store,
    tenant_id: &TenantId,
    portfolio_id: &str,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT portfolio_id, intent_id, id, role, priority, added_at FROM oi_portfolio_members \
         WHERE tenant_id = $1 AND portfolio_id = $2 ORDER BY priority DESC, added_at, intent_id",
    )
    .bind(tenant_id)
    .bind(portfolio_id)
    .fetch_all(store.reader())
    .await
}
