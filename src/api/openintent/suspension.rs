//! RFC-0026 route: an operator's answer to an intent suspended awaiting input.

use poem::Request;
use poem_openapi::{param::Path, Object, OpenApi};

use super::{document, parse, writer, Body, DocAnswer, OiResult, OiTag};
use crate::{
    api::{
        schema::{examples, JsonValue},
        security::TenantKey,
        types::{Documented, JsonObject},
    },
    openintent::{suspension::SuspensionResponse, Intents},
};

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SuspensionResponseBody {
    /// The id of the suspension in the intent's `state._suspension`.
    suspension_id: String,
    /// The answer: one of the question's `choices` values for `choice` and `confirm`
    /// (`yes`/`no` without choices), anything for `text` and `form`.
    value: Documented<JsonValue>,
    /// Default: the calling agent.
    responded_by: Option<String>,
    metadata: Option<JsonObject>,
}

/// The answer as recorded; the intent is `active` again at `version`.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SuspensionAnswerDoc {
    intent_id: String,
    suspension_id: String,
    /// `responded`.
    resolution: String,
    value: Documented<JsonValue>,
    responded_by: String,
    responded_at: String,
    version: i64,
    /// The matching choice's label and description.
    choice_label: Option<Documented<JsonValue>>,
    choice_description: Option<Documented<JsonValue>>,
}

examples! {
    SuspensionResponseBody => {
        "suspension_id": "9b2f6c1e-5d4a-4e7b-8f3c-2a1b0c9d8e7f",
        "value": "approve",
        "responded_by": "ops-lead"
    }
    SuspensionAnswerDoc => {
        "intent_id": "oin_01HN4X7KQZ8Y1A2B3C4D5E6F7G",
        "suspension_id": "9b2f6c1e-5d4a-4e7b-8f3c-2a1b0c9d8e7f",
        "resolution": "responded",
        "value": "approve",
        "responded_by": "ops-lead",
        "responded_at": "2026-02-07T10:05:00.000+00:00",
        "version": 5,
        "choice_label": "Approve",
        "choice_description": "Send the refund"
    }
}

pub struct SuspensionOi(pub Intents);

#[OpenApi(tag = "OiTag::Intents")]
impl SuspensionOi {
    /// Answer the question of an intent suspended awaiting input: 409 unless it is suspended
    /// on this `suspension_id` and not answered yet, 400 for a value outside its choices.
    #[oai(
        path = "/intents/:id/suspend/respond",
        method = "post",
        operation_id = "oi_respond_to_suspension"
    )]
    async fn respond(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<SuspensionResponseBody>,
    ) -> OiResult<DocAnswer<SuspensionAnswerDoc>> {
        let caller = writer(&key, req)?;
        let input = parse::<SuspensionResponse, _>(body)?;
        document(self.0.respond_to_suspension(&caller, &id, input).await)
    }
}
