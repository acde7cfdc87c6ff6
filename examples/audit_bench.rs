//! Audit append throughput through the library, one transaction per append (as a governed
//! write does it).
//!
//! `DATABASE_URL=sqlite:///tmp/audit.db cargo run --release --example audit_bench`
//! `DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --release --example audit_bench`
//!
//! Prints appends/s for one tenant (8 concurrent writers contending for one chain) and for
//! 8 tenants in parallel (one writer each), then verifies every chain. `CHECKPOINTS=on` runs
//! the checkpoint sealer beside the writers (every 10,000 records, swept each second, as
//! the server does by default); `off` (the default) leaves it out, so the two runs compare the write path.
//!
//! `PROOF_RECORDS=n` (e.g. 1000000) then writes a chain of n records in bulk, seals it, and
//! times the first seal and the inclusion and consistency proofs over it.

use std::time::{Duration, Instant};

use std::sync::Arc;

use intendedops::{
    audit::{
        self,
        checkpoints::{Checkpoints, SealPolicy},
        AuditEvent, AuditLog,
    },
    auth::TenantId,
    bus::InProcessBus,
    canonical::{HashTemplate, RecordContent, GENESIS_HASH},
    signing::Signer,
    store::Store,
    tenants::TenantService,
    work::Writer,
};
use serde_json::json;

const WRITERS: usize = 8;
const RUN: Duration = Duration::from_secs(5);

async fn append_until(store: Store, tenant: TenantId, deadline: Instant) -> u64 {
    let mut appended = 0;
    while Instant::now() < deadline {
        let mut tx = store.begin().await.expect("begin");
        let event = AuditEvent {
            event_type: "bench.appended",
            actor: "bench",
            subject: "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
            data: json!({"type": "billing.send_invoice", "params": {"customerId": "cust_123", "amount": 99.99}}),
        };
        audit::append(&mut tx, &tenant, event)
            .await
            .expect("append");
        tx.commit().await.expect("commit");
        appended += 1;
    }
    appended
}

async fn run(store: &Store, tenants: &[TenantId]) -> f64 {
    let deadline = Instant::now() + RUN;
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            tokio::spawn(append_until(
                store.clone(),
                tenants[i % tenants.len()].clone(),
                deadline,
            ))
        })
        .collect();
    let mut total = 0;
    for writer in writers {
        total += writer.await.expect("writer");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Writes a chain of `records` records for `tenant` in bulk (multi-row inserts, hashes as
/// `audit::append` computes them).
async fn bulk_chain(store: &Store, tenant: &TenantId, records: i64) -> anyhow::Result<()> {
    const ROWS: i64 = 500;
    let mut previous = GENESIS_HASH.to_string();
    let created_at = intendedops::time::now_ms();
    let created_text = intendedops::time::rfc3339(created_at);
    let mut sequence = 1;
    while sequence <= records {
        let mut tx = store.begin().await?;
        for _ in 0..100 {
            let batch: Vec<i64> = (sequence..(sequence + ROWS).min(records + 1)).collect();
            if batch.is_empty() {
                break;
            }
            let mut sql = String::from(
                "INSERT INTO audit_records (tenant_id, sequence, event_type, actor, subject, data, created_at, previous_hash, hash) VALUES ",
            );
            let mut rows = Vec::new();
            for (i, &n) in batch.iter().enumerate() {
                let data = format!("{{\"n\":{n}}}");
                let template = HashTemplate::new(&RecordContent {
                    event_type: "bench.bulk",
                    actor: "bench",
                    subject: "subject",
                    data: &data,
                    created_at: &created_text,
                });
                let hash = template.hash(&previous, n);
                if i > 0 {
                    sql.push_str(", ");
                }
                let p = 3 + 4 * i;
                sql.push_str(&format!(
                    "($1, ${p}, 'bench.bulk', 'bench', 'subject', ${}, $2, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3
                ));
                rows.push((n, data, previous.clone(), hash.clone()));
                previous = hash;
            }
            let mut query = sqlx::query(&sql).bind(tenant).bind(created_at);
            for (n, data, previous, hash) in rows {
                query = query.bind(n).bind(data).bind(previous).bind(hash);
            }
            query.execute(&mut *tx).await?;
            sequence = batch.last().unwrap() + 1;
        }
        tx.commit().await?;
    }
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO audit_heads (tenant_id, sequence, previous_hash, hash) VALUES ($1, $2, '', $3)",
    )
    .bind(tenant)
    .bind(records)
    .bind(&previous)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn proofs_at_scale(
    store: &Store,
    service: &TenantService,
    checkpoints: &Checkpoints,
    records: i64,
) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&format!(
        "proofs-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ))?;
    service.create(&tenant, None).await?;
    // tenant.created is record 1: start the bulk chain over an empty one.
    let mut tx = store.begin().await?;
    for table in ["audit_records", "audit_heads"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
            .bind(&tenant)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let started = Instant::now();
    bulk_chain(store, &tenant, records).await?;
    println!(
        "wrote {records} records in bulk in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut size = 0;
    while size < records {
        size = checkpoints
            .seal(&tenant)
            .await?
            .map_or(0, |checkpoint| checkpoint.tree_size);
    }
    println!(
        "first seal of {records} records: {:.2}s ({:.0} records/s)",
        started.elapsed().as_secs_f64(),
        records as f64 / started.elapsed().as_secs_f64()
    );
    let samples = 200;
    let started = Instant::now();
    for i in 0..samples {
        let sequence = 1 + (i * 7919 * 104_729) % records;
        let proof = checkpoints.inclusion(&tenant, sequence, None).await?;
        assert_eq!(proof.tree_size, records);
    }
    println!(
        "inclusion proof at {records} records: {:.2} ms each ({samples} samples)",
        started.elapsed().as_secs_f64() * 1000.0 / samples as f64
    );
    let started = Instant::now();
    for i in 1..=samples {
        let from = 1 + (i * 104_729) % (records - 1);
        checkpoints.consistency(&tenant, from, None).await?;
    }
    println!(
        "consistency proof at {records} records: {:.2} ms each ({samples} samples)",
        started.elapsed().as_secs_f64() * 1000.0 / samples as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite:///tmp/audit_bench.db".into());
    let sealing = std::env::var("CHECKPOINTS").is_ok_and(|value| value == "on");
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let bus = Arc::new(InProcessBus::new(16));
    let writer = Writer::new(store.clone(), bus);
    let service = TenantService::new(writer.clone());
    let checkpoints = Arc::new(Checkpoints::new(
        writer,
        Arc::new(Signer::generate()),
        SealPolicy {
            every: None,
            ..SealPolicy::default()
        },
    ));
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let mut tenants = Vec::new();
    for i in 0..WRITERS {
        let tenant = TenantId::parse(&format!("bench-{run_id}-{i}"))?;
        service.create(&tenant, None).await?;
        tenants.push(tenant);
    }
    let sealer = sealing.then(|| {
        let checkpoints = checkpoints.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                checkpoints.seal_due().await.expect("seal");
            }
        })
    });
    println!("database: {}", url.split('?').next().unwrap_or(&url));
    println!("checkpoints: {}", if sealing { "on" } else { "off" });
    println!(
        "one tenant, {WRITERS} writers: {:.0} appends/s",
        run(&store, &tenants[..1]).await
    );
    println!(
        "{WRITERS} tenants in parallel:  {:.0} appends/s",
        run(&store, &tenants).await
    );
    if let Some(sealer) = sealer {
        sealer.abort();
    }
    let log = AuditLog::new(store.clone(), checkpoints.clone());
    let started = Instant::now();
    let mut records = 0;
    for tenant in &tenants {
        let result = log.verify(tenant).await?;
        assert!(result.valid, "chain of {tenant} is invalid: {result:?}");
        records += result.event_count;
    }
    println!(
        "verified {records} records in {:.2}s ({:.0} records/s)",
        started.elapsed().as_secs_f64(),
        records as f64 / started.elapsed().as_secs_f64()
    );
    if let Some(records) = std::env::var("PROOF_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        proofs_at_scale(&store, &service, &checkpoints, records).await?;
    }
    Ok(())
}
