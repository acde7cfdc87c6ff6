//! Tables of the OpenIntent face (`oi_*`, migration 0008). Every function takes the tenant id
//! first; the face's rules (versions, state machine, lease conflicts) live in `openintent`.

pub mod documents;
pub mod event_log;
pub mod graph;
pub mod intents;
pub mod leases;
pub mod lifecycle;
pub mod portfolios;
pub mod records;
pub mod webhook_targets;

use super::{Backend, Store};

/// A subquery yielding the strings of the JSON array bound at `param`: one statement text
/// for any number of ids, on both backends.
fn json_id_list(store: &Store, param: &str) -> String {
    match store.backend() {
        Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
        Backend::Postgres => format!("SELECT jsonb_array_elements_text({param}::jsonb)"),
    }
}

fn json_ids(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_default()
}
