//! Audit append throughput through the library, one transaction per append (as a governed
//! write does it).
//!
//! `DATABASE_URL=sqlite:///tmp/audit.db cargo run --release --example audit_bench`
//! `DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --release --example audit_bench`
//!
//! Prints appends/s for one tenant (8 concurrent writers contending for one chain) and for
//! 8 tenants in parallel (one writer each), then verifies every chain.

use std::time::{Duration, Instant};

use intendedops::{
    audit::{self, AuditEvent, AuditLog},
    auth::TenantId,
    bus::InProcessBus,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite:///tmp/audit_bench.db".into());
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let bus = std::sync::Arc::new(InProcessBus::new(16));
    let service = TenantService::new(Writer::new(store.clone(), bus));
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let mut tenants = Vec::new();
    for i in 0..WRITERS {
        let tenant = TenantId::parse(&format!("bench-{run_id}-{i}"))?;
        service.create(&tenant, None).await?;
        tenants.push(tenant);
    }
    println!("database: {}", url.split('?').next().unwrap_or(&url));
    println!(
        "one tenant, {WRITERS} writers: {:.0} appends/s",
        run(&store, &tenants[..1]).await
    );
    println!(
        "{WRITERS} tenants in parallel:  {:.0} appends/s",
        run(&store, &tenants).await
    );
    let log = AuditLog::new(store.clone());
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
    Ok(())
}
