//! Operator commands for accounts: tenants, API keys and console users.

use std::{io::BufRead, process::ExitCode};

use clap::Subcommand;

use super::open_database;
use crate::{
    audit::actors,
    auth::{keys::NewKey, users::Role, Scope, TenantId},
    config::GlobalArgs,
    pagination::{PageRequest, MAX_PAGE_SIZE},
    secrets::KeySource,
    time::rfc3339,
};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// The tenant id: 1-64 letters, digits and '-'.
        tenant_id: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a tenant's per-key request limit (requests per minute), or restore the default.
    RateLimit {
        /// The tenant whose keys the limit applies to.
        tenant_id: String,
        /// Requests per minute per API key.
        #[arg(long, required_unless_present = "default", value_parser = clap::value_parser!(u32).range(1..))]
        per_minute: Option<u32>,
        /// Use the server's default limit again.
        #[arg(long, conflicts_with = "per_minute")]
        default: bool,
    },
    /// Whether unknown OpenIntent agents (`X-Agent-ID`) are registered on first use (at T0).
    /// The default is on in development mode only.
    AgentRegistration {
        /// The tenant the setting applies to.
        tenant_id: String,
        /// Register unknown agents on first use.
        #[arg(long, conflicts_with_all = ["off", "default"], required_unless_present_any = ["off", "default"])]
        on: bool,
        /// Refuse unknown agents (403) until registered with POST /v1/agents.
        #[arg(long, conflicts_with = "default")]
        off: bool,
        /// Follow the server's default again.
        #[arg(long)]
        default: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it, alone, on stdout.
    Create {
        /// The tenant the key authenticates as (created with `tenant create`).
        #[arg(long)]
        tenant: String,
        /// A label for the key, shown in listings and the audit trail.
        #[arg(long)]
        name: String,
        /// admin, agent, approver or read; repeat for several.
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// Bind the key to this agent id: it may act only as its bound agents. Repeat for
        /// several. Keys for agents should be bound.
        #[arg(long = "agent")]
        agents: Vec<String>,
        /// The console user (email or user id) accountable for the key: its approvals count
        /// as that person's, and that person may not approve what it submits.
        #[arg(long)]
        owner: Option<String>,
    },
    /// List a tenant's API keys.
    List {
        /// The tenant whose keys to list.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke an API key by id.
    Revoke {
        /// The key's id (`key_…`, as `key list` shows it), not the key itself.
        key_id: String,
    },
}

fn parse_scope(raw: &str) -> Result<Scope, String> {
    raw.parse()
        .map_err(|_| "expected admin, agent, approver or read".to_string())
}

pub async fn tenant(global: &GlobalArgs, command: TenantCommand) -> anyhow::Result<ExitCode> {
    let may_create = matches!(command, TenantCommand::Create { .. });
    let services = open_database(global, may_create, KeySource::NotNeeded).await?;
    match command {
        TenantCommand::Create { tenant_id, name } => {
            let id = TenantId::parse(&tenant_id)?;
            let tenant = services.tenants.create(&id, name.as_deref()).await?;
            println!("{}", tenant.id);
        }
        TenantCommand::RateLimit {
            tenant_id,
            per_minute,
            default: _,
        } => {
            let id = TenantId::parse(&tenant_id)?;
            services.tenants.set_rate_limit(&id, per_minute).await?;
            match per_minute {
                Some(limit) => println!("{id}: {limit} requests per minute per key"),
                None => println!("{id}: the server's default limit"),
            }
        }
        TenantCommand::AgentRegistration {
            tenant_id, on, off, ..
        } => {
            let id = TenantId::parse(&tenant_id)?;
            let setting = (on || off).then_some(on);
            services
                .tenants
                .set_auto_register_agents(&id, setting)
                .await?;
            match setting {
                Some(true) => println!("{id}: unknown agents are registered on first use"),
                Some(false) => println!("{id}: unknown agents are refused"),
                None => println!("{id}: the server's default"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn key(global: &GlobalArgs, command: KeyCommand) -> anyhow::Result<ExitCode> {
    let services = open_database(global, false, KeySource::NotNeeded).await?;
    match command {
        KeyCommand::Create {
            tenant,
            name,
            scopes,
            agents,
            owner,
        } => {
            let tenant = TenantId::parse(&tenant)?;
            let spec = NewKey {
                name,
                scopes,
                agents,
                owner,
            };
            let created = services.keys.issue(&tenant, actors::CLI, spec).await?;
            println!("{}", created.key);
        }
        KeyCommand::List { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            let mut page = 1;
            loop {
                let request = PageRequest::parse(Some(page), Some(i64::from(MAX_PAGE_SIZE)))?;
                let keys = services.keys.list(&tenant, request).await?;
                for key in &keys.items {
                    let scopes: Vec<_> = key.scopes.iter().map(|s| s.as_str()).collect();
                    let agents = match key.agents.is_empty() {
                        true => "unbound".to_string(),
                        false => format!("agents {}", key.agents.join(",")),
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{agents}\tcreated {}\tlast used {}\t{}",
                        key.id,
                        key.name,
                        scopes.join(","),
                        key.prefix,
                        rfc3339(key.created_at),
                        key.last_used_at
                            .map(rfc3339)
                            .unwrap_or_else(|| "never".into()),
                        key.revoked_at
                            .map(|at| format!("revoked {}", rfc3339(at)))
                            .unwrap_or_else(|| "active".into()),
                    );
                }
                if page * i64::from(MAX_PAGE_SIZE) >= keys.total {
                    break;
                }
                page += 1;
            }
        }
        KeyCommand::Revoke { key_id } => {
            let key = services.keys.revoke_any_tenant(&key_id).await?;
            eprintln!("revoked {} ({})", key.id, key.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a console user; the password is read from stdin (one line), never from flags.
    Create {
        /// The tenant the user belongs to.
        #[arg(long)]
        tenant: String,
        /// The user's email (their sign-in name).
        #[arg(long)]
        email: String,
        /// admin, approver or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from stdin (required: passwords never go on a command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.parse()
        .map_err(|_| "expected admin, approver or viewer".to_string())
}

pub async fn user(global: &GlobalArgs, command: UserCommand) -> anyhow::Result<ExitCode> {
    let services = open_database(global, false, KeySource::NotNeeded).await?;
    match command {
        UserCommand::Create {
            tenant,
            email,
            role,
            password_stdin: _,
        } => {
            let tenant = TenantId::parse(&tenant)?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let user = services
                .users
                .create(&tenant, actors::CLI, &email, role, password)
                .await?;
            println!("{}", user.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
