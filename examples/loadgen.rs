//! A small closed-loop HTTP load generator for benchmarking the running server.
//!
//! `cargo run --release --example loadgen -- --url http://127.0.0.1:8000/v1/keys \
//!     --header "x-api-key: $KEY" --concurrency 32 --seconds 10`
//!
//! Each of `--concurrency` workers sends requests back to back over its own keep-alive
//! connection for `--seconds`; the report gives throughput, the status codes seen and
//! latency percentiles. `--body` (JSON) switches to POST; `{n}` in the body is replaced by a
//! unique counter so every request can carry a distinct idempotency key.
//!
//! `--rate R` makes it open-loop: R requests/s in total, evenly paced across the workers,
//! each request's latency measured from the moment it was *scheduled*, so a stalled server
//! shows up in the percentiles instead of silently lowering the load.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

struct Options {
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    concurrency: usize,
    seconds: u64,
    rate: Option<f64>,
}

fn parse_options() -> Options {
    let mut options = Options {
        url: String::new(),
        headers: Vec::new(),
        body: None,
        concurrency: 32,
        seconds: 10,
        rate: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => options.url = value,
            "--header" => {
                let (name, val) = value.split_once(':').expect("--header 'name: value'");
                options
                    .headers
                    .push((name.trim().into(), val.trim().into()));
            }
            "--body" => options.body = Some(value),
            "--concurrency" => options.concurrency = value.parse().expect("a number"),
            "--seconds" => options.seconds = value.parse().expect("a number"),
            "--rate" => options.rate = Some(value.parse().expect("a number")),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!options.url.is_empty(), "--url is required");
    options
}

#[tokio::main]
async fn main() {
    let options = Arc::new(parse_options());
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..options.concurrency)
        .map(|worker| {
            let options = options.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let mut latencies_us = Vec::new();
                let mut statuses = BTreeMap::<u16, u64>::new();
                // Open loop: this worker's share of the rate, offset so workers interleave.
                let interval = options
                    .rate
                    .map(|rate| Duration::from_secs_f64(options.concurrency as f64 / rate));
                let mut scheduled = started
                    + interval.map_or(Duration::ZERO, |i| {
                        i.mul_f64(worker as f64 / options.concurrency as f64)
                    });
                while Instant::now() < deadline {
                    if interval.is_some() {
                        tokio::time::sleep_until(scheduled.into()).await;
                    }
                    let mut request = match &options.body {
                        Some(body) => {
                            let n = counter.fetch_add(1, Ordering::Relaxed);
                            client
                                .post(&options.url)
                                .header("content-type", "application/json")
                                .body(body.replace("{n}", &n.to_string()))
                        }
                        None => client.get(&options.url),
                    };
                    for (name, value) in &options.headers {
                        request = request.header(name, value);
                    }
                    let sent = if interval.is_some() {
                        scheduled
                    } else {
                        Instant::now()
                    };
                    scheduled += interval.unwrap_or(Duration::ZERO);
                    let status = match request.send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    latencies_us.push(sent.elapsed().as_micros() as u64);
                    *statuses.entry(status).or_default() += 1;
                }
                (latencies_us, statuses)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::<u16, u64>::new();
    for worker in workers {
        let (worker_latencies, worker_statuses) = worker.await.unwrap();
        latencies.extend(worker_latencies);
        for (status, count) in worker_statuses {
            *statuses.entry(status).or_default() += count;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    let mode = options.rate.map_or("closed loop".to_string(), |rate| {
        format!("open loop at {rate:.0} req/s")
    });
    println!(
        "requests {}  in {:.1}s  = {:.0} req/s  (concurrency {}, {mode})",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed,
        options.concurrency
    );
    println!("statuses {statuses:?}  (0 = connection error)");
    println!(
        "latency ms  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(0.50),
        percentile(0.90),
        percentile(0.99),
        percentile(1.0)
    );
}
