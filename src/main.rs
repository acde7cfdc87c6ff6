//! `intendedops`: the governance platform's single binary.

use clap::Parser;
use intendedops::{cli, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Held to the end: dropping it flushes the log lines still queued.
    let _log_flush = match telemetry::init(&cli.global.log_level, cli.global.log_format) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("error: {err:#}");
            return std::process::ExitCode::from(2);
        }
    };
    match cli::run(cli).await {
        Ok(status) => status,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
