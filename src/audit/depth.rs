//! How deeply a JSON value nests, measured without recursion.
//!
//! serde_json parses at most 127 nested arrays and objects, but nothing bounds the values the
//! process builds itself (a state patch nests its value under its path, an audit record wraps
//! its payload), and cloning, printing or dropping a `Value` recurses once per level: a deep
//! enough value overflows a thread's stack and aborts the process. Every value composed from
//! caller input is measured here, with the same unit as the parser's limit, before it is kept.

use serde_json::Value;

use crate::error::FieldError;

/// The number of arrays and objects nested at the deepest point of `value` (`1` for `{}` or
/// `[1]`, `0` for a scalar): the unit of serde_json's parse limit.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((node, level)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match node {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(members) => Box::new(members.values()),
            _ => continue,
        };
        deepest = deepest.max(level);
        pending.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

/// The finding (for a 400) when `value` nests deeper than `limit`, naming `field`.
pub fn check(value: &Value, limit: usize, field: &[&str]) -> Result<(), FieldError> {
    match depth(value) {
        found if found > limit => Err(FieldError::new(
            field,
            format!("nests {found} levels deep; at most {limit} are allowed"),
        )),
        _ => Ok(()),
    }
}

/// `levels` arrays or objects nested in one another: `{"a":{"a":…{}}}` (a test helper for
/// every limit that relies on [`depth`]).
#[cfg(test)]
pub fn nested(levels: usize) -> Value {
    let mut value = serde_json::json!({});
    for _ in 1..levels {
        value = serde_json::json!({ "a": value });
    }
    value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn depth_counts_containers_like_the_parser() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!([1, {"a": [[]]}, {}])), 4);
        assert_eq!(depth(&nested(64)), 64);
        // serde_json reads 127 levels and refuses the 128th.
        let parsed: Value = serde_json::from_str(&nested(127).to_string()).unwrap();
        assert_eq!(depth(&parsed), 127);
        assert!(serde_json::from_str::<Value>(&nested(128).to_string()).is_err());
    }

    #[test]
    fn check_names_the_field_and_the_limit() {
        assert!(check(&nested(3), 3, &["state"]).is_ok());
        let error = check(&nested(4), 3, &["state"]).unwrap_err();
        assert_eq!(error.path, vec!["state"]);
        assert!(error.message.contains("at most 3"));
    }
}
