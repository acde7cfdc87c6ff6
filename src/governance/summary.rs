//! Short, human-readable renderings of intent params for lists: an approver triaging the queue
//! reads `amount: 5000, currency: "USD", customerId: "cus_123"` without opening the intent.

use serde_json::Value;

/// Longest summary, in characters (an ellipsis marks the cut).
pub const MAX_CHARS: usize = 160;
/// Longest rendering of one string value.
const MAX_STRING_CHARS: usize = 40;

/// The top-level members of `params` on one line: scalars as written (long strings cut),
/// objects and arrays by size only. Nothing is walked below the top level.
pub fn one_line(params: &Value) -> String {
    let line = match params {
        Value::Object(members) => members
            .iter()
            .map(|(key, value)| format!("{key}: {}", scalar(value)))
            .collect::<Vec<_>>()
            .join(", "),
        other => scalar(other),
    };
    cut(&line, MAX_CHARS)
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => format!("\"{}\"", cut(text, MAX_STRING_CHARS)),
        Value::Array(items) => format!("[{}]", counted(items.len(), "item")),
        Value::Object(members) => format!("{{{}}}", counted(members.len(), "field")),
        other => other.to_string(),
    }
}

fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn params_fit_on_one_short_line() {
        assert_eq!(
            one_line(&json!({"amount": 5000, "currency": "USD", "lines": [1, 2], "to": {"a": 1}})),
            r#"amount: 5000, currency: "USD", lines: [2 items], to: {1 field}"#
        );
        assert_eq!(one_line(&json!({})), "");
        let text = "x".repeat(100);
        let long = one_line(&json!({"a": text, "b": text, "c": text, "d": text}));
        assert_eq!(long.chars().count(), MAX_CHARS + 1, "{long}");
        assert!(long.ends_with('…'));
        assert!(long.starts_with(&format!("a: \"{}…\", b:", "x".repeat(MAX_STRING_CHARS))));
        // Multi-byte text is cut on character boundaries.
        assert_eq!(cut("ééé", 2), "éé…");
    }
}
