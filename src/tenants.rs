//! Tenant administration (used by the CLI): creating the unit of isolation.

use crate::{
    auth::TenantId,
    error::{Error, Result},
    store::{self, tenants::TenantRow, Store},
    time::now_ms,
};

pub struct TenantService {
    store: Store,
}

impl TenantService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates a tenant; an existing id is a conflict.
    pub async fn create(&self, id: &TenantId, name: Option<&str>) -> Result<TenantRow> {
        let row = TenantRow {
            id: id.to_string(),
            name: name.unwrap_or(id.as_str()).trim().to_string(),
            created_at: now_ms(),
        };
        let mut tx = self.store.begin().await?;
        match store::tenants::insert(&mut tx, &row).await {
            Err(err) if store::is_unique_violation(&err) => {
                return Err(Error::Conflict(format!("tenant '{id}' already exists")))
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Creates the tenant unless it exists (development tenant at start-up).
    pub async fn ensure(&self, id: &TenantId, name: &str) -> Result<()> {
        let row = TenantRow {
            id: id.to_string(),
            name: name.to_string(),
            created_at: now_ms(),
        };
        let mut tx = self.store.begin().await?;
        store::tenants::insert_if_absent(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(())
    }
}
