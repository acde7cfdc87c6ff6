//! What the real binary tells its operator on stderr: request lines at the default level,
//! clear start-up failures, and no library panic noise for a request that was merely bad.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{free_port, send, spawn_app, TestApp};

/// The binary serving `app`'s database at the default log level, its stderr kept in a file.
struct Served {
    child: Child,
    log: tempfile::NamedTempFile,
    base: String,
}

impl Served {
    async fn start(app: &TestApp) -> Served {
        let port = free_port().await;
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = serve_command(app, port)
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("the binary starts");
        let served = Served {
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if app
                .client
                .get(format!("{}/health", served.base))
                .send()
                .await
                .is_ok()
            {
                return served;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not come up: {}", served.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// The log once `needle` is in it (lines are written as requests finish).
    async fn log_with(&self, needle: &str) -> String {
        for _ in 0..50 {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{needle:?} never logged:\n{}", self.log());
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_command(app: &TestApp, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intendedops"));
    command
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("DATABASE_URL", &app.db.url)
        .env("INTENDEDOPS_SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .env_remove("OPENINTENT_LOG_LEVEL")
        .env_remove("REDIS_URL")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null());
    command
}

#[tokio::test]
async fn request_lines_are_logged_at_the_default_level_with_who_asked() {
    let app = spawn_app().await;
    let served = Served::start(&app).await;
    let response = app
        .client
        .get(format!("{}/v1/keys", served.base))
        .header("x-api-key", &app.a.admin_key)
        .header("x-request-id", "quote-me-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log = served.log_with("quote-me-4711").await;
    let line = log.lines().find(|l| l.contains("quote-me-4711")).unwrap();
    for part in [
        " INFO ",
        "method=GET",
        "path=/v1/keys",
        "tenant=tenant-a",
        "key_id=key_",
        "status=200",
        "latency_us=",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line}");
    }
    // A rejected key is a line too (the first ones of a flood; the rest are summarised).
    let response = app
        .client
        .get(format!("{}/v1/keys", served.base))
        .header("x-api-key", "intendedops_tenant-a_wrongwrongwrongwrong")
        .header("x-request-id", "bad-key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let log = served.log_with("bad-key-1").await;
    let line = log.lines().find(|l| l.contains("bad-key-1")).unwrap();
    assert!(line.contains("status=401"), "{line}");
}

#[tokio::test]
async fn an_invalid_cel_condition_is_a_400_without_a_panic_in_the_log() {
    let app = spawn_app().await;
    let served = Served::start(&app).await;
    // This expression makes the CEL parser panic inside the library.
    let document = json!({
        "rules": [{"name": "broken", "match": {}, "condition": "params.amount >",
                   "outcome": {"type": "auto_approve"}}],
        "default": {"type": "require_approval", "approvers": 1}
    });
    let (status, body) = send(
        app.client
            .request(Method::PUT, format!("{}/v1/policies", served.base))
            .header("x-api-key", &app.a.admin_key)
            .header("x-request-id", "cel-probe")
            .json(&document),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    assert!(body["error"]["message"].as_str().unwrap().contains("CEL"));
    let log = served.log_with("cel-probe").await;
    assert!(
        !log.contains("panicked") && !log.contains("unreachable"),
        "{log}"
    );
}

#[tokio::test]
async fn a_taken_port_is_named_in_the_start_up_error() {
    let app = spawn_app().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = serve_command(&app, port)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let why = String::from_utf8_lossy(&output.stderr);
    assert!(
        why.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{why}"
    );
    assert!(
        why.to_lowercase().contains("address already in use"),
        "{why}"
    );
}
