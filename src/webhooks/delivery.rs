//! The delivery worker, one per instance: sends due deliveries.
//!
//! Safe with several instances: deliveries are claimed with `FOR UPDATE SKIP LOCKED`
//! (PostgreSQL; SQLite has one writer) and leased by moving their due time past the attempt's
//! timeout, so in the normal case each is sent once; if an instance dies mid-send, the lease runs out and another
//! sends it again (at-least-once). 2xx is delivered; anything else (timeouts, connection
//! errors, other statuses) is retried with exponential backoff and jitter until the retry window
//! ends, then the delivery is dead. An endpoint failing without a success for
//! `disable_after` is disabled with the reason.

use std::{collections::BTreeMap, sync::Arc, time::Duration, time::Instant};

use futures_util::future::join_all;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::{
    sealing::SigningSecrets,
    sender::{Message, Outcome, Sender},
};
use crate::{
    error::Result,
    metrics::Metrics,
    secrets::SecretBox,
    store::{
        webhooks::{self, AttemptRow, DueDelivery},
        Store,
    },
    time::{now_ms, rfc3339, Millis},
};

/// How long a claimed delivery is reserved for the instance sending it.
const LEASE_MS: Millis = 15_000;
const SEND_BATCH: i64 = 64;
/// Longest wait between two attempts.
const MAX_BACKOFF_MS: Millis = 3_600_000;
/// Finished deliveries and their events are kept this long (for the deliveries listing and
/// manual redelivery), then pruned.
pub const RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// How often the worker prunes.
const PRUNE_PERIOD: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Wait after the first failed attempt; doubles with each further failure.
    pub retry_base: Duration,
    /// Retries stop this long after the delivery was created (then it is dead).
    pub retry_window: Duration,
    /// An endpoint failing continuously this long is disabled.
    pub disable_after: Duration,
    /// How often the worker looks for work.
    pub poll: Duration,
}

pub struct Deliverer {
    store: Store,
    sender: Arc<Sender>,
    secrets: Arc<SecretBox>,
    config: DeliveryConfig,
    metrics: Arc<Metrics>,
}

/// A delivery after an attempt: its new status, when to try next, and the attempt's record.
struct Settled {
    status: &'static str,
    next_attempt_at: Millis,
    attempt: AttemptRow,
}

impl Deliverer {
    pub fn new(
        store: Store,
        sender: Arc<Sender>,
        secrets: Arc<SecretBox>,
        config: DeliveryConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            sender,
            secrets,
            config,
            metrics,
        }
    }

    /// Works until `shutdown`. A delivery in flight at shutdown is sent again after its lease.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.poll);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = Instant::now();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            if last_prune.elapsed() >= PRUNE_PERIOD {
                last_prune = Instant::now();
                let pruned = self.prune().await;
                self.metrics.job_ran("webhook_prune", pruned.is_ok());
                if let Err(err) = pruned {
                    tracing::warn!(error = %err, "webhook pruning failed");
                }
            }
            match webhooks::work_waiting(&self.store, now_ms()).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook worker cannot read its queue");
                    continue;
                }
            }
            // Full batches mean more is waiting: go on without waiting for the next tick.
            while !shutdown.is_cancelled() && self.work_once().await {}
        }
    }

    /// One batch of sending; true when it was full (more work waits).
    async fn work_once(&self) -> bool {
        let sent = self.send_due().await;
        self.metrics.job_ran("webhook_delivery", sent.is_ok());
        match sent {
            Ok(sent) => sent == SEND_BATCH as usize,
            Err(err) => {
                tracing::warn!(error = %err, "webhook delivery failed");
                false
            }
        }
    }

    /// Deletes what [`RETENTION`] no longer keeps.
    async fn prune(&self) -> Result<u64> {
        let before = now_ms() - RETENTION.as_millis() as Millis;
        let mut tx = self.store.begin().await?;
        let pruned = webhooks::prune(&mut tx, before).await?;
        tx.commit().await?;
        Ok(pruned)
    }

    /// Sends the deliveries due now, concurrently, and records each attempt.
    pub async fn send_due(&self) -> Result<usize> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let due = webhooks::claim_due(
            &mut tx,
            self.store.backend(),
            now,
            now + LEASE_MS,
            SEND_BATCH,
        )
        .await?;
        tx.commit().await?;
        let outcomes = join_all(due.iter().map(|delivery| self.attempt(delivery))).await;
        let now = now_ms();
        let settled: Vec<Settled> = due
            .iter()
            .zip(outcomes)
            .map(|(delivery, outcome)| self.settle(delivery, outcome, now))
            .collect();
        // One transaction records the whole batch, successes in a few statements.
        let mut tx = self.store.begin().await?;
        let attempts: Vec<AttemptRow> = settled.iter().map(|s| s.attempt.clone()).collect();
        webhooks::insert_attempts(&mut tx, &attempts).await?;
        let mut delivered_by_code: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (delivery, settled) in due.iter().zip(&settled) {
            match (settled.status, settled.attempt.status_code) {
                ("delivered", Some(code)) => {
                    delivered_by_code
                        .entry(code)
                        .or_default()
                        .push(&delivery.id);
                    // (A healthy endpoint has nothing to clear: no write.)
                    if delivery.failing_since.is_some() {
                        let (tenant, endpoint) = (&delivery.tenant_id, &delivery.endpoint_id);
                        webhooks::endpoint_succeeded(&mut tx, tenant, endpoint).await?;
                    }
                }
                _ => self.record_failure(&mut tx, delivery, settled, now).await?,
            }
        }
        for (code, ids) in &delivered_by_code {
            webhooks::mark_delivered(&mut tx, ids, *code, now).await?;
        }
        tx.commit().await?;
        for (delivery, settled) in due.iter().zip(&settled) {
            if delivery.attempts == 0 {
                self.metrics
                    .webhook_received(delivery.tenant_id.as_str(), &delivery.event);
            }
            self.metrics.webhook_attempted(settled.status);
        }
        Ok(due.len())
    }

    async fn attempt(&self, delivery: &DueDelivery) -> Outcome {
        let (tenant, endpoint) = (&delivery.tenant_id, &delivery.endpoint_id);
        let stored = &delivery.secrets;
        let signing = match SigningSecrets::open(
            &self.secrets,
            tenant.as_str(),
            endpoint,
            stored,
            now_ms(),
        ) {
            Ok(signing) => signing,
            // Retried like any failure: the operator may restore the key meanwhile.
            Err(err) => return Outcome::not_sent(err),
        };
        let message = Message {
            url: &delivery.url,
            event_id: &delivery.event_id,
            event: &delivery.event,
            created_at: delivery.event_created_at,
            body: &delivery.body,
            secret: &signing.current,
            previous_secret: signing.previous.as_deref().map(String::as_str),
        };
        self.sender.send(&message).await
    }

    /// What an attempt's outcome makes of the delivery.
    fn settle(&self, delivery: &DueDelivery, outcome: Outcome, now: Millis) -> Settled {
        let attempt = delivery.attempts + 1;
        let (status, next_attempt_at) = if outcome.delivered() {
            ("delivered", now)
        } else {
            let next = now + self.backoff_ms(attempt);
            let window_end = delivery.created_at + self.config.retry_window.as_millis() as Millis;
            if next > window_end {
                ("dead", now)
            } else {
                ("pending", next)
            }
        };
        Settled {
            status,
            next_attempt_at,
            attempt: AttemptRow {
                delivery_id: delivery.id.clone(),
                attempt,
                started_at: now - outcome.latency.as_millis() as Millis,
                status_code: outcome.status_code.map(i64::from),
                error: outcome.error,
                latency_ms: outcome.latency.as_millis() as Millis,
            },
        }
    }

    /// A failed attempt: schedule the retry (or give up), extend the endpoint's failing run,
    /// and disable the endpoint when the run has lasted too long.
    async fn record_failure(
        &self,
        tx: &mut sqlx::AnyConnection,
        delivery: &DueDelivery,
        settled: &Settled,
        now: Millis,
    ) -> Result<()> {
        let attempt = &settled.attempt;
        webhooks::mark_failed(
            &mut *tx,
            attempt,
            settled.status,
            settled.next_attempt_at,
            now,
        )
        .await?;
        let (tenant, endpoint) = (&delivery.tenant_id, &delivery.endpoint_id);
        let Some(since) = webhooks::endpoint_failed(&mut *tx, tenant, endpoint, now).await? else {
            return Ok(());
        };
        if now - since >= self.config.disable_after.as_millis() as Millis {
            let reason = format!(
                "disabled automatically: every delivery failed since {} (last: {})",
                rfc3339(since),
                attempt.error.as_deref().unwrap_or("error")
            );
            webhooks::disable_endpoint(&mut *tx, tenant, endpoint, &reason, now).await?;
            tracing::warn!(tenant = tenant.as_str(), endpoint, "{reason}");
        }
        Ok(())
    }

    /// `retry_base × 2^(attempt-1)`, capped at an hour, ±20 % jitter so retries of many
    /// deliveries spread out.
    fn backoff_ms(&self, attempt: i64) -> Millis {
        let base = self.config.retry_base.as_millis() as Millis;
        let doubling = 1_i64 << (attempt - 1).clamp(0, 30);
        let plain = base.saturating_mul(doubling).min(MAX_BACKOFF_MS);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        (plain as f64 * jitter) as Millis
    }
}
