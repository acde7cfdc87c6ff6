//! Building and running the service: used by `main` and by the integration tests alike.

use std::{future::Future, sync::Arc};

use anyhow::Context;
use poem::{Endpoint, EndpointExt, Response, Route};

use crate::{
    api,
    audit::AuditLog,
    auth::{
        keys::KeyService, scrape::ScrapeAccess, sessions::SessionService, users::UserService,
        KeyVerifier,
    },
    bus::{postgres::PgNotifyBus, EventBus, InProcessBus},
    config::AppConfig,
    feed::Feed,
    governance::{
        agents::AgentService, approvals::ApprovalService, catalog::Catalog, intents::IntentService,
        policies::PolicyService, registry::AgentRegistry, stats::StatsService,
    },
    http,
    metrics::Metrics,
    openintent::OpenIntent,
    ratelimit::{Counters, RateLimiter, SharedCounters},
    redis::RedisHandle,
    secrets,
    store::{Backend, Store},
    supervisor::Supervisor,
    tenants::TenantService,
    webhooks::{
        delivery::{Deliverer, DeliveryConfig},
        sender::Sender,
        target::TargetPolicy,
        WebhookService,
    },
    work::Writer,
};

/// How often SQLite's write-ahead log is copied into the database file.
const SQLITE_CHECKPOINT_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);

/// How often expired approvals are resolved.
const APPROVAL_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

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
            config.trust_credit,
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
        let sender = Arc::new(Sender::new(targets)?);
        let webhooks = Arc::new(WebhookService::new(
            writer.clone(),
            targets,
            sender.clone(),
            secrets.clone(),
        ));
        Ok(Services {
            openintent: OpenIntent::new(writer.clone(), webhooks.clone()),
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
            audit: Arc::new(AuditLog::new(store.clone())),
            store,
            redis,
            metrics,
            verifier,
        })
    }
}

pub struct App {
    pub services: Services,
    config: AppConfig,
}

impl App {
    /// Connects, migrates, and prepares development mode when it is on.
    pub async fn build(config: AppConfig) -> anyhow::Result<Self> {
        let services = Services::connect(&config).await?;
        let sealed = services
            .webhooks
            .secure_stored_secrets()
            .await
            .context("stored webhook secrets")?;
        if sealed > 0 {
            tracing::info!(endpoints = sealed, "sealed webhook secrets stored in clear");
        }
        if services.verifier.dev_mode() {
            services
                .keys
                .ensure_dev_keys(&services.tenants)
                .await
                .context("cannot create the development keys")?;
            tracing::warn!(
                "development mode: the keys dev-user-key, agent-research-key and agent-synth-key \
                 authenticate as tenant 'dev'; turn it off with OPENINTENT_DEV_KEYS=false"
            );
        }
        Ok(App { services, config })
    }

    /// Every route with the middleware stack.
    pub fn endpoint(&self) -> impl Endpoint<Output = Response> {
        let services = &self.services;
        let api = api::openapi(services);
        let openintent = api::openintent::openapi(&services.openintent);
        let openintent_redoc = openintent.redoc();
        let routes = Route::new()
            .at(
                "/.well-known/openintent.json",
                api::openintent::discovery::discovery,
            )
            .at(
                "/.well-known/openintent-compat.json",
                api::openintent::discovery::compatibility,
            )
            .at("/api/v1/openapi.json", openintent.spec_endpoint())
            .nest(
                "/api/v1",
                openintent
                    .around(api::openintent::identity::resolve)
                    .around(api::openintent::error::envelope),
            )
            .at("/openapi.json", api.spec_endpoint())
            .nest("/docs", api::docs::swagger_ui(&api))
            .nest("/redoc/openintent", openintent_redoc)
            .nest("/redoc", api.redoc())
            .at("/metrics", api::ops::metrics)
            .nest("/", api)
            .data(services.verifier.clone())
            .data(services.sessions.clone())
            .data(services.registry.clone())
            .data(services.store.clone())
            .data(services.metrics.clone())
            .data(Arc::new(ScrapeAccess::new(
                self.config.metrics_token.as_deref(),
            )));
        http::wrap(
            routes,
            http::Edge {
                metrics: services.metrics.clone(),
                limiter: services.limiter.clone(),
                verifier: services.verifier.clone(),
                max_body_bytes: self.config.max_body_bytes,
                request_timeout: self.config.request_timeout,
            },
        )
    }

    /// Serves on `listener` until `shutdown` resolves, then lets in-flight requests finish
    /// (up to the grace period), stops background work and flushes what it holds.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let services = &self.services;
        let mut workers = Supervisor::new(services.metrics.clone());
        let verifier = services.verifier.clone();
        workers.spawn("key_maintenance", move |shutdown| {
            let verifier = verifier.clone();
            async move {
                verifier.run_maintenance(shutdown).await;
                Ok(())
            }
        });
        let approvals = services.approvals.clone();
        workers.spawn("approval_expiry", move |shutdown| {
            let approvals = approvals.clone();
            async move {
                approvals.run_expiry(APPROVAL_SWEEP_PERIOD, shutdown).await;
                Ok(())
            }
        });
        if services.store.backend() == Backend::Sqlite {
            let store = services.store.clone();
            workers.spawn("sqlite_checkpoints", move |shutdown| {
                let store = store.clone();
                async move {
                    store
                        .run_checkpoints(SQLITE_CHECKPOINT_PERIOD, shutdown)
                        .await;
                    Ok(())
                }
            });
        }
        let deliverer = services.deliverer.clone();
        workers.spawn("webhook_delivery", move |shutdown| {
            let deliverer = deliverer.clone();
            async move {
                deliverer.run(shutdown).await;
                Ok(())
            }
        });
        if let Some(listener) = services.event_listener.clone() {
            workers.spawn("event_bus_listener", move |shutdown| {
                listener.clone().run(shutdown)
            });
        }
        let limits = http::ConnectionLimits {
            header_read: self.config.header_read_timeout,
            idle: self.config.idle_timeout,
        };
        let served = http::serve(
            listener,
            self.endpoint(),
            limits,
            shutdown,
            self.config.shutdown_grace,
        )
        .await;
        workers.stop().await;
        self.services.store.close().await;
        served.context("HTTP server failed")
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown requested; finishing in-flight requests");
}
