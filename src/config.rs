//! Configuration: command-line flags override environment variables, which override defaults.
//! Every field is documented here and in README.md's configuration table.

use std::{path::PathBuf, time::Duration};

use clap::{ArgAction, Args, ValueEnum};

use crate::{
    audit::checkpoints::SealPolicy,
    auth::sessions::SessionPolicy,
    governance::trust::CreditRule,
    secrets::{KeySource, KeyText},
    store::Backend,
    time::{system_clock, SharedClock},
};

/// Settings every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database: `sqlite://path` (created if absent) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://intendedops.db",
        global = true
    )]
    pub database_url: String,
    /// Log filter: a level (`info`, `debug`, …) or a tracing directive list.
    #[arg(
        long,
        env = "OPENINTENT_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    pub log_level: String,
    /// Log line format: human-readable text or JSON for log pipelines.
    #[arg(long, env = "INTENDEDOPS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Keys sealing stored secrets: `<id>:<base64 of 32 random bytes>`, several separated by
    /// commas; the first seals, all open. Prefer the environment to the flag (`ps` shows flags).
    #[arg(
        long,
        env = "INTENDEDOPS_SECRET_KEY",
        hide_env_values = true,
        conflicts_with = "secret_key_file",
        global = true
    )]
    pub secret_key: Option<KeyText>,
    /// A file holding the keys sealing stored secrets instead, one `<id>:<base64>` per line.
    #[arg(long, env = "INTENDEDOPS_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// Where the secret keys come from (neither set: [`KeySource::Unset`]).
    pub fn key_source(&self) -> KeySource {
        match (&self.secret_key, &self.secret_key_file) {
            (Some(text), _) => KeySource::Inline(text.clone()),
            (None, Some(path)) => KeySource::File(path.clone()),
            (None, None) => KeySource::Unset,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings of the HTTP server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Default: 127.0.0.1 while the development keys are on, else
    /// 0.0.0.0.
    #[arg(long, env = "OPENINTENT_HOST")]
    pub host: Option<String>,
    /// Port to listen on.
    #[arg(long, env = "OPENINTENT_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Redis (`redis://host:port`): shared state across instances. Unset: in-process only.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Accept the seed's development keys (tenant `dev`). Default: on with SQLite, off with PostgreSQL.
    #[arg(long, env = "OPENINTENT_DEV_KEYS", action = ArgAction::Set)]
    pub dev_keys: Option<bool>,
    /// Bearer token `/metrics` requires (`Authorization: Bearer <token>`). Unset: only
    /// loopback clients may scrape.
    #[arg(long, env = "INTENDEDOPS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "INTENDEDOPS_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's line and headers, counted from its first byte
    /// (or from the connection's opening, for the first request); then the connection closes.
    #[arg(
        long,
        env = "INTENDEDOPS_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection with no request in progress may stay silent (a kept-alive
    /// connection between requests, a response nobody reads) before it is closed.
    #[arg(long, env = "INTENDEDOPS_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Seconds from a request's headers to its response's headers (reading the body and
    /// handling it); past it: 408. Streamed responses (SSE) are not cut.
    #[arg(long, env = "INTENDEDOPS_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "INTENDEDOPS_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// A directory of `<domain>.json` files replacing the built-in domain catalog.
    #[arg(long, env = "INTENDEDOPS_DOMAINS_DIR")]
    pub domains_dir: Option<PathBuf>,
    /// Requests per minute per API key, unless the tenant has its own limit.
    #[arg(
        long,
        env = "INTENDEDOPS_RATE_LIMIT_PER_MINUTE",
        default_value_t = 1000
    )]
    pub rate_limit_per_minute: u32,
    /// Failed authentications per minute per client address before it gets 429s.
    #[arg(
        long,
        env = "INTENDEDOPS_AUTH_FAILURES_PER_MINUTE",
        default_value_t = 60
    )]
    pub auth_failures_per_minute: u32,
    /// How long a rate-limit count may wait for Redis before this instance counts in process.
    #[arg(long, env = "INTENDEDOPS_REDIS_TIMEOUT_MS", default_value_t = 20)]
    pub redis_timeout_ms: u64,
    /// Prefix of every Redis key this deployment writes (deployments may share a Redis).
    #[arg(long, env = "INTENDEDOPS_REDIS_PREFIX", default_value = "intendedops:")]
    pub redis_prefix: String,
    /// Let webhooks reach loopback and private addresses. Development and tests only.
    #[arg(long, env = "INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE", action = ArgAction::Set, default_value_t = false)]
    pub outbound_allow_private: bool,
    /// Wait after a webhook delivery's first failure, in ms; doubles with each further failure
    /// (capped at an hour, with jitter).
    #[arg(
        long,
        env = "INTENDEDOPS_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 5_000
    )]
    pub webhook_retry_base_ms: u64,
    /// Hours a webhook delivery is retried before it is dead-lettered.
    #[arg(long, env = "INTENDEDOPS_WEBHOOK_RETRY_HOURS", default_value_t = 24)]
    pub webhook_retry_hours: u64,
    /// Days of continuous failure after which a webhook endpoint is disabled.
    #[arg(
        long,
        env = "INTENDEDOPS_WEBHOOK_DISABLE_AFTER_DAYS",
        default_value_t = 3
    )]
    pub webhook_disable_after_days: u64,
    /// Whether tenants that have not chosen register unknown OpenIntent agents on first use.
    /// Default: on in development mode, off otherwise.
    #[arg(long, env = "INTENDEDOPS_AUTO_REGISTER_AGENTS", action = ArgAction::Set)]
    pub auto_register_agents: Option<bool>,
    /// Seconds an approved intent must have been approved before its reported completion
    /// earns the agent trust (a faster report is not credible).
    #[arg(
        long,
        env = "INTENDEDOPS_TRUST_MIN_EXECUTION_SECS",
        default_value_t = 60
    )]
    pub trust_min_execution_secs: u64,
    /// Completions per agent per hour that earn trust; further ones count for nothing.
    #[arg(long, env = "INTENDEDOPS_TRUST_CREDITS_PER_HOUR", default_value_t = 10)]
    pub trust_credits_per_hour: u32,
    /// Hours an idempotency key of `POST /v1/intents` answers with the intent it created;
    /// after them the same key creates a new intent.
    #[arg(
        long,
        env = "INTENDEDOPS_IDEMPOTENCY_WINDOW_HOURS",
        default_value_t = 24
    )]
    pub idempotency_window_hours: u64,
    /// Hours a console session lives from sign-in.
    #[arg(long, env = "INTENDEDOPS_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u64,
    /// Minutes a console session survives without a request.
    #[arg(long, env = "INTENDEDOPS_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// Mark session cookies `Secure` always (they are whenever the request came over HTTPS
    /// or through a proxy that says so with `X-Forwarded-Proto: https`).
    #[arg(long, env = "INTENDEDOPS_SECURE_COOKIES", action = ArgAction::Set, default_value_t = false)]
    pub secure_cookies: bool,
    /// Sign-in attempts per minute per client address, and per account (a fifth of it).
    #[arg(
        long,
        env = "INTENDEDOPS_LOGIN_ATTEMPTS_PER_MINUTE",
        default_value_t = 30
    )]
    pub login_attempts_per_minute: u32,
    /// The Ed25519 key signing audit checkpoints: base64 of its 32-byte seed
    /// (`intendedops audit signing-key` makes one). Unset: a key made at start-up, published
    /// like any other but lost at exit. Prefer the environment to the flag.
    #[arg(
        long,
        env = "INTENDEDOPS_CHECKPOINT_SIGNING_KEY",
        hide_env_values = true
    )]
    pub checkpoint_signing_key: Option<String>,
    /// Sign an audit checkpoint once a tenant has this many unsealed records (0: not by count).
    #[arg(
        long,
        env = "INTENDEDOPS_CHECKPOINT_EVERY_RECORDS",
        default_value_t = 10_000
    )]
    pub checkpoint_every_records: u64,
    /// Sign an audit checkpoint once a tenant's oldest unsealed record is this many seconds
    /// past its last checkpoint (0: not by time).
    #[arg(long, env = "INTENDEDOPS_CHECKPOINT_EVERY_SECS", default_value_t = 60)]
    pub checkpoint_every_secs: u64,
}

/// Everything the application needs to start, resolved from flags/environment (or built by tests).
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub database_url: String,
    pub redis_url: Option<String>,
    /// `None`: the backend's default (on for SQLite, off for PostgreSQL).
    pub dev_keys: Option<bool>,
    /// `None`: `/metrics` answers loopback clients only.
    pub metrics_token: Option<String>,
    pub max_body_bytes: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// `None`: the catalog built into the binary.
    pub domains_dir: Option<PathBuf>,
    pub rate_limit_per_minute: u32,
    pub auth_failures_per_minute: u32,
    pub redis_timeout: Duration,
    pub redis_prefix: String,
    pub outbound_allow_private: bool,
    pub webhook_retry_base: Duration,
    pub webhook_retry_window: Duration,
    pub webhook_disable_after: Duration,
    /// How often the webhook worker looks for work.
    pub webhook_poll: Duration,
    /// The keys sealing stored secrets.
    pub secret_keys: KeySource,
    /// The tenants' default for registering unknown OpenIntent agents; `None`: development
    /// mode decides.
    pub auto_register_agents: Option<bool>,
    /// Which reported completions earn trust.
    pub trust_credit: CreditRule,
    /// How long an idempotency key answers with the intent it created.
    pub idempotency_window: Duration,
    pub sessions: SessionPolicy,
    /// Base64 seed of the key signing audit checkpoints; `None`: one made at start-up.
    pub checkpoint_signing_key: Option<String>,
    pub checkpoint_policy: SealPolicy,
    /// The time rate-limit windows, approval expiry and idempotency windows go by (tests move
    /// a manual one).
    pub clock: SharedClock,
}

impl AppConfig {
    /// Defaults for everything but the database.
    pub fn new(database_url: impl Into<String>) -> Self {
        AppConfig {
            database_url: database_url.into(),
            redis_url: None,
            dev_keys: None,
            metrics_token: None,
            max_body_bytes: 1 << 20,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            domains_dir: None,
            rate_limit_per_minute: 1000,
            auth_failures_per_minute: 60,
            redis_timeout: Duration::from_millis(20),
            redis_prefix: "intendedops:".into(),
            outbound_allow_private: false,
            webhook_retry_base: Duration::from_secs(5),
            webhook_retry_window: Duration::from_secs(24 * 3600),
            webhook_disable_after: Duration::from_secs(3 * 24 * 3600),
            webhook_poll: Duration::from_millis(250),
            secret_keys: KeySource::Unset,
            auto_register_agents: None,
            trust_credit: CreditRule::default(),
            idempotency_window: Duration::from_secs(24 * 3600),
            sessions: SessionPolicy::default(),
            checkpoint_signing_key: None,
            checkpoint_policy: SealPolicy::default(),
            clock: system_clock(),
        }
    }

    pub fn from_args(global: &GlobalArgs, serve: &ServeArgs) -> Self {
        AppConfig {
            database_url: global.database_url.clone(),
            redis_url: serve.redis_url.clone().filter(|url| !url.is_empty()),
            dev_keys: serve.dev_keys,
            metrics_token: serve
                .metrics_token
                .clone()
                .filter(|token| !token.is_empty()),
            max_body_bytes: serve.max_body_bytes,
            header_read_timeout: Duration::from_secs(serve.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(serve.idle_timeout_secs),
            request_timeout: Duration::from_secs(serve.request_timeout_secs),
            shutdown_grace: Duration::from_secs(serve.shutdown_grace_secs),
            domains_dir: serve.domains_dir.clone(),
            rate_limit_per_minute: serve.rate_limit_per_minute,
            auth_failures_per_minute: serve.auth_failures_per_minute,
            redis_timeout: Duration::from_millis(serve.redis_timeout_ms),
            redis_prefix: serve.redis_prefix.clone(),
            outbound_allow_private: serve.outbound_allow_private,
            webhook_retry_base: Duration::from_millis(serve.webhook_retry_base_ms),
            webhook_retry_window: Duration::from_secs(serve.webhook_retry_hours * 3600),
            webhook_disable_after: Duration::from_secs(serve.webhook_disable_after_days * 86_400),
            webhook_poll: Duration::from_millis(250),
            secret_keys: global.key_source(),
            auto_register_agents: serve.auto_register_agents,
            trust_credit: CreditRule {
                min_execution_ms: i64::try_from(
                    serve.trust_min_execution_secs.saturating_mul(1000),
                )
                .unwrap_or(i64::MAX),
                per_hour: i64::from(serve.trust_credits_per_hour),
            },
            idempotency_window: Duration::from_secs(
                serve.idempotency_window_hours.saturating_mul(3600),
            ),
            sessions: SessionPolicy {
                lifetime: Duration::from_secs(serve.session_hours.saturating_mul(3600)),
                idle: Duration::from_secs(serve.session_idle_minutes.saturating_mul(60)),
                secure_cookies: serve.secure_cookies,
                login_attempts_per_minute: serve.login_attempts_per_minute,
            },
            checkpoint_signing_key: serve
                .checkpoint_signing_key
                .clone()
                .filter(|key| !key.is_empty()),
            checkpoint_policy: SealPolicy {
                every_records: match serve.checkpoint_every_records {
                    0 => i64::MAX,
                    count => i64::try_from(count).unwrap_or(i64::MAX),
                },
                every: (serve.checkpoint_every_secs > 0)
                    .then(|| Duration::from_secs(serve.checkpoint_every_secs)),
            },
            clock: system_clock(),
        }
    }

    /// Whether the development keys are accepted on `backend`.
    pub fn dev_keys_enabled(&self, backend: Backend) -> bool {
        self.dev_keys.unwrap_or(backend == Backend::Sqlite)
    }

    /// The address to listen on. The development keys are well known (any reader of the
    /// README holds an admin key), so while they are on the default is loopback, and a
    /// non-loopback host is refused unless the operator turned them on explicitly.
    pub fn listen_host(&self, requested: Option<&str>) -> anyhow::Result<String> {
        let dev_keys = Backend::from_url(&self.database_url)
            .map(|backend| self.dev_keys_enabled(backend))
            .unwrap_or(false);
        let Some(host) = requested else {
            return Ok(if dev_keys { "127.0.0.1" } else { "0.0.0.0" }.to_string());
        };
        if !dev_keys || is_loopback_host(host) {
            return Ok(host.to_string());
        }
        anyhow::ensure!(
            self.dev_keys == Some(true),
            "refusing to listen on {host} with the development keys on (the default with \
             SQLite): anyone who can reach it would hold a well-known admin key. Listen on \
             127.0.0.1, turn them off with --dev-keys=false (OPENINTENT_DEV_KEYS=false), or \
             force them with --dev-keys=true"
        );
        tracing::warn!(
            host,
            "THE DEVELOPMENT KEYS ARE ON AND THE SERVER LISTENS BEYOND LOOPBACK: anyone who can \
             reach {host} holds the well-known admin key dev-user-key (forced with --dev-keys=true)"
        );
        Ok(host.to_string())
    }
}

/// Whether `host` names only this machine (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, dev_keys: Option<bool>) -> AppConfig {
        AppConfig {
            dev_keys,
            ..AppConfig::new(url)
        }
    }

    #[test]
    fn development_keys_listen_on_loopback_unless_forced() {
        let sqlite = config("sqlite://x.db", None);
        assert_eq!(sqlite.listen_host(None).unwrap(), "127.0.0.1");
        assert_eq!(sqlite.listen_host(Some("::1")).unwrap(), "::1");
        let refused = sqlite.listen_host(Some("0.0.0.0")).unwrap_err().to_string();
        assert!(refused.contains("--dev-keys=false"), "{refused}");
        let off = config("sqlite://x.db", Some(false));
        assert_eq!(off.listen_host(None).unwrap(), "0.0.0.0");
        assert_eq!(off.listen_host(Some("0.0.0.0")).unwrap(), "0.0.0.0");
        let forced = config("sqlite://x.db", Some(true));
        assert_eq!(forced.listen_host(Some("0.0.0.0")).unwrap(), "0.0.0.0");
        let postgres = config("postgres://u@h/db", None);
        assert_eq!(postgres.listen_host(None).unwrap(), "0.0.0.0");
        assert_eq!(postgres.listen_host(Some("10.0.0.5")).unwrap(), "10.0.0.5");
    }
}
