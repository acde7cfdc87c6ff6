//! Canonical JSON and the record hash, specified exactly so anyone can recompute it.
//!
//! Canonical JSON of a value:
//! - objects: members sorted by key, compared as UTF-8 byte strings (= Unicode code point
//!   order), written `{"k":v,...}` with no whitespace;
//! - arrays: `[v,...]` in order, no whitespace;
//! - strings: JSON string escaping of `"` `\` and control characters (`\n`, `\r`, `\t`, `\b`,
//!   `\f`, else `\u00XX`, lowercase hex); everything else as raw UTF-8 (no `\u` escapes);
//! - numbers: integral values in plain decimal (`50000.0` is written `50000`); other numbers
//!   in the shortest form that reads back as the same IEEE-754 double (as `JSON.stringify`);
//! - `true`, `false`, `null`.
//!
//! The record hash is lowercase hex SHA-256 (UTF-8 bytes) of the canonical JSON of the object
//! `{actor, createdAt, data, eventType, previousHash, sequence, subject}` — every field of an
//! audit record except `hash` itself, exactly as `/v1/audit` and `audit export` show them
//! (`createdAt` as the RFC 3339 string with milliseconds, `sequence` as an integer).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `previousHash` of each chain's first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends the canonical JSON of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (index, (key, member)) in members.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_string(text, out),
        Value::Number(number) => write_number(number, out),
        // serde_json prints booleans and null canonically already.
        other => out.push_str(&other.to_string()),
    }
}

/// The canonical JSON of `value` as a new string.
pub fn to_canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// Largest magnitude below which JavaScript prints integral doubles without an exponent.
const PLAIN_INTEGER_LIMIT: f64 = 1e21;

fn write_number(number: &serde_json::Number, out: &mut String) {
    match number.as_f64() {
        Some(float)
            if !number.is_i64()
                && !number.is_u64()
                && float.fract() == 0.0
                && float.abs() < PLAIN_INTEGER_LIMIT =>
        {
            out.push_str(&format!("{float:.0}"));
        }
        _ => out.push_str(&number.to_string()),
    }
}

fn write_string(text: &str, out: &mut String) {
    // serde_json's string escaping is exactly the one specified above.
    out.push_str(&Value::String(text.to_owned()).to_string());
}

/// The fields a record hash covers that are known before the chain head is read.
pub struct RecordContent<'a> {
    pub event_type: &'a str,
    pub actor: &'a str,
    pub subject: &'a str,
    /// The canonical JSON of the record's data, as stored: a record is hashed around this
    /// text, never re-serialized from a parse of it.
    pub data: &'a str,
    pub created_at: &'a str,
}

/// A record's canonical JSON with the two chain-dependent members left open: the text is
/// `before_previous + previousHash + before_sequence + sequence + after_sequence` (members
/// in sorted order; a hash is 64 hex digits and needs no escaping). Built once, completed
/// with the chain head either here ([`HashTemplate::hash`]) or by the database in the same
/// statement that advances the head, so the head stays locked for one round trip only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashTemplate {
    pub before_previous: String,
    pub before_sequence: String,
    pub after_sequence: String,
}

impl HashTemplate {
    pub fn new(content: &RecordContent<'_>) -> Self {
        let mut before_previous = String::with_capacity(256);
        before_previous.push_str("{\"actor\":");
        write_string(content.actor, &mut before_previous);
        before_previous.push_str(",\"createdAt\":");
        write_string(content.created_at, &mut before_previous);
        before_previous.push_str(",\"data\":");
        before_previous.push_str(content.data);
        before_previous.push_str(",\"eventType\":");
        write_string(content.event_type, &mut before_previous);
        before_previous.push_str(",\"previousHash\":\"");
        let mut after_sequence = String::from(",\"subject\":");
        write_string(content.subject, &mut after_sequence);
        after_sequence.push('}');
        HashTemplate {
            before_previous,
            before_sequence: "\",\"sequence\":".to_string(),
            after_sequence,
        }
    }

    /// The record hash once the chain position is known.
    pub fn hash(&self, previous_hash: &str, sequence: i64) -> String {
        let text = format!(
            "{}{previous_hash}{}{sequence}{}",
            self.before_previous, self.before_sequence, self.after_sequence
        );
        sha256_hex(text.as_bytes())
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_are_sorted_recursively_without_whitespace() {
        let value = json!({"b": [1, {"z": null, "a": true}], "a": "x\ny\"é", "é": 1.5, "B": -0.25, "c": 50000.0});
        assert_eq!(
            to_canonical(&value),
            r#"{"B":-0.25,"a":"x\ny\"é","b":[1,{"a":true,"z":null}],"c":50000,"é":1.5}"#
        );
    }

    #[test]
    fn record_hash_is_sha256_of_the_canonical_record() {
        let data = json!({"name": "ci", "scopes": ["admin"]});
        let template = HashTemplate::new(&RecordContent {
            event_type: "key.created",
            actor: "cli",
            subject: "key_01",
            data: &to_canonical(&data),
            created_at: "2024-01-15T10:30:00.000Z",
        });
        let whole = json!({
            "sequence": 1, "eventType": "key.created", "actor": "cli", "subject": "key_01",
            "data": data, "createdAt": "2024-01-15T10:30:00.000Z", "previousHash": GENESIS_HASH,
        });
        let expected = hex(&Sha256::digest(to_canonical(&whole).as_bytes()));
        assert_eq!(template.hash(GENESIS_HASH, 1), expected);
        assert_eq!(expected.len(), 64);
    }
}
