//! Parsing an intent submission: the request body becomes a [`Submission`] or a list of
//! every failing field, each with its path into the body (`["params", "amount"]`).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::catalog::{Catalog, IntentType};
use crate::{
    canonical,
    error::{Error, FieldError},
};

const KNOWN_FIELDS: [&str; 7] = [
    "type",
    "domain",
    "agentId",
    "params",
    "description",
    "justification",
    "idempotencyKey",
];
const MAX_TEXT_LEN: usize = 10_000;
const MAX_KEY_LEN: usize = 255;

/// A valid submission: its type exists in its domain and its params satisfy the type's schema.
#[derive(Debug, Clone)]
pub struct Submission {
    pub intent_type: Arc<IntentType>,
    pub agent_id: String,
    pub params: Value,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Submission {
    pub fn parse(body: &Value, catalog: &Catalog) -> Result<Submission, Error> {
        let Some(object) = body.as_object() else {
            return Err(Error::Validation(vec![FieldError::new(
                &[],
                "request body must be a JSON object",
            )]));
        };
        let mut errors = Vec::new();
        for key in object
            .keys()
            .filter(|key| !KNOWN_FIELDS.contains(&key.as_str()))
        {
            errors.push(FieldError::new(&[key], "is not a known field"));
        }
        let type_name = required_text(object, "type", "Intent type", &mut errors);
        let domain = required_text(object, "domain", "Domain", &mut errors);
        let agent_id = required_text(object, "agentId", "Agent ID", &mut errors);
        let description = optional_text(object, "description", MAX_TEXT_LEN, &mut errors);
        let justification = optional_text(object, "justification", MAX_TEXT_LEN, &mut errors);
        let idempotency_key = optional_text(object, "idempotencyKey", MAX_KEY_LEN, &mut errors);
        let params = match object.get("params") {
            None | Some(Value::Null) => json!({}),
            Some(params @ Value::Object(_)) => params.clone(),
            Some(_) => {
                errors.push(FieldError::new(&["params"], "must be an object"));
                json!({})
            }
        };
        let intent_type = match (type_name, domain) {
            (Some(type_name), Some(domain)) => {
                resolve_type(catalog, &type_name, &domain, &mut errors)
            }
            _ => None,
        };
        if let Some(intent_type) = &intent_type {
            if object.get("params").is_none_or(Value::is_object) {
                errors.extend(intent_type.validate_params(&params));
            }
        }
        match (intent_type, agent_id) {
            (Some(intent_type), Some(agent_id)) if errors.is_empty() => Ok(Submission {
                intent_type,
                agent_id,
                params,
                description,
                justification,
                idempotency_key,
            }),
            _ => Err(Error::Validation(errors)),
        }
    }

    /// SHA-256 of the canonical request: equal for the same submission however it was
    /// formatted, so an idempotent replay can be told from a different request.
    pub fn request_hash(&self) -> String {
        let canonical_request = json!({
            "type": self.intent_type.name,
            "domain": self.intent_type.domain,
            "agentId": self.agent_id,
            "params": self.params,
            "description": self.description,
            "justification": self.justification,
        });
        canonical::sha256_hex(canonical::to_canonical(&canonical_request).as_bytes())
    }
}

fn resolve_type(
    catalog: &Catalog,
    type_name: &str,
    domain: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Arc<IntentType>> {
    if catalog.domain(domain).is_none() {
        errors.push(FieldError::new(
            &["domain"],
            format!("unknown domain '{domain}'"),
        ));
        return None;
    }
    if !type_name.starts_with(&format!("{domain}.")) {
        errors.push(FieldError::new(
            &["type"],
            format!("must be an intent type of domain '{domain}' ('{domain}.…')"),
        ));
        return None;
    }
    let found = catalog.intent_type(type_name).cloned();
    if found.is_none() {
        errors.push(FieldError::new(
            &["type"],
            format!("unknown intent type '{type_name}'"),
        ));
    }
    found
}

fn required_text(
    object: &Map<String, Value>,
    field: &str,
    label: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(&[field], format!("{label} is required")));
            None
        }
        Some(Value::String(text)) if text.trim().is_empty() => {
            errors.push(FieldError::new(&[field], format!("{label} is required")));
            None
        }
        Some(Value::String(text)) if text.chars().count() > MAX_KEY_LEN => {
            errors.push(FieldError::new(
                &[field],
                format!("must be at most {MAX_KEY_LEN} characters"),
            ));
            None
        }
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new(&[field], "must be a string"));
            None
        }
    }
}

fn optional_text(
    object: &Map<String, Value>,
    field: &str,
    max_len: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() > max_len => {
            errors.push(FieldError::new(
                &[field],
                format!("must be at most {max_len} characters"),
            ));
            None
        }
        Some(Value::String(text)) if text.is_empty() => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new(&[field], "must be a string"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::builtin().expect("the shipped catalog loads")
    }

    fn paths(err: Error) -> Vec<String> {
        match err {
            Error::Validation(errors) => errors.into_iter().map(|e| e.path.join(".")).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_seeds_missing_fields_example() {
        let err = Submission::parse(&json!({"domain": "billing"}), &catalog()).unwrap_err();
        match err {
            Error::Validation(errors) => {
                assert_eq!(
                    errors[0],
                    FieldError::new(&["type"], "Intent type is required")
                );
                assert_eq!(
                    errors[1],
                    FieldError::new(&["agentId"], "Agent ID is required")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_failing_field_is_listed() {
        let body = json!({
            "type": "billing.send_invoice", "domain": "billing", "agentId": 7,
            "params": {"amount": -5}, "extra": true, "description": 1
        });
        let mut found = paths(Submission::parse(&body, &catalog()).unwrap_err());
        found.sort();
        assert_eq!(
            found,
            [
                "agentId",
                "description",
                "extra",
                "params.amount",
                "params.customerId"
            ]
        );
    }

    #[test]
    fn type_must_belong_to_the_domain() {
        let body = json!({"type": "sales.create_lead", "domain": "billing", "agentId": "a"});
        assert_eq!(
            paths(Submission::parse(&body, &catalog()).unwrap_err()),
            ["type"]
        );
        let body = json!({"type": "billing.nope", "domain": "billing", "agentId": "a"});
        assert_eq!(
            paths(Submission::parse(&body, &catalog()).unwrap_err()),
            ["type"]
        );
        let body = json!({"type": "x.y", "domain": "x", "agentId": "a"});
        assert_eq!(
            paths(Submission::parse(&body, &catalog()).unwrap_err()),
            ["domain"]
        );
    }

    #[test]
    fn request_hash_ignores_formatting_but_not_content() {
        let catalog = catalog();
        let a = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "a",
                       "params": {"customerId": "c", "amount": 10}});
        let b = json!({"agentId": "a", "params": {"amount": 10.0, "customerId": "c"},
                       "domain": "billing", "type": "billing.send_invoice", "idempotencyKey": "k"});
        let c = json!({"type": "billing.send_invoice", "domain": "billing", "agentId": "a",
                       "params": {"customerId": "c", "amount": 11}});
        let hash = |v: &Value| Submission::parse(v, &catalog).unwrap().request_hash();
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
    }
}
