//! State patches (RFC-0001): `set`, `append` and `remove` at a path that is either a plain
//! top-level key (`"progress"`, as the SDK sends) or a JSON pointer (`"/results/0/score"`).

use serde_json::{Map, Value};

use crate::{
    audit::depth::depth,
    error::{Error, FieldError, Result},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Set,
    Append,
    Remove,
}

impl PatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOp::Set => "set",
            PatchOp::Append => "append",
            PatchOp::Remove => "remove",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "set" | "replace" | "add" => Some(PatchOp::Set),
            "append" => Some(PatchOp::Append),
            "remove" => Some(PatchOp::Remove),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatePatch {
    pub op: PatchOp,
    pub path: String,
    pub value: Value,
}

/// A state change as the face receives it: `{"patches": [{"op", "path", "value"}]}`, or a
/// merge `{"state": {...}}` (each top-level key set).
#[derive(Debug, serde::Deserialize)]
pub struct StateChangeIn {
    #[serde(default)]
    patches: Option<Vec<PatchIn>>,
    #[serde(default)]
    state: Option<Map<String, Value>>,
}

#[derive(Debug, serde::Deserialize)]
struct PatchIn {
    op: String,
    path: String,
    #[serde(default)]
    value: Value,
}

/// Most patches one request may carry.
pub const MAX_PATCHES: usize = 1000;
/// Most segments a patch path may have.
pub const MAX_PATH_SEGMENTS: usize = 32;
/// Deepest an intent's state may nest (arrays and objects, the state object included), well
/// under the 127 the JSON parser reads, so that the state, and every event and audit record that
/// carries part of it, reads back as written.
pub const MAX_STATE_DEPTH: usize = 64;

impl StateChangeIn {
    pub fn into_patches(self) -> Result<Vec<StatePatch>> {
        let patches: Vec<StatePatch> = match (self.patches, self.state) {
            (Some(patches), None) => patches
                .into_iter()
                .enumerate()
                .map(|(index, patch)| {
                    let op = PatchOp::parse(&patch.op).ok_or_else(|| {
                        let index = index.to_string();
                        Error::invalid(&["patches", &index, "op"], "must be set, append or remove")
                    })?;
                    Ok(StatePatch {
                        op,
                        path: patch.path,
                        value: patch.value,
                    })
                })
                .collect::<Result<_>>()?,
            (None, Some(state)) => state
                .into_iter()
                .map(|(path, value)| StatePatch {
                    op: PatchOp::Set,
                    path,
                    value,
                })
                .collect(),
            _ => return Err(Error::invalid(&["patches"], "send either patches or state")),
        };
        match (1..=MAX_PATCHES).contains(&patches.len()) {
            true => Ok(patches),
            false => Err(Error::invalid(&["patches"], "must hold 1-1000 patches")),
        }
    }
}

/// The segments of a path: a JSON pointer's unescaped tokens, or the plain key itself.
fn segments(path: &str) -> Vec<String> {
    match path.strip_prefix('/') {
        Some(pointer) => pointer
            .split('/')
            .map(|token| token.replace("~1", "/").replace("~0", "~"))
            .collect(),
        None => vec![path.to_string()],
    }
}

/// Refuses a path over [`MAX_PATH_SEGMENTS`] and a value placed deeper than
/// [`MAX_STATE_DEPTH`]. A patch never makes the state deeper than where it puts its value
/// (counting the state object), so checking that before applying bounds the result without
/// building it. The path is measured before it is split: a path of any length costs no more
/// than reading it.
fn check_bounds(patch: &StatePatch) -> std::result::Result<(), String> {
    let segments = match patch.path.as_str() {
        "" | "/" => 0,
        path => path
            .strip_prefix('/')
            .map_or(1, |pointer| pointer.matches('/').count() + 1),
    };
    if segments > MAX_PATH_SEGMENTS {
        return Err(format!(
            "the path has {segments} segments; at most {MAX_PATH_SEGMENTS} are allowed"
        ));
    }
    let appended = usize::from(patch.op == PatchOp::Append);
    let placed = match (segments, patch.op) {
        (_, PatchOp::Remove) => 0,
        // The whole state replaced: the value is the state object itself.
        (0, _) => depth(&patch.value),
        // Inside the state object and the path's other containers, one level per segment;
        // an appended value one more, inside its array.
        _ => segments + appended + depth(&patch.value),
    };
    match placed > MAX_STATE_DEPTH {
        true => Err(format!(
            "the state would nest {placed} levels deep; at most {MAX_STATE_DEPTH} are allowed"
        )),
        false => Ok(()),
    }
}

/// Applies `patches` in order to `state`; all or nothing. Errors name the failing patch.
pub fn apply(state: &mut Value, patches: &[StatePatch]) -> Result<()> {
    // Checked for all patches before any is applied: an over-long path or over-deep value
    // must never be built, since building, cloning and dropping it recurse per level.
    let errors: Vec<FieldError> = patches
        .iter()
        .enumerate()
        .filter_map(|(index, patch)| check_bounds(patch).err().map(|m| (index, m)))
        .map(|(index, message)| patch_error(index, message))
        .collect();
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut next = state.clone();
    let mut errors = Vec::new();
    for (index, patch) in patches.iter().enumerate() {
        if let Err(message) = apply_one(&mut next, patch) {
            errors.push(patch_error(index, message));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    *state = next;
    Ok(())
}

fn patch_error(index: usize, message: String) -> FieldError {
    FieldError {
        path: vec!["patches".into(), index.to_string(), "path".into()],
        message,
    }
}

fn apply_one(state: &mut Value, patch: &StatePatch) -> std::result::Result<(), String> {
    if patch.path.is_empty() || patch.path == "/" {
        return match (patch.op, &patch.value) {
            (PatchOp::Set, Value::Object(_)) => {
                *state = patch.value.clone();
                Ok(())
            }
            _ => Err("the whole state can only be set, to an object".into()),
        };
    }
    let segments = segments(&patch.path);
    let (last, parents) = segments
        .split_last()
        .expect("a non-empty path has a segment");
    let parent = walk(state, parents, patch.op != PatchOp::Remove)?;
    match patch.op {
        PatchOp::Set => set_child(parent, last, patch.value.clone()),
        PatchOp::Append => {
            let target = match parent {
                Value::Object(map) => map
                    .entry(last.clone())
                    .or_insert_with(|| Value::Array(Vec::new())),
                Value::Array(items) => index_of(items, last)?
                    .and_then(|i| items.get_mut(i))
                    .ok_or("no such array element")?,
                _ => return Err(format!("'{}' is not inside an object or array", patch.path)),
            };
            match target {
                Value::Array(items) => {
                    items.push(patch.value.clone());
                    Ok(())
                }
                _ => Err(format!("'{}' is not an array", patch.path)),
            }
        }
        PatchOp::Remove => {
            let removed = match parent {
                Value::Object(map) => map.remove(last).is_some(),
                Value::Array(items) => match index_of(items, last)? {
                    Some(i) if i < items.len() => {
                        items.remove(i);
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            removed
                .then_some(())
                .ok_or_else(|| format!("'{}' does not exist", patch.path))
        }
    }
}

/// The container at `parents`, creating missing objects on the way when `create`.
fn walk<'v>(
    mut node: &'v mut Value,
    parents: &[String],
    create: bool,
) -> std::result::Result<&'v mut Value, String> {
    for segment in parents {
        node = match node {
            Value::Object(map) => match create {
                true => map
                    .entry(segment.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
                false => map
                    .get_mut(segment)
                    .ok_or_else(|| format!("'{segment}' does not exist"))?,
            },
            Value::Array(items) => {
                let index = index_of(items, segment)?.filter(|i| *i < items.len());
                items
                    .get_mut(index.ok_or_else(|| format!("no element '{segment}'"))?)
                    .expect("index checked")
            }
            _ => {
                return Err(format!(
                    "'{segment}' is inside a value that is not an object or array"
                ))
            }
        };
    }
    Ok(node)
}

/// An array index token: a number, or `-` (one past the end).
fn index_of(items: &[Value], token: &str) -> std::result::Result<Option<usize>, String> {
    if token == "-" {
        return Ok(Some(items.len()));
    }
    token
        .parse::<usize>()
        .map(Some)
        .map_err(|_| format!("'{token}' is not an array index"))
}

fn set_child(parent: &mut Value, key: &str, value: Value) -> std::result::Result<(), String> {
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => match index_of(items, key)? {
            Some(i) if i < items.len() => {
                items[i] = value;
                Ok(())
            }
            Some(i) if i == items.len() => {
                items.push(value);
                Ok(())
            }
            _ => Err(format!("index '{key}' is out of range")),
        },
        _ => Err(format!(
            "cannot set '{key}' inside a value that is not an object or array"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(op: PatchOp, path: &str, value: Value) -> StatePatch {
        StatePatch {
            op,
            path: path.into(),
            value,
        }
    }

    #[test]
    fn plain_keys_and_pointers_set_append_and_remove() {
        let mut state = json!({"keep": 1, "drop": 2});
        apply(
            &mut state,
            &[
                patch(PatchOp::Set, "progress", json!(0.5)),
                patch(PatchOp::Set, "/results/best/score", json!(9)),
                patch(PatchOp::Append, "/log", json!("a")),
                patch(PatchOp::Append, "log", json!("b")),
                patch(PatchOp::Set, "/log/0", json!("A")),
                patch(PatchOp::Remove, "drop", Value::Null),
                patch(PatchOp::Set, "/a~1b", json!(true)),
            ],
        )
        .unwrap();
        assert_eq!(
            state,
            json!({"keep": 1, "progress": 0.5, "results": {"best": {"score": 9}},
                   "log": ["A", "b"], "a/b": true})
        );
    }

    #[test]
    fn a_failing_patch_changes_nothing_and_is_named() {
        let mut state = json!({"n": 1});
        let err = apply(
            &mut state,
            &[
                patch(PatchOp::Set, "x", json!(1)),
                patch(PatchOp::Append, "n", json!(2)),
                patch(PatchOp::Remove, "/missing", Value::Null),
            ],
        )
        .unwrap_err();
        let Error::Validation(errors) = err else {
            panic!("expected a validation error")
        };
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].path, vec!["patches", "1", "path"]);
        assert_eq!(errors[1].path, vec!["patches", "2", "path"]);
        assert_eq!(state, json!({"n": 1}));
    }

    #[test]
    fn the_whole_state_can_be_replaced_by_an_object_only() {
        let mut state = json!({"a": 1});
        apply(&mut state, &[patch(PatchOp::Set, "", json!({"b": 2}))]).unwrap();
        assert_eq!(state, json!({"b": 2}));
        assert!(apply(&mut state, &[patch(PatchOp::Set, "/", json!(3))]).is_err());
    }

    fn refusal(state: &mut Value, patches: &[StatePatch]) -> FieldError {
        let before = state.clone();
        let Err(Error::Validation(mut errors)) = apply(state, patches) else {
            panic!("expected a validation error")
        };
        assert_eq!(*state, before, "a refused patch changes nothing");
        errors.remove(0)
    }

    #[test]
    fn long_paths_are_refused_before_anything_is_built() {
        let mut state = json!({"n": 1});
        let huge = "/a".repeat(20_000);
        let error = refusal(&mut state, &[patch(PatchOp::Set, &huge, json!(1))]);
        assert_eq!(error.path, vec!["patches", "0", "path"]);
        assert!(error.message.contains("at most 32"), "{}", error.message);

        let error = refusal(
            &mut state,
            &[
                patch(PatchOp::Set, "ok", json!(1)),
                patch(PatchOp::Remove, &"/a".repeat(33), Value::Null),
            ],
        );
        assert_eq!(error.path, vec!["patches", "1", "path"]);
        apply(
            &mut state,
            &[patch(PatchOp::Set, &"/a".repeat(32), json!(1))],
        )
        .unwrap();
    }

    #[test]
    fn the_state_never_nests_deeper_than_the_limit() {
        let deepest = |state: &Value| crate::audit::depth::depth(state);
        let nested = crate::audit::depth::nested;
        // Path and value together: 1 (state) + 3 segments - 1 + 61 = 64.
        let mut state = json!({});
        apply(&mut state, &[patch(PatchOp::Set, "/a/b/c", nested(61))]).unwrap();
        assert_eq!(deepest(&state), MAX_STATE_DEPTH);
        let error = refusal(&mut state, &[patch(PatchOp::Set, "/a/b/c", nested(62))]);
        assert!(error.message.contains("at most 64"), "{}", error.message);
        refusal(&mut state, &[patch(PatchOp::Append, "/a/b", nested(62))]);
        refusal(&mut state, &[patch(PatchOp::Set, "", nested(65))]);
        apply(&mut state, &[patch(PatchOp::Set, "", nested(64))]).unwrap();
        // The merge form sets top-level keys.
        refusal(&mut state, &[patch(PatchOp::Set, "top", nested(64))]);
    }
}
