//! Background workers under supervision: the webhook deliverer, the approval expiry sweep,
//! SQLite checkpoints, key maintenance and the event bus listener each run as a supervised
//! task. A worker that returns an error or panics is logged, counted
//! (`intendedops_worker_restarts_total{job}`) and started again after a backoff that doubles
//! from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`] (and starts over once a run has lasted
//! [`STEADY`]), so one bad moment does not stop the work for good and a worker that fails at
//! once does not spin. Workers end when shutdown is signalled.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long counts as healthy: the next failure backs off from the start again.
pub const STEADY: Duration = Duration::from_secs(60);

/// Runs workers until [`Supervisor::stop`].
pub struct Supervisor {
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

impl Supervisor {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Supervisor {
            metrics,
            shutdown: CancellationToken::new(),
            workers: Vec::new(),
        }
    }

    /// Runs `job(state)` every `period` as the worker `name` (see [`every`]).
    pub fn spawn_every<S, F, Fut, T>(
        &mut self,
        name: &'static str,
        period: Duration,
        state: S,
        job: F,
    ) where
        S: Clone + Send + Sync + 'static,
        F: Fn(S) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = crate::error::Result<T>> + Send + 'static,
    {
        let metrics = self.metrics.clone();
        self.spawn(name, move |shutdown| {
            let (state, metrics) = (state.clone(), metrics.clone());
            async move {
                every(name, period, metrics, shutdown, || job(state.clone())).await;
                Ok(())
            }
        });
    }

    /// Runs `start(shutdown)` as the worker `name`, again after each failure, until shutdown.
    /// A run that ends `Ok` before shutdown is restarted too: workers are meant to run for
    /// the life of the process.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, start: F)
    where
        F: Fn(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (metrics, shutdown) = (self.metrics.clone(), self.shutdown.clone());
        self.workers.push(tokio::spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                let started = Instant::now();
                // Its own task, so a panic ends that task and is reported here.
                let outcome = tokio::spawn(start(shutdown.clone())).await;
                if shutdown.is_cancelled() {
                    return;
                }
                match outcome {
                    Ok(Ok(())) => tracing::warn!(worker = name, "worker stopped; restarting it"),
                    Ok(Err(err)) => {
                        tracing::error!(worker = name, error = %err, "worker failed; restarting it")
                    }
                    Err(panic) => {
                        tracing::error!(worker = name, error = %panic, "worker panicked; restarting it")
                    }
                }
                metrics.worker_restarted(name);
                if started.elapsed() >= STEADY {
                    backoff = FIRST_BACKOFF;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }));
    }

    /// Signals shutdown and waits for every worker to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for worker in self.workers {
            let _ = worker.await;
        }
    }
}

/// Runs `job` every `period` until `shutdown`, counting each run as `name` in the metrics
/// (`intendedops_jobs_total`) and logging a failure; the sweeps of the service are such jobs.
pub async fn every<F, Fut, T>(
    name: &'static str,
    period: Duration,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::error::Result<T>>,
{
    let mut interval = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        let outcome = job().await;
        metrics.job_ran(name, outcome.is_ok());
        if let Err(err) = outcome {
            tracing::warn!(job = name, error = %err, "periodic job failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_panics_once_is_restarted_and_its_work_completes() {
        let metrics = Arc::new(Metrics::new());
        let mut supervisor = Supervisor::new(metrics.clone());
        let runs = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<usize>();
        let done_tx = Arc::new(std::sync::Mutex::new(Some(done_tx)));
        let (runs_seen, done) = (runs.clone(), done_tx.clone());
        supervisor.spawn("flaky", move |shutdown| {
            let (runs, done) = (runs_seen.clone(), done.clone());
            async move {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                if run == 1 {
                    panic!("the first run fails");
                }
                if let Some(done) = done.lock().unwrap().take() {
                    let _ = done.send(run);
                }
                shutdown.cancelled().await;
                Ok(())
            }
        });
        assert_eq!(
            done_rx.await.unwrap(),
            2,
            "the work completed on the second run"
        );
        let exposition = metrics.render(&Default::default());
        assert!(
            exposition.contains("intendedops_worker_restarts_total{job=\"flaky\"} 1"),
            "{exposition}"
        );
        supervisor.stop().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "no run after shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn failing_workers_back_off_instead_of_spinning() {
        let mut supervisor = Supervisor::new(Arc::new(Metrics::new()));
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervisor.spawn("failing", move |_| {
            let runs = counted.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                anyhow::bail!("always fails")
            }
        });
        // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s of backoff fit in 3.5 s: six runs, not thousands.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 6);
        supervisor.stop().await;
    }
}
