//! RFC-0001 routes: intents, state patches, status, events, agent assignment.

use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    OpenApi,
};
use serde::Deserialize;

use super::{
    bodies::{AssignIn, EventIn, NewIntentIn, StateChangeIn, StatusIn},
    created, done, if_match, listed, ok, parse, reader,
    resources::{Assignment, AssignmentList, EventList, Intent, IntentEvent, IntentList},
    vocab, writer, Answer, Body, Created, Done, OiResult, OiTag,
};
use crate::{
    api::{schema::Word, security::TenantKey},
    error::Error,
    openintent::{
        intents::{EventQuery, LoggedEvent, NewIntent},
        patch, CoordinationStatus, Intents,
    },
    time::{parse_instant, DayBound},
};

pub struct IntentsOi(pub Intents);

#[derive(Deserialize)]
struct StatusChange {
    status: CoordinationStatus,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Assign {
    agent_id: String,
    #[serde(default = "default_role")]
    role: String,
}

fn default_role() -> String {
    "worker".into()
}

#[OpenApi(tag = "OiTag::Intents")]
impl IntentsOi {
    /// Create an intent (status `draft` unless `status: active` is sent).
    #[oai(path = "/intents", method = "post", operation_id = "oi_create_intent")]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<NewIntentIn>,
    ) -> OiResult<Created<Intent>> {
        let caller = writer(&key, req)?;
        created(
            self.0
                .create_intent(&caller, parse::<NewIntent, _>(body)?)
                .await,
        )
    }

    /// The tenant's intents, oldest first.
    #[oai(path = "/intents", method = "get", operation_id = "oi_list_intents")]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        status: Query<Option<Word<vocab::IntentStatus>>>,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
    ) -> OiResult<Answer<IntentList>> {
        let caller = reader(&key, req)?;
        let status = match status.0.as_ref().map(|s| s.value.as_str()) {
            Some(raw) => Some(CoordinationStatus::parse(raw, "status").map_err(super::fail)?),
            None => None,
        };
        let intents = self
            .0
            .list_intents(
                &caller,
                status,
                limit.0.unwrap_or(50),
                offset.0.unwrap_or(0),
            )
            .await;
        listed(intents)
    }

    #[oai(path = "/intents/:id", method = "get", operation_id = "oi_get_intent")]
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<Intent>> {
        ok(self.0.get_intent(&reader(&key, req)?, &id).await)
    }

    /// Delete an intent with its events, edges, leases and records (the audit trail keeps it).
    #[oai(
        path = "/intents/:id",
        method = "delete",
        operation_id = "oi_delete_intent"
    )]
    async fn delete(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult<Done> {
        done(self.0.delete_intent(&writer(&key, req)?, &id).await)
    }

    /// Apply state patches at the `If-Match` version, or set each top-level key of `state`.
    #[oai(
        path = "/intents/:id/state",
        method = "post",
        operation_id = "oi_patch_state"
    )]
    async fn patch_state(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Required: the intent's current `version` (`3`, `"3"` or `W/"3"`); a stale one is a 409.
        #[oai(name = "If-Match")]
        _version: Header<Option<String>>,
        body: Body<StateChangeIn>,
    ) -> OiResult<Answer<Intent>> {
        let caller = writer(&key, req)?;
        let patches = parse::<patch::StateChangeIn, _>(body)?
            .into_patches()
            .map_err(super::fail)?;
        ok(self
            .0
            .patch_state(&caller, &id, if_match(req)?, patches)
            .await)
    }

    /// The seeds' spelling of the state patch.
    #[oai(
        path = "/intents/:id/state",
        method = "patch",
        operation_id = "oi_patch_state_patch"
    )]
    async fn patch_state_patch(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Required: the intent's current `version` (`3`, `"3"` or `W/"3"`); a stale one is a 409.
        #[oai(name = "If-Match")]
        version: Header<Option<String>>,
        body: Body<StateChangeIn>,
    ) -> OiResult<Answer<Intent>> {
        self.patch_state(key, req, id, version, body).await
    }

    /// Move the intent along its lifecycle at the `If-Match` version: draft → active |
    /// abandoned; active → blocked | completed | abandoned | suspended_awaiting_input; blocked
    /// and suspended → active | abandoned.
    #[oai(
        path = "/intents/:id/status",
        method = "post",
        operation_id = "oi_set_status"
    )]
    async fn set_status(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        /// Required: the intent's current `version` (`3`, `"3"` or `W/"3"`); a stale one is a 409.
        #[oai(name = "If-Match")]
        _version: Header<Option<String>>,
        body: Body<StatusIn>,
    ) -> OiResult<Answer<Intent>> {
        let caller = writer(&key, req)?;
        let input = parse::<StatusChange, _>(body)?;
        ok(self
            .0
            .set_status(&caller, &id, if_match(req)?, input.status, input.reason)
            .await)
    }

    /// Log an event.
    #[oai(
        path = "/intents/:id/events",
        method = "post",
        operation_id = "oi_log_event"
    )]
    async fn log_event(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<EventIn>,
    ) -> OiResult<Created<IntentEvent>> {
        let caller = writer(&key, req)?;
        created(
            self.0
                .log_event(&caller, &id, parse::<LoggedEvent, _>(body)?)
                .await,
        )
    }

    /// The intent's events, oldest first.
    #[oai(
        path = "/intents/:id/events",
        method = "get",
        operation_id = "oi_list_events"
    )]
    async fn events(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        event_type: Query<Option<String>>,
        since: Query<Option<String>>,
        limit: Query<Option<i64>>,
    ) -> OiResult<Answer<EventList>> {
        let caller = reader(&key, req)?;
        let since = match since.0.as_deref() {
            Some(raw) => Some(parse_instant(raw, DayBound::Start).ok_or_else(|| {
                super::fail(Error::invalid(&["since"], "must be an ISO 8601 date-time"))
            })?),
            None => None,
        };
        let query = EventQuery {
            event_type: event_type.0,
            since,
            limit: limit.0.unwrap_or(100),
        };
        listed(self.0.list_events(&caller, &id, query).await)
    }

    /// Agents assigned to the intent.
    #[oai(
        path = "/intents/:id/agents",
        method = "get",
        operation_id = "oi_list_agents"
    )]
    async fn agents(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<AssignmentList>> {
        listed(self.0.list_agents(&reader(&key, req)?, &id).await)
    }

    /// Assign an agent.
    #[oai(
        path = "/intents/:id/agents",
        method = "post",
        operation_id = "oi_assign_agent"
    )]
    async fn assign(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<AssignIn>,
    ) -> OiResult<Answer<Assignment>> {
        let caller = writer(&key, req)?;
        let input = parse::<Assign, _>(body)?;
        ok(self
            .0
            .assign_agent(&caller, &id, &input.agent_id, &input.role)
            .await)
    }

    #[oai(
        path = "/intents/:id/agents/:agent_id",
        method = "delete",
        operation_id = "oi_unassign_agent"
    )]
    async fn unassign(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        agent_id: Path<String>,
    ) -> OiResult<Done> {
        done(
            self.0
                .unassign_agent(&writer(&key, req)?, &id, &agent_id)
                .await,
        )
    }
}
