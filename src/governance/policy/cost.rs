//! The evaluation cost of a condition, estimated on the parsed tree before it is ever run, in
//! the spirit of cel-go's cost estimator but simpler, because two shapes are refused outright.
//!
//! Without macros a CEL expression evaluates each node once. Comprehension macros (`all`,
//! `exists`, `exists_one`, `map`, `filter`) are the only loops, and they compound: k nested
//! `[0,…,9].all(…)` cost 10^k, chained `map`s over a macro's own output double values per
//! step, and a body that consults an input list (`x in params.items`) costs that list's size
//! per element. So:
//!
//! - **no macro inside another**, neither in its body nor in the range it iterates;
//! - **a macro's body sees only its own variable** and literals (compare with inputs outside).
//!
//! What remains is priced in steps: one per node evaluated; a macro's body counts once per
//! element of its range, which is the length of a list or map literal, or
//! [`INPUT_ITEMS`] for any other range (every list in `params` is bounded by the catalog's
//! schemas, whose largest `maxItems` is 10,000); `map` and `filter` also pay the size of their
//! range at every step (the interpreter copies the list they accumulate, so they are quadratic).
//! (`matches` is not offered: the interpreter is built without regular expressions.)
//! A document's conditions together may cost at most [`BUDGET`] steps per decision.

use cel_parser::ast::{ComprehensionExpr, EntryExpr, Expr, IdedEntryExpr, IdedExpr};

/// Steps a whole document's conditions may cost for one decision.
pub const BUDGET: u64 = 1_000_000;
/// Elements assumed for a macro over anything but a literal.
pub const INPUT_ITEMS: u64 = 10_000;

/// Where a node sits relative to the condition's one level of loops.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Outside,
    /// The range a macro iterates: evaluated once, but no place for another macro.
    Range,
    /// A macro's body, which sees only that macro's variables.
    Body(&'a ComprehensionExpr),
}

/// The steps `expr` costs, or why it is refused. Walks with an explicit stack: the tree is as
/// deep as the caller wrote it.
pub fn estimate(expr: &IdedExpr) -> Result<u64, String> {
    let mut steps: u64 = 0;
    let mut pending: Vec<(&IdedExpr, u64, Scope)> = vec![(expr, 1, Scope::Outside)];
    while let Some((node, weight, scope)) = pending.pop() {
        steps = steps.saturating_add(weight);
        let children: Vec<&IdedExpr> = match &node.expr {
            Expr::Comprehension(loop_) => {
                if !matches!(scope, Scope::Outside) {
                    return Err(
                        "nests a macro (all, exists, exists_one, map, filter) inside \
                                another; nested macros multiply the work, so at most one level \
                                is allowed"
                            .into(),
                    );
                }
                let elements = range_size(loop_);
                let body = Scope::Body(loop_);
                pending.extend([
                    (loop_.iter_range.as_ref(), 1, Scope::Range),
                    (loop_.accu_init.as_ref(), 1, body),
                    (loop_.result.as_ref(), 1, body),
                    (loop_.loop_cond.as_ref(), elements, body),
                    (loop_.loop_step.as_ref(), elements, body),
                ]);
                continue;
            }
            Expr::Ident(name) => {
                if let Scope::Body(loop_) = scope {
                    // `map` and `filter` accumulate a list, and the interpreter copies it at
                    // every step: each use costs as much as the list may grow.
                    if *name == loop_.accu_var && matches!(loop_.accu_init.expr, Expr::List(_)) {
                        steps = steps.saturating_add(weight.saturating_mul(range_size(loop_)));
                    }
                    let own = [Some(&loop_.iter_var), loop_.iter_var2.as_ref()]
                        .into_iter()
                        .flatten()
                        .chain([&loop_.accu_var]);
                    if !own.into_iter().any(|var| var == name) {
                        return Err(format!(
                            "uses '{name}' inside a macro's body; a body sees only its own \
                             variable and literals (compare with inputs outside the macro)"
                        ));
                    }
                }
                Vec::new()
            }
            Expr::Call(call) => call
                .target
                .as_deref()
                .into_iter()
                .chain(&call.args)
                .collect(),
            Expr::List(list) => list.elements.iter().collect(),
            Expr::Map(map) => entries(&map.entries),
            Expr::Struct(object) => entries(&object.entries),
            Expr::Select(select) => vec![select.operand.as_ref()],
            Expr::Literal(_) | Expr::Unspecified => Vec::new(),
        };
        pending.extend(children.into_iter().map(|child| (child, weight, scope)));
    }
    Ok(steps)
}

/// The elements a macro iterates: a literal's length, else the assumed size of an input.
fn range_size(loop_: &ComprehensionExpr) -> u64 {
    match &loop_.iter_range.expr {
        Expr::List(list) => list.elements.len() as u64,
        Expr::Map(map) => map.entries.len() as u64,
        _ => INPUT_ITEMS,
    }
}

fn entries(entries: &[IdedEntryExpr]) -> Vec<&IdedExpr> {
    entries
        .iter()
        .flat_map(|entry| match &entry.expr {
            EntryExpr::StructField(field) => vec![&field.value],
            EntryExpr::MapEntry(pair) => vec![&pair.key, &pair.value],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use cel_parser::Parser;

    use super::*;

    fn cost(source: &str) -> Result<u64, String> {
        estimate(&Parser::default().parse(source).expect("parses"))
    }

    #[test]
    fn plain_expressions_cost_their_nodes() {
        // `>`, `params.amount`, `params`, `1000`.
        assert_eq!(cost("params.amount > 1000"), Ok(4));
        let steps = cost("has(params.x) && {'a': [1, 2]}.a[0] == 1").unwrap();
        assert!((5..20).contains(&steps), "{steps}");
    }

    #[test]
    fn a_macro_costs_its_body_per_element_of_its_range() {
        let literal = cost("[1, 2, 3].all(x, x > 0)").unwrap();
        assert!((3 * 3..100).contains(&literal), "{literal}");
        let input = cost("params.lines.all(x, x > 0)").unwrap();
        assert!((INPUT_ITEMS * 3..BUDGET).contains(&input), "{input}");
        // Over an input, a large body is more than a document may spend.
        let clauses = vec!["x.id != 'a'"; 30].join(" && ");
        assert!(cost(&format!("params.lines.all(x, {clauses})")).unwrap() > BUDGET);
        // `map` and `filter` copy their growing result at every step.
        let all = cost("params.lines.all(x, x > 0)").unwrap();
        let filter = cost("params.lines.filter(x, x > 0).size() > 0").unwrap();
        assert!(
            filter > INPUT_ITEMS * INPUT_ITEMS && all < BUDGET,
            "{filter}"
        );
        assert!(cost("[1, 2, 3].map(x, x * 2)[0] == 2").unwrap() < 100);
    }

    #[test]
    fn nested_macros_are_refused_wherever_they_hide() {
        for source in [
            // The review's CPU bomb, two levels deep.
            "[0,1,2].all(a, [0,1,2].all(b, a + b >= 0))".to_string(),
            // In the range a loop iterates: chained maps grow values exponentially.
            "[[0]].map(x, x + x).map(y, y + y).size() > 0".to_string(),
            // In a map literal, a list literal or a call inside the body.
            "params.a.all(x, {'k': [x].exists(y, y == 1)}.k)".to_string(),
            "[1].exists(x, size([[2].filter(y, y == 1)]) > 0)".to_string(),
        ] {
            let why = cost(&source).unwrap_err();
            assert!(why.contains("inside another"), "{source}: {why}");
        }
    }

    #[test]
    fn bodies_see_only_their_own_variable() {
        for (source, reason) in [
            ("params.a.exists(x, x in params.b)", "uses 'params'"),
            ("params.a.all(x, x < agent.trustScore)", "uses 'agent'"),
        ] {
            let why = cost(source).unwrap_err();
            assert!(why.contains(reason), "{source}: {why}");
        }
        // Its own variable, the two-variable form and the accumulator are fine.
        assert!(cost("params.a.exists(x, x.id == 'a')").is_ok());
        assert!(cost("{'a': 1}.all(k, k != 'b')").is_ok());
    }
}
