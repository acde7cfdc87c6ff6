//! The domain catalog: `domains/<domain>.json`, one file per domain, each listing its intent
//! types with a description, value category, risk level and a JSON Schema (draft 2020-12)
//! for `params`. Loaded and compiled once at start-up: a broken file stops the service with
//! a message naming the file and the problem, and no request ever compiles a schema.

use std::{collections::HashMap, path::Path, sync::Arc};

use serde::Deserialize;
use serde_json::Value;

use crate::error::FieldError;

/// The catalog shipped in the binary (the repository's `domains/` at build time).
const BUILTIN: [(&str, &str); 7] = [
    ("billing.json", include_str!("../../domains/billing.json")),
    ("support.json", include_str!("../../domains/support.json")),
    ("sales.json", include_str!("../../domains/sales.json")),
    (
        "compliance.json",
        include_str!("../../domains/compliance.json"),
    ),
    ("vendors.json", include_str!("../../domains/vendors.json")),
    (
        "contracts.json",
        include_str!("../../domains/contracts.json"),
    ),
    ("identity.json", include_str!("../../domains/identity.json")),
];

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueCategory {
    Efficiency,
    Revenue,
    RiskMitigation,
    CostSavings,
}

impl ValueCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueCategory::Efficiency => "efficiency",
            ValueCategory::Revenue => "revenue",
            ValueCategory::RiskMitigation => "risk_mitigation",
            ValueCategory::CostSavings => "cost_savings",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DomainFile {
    domain: String,
    description: String,
    agent_package: Option<String>,
    intent_types: Vec<IntentTypeFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IntentTypeFile {
    #[serde(rename = "type")]
    name: String,
    description: String,
    value_category: Option<ValueCategory>,
    risk: Risk,
    risk_rationale: String,
    params_schema: Value,
}

/// One intent type with its compiled params validator.
pub struct IntentType {
    pub name: String,
    pub domain: String,
    pub description: String,
    pub value_category: Option<ValueCategory>,
    pub risk: Risk,
    pub risk_rationale: String,
    pub params_schema: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for IntentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentType")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl IntentType {
    /// Every field of `params` that violates the type's schema, with paths starting at
    /// `params`; a field breaking several rules is reported once, with the first.
    pub fn validate_params(&self, params: &Value) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let found = self.validator.iter_errors(params).map(|error| {
            let mut path = vec!["params".to_string()];
            path.extend(
                error
                    .instance_path()
                    .into_iter()
                    .map(|segment| match segment {
                        jsonschema::paths::LocationSegment::Property(name) => name.into_owned(),
                        jsonschema::paths::LocationSegment::Index(index) => index.to_string(),
                    }),
            );
            // Point at the offending member itself, not at the object holding it.
            match error.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    path.push(property.as_str().unwrap_or_default().to_string());
                    FieldError {
                        path,
                        message: "is required".into(),
                    }
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    path.push(unexpected.join(","));
                    FieldError {
                        path,
                        message: "is not a known parameter of this intent type".into(),
                    }
                }
                _ => FieldError {
                    path,
                    message: error.to_string(),
                },
            }
        });
        for error in found {
            if !errors.iter().any(|seen| seen.path == error.path) {
                errors.push(error);
            }
        }
        errors
    }
}

pub struct Domain {
    pub name: String,
    pub description: String,
    pub agent_package: Option<String>,
    pub intent_types: Vec<Arc<IntentType>>,
}

/// Why the catalog could not be loaded: the file and what is wrong in it.
#[derive(Debug, thiserror::Error)]
#[error("domain catalog file {file}: {problem}")]
pub struct CatalogError {
    pub file: String,
    pub problem: String,
}

pub struct Catalog {
    domains: Vec<Domain>,
    by_type: HashMap<String, Arc<IntentType>>,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_sources(
            BUILTIN
                .iter()
                .map(|(file, text)| (file.to_string(), text.to_string())),
        )
    }

    /// Every `*.json` file of `dir` (an operator's own catalog).
    pub fn load_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let unreadable = |problem: String| CatalogError {
            file: dir.display().to_string(),
            problem,
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|err| unreadable(err.to_string()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        let mut sources = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|err| CatalogError {
                file: path.display().to_string(),
                problem: err.to_string(),
            })?;
            sources.push((path.display().to_string(), text));
        }
        if sources.is_empty() {
            return Err(unreadable("no *.json domain files".into()));
        }
        Catalog::from_sources(sources)
    }

    fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog {
            domains: Vec::new(),
            by_type: HashMap::new(),
        };
        for (file, text) in sources {
            let fail = |problem: String| CatalogError {
                file: file.clone(),
                problem,
            };
            let parsed: DomainFile =
                serde_json::from_str(&text).map_err(|err| fail(err.to_string()))?;
            if catalog.domain(&parsed.domain).is_some() {
                return Err(fail(format!("domain '{}' is defined twice", parsed.domain)));
            }
            let mut domain = Domain {
                name: parsed.domain.clone(),
                description: parsed.description,
                agent_package: parsed.agent_package,
                intent_types: Vec::new(),
            };
            for entry in parsed.intent_types {
                let prefix = format!("{}.", parsed.domain);
                if !entry.name.starts_with(&prefix) || entry.name.len() == prefix.len() {
                    return Err(fail(format!(
                        "intent type '{}' must start with '{prefix}'",
                        entry.name
                    )));
                }
                if catalog.by_type.contains_key(&entry.name) {
                    return Err(fail(format!(
                        "intent type '{}' is defined twice",
                        entry.name
                    )));
                }
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&entry.params_schema)
                    .map_err(|err| {
                        fail(format!(
                            "paramsSchema of '{}' is not a valid schema: {err}",
                            entry.name
                        ))
                    })?;
                let intent_type = Arc::new(IntentType {
                    name: entry.name.clone(),
                    domain: parsed.domain.clone(),
                    description: entry.description,
                    value_category: entry.value_category,
                    risk: entry.risk,
                    risk_rationale: entry.risk_rationale,
                    params_schema: entry.params_schema,
                    validator,
                });
                catalog.by_type.insert(entry.name, intent_type.clone());
                domain.intent_types.push(intent_type);
            }
            catalog.domains.push(domain);
        }
        Ok(catalog)
    }

    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|domain| domain.name == name)
    }

    pub fn intent_type(&self, name: &str) -> Option<&Arc<IntentType>> {
        self.by_type.get(name)
    }
}
