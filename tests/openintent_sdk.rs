//! Interoperability proof: the real OpenIntent client (PyPI `openintent==0.17.0`, both
//! `OpenIntentClient` and `AsyncOpenIntentClient`) drives this crate's server binary through
//! the Python suite in `tests/sdk/`. `tests/sdk/run.sh` creates the virtualenv on first use
//! (needs `python3` with `venv` and access to PyPI); with `TEST_DATABASE_URL` set the server
//! runs on PostgreSQL.

use std::process::Command;

#[test]
fn the_openintent_python_sdk_drives_the_server() {
    let status = Command::new("bash")
        .arg("tests/sdk/run.sh")
        .env("INTENDEDOPS_BIN", env!("CARGO_BIN_EXE_intendedops"))
        .status()
        .expect("cannot run bash tests/sdk/run.sh");
    assert!(
        status.success(),
        "the OpenIntent SDK suite failed ({status}); its pytest output is above"
    );
}
