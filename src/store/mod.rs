//! The repository layer: every SQL statement of the service lives under this module.
//!
//! # Why one body of SQL for both backends
//!
//! SQLite (default, development, single node) and PostgreSQL (production, several
//! instances) are both first-class. The service talks to them through sqlx's `Any` driver
//! with `$n` placeholders, which both drivers understand, so each query is written once and
//! exercised by the same tests on both backends. The price is a narrower set of column
//! types, which we accept deliberately: times are `BIGINT` milliseconds since the epoch, JSON
//! is `TEXT`, flags are nullable timestamps. Where the dialects really differ (DDL, row
//! locking) the difference is explicit: two migration trees under `migrations/{sqlite,postgres}`
//! numbered in lockstep, and [`Backend`] for the few statements that need a branch.
//!
//! # Writes
//!
//! Every mutation is one transaction from [`Store::begin`]. On SQLite the write pool holds a
//! single connection and transactions start with `BEGIN IMMEDIATE`: SQLite allows one writer
//! at a time anyway, and taking the write lock up front means a transaction never fails
//! half-way on a lock upgrade (`SQLITE_BUSY`). Readers use a separate pool and, with WAL,
//! never wait for the writer. On PostgreSQL both pools are the same.
//!
//! Modules hold one aggregate each; every function takes the tenant id first (house rule 3).

pub mod agents;
pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod audit_tree;
pub mod intents;
pub mod openintent;
pub mod policies;
pub mod stats;
pub mod tenants;
pub mod users;
pub mod webhooks;

use std::{str::FromStr, time::Duration};

use crate::ids::TenantId;
use anyhow::Context;
use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, ConnectOptions, Executor,
};

/// A write transaction: the change, its audit record and its outbox rows commit together.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("unsupported DATABASE_URL scheme (expected sqlite:// or postgres://)")
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connection pools for one database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`); the SQLite file is created if absent.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url_creating_file(url);
                let in_memory = url.contains(":memory:");
                let write = sqlite_pool(&url, 1).await?;
                // An in-memory database exists once per connection: share the writer.
                let read = if in_memory {
                    write.clone()
                } else {
                    sqlite_pool(&url, 8).await?
                };
                Ok(Store {
                    read,
                    write,
                    backend,
                })
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .context("cannot connect to PostgreSQL")?;
                Ok(Store {
                    read: pool.clone(),
                    write: pool,
                    backend,
                })
            }
        }
    }

    /// What a `SELECT` of a row about to be changed ends with: `FOR UPDATE` on PostgreSQL;
    /// nothing on SQLite, whose single writer already serializes changes.
    pub fn row_lock(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.write)
            .await
            .context("database migration failed")
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    /// The pool for reads outside a transaction.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// PostgreSQL's current schema (from the connection's `search_path`).
    pub async fn current_schema(&self) -> sqlx::Result<String> {
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()::text")
            .fetch_one(&self.read)
            .await?;
        Ok(schema)
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
    }

    /// SQLite only: copies the write-ahead log into the database every `period` with PASSIVE
    /// checkpoints, which never block the writer, until `shutdown`; then a final one.
    pub async fn run_checkpoints(
        self,
        period: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let mut interval = tokio::time::interval(period);
        loop {
            let stopping = tokio::select! {
                _ = interval.tick() => false,
                _ = shutdown.cancelled() => true,
            };
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.read)
                .await
            {
                tracing::warn!(error = %err, "SQLite checkpoint failed");
            }
            if stopping {
                break;
            }
        }
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// sqlx opens existing SQLite files only; `mode=rwc` lets `cargo run` start on a fresh clone.
/// The file a `sqlite:` URL names, made absolute against the current directory; `None` for an
/// in-memory database or another backend.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::absolute(path).ok()
}

/// `url` fit for messages: the password of a PostgreSQL URL is hidden, and a SQLite URL is
/// followed by the absolute path of its file (a relative path depends on the directory).
pub fn describe_url(url: &str) -> String {
    if let Some(file) = sqlite_file(url) {
        return format!("{url} ({})", file.display());
    }
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn sqlite_url_creating_file(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

async fn sqlite_pool(url: &str, max_connections: u32) -> anyhow::Result<AnyPool> {
    let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL: readers never wait for the writer. NORMAL sync is durable across
                // process crashes in WAL mode (only an OS crash can lose the last commits).
                // No automatic checkpoints: they would run inside the committing connection,
                // stalling every queued write; `run_checkpoints` does them in the background.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA wal_autocheckpoint = 0;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open SQLite database {url}"))
}

/// `$first, $first+1, …`: `count` bind placeholders for an `IN (…)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A listed row with the number of rows matching the query, from `COUNT(*) OVER () AS total_count`:
/// one round trip for a page and its total.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Counted<T> {
    #[sqlx(flatten)]
    pub row: T,
    pub total_count: i64,
}

/// Splits counted rows into the rows and the total; `None` when the page was empty (past the
/// end, or nothing matches), where the caller must count separately if the offset was not 0.
pub(crate) fn split_counted<T>(rows: Vec<Counted<T>>) -> (Vec<T>, Option<i64>) {
    let total = rows.first().map(|first| first.total_count);
    (rows.into_iter().map(|counted| counted.row).collect(), total)
}

/// The total for a page: from the window count when the page had rows, else 0 on the first
/// page, else from `count` (only awaited then: a page past the end).
pub(crate) async fn page_total(
    total: Option<i64>,
    offset: i64,
    count: impl std::future::Future<Output = sqlx::Result<(i64,)>>,
) -> sqlx::Result<i64> {
    match total {
        Some(total) => Ok(total),
        None if offset == 0 => Ok(0),
        None => Ok(count.await?.0),
    }
}

/// The WHERE clause of a filtered listing and how to bind its values: `$1` is the tenant (bound
/// by [`filtered_page`]), the filter's own values follow from `$2`. Absent values are bound as
/// NULL (`($n IS NULL OR column = $n)`), so one prepared statement serves every combination.
pub(crate) trait ListFilter {
    const WHERE: &'static str;
    /// Placeholders `WHERE` uses, the tenant's included.
    const PARAMS: usize;

    /// Binds `$2`, `$3`, … in order.
    fn bind<'q, O>(&'q self, query: AnyQueryAs<'q, O>) -> AnyQueryAs<'q, O>;
}

/// No filter but the tenant.
impl ListFilter for () {
    const WHERE: &'static str = "WHERE tenant_id = $1";
    const PARAMS: usize = 1;

    fn bind<'q, O>(&'q self, query: AnyQueryAs<'q, O>) -> AnyQueryAs<'q, O> {
        query
    }
}

/// `query` with the tenant and `filter` bound: everything a [`ListFilter`]'s WHERE needs.
pub(crate) fn bind_filter<'q, O, F: ListFilter>(
    query: AnyQueryAs<'q, O>,
    tenant_id: &'q TenantId,
    filter: &'q F,
) -> AnyQueryAs<'q, O> {
    filter.bind(query.bind(tenant_id))
}

/// One page of `table`'s rows matching `filter` in `order_by` order, and the number matching:
/// one round trip unless the page is past the end.
pub(crate) async fn filtered_page<T, F: ListFilter>(
    store: &Store,
    (table, columns, order_by): (&str, &str, &str),
    tenant_id: &TenantId,
    filter: &F,
    (limit, offset): (i64, i64),
) -> sqlx::Result<(Vec<T>, i64)>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let page_sql = format!(
        "SELECT {columns}, COUNT(*) OVER () AS total_count FROM {table} {} \
         ORDER BY {order_by} LIMIT ${} OFFSET ${}",
        F::WHERE,
        F::PARAMS + 1,
        F::PARAMS + 2
    );
    let counted: Vec<Counted<T>> = bind_filter(sqlx::query_as(&page_sql), tenant_id, filter)
        .bind(limit)
        .bind(offset)
        .fetch_all(store.reader())
        .await?;
    let (rows, total) = split_counted(counted);
    let count_sql = format!("SELECT COUNT(*) FROM {table} {}", F::WHERE);
    let count =
        bind_filter(sqlx::query_as(&count_sql), tenant_id, filter).fetch_one(store.reader());
    Ok((rows, page_total(total, offset, count).await?))
}

/// One page of a table's rows of `tenant_id` in `order_by` order, and the tenant's total:
/// the listing of aggregates that filter on nothing but the tenant.
pub(crate) async fn tenant_page<T>(
    store: &Store,
    table: &'static str,
    columns: &'static str,
    order_by: &'static str,
    tenant_id: &TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<T>, i64)>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    filtered_page(
        store,
        (table, columns, order_by),
        tenant_id,
        &(),
        (limit, offset),
    )
    .await
}

/// A row type stored one per `(tenant_id, id)`: its table and the columns its rows read.
pub trait Keyed: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin {
    const TABLE: &'static str;
    const COLUMNS: &'static str;
}

/// The row of `R`'s table with this tenant and id: the one lookup every table shares.
pub async fn get_by_id<'c, R: Keyed>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<Option<R>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE tenant_id = $1 AND id = $2",
        R::COLUMNS,
        R::TABLE
    );
    sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Whether `R`'s table has a row with this tenant and id (inside a transaction: what it
/// has written counts).
pub async fn exists_by_id<R: Keyed>(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT id FROM {} WHERE tenant_id = $1 AND id = $2",
        R::TABLE
    );
    let found: Option<(String,)> = sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// A query being built, before execution (for helpers that bind shared parameters).
pub(crate) type AnyQueryAs<'q, O> =
    sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>;

/// True when `err` is a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// PostgreSQL only: a notification on `channel`, delivered when the transaction commits.
pub async fn notify(
    conn: &mut sqlx::AnyConnection,
    channel: &str,
    payload: &str,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_described_without_secrets_and_with_their_file() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            sqlite_file("sqlite://intendedops.db"),
            Some(cwd.join("intendedops.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/x.db?mode=rwc"),
            Some("/var/lib/x.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert!(
            describe_url("sqlite://a.db").ends_with(&format!("({})", cwd.join("a.db").display()))
        );
        assert_eq!(
            describe_url("postgres://app:s3cr@t@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
        assert_eq!(
            describe_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
