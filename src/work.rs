//! The unit of work of a governed change, on both faces.
//!
//! A [`UnitOfWork`] is one transaction of one tenant together with what the change must leave
//! behind: its audit record(s), the `/v1` events it causes (logged, with a webhook delivery per
//! subscribed endpoint) and the bus notifications of both faces. Committing a change that
//! appended no audit record is refused, so a write without its audit record cannot slip
//! through by accident. After the commit, [`Published::publish`] hands events to this
//! instance's live subscribers; it is `#[must_use]`, so dropping it unsent is a compile-time
//! warning. (With PostgreSQL the notifications ride in the transaction itself and arrive at
//! every instance exactly when it commits.)
//!
//! Bookkeeping writes that change nothing a tenant governs (a session's last-seen time, the
//! key-usage flush, webhook delivery attempts) use plain transactions.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

use serde_json::Value;

use crate::{
    audit::{self, AuditEvent, AuditRecord},
    bus::{BusEvent, EventBus, Face},
    error::{Error, Result},
    ids::TenantId,
    outbox,
    store::{Store, Tx},
};

/// Opens units of work: the store and the bus their events go to. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    store: Store,
    bus: Arc<dyn EventBus>,
}

impl Writer {
    pub fn new(store: Store, bus: Arc<dyn EventBus>) -> Self {
        Writer { store, bus }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// Begins a change of `tenant`.
    pub async fn begin(&self, tenant: &TenantId) -> Result<UnitOfWork> {
        Ok(UnitOfWork {
            tx: self.store.begin().await?,
            tenant: tenant.clone(),
            bus: self.bus.clone(),
            audited: false,
            live: Vec::new(),
        })
    }
}

/// A notification for PostgreSQL to deliver at commit (`pg_notify(channel, payload)`).
pub struct Notification {
    pub channel: String,
    pub payload: String,
}

/// A governed change in progress. Dereferences to its connection, so store functions run
/// inside it.
pub struct UnitOfWork {
    tx: Tx,
    tenant: TenantId,
    bus: Arc<dyn EventBus>,
    audited: bool,
    /// Events for this instance's subscribers once committed (the in-process bus only).
    live: Vec<Arc<BusEvent>>,
}

impl Deref for UnitOfWork {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for UnitOfWork {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl UnitOfWork {
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Appends to the tenant's audit chain. The head stays locked until the commit: append
    /// after the change's other statements.
    pub async fn audit(&mut self, event: AuditEvent<'_>) -> Result<AuditRecord> {
        self.audit_about(event, None).await
    }

    /// [`UnitOfWork::audit`] for a record about an OpenIntent event written in this unit:
    /// the event row is stamped with the record's sequence and hash.
    pub async fn audit_about(
        &mut self,
        event: AuditEvent<'_>,
        oi_event_id: Option<&str>,
    ) -> Result<AuditRecord> {
        let record = audit::append_about(&mut self.tx, &self.tenant, event, oi_event_id).await?;
        self.audited = true;
        Ok(record)
    }

    /// A `/v1` event (`intent.submitted`, …) about `subject`: logged, queued for the
    /// endpoints subscribed to it, and announced on the bus.
    pub async fn emit(&mut self, event: &str, subject: &str, data: &Value) -> Result<()> {
        let row = outbox::render(&self.tenant, event, data);
        let announced = || BusEvent {
            tenant_id: row.tenant_id.to_string(),
            face: Face::Governance,
            id: row.id.clone(),
            subject: subject.to_string(),
            event_type: row.event.clone(),
            actor: String::new(),
            body: row.body.clone(),
            truncated: false,
        };
        match self.announce(announced) {
            Some(note) => {
                let notification = Some((note.channel.as_str(), note.payload.as_str()));
                outbox::enqueue(&mut self.tx, &row, notification).await
            }
            None => outbox::enqueue(&mut self.tx, &row, None).await,
        }
    }

    /// The bus notification of an event the caller logs itself (the OpenIntent face's log):
    /// `Some` to send inside the transaction, or `None` when it was kept for publishing
    /// after the commit (or reaches no one: then `event` is never even built).
    pub fn announce(&mut self, event: impl FnOnce() -> BusEvent) -> Option<Notification> {
        // A stream that opens after this check and before the commit does not get the event
        // live: like any event committed as a stream connects, it is on the stream's side of
        // the boundary only for a client that resumes with `Last-Event-ID`.
        if !self.bus.carries(self.tenant.as_str()) {
            return None;
        }
        match self.bus.in_transaction() {
            Some(channel) => Some(Notification {
                channel: channel.channel.to_string(),
                payload: (channel.encode)(&event()),
            }),
            None => {
                self.live.push(Arc::new(event()));
                None
            }
        }
    }

    /// Commits, or refuses a change that recorded nothing in the audit trail.
    pub async fn commit(self) -> Result<Published> {
        if !self.audited {
            return Err(Error::Internal(anyhow::anyhow!(
                "a change of tenant {} without an audit record was rolled back",
                self.tenant
            )));
        }
        self.tx.commit().await?;
        Ok(Published {
            bus: self.bus,
            live: self.live,
        })
    }
}

/// A committed change's events, for this instance's live subscribers.
#[must_use = "committed events reach live subscribers only when published"]
pub struct Published {
    bus: Arc<dyn EventBus>,
    live: Vec<Arc<BusEvent>>,
}

impl Published {
    pub fn publish(self) {
        for event in self.live {
            self.bus.publish(event);
        }
    }
}
