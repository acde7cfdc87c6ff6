//! RFC-0007 routes: portfolios and their member intents.

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    OpenApi,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{created, done, listed, ok, parse, reader, writer, OiResult, OiTag};
use crate::{
    api::security::TenantKey,
    openintent::{portfolios::NewPortfolio, OpenIntent},
};

pub struct PortfoliosOi(pub OpenIntent);

#[derive(Deserialize)]
struct StatusIn {
    status: String,
}

#[derive(Deserialize)]
struct MemberIn {
    intent_id: String,
    #[serde(default = "default_role")]
    role: String,
    #[serde(default)]
    priority: i64,
}

fn default_role() -> String {
    "member".into()
}

#[OpenApi(tag = "OiTag::Portfolios")]
impl PortfoliosOi {
    /// Create a portfolio: `{"name", "description", "metadata", "governance_policy"}`.
    #[oai(
        path = "/portfolios",
        method = "post",
        operation_id = "oi_create_portfolio"
    )]
    async fn create(&self, key: TenantKey, req: &Request, body: Json<Value>) -> OiResult {
        let caller = writer(&key, req)?;
        created(
            self.0
                .create_portfolio(&caller, parse::<NewPortfolio>(body)?)
                .await,
        )
    }

    /// `{"portfolios": [...]}`, optionally only those `created_by` an agent.
    #[oai(
        path = "/portfolios",
        method = "get",
        operation_id = "oi_list_portfolios"
    )]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        created_by: Query<Option<String>>,
    ) -> OiResult {
        listed(
            "portfolios",
            self.0
                .list_portfolios(&reader(&key, req)?, created_by.0.as_deref())
                .await,
        )
    }

    /// The portfolio with `intents` and `aggregate_status`.
    #[oai(
        path = "/portfolios/:id",
        method = "get",
        operation_id = "oi_get_portfolio"
    )]
    async fn get(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        ok(self.0.get_portfolio(&reader(&key, req)?, &id).await)
    }

    /// `{"status": "active"|"completed"|"abandoned"}`.
    #[oai(
        path = "/portfolios/:id/status",
        method = "patch",
        operation_id = "oi_set_portfolio_status"
    )]
    async fn set_status(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Json<Value>,
    ) -> OiResult {
        let caller = writer(&key, req)?;
        let input = parse::<StatusIn>(body)?;
        ok(self
            .0
            .set_portfolio_status(&caller, &id, &input.status)
            .await)
    }

    /// `{"intents": [...], "aggregate_status": {"total", "by_status", "completion_percentage"}}`.
    #[oai(
        path = "/portfolios/:id/intents",
        method = "get",
        operation_id = "oi_portfolio_intents"
    )]
    async fn intents(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        let members = self.0.portfolio_intents(&reader(&key, req)?, &id).await;
        ok(members.map(
            |(intents, aggregate)| json!({ "intents": intents, "aggregate_status": aggregate }),
        ))
    }

    /// Add an intent: `{"intent_id", "role", "priority"}`; answers the membership.
    #[oai(
        path = "/portfolios/:id/intents",
        method = "post",
        operation_id = "oi_add_to_portfolio"
    )]
    async fn add(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Json<Value>,
    ) -> OiResult {
        let caller = writer(&key, req)?;
        let input = parse::<MemberIn>(body)?;
        created(
            self.0
                .add_to_portfolio(&caller, &id, &input.intent_id, &input.role, input.priority)
                .await,
        )
    }

    #[oai(
        path = "/portfolios/:id/intents/:intent_id",
        method = "delete",
        operation_id = "oi_remove_from_portfolio"
    )]
    async fn remove(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        intent_id: Path<String>,
    ) -> OiResult {
        done(
            self.0
                .remove_from_portfolio(&writer(&key, req)?, &id, &intent_id)
                .await,
        )
    }

    /// `{"portfolios": [...]}` containing the intent.
    #[oai(
        path = "/intents/:id/portfolios",
        method = "get",
        operation_id = "oi_intent_portfolios"
    )]
    async fn of_intent(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult {
        listed(
            "portfolios",
            self.0.intent_portfolios(&reader(&key, req)?, &id).await,
        )
    }
}
