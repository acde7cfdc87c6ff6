//! `spawn_app()`: the real server on 127.0.0.1:0 over a fresh database, plus tenants A and B
//! with an admin key each.

use std::{net::SocketAddr, sync::Arc};

use intendedops::{
    auth::{keys::KeyService, KeyVerifier, Scope, TenantId},
    governance::trust::CreditRule,
    secrets::KeySource,
    store::Store,
    tenants::TenantService,
    time::ManualClock,
    App, AppConfig,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

/// A fresh database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => TestDb {
                url: format!("sqlite://{}/test.db", dir.path().display()),
                schema: None,
                _dir: dir,
            },
            Some(base) => {
                let schema = format!("it_{}", ulid::Ulid::new().to_string().to_lowercase());
                run_admin_sql(&base, &format!("CREATE SCHEMA {schema}")).await;
                let separator = if base.contains('?') { '&' } else { '?' };
                // The application name lets the cleanup find the test's connections.
                TestDb {
                    url: format!(
                        "{base}{separator}options=-c%20search_path%3D{schema}&application_name={schema}"
                    ),
                    schema: Some((base, schema)),
                    _dir: dir,
                }
            }
        }
    }
}

async fn run_admin_sql(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("TEST_DATABASE_URL must be reachable");
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.schema.take() {
            // Drop is synchronous; run the cleanup on its own runtime and thread.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                // The test's runtime is blocked in this drop, so its server cannot finish an
                // open transaction (a background worker's): end its connections first, or
                // DROP SCHEMA would wait for their locks forever.
                runtime.block_on(run_admin_sql(
                    &base,
                    &format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = '{schema}'"
                    ),
                ));
                runtime.block_on(run_admin_sql(
                    &base,
                    &format!("DROP SCHEMA {schema} CASCADE"),
                ));
            })
            .join();
        }
    }
}

pub struct Tenant {
    pub admin_key: String,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub keys: Arc<KeyService>,
    pub tenants: Arc<TenantService>,
    pub verifier: Arc<KeyVerifier>,
    pub store: Store,
    pub a: Tenant,
    pub b: Tenant,
    pub config: AppConfig,
    server: Server,
    pub db: TestDb,
}

/// A running server: stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    async fn start(app: App) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The test environment's Redis, if any (`TEST_REDIS_URL`).
pub fn test_redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The key sealing stored secrets in tests (`INTENDEDOPS_SECRET_KEY` for the binary): a server
/// over PostgreSQL does not start without one.
pub const TEST_SECRET_KEY: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn test_config(db: &TestDb) -> AppConfig {
    let mut config = AppConfig::new(&db.url);
    config.secret_keys = KeySource::Inline(TEST_SECRET_KEY.parse().unwrap());
    config.redis_url = test_redis_url();
    // Tests share one Redis (and one client address): each app counts under its own prefix.
    config.redis_prefix = format!("it:{}:", ulid::Ulid::new());
    // The protocol tests name their agents freely: tenants register them on first use whatever
    // the backend (without development mode, as on PostgreSQL, the default is off).
    config.auto_register_agents = Some(true);
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Every reported completion earns trust (no minimum time from approval, no hourly cap): for
/// tests of the trust formula itself.
pub fn credit_every_outcome(config: &mut AppConfig) {
    config.trust_credit = CreditRule {
        min_execution_ms: 0,
        per_hour: i64::MAX,
    };
}

/// Starts the server with a test-specific configuration tweak.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut AppConfig)) -> TestApp {
    let db = TestDb::new().await;
    let mut config = test_config(&db);
    tweak(&mut config);
    let app = App::build(config.clone()).await.expect("app builds");
    let keys = app.services.keys.clone();
    let tenants = app.services.tenants.clone();
    let verifier = app.services.verifier.clone();
    let store = app.services.store.clone();
    let server = Server::start(app).await;
    let a = create_tenant(&tenants, &keys, "tenant-a").await;
    let b = create_tenant(&tenants, &keys, "tenant-b").await;
    TestApp {
        addr: server.addr,
        client: reqwest::Client::new(),
        keys,
        tenants,
        verifier,
        store,
        a,
        b,
        config,
        server,
        db,
    }
}

async fn create_tenant(tenants: &TenantService, keys: &KeyService, id: &str) -> Tenant {
    let tenant = TenantId::parse(id).unwrap();
    tenants.create(&tenant, None).await.expect("tenant created");
    let created = keys
        .create(&tenant, "test", "admin", &[Scope::Admin])
        .await
        .expect("admin key created");
    Tenant {
        admin_key: created.key,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request authenticated with `key`.
    pub fn with_key(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.request(method, path).header("x-api-key", key)
    }

    /// Creates a key for `tenant` with `scopes` directly through the core.
    pub async fn create_key(&self, tenant: &str, scopes: &[Scope]) -> String {
        let tenant = TenantId::parse(tenant).unwrap();
        self.keys
            .create(&tenant, "test", "test", scopes)
            .await
            .unwrap()
            .key
    }

    /// Runs SQL directly against the test database, bypassing the service (tampering tests).
    pub async fn raw_sql(&self, sql: &str) {
        run_admin_sql(&self.db.url, sql).await;
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn shutdown(&mut self) {
        self.server.stop().await;
    }

    /// Another instance over the same database and Redis (as behind a load balancer), with
    /// `tweak` applied to the configuration.
    pub async fn another_instance(&self, tweak: impl FnOnce(&mut AppConfig)) -> Server {
        let mut config = self.config.clone();
        tweak(&mut config);
        Server::start(App::build(config).await.expect("app builds")).await
    }

    /// The `/metrics` exposition text.
    pub async fn scrape(&self) -> String {
        scrape(&self.client, &self.url("/metrics")).await
    }
}

/// Sends the request and returns the status and the JSON body (Null when empty).
pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let bytes = response.bytes().await.expect("body read");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    (status, body)
}

/// Asserts an error envelope with `status` and `code`; returns the body.
pub async fn expect_error(request: RequestBuilder, status: u16, code: &str) -> Value {
    let (actual, body) = send(request).await;
    assert_eq!(actual.as_u16(), status, "unexpected status, body {body}");
    assert_eq!(body["error"]["code"], code, "unexpected body {body}");
    assert!(
        body["error"]["message"].is_string(),
        "message missing in {body}"
    );
    body
}

/// The failing paths of a `VALIDATION_ERROR` body, each joined with '.' (`params.amount`).
pub fn detail_paths(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .expect("details is a list")
        .iter()
        .map(|detail| {
            let segments: Vec<&str> = detail["path"]
                .as_array()
                .expect("path is a list")
                .iter()
                .map(|segment| segment.as_str().expect("segments are strings"))
                .collect();
            segments.join(".")
        })
        .collect()
}

pub async fn scrape(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.expect("exposition text")
}

/// The value of the sample `name` whose labels include every `(label, value)` of `labels`
/// (0 when there is none: Prometheus counters start absent).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let present: Vec<&str> = series_labels.split(',').collect();
        if wanted.iter().all(|w| present.contains(&w.as_str())) {
            assert!(found.is_none(), "{name} {labels:?} matches several series");
            found = Some(value.parse::<f64>().expect("numeric sample"));
        }
    }
    found.unwrap_or(0.0)
}

/// Runs the operator CLI (the real binary) against `app`'s database.
pub fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_intendedops"))
        .args(args)
        .env("DATABASE_URL", &app.db.url)
        .env("OPENINTENT_LOG_LEVEL", "warn")
        .output()
        .expect("the binary runs")
}

/// A loopback port free a moment ago, for a server process the test starts itself.
/// A clock stopped one second into the current minute: everything a test does counts in one
/// rate-limit window however long it takes, and `advance` moves it on without waiting.
pub fn clock_in_a_fresh_window() -> Arc<ManualClock> {
    let now = intendedops::time::now_ms();
    ManualClock::at(now - now % 60_000 + 1_000)
}

pub async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
