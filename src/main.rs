//! `intendedops`: the governance platform's single binary.

use clap::Parser;
use intendedops::{cli, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if let Err(err) = telemetry::init(&cli.global.log_level, cli.global.log_format) {
        eprintln!("error: {err:#}");
        return std::process::ExitCode::from(2);
    }
    match cli::run(cli).await {
        Ok(status) => status,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
