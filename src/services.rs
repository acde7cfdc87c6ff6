//! The core services, wired once at start-up: the composition root's product, which the
//! faces (`api`), the CLI and the background workers (`app`) are built over. It knows no HTTP.

use std::sync::Arc;

use anyhow::Context;

use crate::{
    audit::{checkpoints::Checkpoints, AuditLog},
    auth::{keys::KeyService, sessions::SessionService, users::UserService, KeyVerifier},
    bus::{postgres::PgNotifyBus, EventBus, InProcessBus},
    config::AppConfig,
    feed::Feed,
    governance::{
        agents::AgentService,
        approvals::ApprovalService,
        catalog::Catalog,
        intents::{IntentRules, IntentService},
        policies::PolicyService,
        registry::AgentRegistry,
        stats::StatsService,
    },
    metrics::Metrics,
    openintent::OpenIntent,
    outbound::{target::TargetPolicy, Outbound},
    ratelimit::{Counters, RateLimiter, SharedCounters},
    redis::RedisHandle,
    secrets,
    signing::Signer,
    store::{Backend, Store},
    tenants::TenantService,
    webhooks::{
        delivery::{Deliverer, DeliveryConfig},
        sender::Sender,
        WebhookService,
    },
    work::Writer,
};

/// Live events a slow SSE subscriber may fall behind by before it replays from the database.
const EVENT_BUS_CAPACITY: usize = 4096;

/// The core services, wired once at start-up.
pub struct Services {
    pub store: Store,
    pub redis: Option<RedisHandle>,
    pub metrics: Arc<Metrics>,
    pub verifier: Arc<KeyVerifier>,
    pub keys: Arc<KeyService>,
    pub users: Arc<UserService>,
    pub sessions: Arc<SessionService>,
    /// The agents OpenIntent calls act as.
    pub registry: Arc<AgentRegistry>,
    pub tenants: Arc<TenantService>,
    pub audit: Arc<AuditLog>,
    pub catalog: Arc<Catalog>,
    pub agents: Arc<AgentService>,
    pub intents: Arc<IntentService>,
    pub policies: Arc<PolicyService>,
    pub approvals: Arc<ApprovalService>,
    pub stats: Arc<StatsService>,
    pub limiter: Arc<RateLimiter>,
    pub webhooks: Arc<WebhookService>,
    pub deliverer: Arc<Deliverer>,
    /// Opens the units of work of governed changes (both faces' events reach its bus).
    pub writer: Writer,
    /// The tenant event feeds of `GET /v1/events`.
    pub feed: Arc<Feed>,
    /// The OpenIntent protocol core.
    pub openintent: OpenIntent,
    /// With PostgreSQL: the listener that carries events between instances.
    pub event_listener: Option<Arc<PgNotifyBus>>,
}

impl Services {
    /// Connects and migrates the database and wires the services (no HTTP, no background tasks).
    pub async fn connect(config: &AppConfig) -> anyhow::Result<Self> {
        let catalog = Arc::new(match &config.domains_dir {
            Some(dir) => Catalog::load_dir(dir)?,
            None => Catalog::builtin()?,
        });
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let redis = config
            .redis_url
            .as_deref()
            .map(RedisHandle::new)
            .transpose()?;
        let metrics = Arc::new(Metrics::new());
        let dev_mode = config.dev_keys_enabled(store.backend());
        let secrets = Arc::new(
            secrets::keys::load(&config.secret_keys, &config.database_url, dev_mode)
                .context("secret keys")?,
        );
        let event_listener = match store.backend() {
            Backend::Postgres => Some(
                PgNotifyBus::start(
                    &config.database_url,
                    &store.current_schema().await?,
                    EVENT_BUS_CAPACITY,
                )
                .await
                .context("cannot listen for events on PostgreSQL")?,
            ),
            Backend::Sqlite => None,
        };
        let bus: Arc<dyn EventBus> = match &event_listener {
            Some(listener) => listener.clone(),
            None => Arc::new(InProcessBus::new(EVENT_BUS_CAPACITY)),
        };
        let writer = Writer::new(store.clone(), bus);
        let verifier = Arc::new(KeyVerifier::new(store.clone(), dev_mode, metrics.clone()));
        let agents = Arc::new(AgentService::new(writer.clone(), catalog.clone()));
        let policies = Arc::new(PolicyService::new(writer.clone(), catalog.clone())?);
        let intents = Arc::new(IntentService::new(
            writer.clone(),
            catalog.clone(),
            agents.clone(),
            policies.clone(),
            metrics.clone(),
            IntentRules {
                credit: config.trust_credit,
                idempotency_window: config.idempotency_window,
                clock: config.clock.clone(),
            },
        ));
        let approvals = Arc::new(ApprovalService::new(
            writer.clone(),
            catalog.clone(),
            metrics.clone(),
            config.clock.clone(),
        ));
        let stats = Arc::new(StatsService::new(store.clone(), agents.clone()));
        let shared_counters = redis
            .clone()
            .map(|redis| SharedCounters::new(redis, &config.redis_prefix, config.redis_timeout));
        let limiter = Arc::new(RateLimiter::new(
            Counters::new(shared_counters, metrics.clone()),
            store.clone(),
            (
                config.rate_limit_per_minute,
                config.auth_failures_per_minute,
            ),
            config.clock.clone(),
        ));
        let users = Arc::new(UserService::new(writer.clone()));
        let sessions = Arc::new(SessionService::new(
            writer.clone(),
            limiter.clone(),
            config.sessions,
        ));
        let registry = Arc::new(AgentRegistry::new(
            store.clone(),
            agents.clone(),
            config.auto_register_agents.unwrap_or(dev_mode),
        ));
        let targets = TargetPolicy {
            allow_private: config.outbound_allow_private,
        };
        if targets.allow_private {
            tracing::warn!(
                "INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE is on: webhooks may call loopback and private \
                 addresses (development and tests only)"
            );
        }
        let delivery = DeliveryConfig {
            retry_base: config.webhook_retry_base,
            retry_window: config.webhook_retry_window,
            disable_after: config.webhook_disable_after,
            poll: config.webhook_poll,
        };
        let outbound = Arc::new(Outbound::new(targets)?);
        let sender = Arc::new(Sender::new(outbound.clone()));
        let webhooks = Arc::new(WebhookService::new(
            writer.clone(),
            targets,
            sender.clone(),
            secrets.clone(),
        ));
        let signer = Arc::new(match &config.checkpoint_signing_key {
            Some(text) => Signer::from_base64(text).context("checkpoint signing key")?,
            None => Signer::generate(),
        });
        let checkpoints = Arc::new(Checkpoints::new(
            writer.clone(),
            signer.clone(),
            config.checkpoint_policy,
        ));
        Ok(Services {
            openintent: OpenIntent::new(
                writer.clone(),
                webhooks.clone(),
                approvals.clone(),
                (secrets.clone(), outbound, signer.clone()),
            ),
            feed: Arc::new(Feed::new(&writer)),
            event_listener,
            webhooks,
            deliverer: Arc::new(Deliverer::new(
                store.clone(),
                sender,
                secrets,
                delivery,
                metrics.clone(),
            )),
            limiter,
            stats,
            approvals,
            catalog,
            agents,
            intents,
            policies,
            keys: Arc::new(KeyService::new(
                writer.clone(),
                verifier.clone(),
                users.clone(),
            )),
            users,
            sessions,
            registry,
            tenants: Arc::new(TenantService::new(writer.clone())),
            writer,
            audit: Arc::new(AuditLog::new(store.clone(), checkpoints)),
            store,
            redis,
            metrics,
            verifier,
        })
    }
}
