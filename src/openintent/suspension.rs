//! RFC-0025/0026 suspension responses: an agent that needs a human's input sets its intent
//! `suspended_awaiting_input` and keeps the question in `state._suspension` (`id`,
//! `response_type`, `choices`, …, as the SDK writes it); an operator answers with
//! `POST /intents/{id}/suspend/respond`. The answer is checked against the question (the
//! suspension named must be the intent's, a `choice` or `confirm` value one of its choices),
//! written into `_suspension` (`resolution: responded`, `response`, `responded_by`,
//! `responded_at`) and the intent made `active` again — one change, one version, logged as
//! `intent.resumed`. The SDK's waiting agent reads the answer from the state.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{intents::bump, model, Caller, Intents, NewEvent};
use crate::{
    error::{Error, Result},
    openintent::records::require_text,
    store::openintent::intents as intent_rows,
    time::{now_ms, protocol_instant},
};

const SUSPENDED: &str = "suspended_awaiting_input";
const RESPONSE_TYPES: [&str; 4] = ["choice", "confirm", "text", "form"];

#[derive(Debug, Deserialize)]
pub struct SuspensionResponse {
    #[serde(default)]
    pub suspension_id: Option<String>,
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub responded_by: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// The values a question accepts, when it restricts them: its choices, or yes/no to confirm.
fn accepted_values(suspension: &Map<String, Value>) -> Result<Option<Vec<Value>>> {
    let response_type = suspension
        .get("response_type")
        .and_then(Value::as_str)
        .unwrap_or("choice");
    if !RESPONSE_TYPES.contains(&response_type) {
        return Err(Error::Conflict(format!(
            "the suspension's response_type '{response_type}' is not one of {}",
            RESPONSE_TYPES.join(", ")
        )));
    }
    let choices: Vec<Value> = suspension
        .get("choices")
        .and_then(Value::as_array)
        .map(|choices| {
            choices
                .iter()
                .filter_map(|c| c.get("value").cloned())
                .collect()
        })
        .unwrap_or_default();
    Ok(match response_type {
        "choice" | "confirm" if !choices.is_empty() => Some(choices),
        "confirm" => Some(vec![json!("yes"), json!("no")]),
        _ => None,
    })
}

impl Intents {
    pub async fn respond_to_suspension(
        &self,
        caller: &Caller,
        id: &str,
        input: SuspensionResponse,
    ) -> Result<Value> {
        let suspension_id = input
            .suspension_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::invalid(&["suspension_id"], "is required"))?;
        if let Some(by) = &input.responded_by {
            require_text(by, "responded_by", 200)?;
        }
        let responded_by = input
            .responded_by
            .unwrap_or_else(|| caller.agent_id.clone());
        let mut change = self.change(caller).await?;
        let mut row = change.intent(self.store(), id).await?;
        if row.status != SUSPENDED {
            return Err(Error::Conflict(format!(
                "the intent is not suspended awaiting input (it is {})",
                row.status
            )));
        }
        let mut state = model::parse_json(&row.state);
        let mut suspension = state
            .get("_suspension")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        match suspension.get("id").and_then(Value::as_str) {
            Some(active) if active != suspension_id => {
                return Err(Error::Conflict(format!(
                    "suspension {suspension_id} is not the intent's (it awaits {active})"
                )))
            }
            _ => {}
        }
        if suspension.get("resolution").and_then(Value::as_str) == Some("responded") {
            return Err(Error::Conflict(
                "this suspension was already answered".into(),
            ));
        }
        let accepted = accepted_values(&suspension)?;
        if let Some(accepted) = &accepted {
            if !accepted.contains(&input.value) {
                return Err(Error::invalid(
                    &["value"],
                    format!("must be one of {}", Value::Array(accepted.clone())),
                ));
            }
        }
        let matched = suspension
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|choices| {
                choices
                    .iter()
                    .find(|c| c.get("value") == Some(&input.value))
            })
            .cloned();
        let responded_at = protocol_instant(now_ms());
        suspension.insert("response".into(), input.value.clone());
        suspension.insert("responded_by".into(), Value::from(responded_by.as_str()));
        suspension.insert("responded_at".into(), Value::from(responded_at.as_str()));
        suspension.insert("resolution".into(), Value::from("responded"));
        if let Some(metadata) = input.metadata {
            suspension.insert("metadata".into(), Value::Object(metadata));
        }
        if !state.is_object() {
            state = json!({});
        }
        state["_suspension"] = Value::Object(suspension);
        row.state = state.to_string();
        row.status = "active".into();
        bump(&mut row);
        intent_rows::update(change.tx(), &row).await?;
        let mut answer = json!({
            "intent_id": id,
            "suspension_id": suspension_id,
            "resolution": "responded",
            "value": input.value,
            "responded_by": responded_by,
            "responded_at": responded_at,
            "version": row.version,
        });
        change
            .record(NewEvent::new(id, "intent.resumed", answer.clone()))
            .await?;
        change.commit().await?;
        if let Some(choice) = matched {
            answer["choice_label"] = choice.get("label").cloned().unwrap_or(json!(""));
            answer["choice_description"] = choice.get("description").cloned().unwrap_or(json!(""));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn questions_restrict_their_answers() {
        let choice = question(
            json!({"response_type": "choice", "choices": [{"value": "a"}, {"value": "b"}]}),
        );
        assert_eq!(
            accepted_values(&choice).unwrap(),
            Some(vec![json!("a"), json!("b")])
        );
        let confirm = question(json!({"response_type": "confirm"}));
        assert_eq!(
            accepted_values(&confirm).unwrap(),
            Some(vec![json!("yes"), json!("no")])
        );
        assert_eq!(
            accepted_values(&question(json!({"response_type": "text"}))).unwrap(),
            None
        );
        assert!(accepted_values(&question(json!({"response_type": "telepathy"}))).is_err());
    }
}
