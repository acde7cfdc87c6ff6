//! The webhook body and its signature.
//!
//! Consumers verify with the seed's recipe, `HMAC(secret, JSON.stringify(req.body))`: they
//! re-serialize the parsed body. So the body is written exactly as JavaScript's
//! `JSON.stringify` would write it back: compact, object members in JavaScript's property order
//! (array-index keys ascending first, then the others in insertion order), numbers in
//! JavaScript's `Number#toString` form (`100`, not `100.0`; `1e+21`; `1e-7`), and integers beyond
//! 2^53 as the double JavaScript reads them as. Strings are escaped as both languages do.

use hmac::{Hmac, Mac};
use serde_json::{Map, Number, Value};
use sha2::Sha256;

use crate::{
    ids::TenantId,
    time::{rfc3339, Millis},
};

/// Lowercase hex HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The body of a webhook: `{"id","timestamp","tenantId","event","data"}`, in the seed's member
/// order.
pub fn envelope(
    id: &str,
    created_at: Millis,
    tenant: &TenantId,
    event: &str,
    data: &Value,
) -> String {
    format!(
        "{{\"id\":{},\"timestamp\":{},\"tenantId\":{},\"event\":{},\"data\":{}}}",
        Value::from(id),
        Value::from(rfc3339(created_at)),
        Value::from(tenant.as_str()),
        Value::from(event),
        to_js_json(data),
    )
}

/// `value` as `JSON.stringify(JSON.parse(text))` would print it.
pub fn to_js_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&js_number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => write_object(out, members),
    }
}

/// serde_json escapes exactly the characters JSON.stringify escapes, the same way.
fn write_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

fn write_object(out: &mut String, members: &Map<String, Value>) {
    // JavaScript objects list array-index keys first, ascending; then the rest in insertion
    // order (for us: the map's order, which JSON.parse then preserves).
    let mut index_keys: Vec<(u32, &String)> = members
        .keys()
        .filter_map(|key| array_index(key).map(|index| (index, key)))
        .collect();
    index_keys.sort_unstable();
    let others = members.keys().filter(|key| array_index(key).is_none());
    out.push('{');
    for (i, key) in index_keys
        .into_iter()
        .map(|(_, k)| k)
        .chain(others)
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, &members[key]);
    }
    out.push('}');
}

/// A canonical array index: `0` or digits without a leading zero, below 2^32 - 1.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn js_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE_INTEGER {
            return i.to_string();
        }
    }
    if let Some(u) = n.as_u64() {
        if u <= MAX_SAFE_INTEGER {
            return u.to_string();
        }
    }
    js_double(n.as_f64().unwrap_or(0.0))
}

/// ECMAScript `Number::toString` for a finite double (JSON has no NaN or infinities).
fn js_double(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust prints the shortest digits that round-trip, as ECMAScript requires: `d.ddde±x`.
    let exp_form = format!("{:e}", x.abs());
    let (mantissa, exponent) = exp_form.split_once('e').expect("LowerExp has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exponent.parse::<i32>().expect("integer exponent") + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e >= 0 { "+" } else { "-" };
        let mantissa = if k == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        format!("{mantissa}e{e_sign}{}", e.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        let cases = [
            (json!(100.0), "100"),
            (json!(99.99), "99.99"),
            (json!(-0.5), "-0.5"),
            (json!(1e21), "1e+21"),
            (json!(1.5e300), "1.5e+300"),
            (json!(123456789012345680000.0), "123456789012345680000"),
            (json!(1e-7), "1e-7"),
            (json!(0.000001), "0.000001"),
            (json!(-0.0), "0"),
            (json!(9007199254740993u64), "9007199254740992"),
            (json!(-42), "-42"),
        ];
        for (value, expected) in cases {
            assert_eq!(to_js_json(&value), expected, "{value}");
        }
    }

    #[test]
    fn array_index_keys_come_first_in_numeric_order() {
        let value =
            json!({"b": 1, "10": 2, "a": {"2": true, "01": null, "1": [1.0, "x\n\u{1}"]}, "9": 3});
        assert_eq!(
            to_js_json(&value),
            r#"{"9":3,"10":2,"a":{"1":[1,"x\n\u0001"],"2":true,"01":null},"b":1}"#
        );
    }

    #[test]
    fn signatures_are_lowercase_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
