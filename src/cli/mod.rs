//! The `intendedops` command line: `serve` (the default), `migrate`, `tenant`, `key`, `user`,
//! `audit`, `secrets`.

mod accounts;
mod audit;

use std::{future::Future, pin::Pin, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};

use self::{
    accounts::{KeyCommand, TenantCommand, UserCommand},
    audit::AuditCommand,
};
use crate::{
    app::{shutdown_signal, App},
    config::{AppConfig, GlobalArgs, ServeArgs},
    secrets::{keys, KeySource},
    services::Services,
    store::{describe_url, sqlite_file},
};

#[derive(Debug, Parser)]
#[command(
    name = "intendedops",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve` flags, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage console users (people who sign in to approve and administer).
    #[command(subcommand)]
    User(UserCommand),
    /// Verify, export and prove audit trails; the checkpoint signing keys.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the keys that seal stored secrets (webhook signing secrets).
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new key line, `<id>:<base64 of 32 random bytes>`, for INTENDEDOPS_SECRET_KEY.
    GenerateKey {
        /// The key's id, stored beside every secret it seals (default: `k` and today's date).
        #[arg(long)]
        id: Option<String>,
    },
    /// Re-seal every stored secret under the first configured key. Put the new key first and
    /// keep the old ones after it, restart every instance, run this, then drop the old keys.
    Rotate,
}

/// Runs the parsed command; the exit status says whether what was checked holds.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = &cli.global;
    let operation: Pin<Box<dyn Future<Output = anyhow::Result<ExitCode>> + '_>> = match cli.command
    {
        None => return serve(global, cli.serve).await,
        Some(Command::Serve(args)) => return serve(global, args).await,
        Some(Command::Audit(command)) if command.is_offline() => return audit::offline(command),
        Some(Command::Migrate) => Box::pin(migrate(global)),
        Some(Command::Tenant(command)) => Box::pin(accounts::tenant(global, command)),
        Some(Command::Key(command)) => Box::pin(accounts::key(global, command)),
        Some(Command::User(command)) => Box::pin(accounts::user(global, command)),
        Some(Command::Audit(command)) => Box::pin(audit::run(global, command)),
        Some(Command::Secrets(SecretsCommand::GenerateKey { id })) => {
            return generate_key(id);
        }
        Some(Command::Secrets(SecretsCommand::Rotate)) => Box::pin(rotate_keys(global)),
    };
    // Every error names the database: a relative SQLite path opened from another directory
    // is the usual reason a tenant or key "does not exist".
    let database = describe_url(&global.database_url);
    operation
        .await
        .with_context(|| format!("database {database}"))
}

async fn serve(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = AppConfig::from_args(global, &args);
    // Decided before anything starts: a refused host must not leave a half-started server.
    let host = config.listen_host(args.host.as_deref())?;
    let database = describe_url(&config.database_url);
    let app = App::build(config)
        .await
        .with_context(|| format!("database {database}"))?;
    let addr = format!("{host}:{}", args.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--host, --port)"))?;
    tracing::info!(%addr, %database, "intendedops listening (docs at /docs)");
    app.serve(listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    open_database(global, true, KeySource::NotNeeded).await?;
    eprintln!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

/// Opens the database of an operator command. Only a command that can start from nothing
/// (`migrate`, `tenant create`) may create a SQLite file: for any other, a missing file means
/// the wrong directory or URL, and saying so beats "tenant not found" from a new empty file.
/// Only commands that read or write secrets need the secret keys (`keys`).
pub(crate) async fn open_database(
    global: &GlobalArgs,
    may_create: bool,
    keys: KeySource,
) -> anyhow::Result<Services> {
    if let Some(file) = sqlite_file(&global.database_url) {
        if !file.exists() {
            anyhow::ensure!(
                may_create,
                "no database file there; run this where the server runs (a relative sqlite:// \
                 path is resolved from the current directory) or pass --database-url"
            );
            eprintln!("note: creating a new database at {}", file.display());
        }
    }
    let mut config = AppConfig::new(&global.database_url);
    config.secret_keys = keys;
    Services::connect(&config).await
}

/// `secrets generate-key`: needs no database.
fn generate_key(id: Option<String>) -> anyhow::Result<ExitCode> {
    let id = id.unwrap_or_else(|| chrono::Utc::now().format("k%Y%m%d").to_string());
    let line = keys::generate(&id);
    // Checked like a configured key, so a bad id fails here rather than at start-up.
    keys::parse(&line)?;
    println!("{}", *line);
    Ok(ExitCode::SUCCESS)
}

/// `secrets rotate`.
async fn rotate_keys(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let services = open_database(global, false, global.key_source()).await?;
    let changed = services.webhooks.reseal_under_current_key().await?;
    eprintln!("re-sealed the signing secrets of {changed} webhook endpoint(s) under the first key");
    let credentials = services.openintent.tools.secure_credentials(true).await?;
    eprintln!(
        "re-sealed the material of {credentials} OpenIntent credential(s) under the first key"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_command_and_flag_explains_itself() {
        let command = Cli::command();
        command.clone().debug_assert();
        let mut undocumented = Vec::new();
        let mut pending = vec![(String::from("intendedops"), command)];
        while let Some((path, command)) = pending.pop() {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if !matches!(id, "help" | "version") && arg.get_help().is_none() {
                    undocumented.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    undocumented.push(format!("{path} {}", sub.get_name()));
                }
                pending.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(undocumented.is_empty(), "no help text: {undocumented:?}");
    }
}
