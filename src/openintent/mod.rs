//! The OpenIntent Coordination Protocol core (RFCs 0001–0011, 0020, 0026): coordination
//! intents with versioned state, their event log, graphs, leases, portfolios and per-intent
//! records. The `/api/v1` face (`api::openintent`) translates HTTP to these calls.
//!
//! Every mutation is one [`Change`] over a [`UnitOfWork`]: the row changes, one `oi_events`
//! row per protocol event and one audit record each, committed together. Subscribers never
//! see an event that was rolled back: the in-process bus is told after the commit, and
//! PostgreSQL delivers the notifications a transaction sent only when it commits.

pub mod access;
pub mod approvals;
pub mod channels;
pub mod coordinators;
pub mod documents;
pub mod event_triggers;
pub mod event_types;
pub mod federation;
pub mod governance;
pub mod graph;
pub mod identities;
pub mod intents;
pub mod leases;
pub mod lifecycle;
pub mod memory;
pub mod model;
pub mod patch;
pub mod plans;
pub mod portfolios;
pub mod records;
pub mod status;
pub mod streams;
pub mod subscriptions;
pub mod suspension;
pub mod tasks;
pub mod tools;
pub mod triggers;
pub mod verifiable;

use std::sync::Arc;

use serde_json::{json, Value};

use crate::{
    audit::AuditEvent,
    auth::{identity, Principal, TenantId},
    bus::{BusEvent, EventBus, Face},
    error::{Error, Result},
    governance::approvals::ApprovalService,
    ids,
    outbound::Outbound,
    secrets::SecretBox,
    signing::Signer,
    store,
    store::{
        openintent::{event_log, event_log::EventRow, intents as intent_rows, intents::IntentRow},
        Store,
    },
    time::now_ms,
    webhooks::WebhookService,
    work::{UnitOfWork, Writer},
};

pub use status::CoordinationStatus;

/// Id prefixes of the face's resources.
pub mod prefixes {
    pub const INTENT: &str = "oin";
    pub const EVENT: &str = "oev";
    pub const LEASE: &str = "lse";
    pub const PORTFOLIO: &str = "pfo";
    pub const MEMBERSHIP: &str = "pfm";
    pub const TASK: &str = "tsk";
    pub const PLAN: &str = "pln";
    pub const MEMORY: &str = "mem";
    pub const TRIGGER: &str = "trg";
    pub const COORDINATOR: &str = "clease";
    pub const DECISION_RECORD: &str = "drec";
    pub const CHANNEL: &str = "chan";
    pub const MESSAGE: &str = "msg";
}

/// The caller of a protocol operation: tenant and the verified acting agent (`X-Agent-ID`
/// as admitted by the agent registry; else the key's bound agent, else the key id).
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub agent_id: String,
    /// An admin-scope key: passes closed ACLs (RFC-0011).
    pub admin: bool,
    /// The key behind the call: a bound key may name no other agent in a body either.
    pub principal: Arc<Principal>,
    /// RFC-0020: the trace id of the request's W3C `traceparent`, carried onto every event the
    /// call records that names no trace of its own.
    pub trace_id: Option<String>,
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), or `None`
/// for a malformed one or the all-zero id (which the recommendation says to ignore).
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let well_formed = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(span, 16)
        && hex(flags, 2)
        && (version != "00" || parts.next().is_none());
    (well_formed && trace.bytes().any(|b| b != b'0')).then(|| trace.to_string())
}

/// RFC-0020: the `traceparent` of an outbound call continuing trace `trace_id` (32 hex), with a
/// span id derived from `span_seed` (the same seed gives the same span: a retry is the same
/// call).
pub fn traceparent(trace_id: &str, span_seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(span_seed.as_bytes());
    let span: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("00-{trace_id}-{span}-01")
}

/// Optimistic-concurrency token from `If-Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(pub i64);

/// What every protocol service works through: the writer of units of work and the webhook
/// endpoints of RFC-0006 subscriptions, with the checks they all make (the caller's access
/// to an intent, who a record is attributed to).
pub struct Context {
    writer: Writer,
    /// Endpoints of RFC-0006 subscriptions with a `webhook_url`.
    webhooks: Arc<WebhookService>,
    /// The one approval queue, which RFC-0013 requests and escalations join.
    approvals: Arc<ApprovalService>,
    /// What RFC-0014 credentials are sealed with, and the client their calls go through.
    secrets: Arc<SecretBox>,
    outbound: Arc<Outbound>,
    /// The server key that signs checkpoints (RFC-0019, as the audit trail's).
    signer: Arc<Signer>,
}

/// Declares the per-RFC services, each a cheap handle on the shared [`Context`].
macro_rules! services {
    ($($(#[$doc:meta])* $name:ident,)*) => {$(
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(pub(crate) Arc<Context>);

        impl std::ops::Deref for $name {
            type Target = Context;

            fn deref(&self) -> &Context {
                &self.0
            }
        }
    )*};
}

services! {
    /// RFC-0001: intents, state, status, the event log, assignments ([`intents`]).
    Intents,
    /// RFC-0002: graphs and dependencies ([`graph`]).
    Graphs,
    /// RFC-0003: scope leases ([`leases`]).
    Leases,
    /// RFC-0007: portfolios ([`portfolios`]).
    Portfolios,
    /// RFC-0011: access control ([`access`]).
    Access,
    /// RFC-0004, 0005, 0009, 0010: per-intent records ([`records`]).
    Records,
    /// RFC-0006: subscriptions and live streams ([`subscriptions`], [`streams`]).
    Subscriptions,
    /// RFC-0012: tasks ([`tasks`]).
    Tasks,
    /// RFC-0012: plans ([`plans`]).
    Plans,
    /// RFC-0015: agent memory ([`memory`]).
    Memory,
    /// RFC-0016: agent lifecycle and health ([`lifecycle`]).
    Lifecycle,
    /// RFC-0017: triggers ([`triggers`]).
    Triggers,
    /// RFC-0022: federation, disabled ([`federation`]).
    Federation,
    /// RFC-0013: approval requests and escalations in the approval queue ([`approvals`]).
    Approvals,
    /// RFC-0013: coordinator leases and decision records ([`coordinators`]).
    Coordinators,
    /// RFC-0014: vaults, credentials, tool grants and the tool proxy ([`tools`]).
    Tools,
    /// RFC-0021: channels and messages between agents ([`channels`]).
    Channels,
    /// RFC-0018: agent identities ([`identities`]).
    Identities,
    /// RFC-0019: verifiable event logs ([`verifiable`]).
    Verifiable,
}

/// The protocol core: one service per RFC over one shared context, cheap to clone.
#[derive(Clone)]
pub struct OpenIntent {
    pub intents: Intents,
    pub graphs: Graphs,
    pub leases: Leases,
    pub portfolios: Portfolios,
    pub access: Access,
    pub records: Records,
    pub subscriptions: Subscriptions,
    pub tasks: Tasks,
    pub plans: Plans,
    pub memory: Memory,
    pub lifecycle: Lifecycle,
    pub triggers: Triggers,
    pub federation: Federation,
    pub approvals: Approvals,
    pub coordinators: Coordinators,
    pub tools: Tools,
    pub channels: Channels,
    pub identities: Identities,
    pub verifiable: Verifiable,
}

impl OpenIntent {
    pub fn new(
        writer: Writer,
        webhooks: Arc<WebhookService>,
        approvals: Arc<ApprovalService>,
        (secrets, outbound, signer): (Arc<SecretBox>, Arc<Outbound>, Arc<Signer>),
    ) -> Self {
        let context = Arc::new(Context {
            writer,
            webhooks,
            approvals,
            secrets,
            outbound,
            signer,
        });
        OpenIntent {
            intents: Intents(context.clone()),
            graphs: Graphs(context.clone()),
            leases: Leases(context.clone()),
            portfolios: Portfolios(context.clone()),
            access: Access(context.clone()),
            records: Records(context.clone()),
            subscriptions: Subscriptions(context.clone()),
            tasks: Tasks(context.clone()),
            plans: Plans(context.clone()),
            memory: Memory(context.clone()),
            lifecycle: Lifecycle(context.clone()),
            triggers: Triggers(context.clone()),
            federation: Federation(context.clone()),
            approvals: Approvals(context.clone()),
            coordinators: Coordinators(context.clone()),
            tools: Tools(context.clone()),
            channels: Channels(context.clone()),
            identities: Identities(context.clone()),
            verifiable: Verifiable(context),
        }
    }
}

impl Context {
    pub fn store(&self) -> &Store {
        self.writer.store()
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        self.writer.bus()
    }

    fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    fn signer(&self) -> &Signer {
        &self.signer
    }

    async fn change<'a>(&'a self, caller: &'a Caller) -> Result<Change<'a>> {
        Change::new(&self.writer, caller).await
    }

    /// The agent a body names as the actor of a record (`created_by`, `requested_by`, …), or
    /// the caller's agent when it names none. A bound key may name only its own agents (a
    /// refusal is audited).
    async fn attributed(&self, caller: &Caller, named: Option<String>) -> Result<String> {
        match named {
            Some(named) if named != caller.agent_id => {
                identity::check_acting_as(
                    self.writer.store(),
                    &caller.principal,
                    &named,
                    "attribute",
                )
                .await?;
                Ok(named)
            }
            _ => Ok(caller.agent_id.clone()),
        }
    }

    /// An intent of the caller's tenant that the caller may read, or 404 / 403.
    async fn intent(&self, caller: &Caller, id: &str) -> Result<IntentRow> {
        let intent = intent_rows::get(self.writer.store(), &caller.tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "intent" })?;
        access::check_access(self.writer.store(), caller, &intent, false).await?;
        Ok(intent)
    }
}

/// The bus form of an event; `body` is its published form.
fn bus_event(row: &EventRow, event: &model::Event) -> BusEvent {
    BusEvent {
        tenant_id: row.tenant_id.to_string(),
        face: Face::Protocol,
        id: row.id.clone(),
        subject: row.intent_id.clone(),
        event_type: row.event_type.clone(),
        actor: row.actor.clone(),
        body: event.to_json(),
        truncated: false,
    }
}

/// One protocol event to record.
pub struct NewEvent<'a> {
    pub intent_id: &'a str,
    pub event_type: &'a str,
    pub payload: Value,
    /// RFC-0020 tracing.
    pub trace_id: Option<String>,
    pub parent_event_id: Option<String>,
}

impl<'a> NewEvent<'a> {
    pub fn new(intent_id: &'a str, event_type: &'a str, payload: Value) -> Self {
        NewEvent {
            intent_id,
            event_type,
            payload,
            trace_id: None,
            parent_event_id: None,
        }
    }
}

/// A mutation in progress: its unit of work and who makes it.
pub(crate) struct Change<'a> {
    work: UnitOfWork,
    caller: &'a Caller,
    /// For what must be written after this change rolled back (a governance violation).
    writer: Writer,
}

impl<'a> Change<'a> {
    async fn new(writer: &Writer, caller: &'a Caller) -> Result<Change<'a>> {
        Ok(Change {
            work: writer.begin(&caller.tenant).await?,
            caller,
            writer: writer.clone(),
        })
    }
}

impl Change<'_> {
    fn tx(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.work
    }

    fn tenant(&self) -> &TenantId {
        &self.caller.tenant
    }

    /// An intent of the caller's tenant that the caller may change (its ACL and its
    /// governance policy let it), read for update; or 404 / 403.
    async fn intent(&mut self, store: &Store, id: &str) -> Result<IntentRow> {
        let tenant = self.caller.tenant.clone();
        let intent = intent_rows::get_for_update(&mut self.work, store, &tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "intent" })?;
        access::check_access(store, self.caller, &intent, true).await?;
        self.check_governed_write(&intent).await?;
        Ok(intent)
    }

    /// Appends the event to the intent's log and to the tenant's audit trail.
    async fn record(&mut self, event: NewEvent<'_>) -> Result<model::Event> {
        let (row, mut view) = self.event_row(event);
        // With a database-carried bus the event row and its notification are one statement,
        // sent before the audit append: the tenant's chain head stays locked for less time.
        match self.work.announce(|| bus_event(&row, &view)) {
            Some(note) => {
                event_log::insert_notifying(&mut self.work, &row, &note.channel, &note.payload)
                    .await?
            }
            None => event_log::insert(&mut self.work, &row).await?,
        }
        self.queue_for_webhooks(&row.intent_id, &row.event_type, &view)
            .await?;
        let data = json!({ "eventId": row.id, "payload": view.payload });
        // The record stamps the event with its sequence and hash (RFC-0019).
        let record = self
            .audit_about(
                &row.actor,
                &row.event_type,
                &row.intent_id,
                data,
                Some(&row.id),
            )
            .await?;
        view.sequence = Some(record.sequence);
        view.event_hash = Some(verifiable::event_hash(&record.hash));
        Ok(view)
    }

    /// Records a protocol event in the log, or, for event types the OpenIntent SDK does not
    /// know (it refuses to list an intent's events if one is among them), only announces it:
    /// audit record and live streams, no log row.
    async fn announce(&mut self, event: NewEvent<'_>) -> Result<()> {
        if event_types::sdk_lists(event.event_type) {
            self.record(event).await?;
            return Ok(());
        }
        self.stream_only(event).await
    }

    /// Sends an event to live streams, webhooks and the audit trail without a log row (what
    /// would flood the intent's log: the messages of a channel that is not audited).
    async fn stream_only(&mut self, event: NewEvent<'_>) -> Result<()> {
        let (row, view) = self.event_row(event);
        self.queue_for_webhooks(&row.intent_id, &row.event_type, &view)
            .await?;
        let data = json!({ "eventId": row.id, "payload": view.payload });
        self.audit(&row.event_type, &row.intent_id, data).await?;
        if let Some(note) = self.work.announce(|| bus_event(&row, &view)) {
            store::notify(&mut self.work, &note.channel, &note.payload).await?;
        }
        Ok(())
    }

    /// The stored form of an event and the event itself (the payload is serialized once,
    /// never parsed back).
    fn event_row(&self, event: NewEvent<'_>) -> (EventRow, model::Event) {
        let row = EventRow {
            tenant_id: self.tenant().clone(),
            id: ids::new_id(prefixes::EVENT),
            intent_id: event.intent_id.to_string(),
            event_type: event.event_type.to_string(),
            actor: self.caller.agent_id.clone(),
            payload: event.payload.to_string(),
            trace_id: event.trace_id.or_else(|| self.caller.trace_id.clone()),
            parent_event_id: event.parent_event_id,
            created_at: now_ms(),
            audit_sequence: None,
            event_hash: None,
            previous_event_hash: None,
        };
        let view = model::Event::with_payload(&row, event.payload);
        (row, view)
    }

    /// An audit record for a change that is not an intent event (portfolios, subscriptions).
    async fn audit(&mut self, event_type: &str, subject: &str, data: Value) -> Result<()> {
        let actor = self.caller.agent_id.clone();
        self.audit_as(&actor, event_type, subject, data).await
    }

    async fn audit_as(
        &mut self,
        actor: &str,
        event_type: &str,
        subject: &str,
        data: Value,
    ) -> Result<()> {
        self.audit_about(actor, event_type, subject, data, None)
            .await
            .map(|_| ())
    }

    /// The audit record of a change, about the logged event `event_id` when there is one.
    async fn audit_about(
        &mut self,
        actor: &str,
        event_type: &str,
        subject: &str,
        data: Value,
        event_id: Option<&str>,
    ) -> Result<crate::audit::AuditRecord> {
        let event = AuditEvent {
            event_type: &format!("openintent.{event_type}"),
            actor,
            subject,
            data,
        };
        self.work.audit_about(event, event_id).await
    }

    /// Commits; then hands the events to the in-process bus (a database-carried bus has
    /// them already, delivered by the commit itself).
    async fn commit(self) -> Result<()> {
        self.work.commit().await?.publish();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::trace_id_of;

    #[test]
    fn traceparent_yields_its_trace_id() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id_of(header).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "not a traceparent",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad}");
        }
    }
}
