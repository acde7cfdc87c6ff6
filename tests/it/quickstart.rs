//! The README's first journey, `examples/quickstart.sh`, run as a user would against a server
//! in development mode: it must keep showing all three outcomes with the shipped policy.

use std::process::Command;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn the_quickstart_script_shows_queued_blocked_and_auto_approved() {
    let app = spawn_app_with(|config| config.dev_keys = Some(true)).await;
    let base = app.url("");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/quickstart.sh"
            ))
            .env("BASE", base.trim_end_matches('/'))
            .output()
            .expect("bash runs the quickstart (it needs curl and jq)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for shown in [
        r#""status": "pending_approval""#,
        r#""paramsSummary": "amount: 1200"#,
        r#""status": "blocked""#,
        r#""blockReason": "agents below T2 may not move more than 10,000"#,
        r#""rule": "t2-auto-approves-up-to-medium-risk""#,
        r#""status": "completed""#,
        r#""valid": true"#,
    ] {
        assert!(stdout.contains(shown), "{shown} not shown:\n{stdout}");
    }
}
