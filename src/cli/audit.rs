//! `intendedops audit …`: verifying, exporting and proving audit trails. `verify-file`,
//! `verify-proof` and `signing-key` need no database: a customer checks an export or a proof
//! with the published keys and nothing else of ours.

use std::{
    io::{BufRead, Write},
    process::ExitCode,
};

use anyhow::Context;
use clap::Subcommand;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::open_database;
use crate::{
    audit::{
        checkpoints::{Checkpoint, ConsistencyProof, InclusionProof, KeySet, RootCheck},
        merkle::Edge,
        AuditRecord, ChainCheck, Verification,
    },
    auth::TenantId,
    config::GlobalArgs,
    error::Error,
    secrets::KeySource,
    signing::Signer,
};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify a tenant's chain in the database; exit status 1 when it is broken.
    Verify {
        /// The tenant whose chain to verify.
        #[arg(long)]
        tenant: String,
    },
    /// Print a tenant's chain as JSON Lines (one record per line, oldest first).
    Export {
        /// The tenant whose chain to export.
        #[arg(long)]
        tenant: String,
    },
    /// Verify an exported chain offline (a file, or `-` for stdin); exit status 1 when broken.
    VerifyFile {
        /// Path of a JSON Lines export, or `-`.
        path: String,
        /// A signed checkpoint (`GET /v1/audit/checkpoints`) the export must reproduce the root
        /// of: the export's first `treeSize` records are exactly what was signed.
        #[arg(long, requires = "keys")]
        checkpoint: Option<String>,
        /// The published keys (`GET /.well-known/intendedops/checkpoint-keys`).
        #[arg(long)]
        keys: Option<String>,
    },
    /// Verify an inclusion or consistency proof offline; exit status 1 when it fails.
    VerifyProof {
        /// The proof as `GET /v1/audit/records/{sequence}/proof` or
        /// `GET /v1/audit/checkpoints/consistency` answered it.
        path: String,
        /// The published keys (`GET /.well-known/intendedops/checkpoint-keys`).
        #[arg(long)]
        keys: String,
        /// A checkpoint you kept: the proof must be against it (for a consistency proof, it
        /// is the earlier tree). Default: the checkpoint the proof carries.
        #[arg(long)]
        checkpoint: Option<String>,
    },
    /// List the keys that sign audit checkpoints, as the well-known URL publishes them.
    Keys,
    /// Print a new checkpoint signing key (base64) for INTENDEDOPS_CHECKPOINT_SIGNING_KEY.
    SigningKey,
}

impl AuditCommand {
    /// Whether the command runs without a database.
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            AuditCommand::VerifyFile { .. }
                | AuditCommand::VerifyProof { .. }
                | AuditCommand::SigningKey
        )
    }
}

/// The commands that read the database.
pub async fn run(global: &GlobalArgs, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let services = open_database(global, false, KeySource::NotNeeded).await?;
    match command {
        AuditCommand::Verify { tenant } => {
            report(&services.audit.verify(&TenantId::parse(&tenant)?).await?)
        }
        AuditCommand::Export { tenant } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            services
                .audit
                .walk(&TenantId::parse(&tenant)?, None, |record| {
                    serde_json::to_writer(&mut out, &record)
                        .map_err(anyhow::Error::from)
                        .and_then(|()| Ok(out.write_all(b"\n")?))
                        .map_err(Error::Internal)
                })
                .await?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Keys => {
            let keys = services.audit.checkpoints().keys().await?;
            println!("{}", serde_json::to_string_pretty(&keys)?);
            Ok(ExitCode::SUCCESS)
        }
        offline => self::offline(offline),
    }
}

/// The commands that need no database.
pub fn offline(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::VerifyFile {
            path,
            checkpoint,
            keys,
        } => {
            let against = match (checkpoint, keys) {
                (Some(checkpoint), Some(keys)) => Some(signed_checkpoint(&checkpoint, &keys)?),
                _ => None,
            };
            report(&verify_export(open_export(&path)?, against)?)
        }
        AuditCommand::VerifyProof {
            path,
            keys,
            checkpoint,
        } => verify_proof(&path, &keys, checkpoint.as_deref()),
        AuditCommand::SigningKey => {
            let signer = Signer::generate();
            eprintln!(
                "key id {} (keep the key secret; the id is public)",
                signer.key_id()
            );
            println!("{}", signer.seed_base64().as_str());
            Ok(ExitCode::SUCCESS)
        }
        online => anyhow::bail!("`audit {online:?}` needs the database"),
    }
}

/// A JSON file as the API answered it (`{"data": …}`) or the bare value.
fn read_json<T: DeserializeOwned>(path: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let mut value: Value =
        serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
    if let Some(data) = value.get_mut("data") {
        value = data.take();
    }
    serde_json::from_value(value).with_context(|| format!("{path} is not what was expected"))
}

/// The checkpoint in `path`, refused unless one of the keys in `keys` signed it.
fn signed_checkpoint(path: &str, keys: &str) -> anyhow::Result<Checkpoint> {
    let checkpoint: Checkpoint = read_json(path)?;
    let keys: KeySet = read_json(keys)?;
    anyhow::ensure!(
        checkpoint.signed_by(&keys.keys),
        "the checkpoint in {path} is not signed by any published key"
    );
    Ok(checkpoint)
}

/// An export to read: a file, or stdin for `-`.
fn open_export(path: &str) -> anyhow::Result<Box<dyn BufRead>> {
    Ok(if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
        Box::new(std::io::BufReader::new(file))
    })
}

/// Prints a verification as JSON; the exit status says whether the chain holds.
fn report(verification: &Verification) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string(verification)?);
    Ok(if verification.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Verifies a JSON Lines export, and against a signed checkpoint when given one; a line that
/// is not an audit record fails the command. An export of a pruned chain starts after the
/// pruned records: its links are checked from its first record on (a checkpoint needs the
/// records from the first).
fn verify_export(
    reader: impl BufRead,
    against: Option<Checkpoint>,
) -> anyhow::Result<Verification> {
    let mut check: Option<ChainCheck> = None;
    let mut root_check = against.map(|checkpoint| RootCheck::new(Edge::default(), checkpoint));
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: AuditRecord = serde_json::from_str(&line)
            .with_context(|| format!("line {} is not an audit record", index + 1))?;
        let check = check.get_or_insert_with(|| match record.sequence {
            first if first > 1 => ChainCheck::resuming(first - 1, record.previous_hash.clone()),
            _ => ChainCheck::default(),
        });
        check.feed(&record);
        if let Some(root_check) = root_check.as_mut() {
            root_check.feed(&record);
        }
    }
    Ok(check
        .unwrap_or_default()
        .finish(None)
        .with_checkpoint(root_check.map(RootCheck::finish)))
}

/// `audit verify-proof`: an inclusion proof (it carries a `record`) or a consistency proof.
fn verify_proof(path: &str, keys: &str, kept: Option<&str>) -> anyhow::Result<ExitCode> {
    let keys: KeySet = read_json(keys)?;
    let kept: Option<Checkpoint> = kept.map(read_json).transpose()?;
    let proof: Value = read_json(path)?;
    let (kind, outcome) = if proof.get("record").is_some() {
        let proof: InclusionProof =
            serde_json::from_value(proof).context("not an inclusion proof")?;
        ("inclusion", proof.verify(kept.as_ref(), &keys.keys))
    } else {
        let proof: ConsistencyProof =
            serde_json::from_value(proof).context("not a consistency proof")?;
        ("consistency", proof.verify(kept.as_ref(), &keys.keys))
    };
    let failure = outcome.as_ref().err().map(ToString::to_string);
    println!(
        "{}",
        json!({ "proof": kind, "valid": outcome.is_ok(), "failure": failure })
    );
    Ok(if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
