//! The edge under hostile clients (issue 19, items 5–7): wrong secrets cannot flood argon2,
//! bodies are limited whatever the protocol, and slow or silent connections are closed.

use std::{
    net::IpAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{
    clock_in_a_fresh_window, expect_error, metric, send, spawn_app_with, TestApp,
};

const VERIFICATIONS: &str = "intendedops_auth_key_verifications_total";

/// A well-formed key with the prefix of tenant A's admin key and a wrong secret (`n` makes
/// each one new to the server, so each needs argon2).
fn wrong_secret(app: &TestApp, n: usize) -> String {
    let admin = &app.a.admin_key;
    let (tenant_part, secret) = admin.rsplit_once('_').unwrap();
    format!("{tenant_part}_{}{n:032}", &secret[..8])
}

async fn verifications(app: &TestApp) -> f64 {
    metric(&app.scrape().await, VERIFICATIONS, &[])
}

#[tokio::test]
async fn an_address_out_of_wrong_secret_budget_gets_429_without_argon2() {
    let clock = clock_in_a_fresh_window();
    let app = spawn_app_with(|config| {
        config.auth_failures_per_minute = 3;
        config.clock = clock.clone();
    })
    .await;
    for n in 0..3 {
        expect_error(
            app.with_key(Method::GET, "/v1/keys", &wrong_secret(&app, n)),
            401,
            "UNAUTHORIZED",
        )
        .await;
    }
    let spent = verifications(&app).await;
    assert_eq!(spent, 3.0, "one argon2 run per wrong secret");
    for n in 3..6 {
        let response = app
            .with_key(Method::GET, "/v1/keys", &wrong_secret(&app, n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "RATE_LIMITED");
    }
    assert_eq!(
        verifications(&app).await,
        spent,
        "no argon2 for an address out of budget"
    );
    // Another address (and tenant) is not held back, even with a key never seen before.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let (status, _) = send(
        elsewhere
            .get(app.url("/v1/keys"))
            .header("x-api-key", &app.b.admin_key),
    )
    .await;
    assert_eq!(status, 200);
}

/// Resident memory of this process (the server runs in it), in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib / 1024
}

#[tokio::test]
async fn a_burst_of_wrong_secrets_is_answered_within_bounded_memory() {
    let app = spawn_app_with(|config| config.auth_failures_per_minute = 1_000_000).await;
    let before = rss_mib();
    let peak = Arc::new(AtomicU64::new(before));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(rss_mib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let responses = join_all((0..200).map(|n| {
        app.with_key(Method::GET, "/v1/keys", &wrong_secret(&app, n))
            .send()
    }))
    .await;
    let mut limited = 0;
    for response in responses {
        let response = response.expect("every request is answered");
        let status = response.status();
        let retry_after = response.headers().contains_key("retry-after");
        let body: serde_json::Value = response.json().await.unwrap();
        match status.as_u16() {
            401 => assert_eq!(body["error"]["code"], "UNAUTHORIZED"),
            429 => {
                assert_eq!(body["error"]["code"], "RATE_LIMITED");
                assert!(retry_after, "429 without Retry-After");
                limited += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    sampler.abort();
    let peak = peak.load(Ordering::Relaxed);
    let after = rss_mib();
    eprintln!(
        "RSS before {before} MiB, peak during the burst {peak} MiB, after {after} MiB; \
         {limited} of 200 answered 429"
    );
    // Unbounded, the burst held ~19 MiB per concurrent verification (200: ~3.8 GiB), and
    // kept it. Bounded: one reused 19 MiB buffer per core.
    assert!(
        peak.saturating_sub(before) < 256,
        "RSS peaked at {peak} MiB (from {before})"
    );
    assert!(
        after.saturating_sub(before) < 128,
        "RSS grew from {before} to {after} MiB"
    );
    assert!(verifications(&app).await <= 200.0);
}

/// A streamed body of `bytes` spaces: no Content-Length is declared.
fn undeclared_body(bytes: usize) -> reqwest::Body {
    let chunk = vec![b' '; 64 * 1024];
    let chunks = (0..bytes / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_whatever_the_protocol() {
    let app = spawn_app_with(|_| {}).await;
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let over_h2c = h2c
        .post(app.url("/v1/agents"))
        .header("x-api-key", &app.a.admin_key)
        .header("content-type", "application/json")
        .body(undeclared_body(4 << 20))
        .send()
        .await;
    // Cleartext HTTP/2 is not served at all; were it, the body would meet the limit.
    if let Ok(response) = over_h2c {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let over_http1 = app
        .with_key(Method::POST, "/v1/agents", &app.a.admin_key)
        .header("content-type", "application/json")
        .body(undeclared_body(4 << 20));
    expect_error(over_http1, 413, "VALIDATION_ERROR").await;
    let (status, _) = send(app.request(Method::GET, "/health")).await;
    assert_eq!(status, 200);
}

/// Whether the server closes `stream` within `guard` (reading and discarding what it sends).
async fn closed_within(stream: &mut TcpStream, guard: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(guard, async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
    .await
    .is_ok()
}

/// A server with these connection deadlines, and a raw connection to it.
async fn connected_with(header_read: u64, idle: u64) -> (TestApp, TcpStream) {
    let app = spawn_app_with(|config| {
        config.header_read_timeout = Duration::from_secs(header_read);
        config.idle_timeout = Duration::from_secs(idle);
    })
    .await;
    let stream = connect(&app).await;
    (app, stream)
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.unwrap()
}

#[tokio::test]
async fn a_partial_request_line_is_closed_after_the_header_timeout() {
    let (app, mut silent) = connected_with(1, 60).await;
    let mut partial = connect(&app).await;
    partial.write_all(b"GET /health HT").await.unwrap();
    assert!(closed_within(&mut partial, Duration::from_secs(5)).await);
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_request_head_dripped_byte_by_byte_is_closed_at_the_header_deadline() {
    // The idle timeout is shorter than the header deadline: bytes arriving every 250 ms are
    // not idleness, yet the head is cut off.
    let (_app, mut stream) = connected_with(2, 1).await;
    let head = format!("GET /health HTTP/1.1\r\nx-pad: {}\r\n\r\n", "a".repeat(40));
    let mut closed = false;
    let mut buf = [0u8; 256];
    for byte in head.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            // An answer: the whole head got through.
            Ok(Ok(_)) => break,
            Err(_) => {}
        }
    }
    assert!(closed, "a 15 s drip outlived a 2 s header deadline");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let (_app, mut stream) = connected_with(60, 1).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_stalled_body_gets_408_after_the_request_timeout() {
    let app = spawn_app_with(|config| config.request_timeout = Duration::from_secs(1)).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /v1/agents HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"na",
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "no answer while the body stalls");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("VALIDATION_ERROR"), "{response}");
}
