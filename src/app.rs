//! Building and running the service: used by `main` and by the integration tests alike.

use std::{future::Future, sync::Arc};

use anyhow::Context;
use poem::{Endpoint, EndpointExt, Response, Route};

use crate::{
    api, audit::checkpoints::SEAL_SWEEP_PERIOD, auth::scrape::ScrapeAccess, config::AppConfig,
    http, services::Services, store::Backend, supervisor::Supervisor,
};

/// How often SQLite's write-ahead log is copied into the database file.
const SQLITE_CHECKPOINT_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);

/// How often expired approvals are resolved.
const APPROVAL_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);
/// How often agents' heartbeats are checked (RFC-0016); the shortest silence that makes an
/// agent unhealthy is a second, so it is seen within two.
const AGENT_HEALTH_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);
/// How often expired memory entries are deleted (RFC-0015; reads hide them at once).
const MEMORY_EXPIRY_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);
/// How often due schedule triggers are looked for (RFC-0017).
const TRIGGER_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

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
        services
            .openintent
            .tools
            .secure_credentials(false)
            .await
            .context("stored OpenIntent credentials")?;
        let checkpoints = services.audit.checkpoints();
        checkpoints
            .publish_key()
            .await
            .context("cannot publish the checkpoint signing key")?;
        if config.checkpoint_signing_key.is_none() {
            tracing::warn!(
                "audit checkpoints are signed with a key made at start-up (published, but lost \
                 at exit): set INTENDEDOPS_CHECKPOINT_SIGNING_KEY (`intendedops audit \
                 signing-key` makes one)"
            );
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
            .at(
                "/.well-known/intendedops/checkpoint-keys",
                api::v1::checkpoints::published_keys,
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
            .nest("/console", api::console::routes())
            .nest("/", api)
            .data(services.verifier.clone())
            .data(services.sessions.clone())
            .data(services.registry.clone())
            .data(services.store.clone())
            .data(services.audit.checkpoints().clone())
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
        workers.spawn_every(
            "agent_health",
            AGENT_HEALTH_PERIOD,
            services.openintent.lifecycle.clone(),
            |lifecycle| async move { lifecycle.sweep_health().await },
        );
        workers.spawn_every(
            "memory_expiry",
            MEMORY_EXPIRY_PERIOD,
            services.openintent.memory.clone(),
            |memory| async move { memory.purge_expired().await },
        );
        workers.spawn_every(
            "audit_checkpoints",
            SEAL_SWEEP_PERIOD,
            services.audit.checkpoints().clone(),
            |checkpoints| async move { checkpoints.seal_due().await },
        );
        workers.spawn_every(
            "trigger_scheduler",
            TRIGGER_SWEEP_PERIOD,
            services.openintent.triggers.clone(),
            |triggers| async move { triggers.fire_due().await },
        );
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
