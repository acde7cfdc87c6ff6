//! Refuses U+0000 anywhere a request can carry text into the store: PostgreSQL text and jsonb
//! cannot hold it (the write would fail as a 500), and SQLite would store what PostgreSQL
//! refuses. One check at the edge covers every route of both faces: JSON bodies (the escape
//! `\u0000` in any key or string, reported with its path) and the percent-decoded path and
//! query (`%00`).

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use serde_json::Value;

use crate::{api::error::ApiError, error::FieldError};

/// Most NUL findings listed in one answer.
const MAX_REPORTED: usize = 20;
const MESSAGE: &str = "must not contain the NUL character (\\u0000)";

pub struct NulGuard;

impl<E: Endpoint> Middleware<E> for NulGuard {
    type Output = NulGuardEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        NulGuardEndpoint { inner }
    }
}

pub struct NulGuardEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for NulGuardEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let mut found = uri_findings(&req);
        let body = req.take_body();
        if body.is_empty() {
            req.set_body(body);
        } else {
            // The body limit outside has already read it into memory: this costs no I/O.
            let bytes = body.into_bytes().await?;
            if has_escaped_nul(&bytes) {
                found.extend(json_findings(&bytes));
            }
            req.set_body(bytes);
        }
        if !found.is_empty() {
            return Ok(ApiError::validation(&found).into_response());
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// `%00` in the path or the query (the only way a URI carries NUL).
fn uri_findings(req: &Request) -> Vec<FieldError> {
    let mut found = Vec::new();
    if req.uri().path().contains("%00") {
        found.push(FieldError::new(&["path"], MESSAGE));
    }
    for pair in req.uri().query().unwrap_or_default().split('&') {
        if pair.contains("%00") {
            let name = pair.split('=').next().unwrap_or_default();
            found.push(FieldError::new(&["query", name], MESSAGE));
        }
    }
    found
}

/// Whether `bytes` holds the JSON escape `\u0000` (a backslash that is itself escaped does not
/// start one). JSON cannot carry a raw NUL byte, so this is the only spelling.
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < bytes.len() && bytes[i] == b'\\' {
            i += 1;
        }
        if (i - run_start) % 2 == 1 && bytes[i..].starts_with(b"u0000") {
            return true;
        }
    }
    false
}

/// The paths of every key and string holding NUL, walked without recursion; none when the body
/// is not JSON (the route reports that itself).
fn json_findings(bytes: &[u8]) -> Vec<FieldError> {
    let Ok(root) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut pending: Vec<(&Value, Vec<String>)> = vec![(&root, Vec::new())];
    while let Some((value, path)) = pending.pop() {
        if found.len() >= MAX_REPORTED {
            break;
        }
        match value {
            Value::String(text) if text.contains('\0') => found.push(FieldError {
                path,
                message: MESSAGE.into(),
            }),
            Value::Object(members) => {
                for (key, member) in members {
                    let mut child = path.clone();
                    child.push(key.replace('\0', "\\u0000"));
                    if key.contains('\0') {
                        found.push(FieldError {
                            path: child.clone(),
                            message: format!("a key {MESSAGE}"),
                        });
                    }
                    pending.push((member, child));
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let mut child = path.clone();
                    child.push(index.to_string());
                    pending.push((item, child));
                }
            }
            _ => {}
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_real_nul_escape_counts() {
        assert!(has_escaped_nul(br#"{"a":"x\u0000y"}"#));
        assert!(has_escaped_nul(br#"{"a":"\\\u0000"}"#));
        assert!(
            !has_escaped_nul(br#"{"a":"\\u0000"}"#),
            "an escaped backslash"
        );
        assert!(!has_escaped_nul(br#"{"a":"\u0001"}"#));
    }

    #[test]
    fn every_nul_is_reported_with_its_path() {
        let found = json_findings(br#"{"name":"a\u0000","list":[1,"ok","\u0000"],"k\u0000":1}"#);
        let paths: Vec<Vec<String>> = found.into_iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            vec![
                vec!["k\\u0000".to_string()],
                vec!["list".to_string(), "2".to_string()],
                vec!["name".to_string()],
            ]
        );
        assert!(json_findings(b"not json \\u0000").is_empty());
    }
}
