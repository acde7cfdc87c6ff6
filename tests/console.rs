//! The console in a real browser: `tests/console/run.sh` drives Debian's chromium with
//! playwright-core (npm) through sign-in, the live queue, decisions, roles, keys, webhooks
//! and the audit page, and writes screenshots to `target/console-screenshots/`. With
//! `TEST_DATABASE_URL` set the server runs on PostgreSQL.

use std::process::Command;

#[test]
fn the_console_works_in_a_real_browser() {
    let status = Command::new("bash")
        .arg("tests/console/run.sh")
        .env("INTENDEDOPS_BIN", env!("CARGO_BIN_EXE_intendedops"))
        .status()
        .expect("cannot run bash tests/console/run.sh");
    assert!(
        status.success(),
        "the console's browser tests failed ({status}); their output is above"
    );
}
