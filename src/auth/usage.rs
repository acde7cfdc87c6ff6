//! `lastUsedAt` without a database write per request: authenticated requests note the time
//! in memory, and a background flush writes the latest time per key in one transaction.

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use crate::{
    store::{api_keys, Store},
    time::{now_ms, Millis},
};

#[derive(Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<Arc<str>, Millis>>,
}

impl UsageTracker {
    /// Notes that `key_id` was used now.
    pub fn touch(&self, key_id: &Arc<str>) {
        let now = now_ms();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.insert(key_id.clone(), now);
    }

    /// Writes what was noted since the last flush; returns how many keys were updated.
    pub async fn flush(&self, store: &Store) -> anyhow::Result<usize> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = store.begin().await?;
        for (key_id, at) in &batch {
            api_keys::touch_last_used(&mut tx, key_id, *at).await?;
        }
        tx.commit().await?;
        Ok(batch.len())
    }
}
