//! The operator CLI, run as the real binary against the test server's database.

use std::{process::Command, time::Duration};

use reqwest::Method;

use crate::helpers::{cli, expect_error, send, spawn_app};

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn tenant_and_key_created_on_the_cli_authenticate_over_http() {
    let app = spawn_app().await;
    assert_eq!(stdout(&cli(&app, &["tenant", "create", "acme"])), "acme\n");
    let out = stdout(&cli(
        &app,
        &[
            "key", "create", "--tenant", "acme", "--name", "ci", "--scope", "admin",
        ],
    ));
    // The key alone on stdout, so scripts can capture it.
    assert_eq!(out.lines().count(), 1);
    let key = out.trim_end();
    assert!(key.starts_with("intendedops_acme_"));

    let (status, list) = send(app.with_key(Method::GET, "/v1/keys", key)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"]["items"][0]["name"], "ci");
    let key_id = list["data"]["items"][0]["id"].as_str().unwrap().to_string();

    let listed = stdout(&cli(&app, &["key", "list", "--tenant", "acme"]));
    assert!(listed.contains(&key_id) && listed.contains("admin") && !listed.contains(key));

    // A revocation by another process reaches the running server within its poll interval.
    stdout(&cli(&app, &["key", "revoke", &key_id]));
    let mut rejected = false;
    for _ in 0..40 {
        let (status, _) = send(app.with_key(Method::GET, "/v1/keys", key)).await;
        if status == 401 {
            rejected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rejected, "revoked key still accepted after 4 s");
    expect_error(
        app.with_key(Method::GET, "/v1/keys", key),
        401,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn cli_errors_are_clear_and_fail_the_command() {
    let app = spawn_app().await;
    let duplicate = cli(&app, &["tenant", "create", "tenant-a"]);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let underscore = cli(&app, &["tenant", "create", "my_tenant"]);
    assert!(!underscore.status.success());
    assert!(underscore.stdout.is_empty());
    let why = String::from_utf8_lossy(&underscore.stderr);
    assert!(
        why.contains("letters, digits and '-'") && why.contains("no '_'"),
        "{why}"
    );

    let bad_scope = cli(
        &app,
        &[
            "key", "create", "--tenant", "tenant-a", "--name", "x", "--scope", "root",
        ],
    );
    assert!(!bad_scope.status.success());
    assert!(bad_scope.stdout.is_empty());

    let no_tenant = cli(
        &app,
        &[
            "key", "create", "--tenant", "ghost", "--name", "x", "--scope", "read",
        ],
    );
    assert!(!no_tenant.status.success());
    let why = String::from_utf8_lossy(&no_tenant.stderr);
    assert!(why.contains("tenant not found"), "{why}");
    // The error names the database it looked in.
    assert!(why.contains(&format!("database {}", app.db.url)), "{why}");

    let unknown_key = cli(&app, &["key", "revoke", "key_nope"]);
    assert!(!unknown_key.status.success());
}

#[tokio::test]
async fn a_tenant_rate_limit_set_on_the_cli_reaches_the_running_server() {
    let app = spawn_app().await;
    let out = stdout(&cli(
        &app,
        &["tenant", "rate-limit", "tenant-a", "--per-minute", "7"],
    ));
    assert!(out.contains('7'), "{out}");
    let response = app
        .with_key(Method::GET, "/v1/keys", &app.a.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-ratelimit-limit"], "7");
    // Unknown tenants and nonsense limits are refused with a non-zero exit.
    let unknown = cli(
        &app,
        &["tenant", "rate-limit", "nobody", "--per-minute", "7"],
    );
    assert!(!unknown.status.success());
    let zero = cli(
        &app,
        &["tenant", "rate-limit", "tenant-a", "--per-minute", "0"],
    );
    assert!(!zero.status.success());
    assert!(
        cli(&app, &["tenant", "rate-limit", "tenant-a"])
            .status
            .code()
            == Some(2)
    );
    stdout(&cli(
        &app,
        &["tenant", "rate-limit", "tenant-a", "--default"],
    ));
}

/// The binary with the default database URL, run in `dir` (no `DATABASE_URL`).
fn cli_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_intendedops"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("OPENINTENT_LOG_LEVEL", "warn")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn the_default_database_from_another_directory_is_named_not_silently_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("intendedops.db");
    // A command that needs existing data refuses a missing file, naming where it looked.
    let listed = cli_in(dir.path(), &["key", "list", "--tenant", "acme"]);
    assert!(!listed.status.success());
    let why = String::from_utf8_lossy(&listed.stderr);
    assert!(
        why.contains("sqlite://intendedops.db") && why.contains(&file.display().to_string()),
        "{why}"
    );
    assert!(why.contains("no database file"), "{why}");
    assert!(!file.exists(), "no empty database was left behind");
    // Creating a tenant may start a database, and says where.
    let created = cli_in(dir.path(), &["tenant", "create", "acme"]);
    assert!(created.status.success());
    assert_eq!(String::from_utf8_lossy(&created.stdout), "acme\n");
    let note = String::from_utf8_lossy(&created.stderr);
    assert!(note.contains(&file.display().to_string()), "{note}");
    assert!(file.exists());
    assert!(cli_in(dir.path(), &["key", "list", "--tenant", "acme"])
        .status
        .success());
}
