//! Portfolios (RFC-0007): named groups of intents with an aggregate status.

use serde_json::{json, Value};

use super::{
    graph::aggregate,
    model::{Members, Membership, Portfolio, PortfolioDetail},
    prefixes, Caller, NewEvent, Portfolios,
};
use crate::{
    error::{Error, Result},
    ids,
    openintent::records::one_of,
    store::openintent::{
        intents as intent_rows,
        portfolios::{self as portfolio_rows, PortfolioRow},
    },
    time::now_ms,
};

pub const STATUSES: [&str; 3] = ["active", "completed", "abandoned"];
pub const ROLES: [&str; 3] = ["primary", "member", "dependency"];

#[derive(Debug, Default, serde::Deserialize)]
pub struct NewPortfolio {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub governance_policy: Value,
}

fn object_or_empty(value: Value, field: &str) -> Result<Value> {
    match value {
        Value::Null => Ok(json!({})),
        Value::Object(_) => Ok(value),
        _ => Err(Error::invalid(&[field], "must be an object")),
    }
}

impl Portfolios {
    async fn portfolio(&self, caller: &Caller, id: &str) -> Result<PortfolioRow> {
        portfolio_rows::get(self.store(), &caller.tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "portfolio" })
    }

    pub async fn create_portfolio(
        &self,
        caller: &Caller,
        input: NewPortfolio,
    ) -> Result<Portfolio> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 500 {
            return Err(Error::invalid(&["name"], "must be 1-500 characters"));
        }
        let now = now_ms();
        let row = PortfolioRow {
            tenant_id: caller.tenant.clone(),
            id: ids::new_id(prefixes::PORTFOLIO),
            name: name.to_string(),
            description: input.description,
            created_by: self.attributed(caller, input.created_by).await?,
            status: "active".into(),
            metadata: object_or_empty(input.metadata, "metadata")?.to_string(),
            governance_policy: object_or_empty(input.governance_policy, "governance_policy")?
                .to_string(),
            created_at: now,
            updated_at: now,
        };
        let mut change = self.change(caller).await?;
        portfolio_rows::insert(change.tx(), &row).await?;
        change
            .audit("portfolio_created", &row.id, json!({ "name": row.name }))
            .await?;
        change.commit().await?;
        Ok(Portfolio::from(&row))
    }

    /// The portfolio with its member intents and their aggregate status.
    pub async fn get_portfolio(&self, caller: &Caller, id: &str) -> Result<PortfolioDetail> {
        let row = self.portfolio(caller, id).await?;
        let members = self.portfolio_intents(caller, id).await?;
        Ok(PortfolioDetail {
            portfolio: Portfolio::from(&row),
            members,
        })
    }

    pub async fn list_portfolios(
        &self,
        caller: &Caller,
        created_by: Option<&str>,
    ) -> Result<Vec<Portfolio>> {
        let rows = portfolio_rows::list(self.store(), &caller.tenant, created_by).await?;
        Ok(rows.iter().map(Portfolio::from).collect())
    }

    pub async fn set_portfolio_status(
        &self,
        caller: &Caller,
        id: &str,
        status: &str,
    ) -> Result<PortfolioDetail> {
        one_of(status, &STATUSES, "status")?;
        let mut change = self.change(caller).await?;
        if !portfolio_rows::set_status(change.tx(), &caller.tenant, id, status, now_ms()).await? {
            return Err(Error::NotFound { what: "portfolio" });
        }
        change
            .audit("portfolio_status_changed", id, json!({ "status": status }))
            .await?;
        change.commit().await?;
        self.get_portfolio(caller, id).await
    }

    pub async fn add_to_portfolio(
        &self,
        caller: &Caller,
        portfolio_id: &str,
        intent_id: &str,
        role: &str,
        priority: i64,
    ) -> Result<Membership> {
        one_of(role, &ROLES, "role")?;
        let tenant = &caller.tenant;
        let mut change = self.change(caller).await?;
        if !portfolio_rows::exists(change.tx(), tenant, portfolio_id).await? {
            return Err(Error::NotFound { what: "portfolio" });
        }
        // Joining a portfolio exposes the intent to its readers: it takes write access.
        change.intent(self.store(), intent_id).await?;
        let row = Membership {
            portfolio_id: portfolio_id.to_string(),
            intent_id: intent_id.to_string(),
            id: ids::new_id(prefixes::MEMBERSHIP),
            role: role.to_string(),
            priority,
            added_at: now_ms(),
        };
        portfolio_rows::upsert_member(change.tx(), tenant, &row).await?;
        change
            .record(NewEvent::new(
                intent_id,
                "added_to_portfolio",
                json!({ "portfolio_id": portfolio_id, "role": role, "priority": priority }),
            ))
            .await?;
        change.commit().await?;
        Ok(row)
    }

    pub async fn remove_from_portfolio(
        &self,
        caller: &Caller,
        portfolio_id: &str,
        intent_id: &str,
    ) -> Result<()> {
        let mut change = self.change(caller).await?;
        change.intent(self.store(), intent_id).await?;
        if !portfolio_rows::remove_member(change.tx(), &caller.tenant, portfolio_id, intent_id)
            .await?
        {
            return Err(Error::NotFound {
                what: "portfolio membership",
            });
        }
        change
            .record(NewEvent::new(
                intent_id,
                "removed_from_portfolio",
                json!({ "portfolio_id": portfolio_id }),
            ))
            .await?;
        change.commit().await
    }

    /// Member intents (highest priority first) and their aggregate status.
    pub async fn portfolio_intents(&self, caller: &Caller, id: &str) -> Result<Members> {
        self.portfolio(caller, id).await?;
        let members = portfolio_rows::members(self.store(), &caller.tenant, id).await?;
        let ids: Vec<String> = members.iter().map(|m| m.intent_id.clone()).collect();
        let mut rows = intent_rows::get_many(self.store(), &caller.tenant, &ids).await?;
        rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
        let intents = self.readable(caller, &rows).await?;
        Ok(Members {
            aggregate: aggregate(&intents),
            intents,
        })
    }

    /// The ids of a portfolio's member intents (for portfolio streams).
    pub async fn portfolio_member_ids(&self, caller: &Caller, id: &str) -> Result<Vec<String>> {
        self.portfolio(caller, id).await?;
        let members = portfolio_rows::members(self.store(), &caller.tenant, id).await?;
        Ok(members.into_iter().map(|m| m.intent_id).collect())
    }

    pub async fn intent_portfolios(
        &self,
        caller: &Caller,
        intent_id: &str,
    ) -> Result<Vec<Portfolio>> {
        self.intent(caller, intent_id).await?;
        let rows = portfolio_rows::of_intent(self.store(), &caller.tenant, intent_id).await?;
        Ok(rows.iter().map(Portfolio::from).collect())
    }
}
