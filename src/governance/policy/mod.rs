//! Governance policy: ordered rules that turn a would-be intent into a decision.
//!
//! A document (`policies/default.json` ships; tenants store their own with `PUT /v1/policies`):
//!
//! ```json
//! { "description": "…",
//!   "rules": [ { "name": "large-refunds",
//!                "match": { "domains": ["billing"], "types": ["billing.*"],
//!                           "tiers": ["T0", "T1"], "risks": ["high", "critical"] },
//!                "condition": "params.amount > 1000",
//!                "outcome": { "type": "require_approval", "approvers": 2, "expiresIn": "24h" } } ],
//!   "default": { "type": "require_approval", "approvers": 1 } }
//! ```
//!
//! Rules are tried in order; the first whose `match` lists all agree (an empty or absent list
//! matches anything) and whose CEL `condition` (optional) is true decides. A condition that
//! cannot be decided (say, a missing field: guard with `has(params.x)`) does not match and is
//! noted in the trace. When nothing matches, `default` decides. Outcomes: `auto_approve`,
//! `require_approval` (`approvers` distinct approvers 1–10, optional `roles`, optional
//! `expiresIn` such as `30m`, `24h`, `7d`), `block` (`reason`).
//!
//! Limits, so that no document is expensive to store, compile or decide with (the same
//! [`Policy::compile`] checks the shipped default, every `PUT` and every stored version loaded):
//! at most [`MAX_RULES`] rules and [`MAX_DOCUMENT_BYTES`] of compact JSON; each condition at
//! most 2,000 bytes and nested 24 brackets deep; all conditions together within the budget of
//! [`cost::BUDGET`] steps per decision (see [`cost`] for the steps and the refused shapes).

mod condition;
mod cost;

use serde::Deserialize;
use serde_json::{json, Value};

pub use condition::Condition;

use super::{
    catalog::{Catalog, Risk},
    trust::TrustTier,
};
use crate::error::FieldError;

/// Most rules in a document: rules are tried one by one for every intent.
pub const MAX_RULES: usize = 100;
/// Largest document, as compact JSON.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
const MAX_NAME_LEN: usize = 100;
const MAX_APPROVERS: u32 = 10;
const MAX_EXPIRY_MS: i64 = 30 * 86_400_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DocumentSpec {
    #[serde(default)]
    description: Option<String>,
    rules: Vec<RuleSpec>,
    default: OutcomeSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleSpec {
    name: String,
    #[serde(default, rename = "match")]
    matches: MatchSpec,
    #[serde(default)]
    condition: Option<String>,
    outcome: OutcomeSpec,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MatchSpec {
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    tiers: Vec<String>,
    #[serde(default)]
    risks: Vec<Risk>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum OutcomeSpec {
    AutoApprove,
    RequireApproval {
        approvers: u32,
        #[serde(default)]
        roles: Vec<String>,
        #[serde(default, rename = "expiresIn")]
        expires_in: Option<String>,
    },
    Block {
        reason: String,
    },
}

/// What a policy decides for an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AutoApprove,
    RequireApproval {
        approvers: u32,
        roles: Vec<String>,
        expires_in_ms: Option<i64>,
    },
    Block {
        reason: String,
    },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::AutoApprove => "auto_approve",
            Outcome::RequireApproval { .. } => "require_approval",
            Outcome::Block { .. } => "block",
        }
    }
}

#[derive(Debug)]
struct Rule {
    name: String,
    domains: Vec<String>,
    types: Vec<String>,
    tiers: Vec<TrustTier>,
    risks: Vec<Risk>,
    condition: Option<Condition>,
    outcome: Outcome,
}

/// A compiled policy document.
#[derive(Debug)]
pub struct Policy {
    /// 0 for the shipped default; 1, 2, … for a tenant's stored versions.
    pub version: i64,
    pub description: Option<String>,
    rules: Vec<Rule>,
    default: Outcome,
    /// The document as written.
    pub document: Value,
}

/// What one rule made of the intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    pub rule: String,
    pub matched: bool,
    pub detail: String,
}

/// A decision with the rule that made it and why.
#[derive(Debug, Clone)]
pub struct Decision {
    pub outcome: Outcome,
    /// `None` when the document's default decided.
    pub rule: Option<String>,
    pub reason: String,
    pub policy_version: i64,
    pub trace: Vec<TraceStep>,
    /// What was decided on ([`crate::governance::lifecycle::Receipt::action_digest`]); set by
    /// the submission that asked, not by the policy.
    pub action_digest: Option<String>,
}

impl Decision {
    /// The decision as stored with the intent and shown by the API.
    pub fn to_json(&self) -> Value {
        let mut decision = json!({
            "outcome": self.outcome.name(),
            "rule": self.rule,
            "reason": self.reason,
            "policyVersion": self.policy_version,
        });
        if let Some(digest) = &self.action_digest {
            decision["actionDigest"] = json!(digest);
        }
        match &self.outcome {
            Outcome::RequireApproval {
                approvers, roles, ..
            } => {
                decision["requiredApprovals"] = json!(approvers);
                decision["roles"] = json!(roles);
            }
            // The rule's own words: what the agent and the tenant are told.
            Outcome::Block { reason } => decision["blockReason"] = json!(reason),
            Outcome::AutoApprove => {}
        }
        decision
    }
}

/// The facts a policy decides on.
pub struct Facts<'a> {
    pub domain: &'a str,
    pub intent_type: &'a str,
    pub risk: Risk,
    pub tier: TrustTier,
    /// `params`, `agent`, `intent` and `time` as the condition sees them.
    pub params: &'a Value,
    pub agent: &'a Value,
    pub intent: &'a Value,
    pub time: &'a Value,
}

impl Policy {
    /// The shipped default policy (`policies/default.json`).
    pub fn shipped(catalog: &Catalog) -> Result<Policy, Vec<FieldError>> {
        let document: Value = serde_json::from_str(include_str!("../../../policies/default.json"))
            .map_err(|err| vec![FieldError::new(&[], err.to_string())])?;
        Policy::compile(document, 0, catalog)
    }

    /// Compiles a document, reporting every fault with its path (`rules.3.condition`) and the
    /// rule's name.
    pub fn compile(
        document: Value,
        version: i64,
        catalog: &Catalog,
    ) -> Result<Policy, Vec<FieldError>> {
        // Sizes first: an oversized document is refused before any condition is compiled.
        let bytes = serde_json::to_vec(&document).map_or(usize::MAX, |text| text.len());
        if bytes > MAX_DOCUMENT_BYTES {
            return Err(vec![FieldError::new(
                &[],
                format!("the document is {bytes} bytes of JSON; at most {MAX_DOCUMENT_BYTES}"),
            )]);
        }
        // The path of a shape fault (`rules.2.outcome`) lets an editor point at it.
        let spec: DocumentSpec =
            serde_path_to_error::deserialize(document.clone()).map_err(|err| {
                let path = shape_fault_path(err.path());
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                vec![FieldError::new(
                    &at,
                    format!("not a policy document: {}", err.inner()),
                )]
            })?;
        if spec.rules.len() > MAX_RULES {
            return Err(vec![FieldError::new(
                &["rules"],
                format!("{} rules; at most {MAX_RULES}", spec.rules.len()),
            )]);
        }
        let mut errors = Vec::new();
        let mut steps: u64 = 0;
        let mut rules: Vec<Rule> = Vec::new();
        for (index, rule) in spec.rules.into_iter().enumerate() {
            let at = index.to_string();
            let mut fault = |field: &str, message: String| {
                let path: Vec<&str> = if field.is_empty() {
                    vec!["rules", &at]
                } else {
                    vec!["rules", &at, field]
                };
                errors.push(FieldError::new(
                    &path,
                    format!("rule '{}': {message}", rule.name),
                ));
            };
            if rule.name.trim().is_empty() || rule.name.chars().count() > MAX_NAME_LEN {
                fault("name", format!("name must be 1-{MAX_NAME_LEN} characters"));
            }
            if rules.iter().any(|seen| seen.name == rule.name) {
                fault("name", "the name is used by an earlier rule".into());
            }
            for domain in &rule.matches.domains {
                if catalog.domain(domain).is_none() {
                    fault("match", format!("unknown domain '{domain}'"));
                }
            }
            for pattern in &rule.matches.types {
                if !type_pattern_is_known(pattern, catalog) {
                    fault(
                        "match",
                        format!(
                            "'{pattern}' names no intent type ('domain.action', 'domain.*' or '*')"
                        ),
                    );
                }
            }
            let tiers: Vec<TrustTier> = rule
                .matches
                .tiers
                .iter()
                .filter_map(|tier| match tier.parse() {
                    Ok(tier) => Some(tier),
                    Err(_) => {
                        fault("match", format!("unknown tier '{tier}'"));
                        None
                    }
                })
                .collect();
            let condition =
                rule.condition
                    .as_deref()
                    .and_then(|source| match Condition::compile(source) {
                        Ok(condition) => {
                            steps = condition.cost().saturating_add(steps);
                            if steps > cost::BUDGET {
                                fault(
                                    "condition",
                                    format!(
                                        "condition costs {} steps per decision, which brings \
                                         the document's conditions to {steps}, over the \
                                         budget of {}",
                                        condition.cost(),
                                        cost::BUDGET
                                    ),
                                );
                            }
                            Some(condition)
                        }
                        Err(why) => {
                            fault("condition", format!("condition {why}"));
                            None
                        }
                    });
            let outcome = check_outcome(rule.outcome)
                .map_err(|why| fault("outcome", why))
                .ok();
            if let Some(outcome) = outcome {
                rules.push(Rule {
                    name: rule.name,
                    domains: rule.matches.domains,
                    types: rule.matches.types,
                    tiers,
                    risks: rule.matches.risks,
                    condition,
                    outcome,
                });
            }
        }
        let default = check_outcome(spec.default)
            .map_err(|why| errors.push(FieldError::new(&["default"], why)))
            .ok();
        match default {
            Some(default) if errors.is_empty() => Ok(Policy {
                version,
                description: spec.description,
                rules,
                default,
                document,
            }),
            _ => Err(errors),
        }
    }

    /// Decides: the first rule that matches, else the default; with a trace of every rule tried.
    /// Whether any rule has a condition: without one, deciding is a few comparisons per rule,
    /// cheaper than handing the work to another thread.
    pub fn has_conditions(&self) -> bool {
        self.rules.iter().any(|rule| rule.condition.is_some())
    }

    pub fn evaluate(&self, facts: &Facts<'_>) -> Decision {
        let mut trace = Vec::new();
        for rule in &self.rules {
            match rule.explain_mismatch(facts) {
                Some(detail) => trace.push(TraceStep {
                    rule: rule.name.clone(),
                    matched: false,
                    detail,
                }),
                None => {
                    let why = match &rule.condition {
                        Some(condition) => {
                            format!("matched, and its condition `{}` holds", condition.source())
                        }
                        None => "matched".to_string(),
                    };
                    trace.push(TraceStep {
                        rule: rule.name.clone(),
                        matched: true,
                        detail: why.clone(),
                    });
                    return Decision {
                        outcome: rule.outcome.clone(),
                        rule: Some(rule.name.clone()),
                        reason: format!("rule '{}' {why}", rule.name),
                        policy_version: self.version,
                        trace,
                        action_digest: None,
                    };
                }
            }
        }
        Decision {
            outcome: self.default.clone(),
            rule: None,
            reason: "no rule matched; the policy's default applies".into(),
            policy_version: self.version,
            trace,
            action_digest: None,
        }
    }
}

impl Rule {
    /// `None` when the rule applies to these facts, else why not.
    fn explain_mismatch(&self, facts: &Facts<'_>) -> Option<String> {
        if !self.domains.is_empty() && !self.domains.iter().any(|d| d == facts.domain) {
            return Some(format!(
                "domain '{}' is not among {:?}",
                facts.domain, self.domains
            ));
        }
        if !self.types.is_empty()
            && !self
                .types
                .iter()
                .any(|p| type_matches(p, facts.intent_type))
        {
            return Some(format!(
                "type '{}' matches none of {:?}",
                facts.intent_type, self.types
            ));
        }
        if !self.tiers.is_empty() && !self.tiers.contains(&facts.tier) {
            return Some(format!("agent tier {} is not listed", facts.tier));
        }
        if !self.risks.is_empty() && !self.risks.contains(&facts.risk) {
            return Some(format!("risk '{}' is not listed", facts.risk.as_str()));
        }
        let condition = self.condition.as_ref()?;
        let inputs = condition::Inputs {
            params: facts.params,
            agent: facts.agent,
            intent: facts.intent,
            time: facts.time,
        };
        match condition.evaluate(&inputs) {
            Ok(true) => None,
            Ok(false) => Some(format!("condition `{}` is false", condition.source())),
            Err(why) => Some(format!("condition `{}` {why}", condition.source())),
        }
    }
}

/// `billing.send_invoice` (exact), `billing.*` (a domain) or `*` (anything).
fn type_matches(pattern: &str, intent_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => intent_type.starts_with(prefix),
        None => pattern == intent_type,
    }
}

fn type_pattern_is_known(pattern: &str, catalog: &Catalog) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(domain) => catalog.domain(domain).is_some(),
        None => catalog.intent_type(pattern).is_some(),
    }
}

fn check_outcome(spec: OutcomeSpec) -> Result<Outcome, String> {
    Ok(match spec {
        OutcomeSpec::AutoApprove => Outcome::AutoApprove,
        OutcomeSpec::Block { reason } => {
            if reason.trim().is_empty() || reason.chars().count() > 500 {
                return Err("a block needs a reason of 1-500 characters".into());
            }
            Outcome::Block { reason }
        }
        OutcomeSpec::RequireApproval {
            approvers,
            roles,
            expires_in,
        } => {
            if !(1..=MAX_APPROVERS).contains(&approvers) {
                return Err(format!("approvers must be 1-{MAX_APPROVERS}"));
            }
            let expires_in_ms = expires_in
                .as_deref()
                .map(|text| {
                    parse_duration_ms(text).ok_or(format!(
                        "expiresIn '{text}' must be like 30m, 24h or 7d, at most 30d"
                    ))
                })
                .transpose()?;
            Outcome::RequireApproval {
                approvers,
                roles,
                expires_in_ms,
            }
        }
    })
}

/// `30m`, `24h`, `7d` → milliseconds (1 minute to 30 days).
fn parse_duration_ms(text: &str) -> Option<i64> {
    let unit_ms = match text.chars().last()? {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let count: i64 = text[..text.len() - 1].parse().ok()?;
    let total = count.checked_mul(unit_ms)?;
    (count >= 1 && total <= MAX_EXPIRY_MS).then_some(total)
}

/// The path of a deserialization fault as field names and indexes, outermost first.
fn shape_fault_path(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
