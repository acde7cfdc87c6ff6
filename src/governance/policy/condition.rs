//! Policy conditions: CEL expressions (through `cel-interpreter`) over `params`, `agent`,
//! `intent` and `time`.
//!
//! CEL has no loops or recursion, so evaluation is bounded by the size of the expression and of
//! its inputs. Two defences make hostile expressions harmless: a length and nesting-depth limit
//! checked before parsing (the parser recurses per nesting level, and a stack overflow cannot
//! be caught), and `catch_unwind` around parsing and evaluation (the parser panics on some
//! malformed input instead of returning an error). Those caught panics are kept out of the
//! log: an operator reading `panicked at … entered unreachable code` would think the server
//! crashed, when a caller only sent a bad expression and got a 400.
//!
//! Loops are the exception: comprehension macros nest into exponential work, so the parsed tree
//! is priced by [`super::cost`] (and some shapes refused) before a condition is accepted.

use std::{
    cell::Cell,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Once,
};

use cel_interpreter::{Context, Value as CelValue};
use cel_parser::{ast::IdedExpr, Parser};
use serde_json::Value;

use super::cost;

/// Longest accepted expression, in bytes.
pub const MAX_LENGTH: usize = 2_000;
/// Deepest accepted nesting of brackets.
pub const MAX_DEPTH: usize = 24;

/// A compiled condition: the parsed tree, within the cost budget.
pub struct Condition {
    source: String,
    expression: IdedExpr,
    cost: u64,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// The inputs a condition sees.
pub struct Inputs<'a> {
    pub params: &'a Value,
    pub agent: &'a Value,
    pub intent: &'a Value,
    pub time: &'a Value,
}

impl Condition {
    /// Compiles `source`, or says why it cannot be.
    pub fn compile(source: &str) -> Result<Condition, String> {
        if source.trim().is_empty() {
            return Err("is empty".into());
        }
        if source.len() > MAX_LENGTH {
            return Err(format!("is longer than {MAX_LENGTH} bytes"));
        }
        if nesting_depth(source) > MAX_DEPTH {
            return Err(format!("nests brackets deeper than {MAX_DEPTH} levels"));
        }
        let expression = match catch_quietly(|| Parser::default().parse(source)) {
            Ok(Ok(expression)) => expression,
            Ok(Err(err)) => return Err(format!("is not valid CEL: {err}")),
            Err(_) => return Err("is not valid CEL".into()),
        };
        let cost = cost::estimate(&expression)?;
        Ok(Condition {
            source: source.to_string(),
            expression,
            cost,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its estimated steps per evaluation (see [`super::cost`]).
    pub fn cost(&self) -> u64 {
        self.cost
    }

    /// Evaluates the condition: `Ok(true/false)`, or why it could not be decided (a missing
    /// field, a type mismatch, a non-boolean result).
    pub fn evaluate(&self, inputs: &Inputs<'_>) -> Result<bool, String> {
        let outcome = catch_quietly(|| {
            let mut context = Context::default();
            for (name, value) in [
                ("params", inputs.params),
                ("agent", inputs.agent),
                ("intent", inputs.intent),
                ("time", inputs.time),
            ] {
                context
                    .add_variable(name, value.clone())
                    .map_err(|err| format!("cannot bind {name}: {err}"))?;
            }
            match CelValue::resolve(&self.expression, &context) {
                Ok(CelValue::Bool(result)) => Ok(result),
                Ok(other) => Err(format!("evaluated to {other:?}, not a boolean")),
                Err(err) => Err(format!("failed: {err}")),
            }
        });
        outcome.unwrap_or_else(|_| Err("failed unexpectedly".into()))
    }
}

thread_local! {
    /// Set while this thread runs CEL code whose panics [`catch_quietly`] catches.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err` without the process-wide panic hook printing it; any
/// other panic, anywhere else, is reported as before.
fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                tracing::debug!(panic = %info, "the CEL library panicked; the expression is refused");
            } else {
                report(info);
            }
        }));
    });
    let was_catching = CATCHING.with(|catching| catching.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|catching| catching.set(was_catching));
    outcome
}

/// The deepest nesting of `(`, `[` and `{` outside string literals.
fn nesting_depth(source: &str) -> usize {
    let (mut depth, mut deepest, mut quote, mut escaped) = (0usize, 0usize, None, false);
    for c in source.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(source: &str, params: Value) -> Result<bool, String> {
        let empty = json!({});
        let inputs = Inputs {
            params: &params,
            agent: &json!({"trustTier": "T1"}),
            intent: &empty,
            time: &json!({"hour": 3}),
        };
        Condition::compile(source)?.evaluate(&inputs)
    }

    #[test]
    fn conditions_see_params_agent_and_time() {
        assert_eq!(
            run("params.amount > 1000", json!({"amount": 5000.5})),
            Ok(true)
        );
        assert_eq!(
            run("params.amount > 1000.0", json!({"amount": 50})),
            Ok(false)
        );
        assert_eq!(
            run("agent.trustTier == 'T1' && time.hour < 6", json!({})),
            Ok(true)
        );
        assert_eq!(
            run("has(params.amount) && params.amount > 1", json!({})),
            Ok(false)
        );
    }

    #[test]
    fn undecidable_conditions_say_why() {
        assert!(run("params.amount > 1", json!({}))
            .unwrap_err()
            .contains("amount"));
        assert!(run("params.amount", json!({"amount": 1}))
            .unwrap_err()
            .contains("not a boolean"));
    }

    #[test]
    fn hostile_expressions_are_refused_not_crashing() {
        for bad in [
            String::new(),
            "params.amount >".to_string(),
            "((((".to_string(),
            format!("{}1{}", "(".repeat(5000), ")".repeat(5000)),
            "x".repeat(MAX_LENGTH + 1),
            "[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]".to_string(),
        ] {
            assert!(Condition::compile(&bad).is_err(), "{bad:.40}");
        }
        // Brackets inside strings do not count.
        assert!(Condition::compile(&format!("'{}' == 'x'", "(".repeat(100))).is_ok());
    }
}
