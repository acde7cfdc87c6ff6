//! RFC-0007 routes: portfolios and their member intents.

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    OpenApi,
};
use serde::Deserialize;

use super::{
    bodies::{MemberIn, NewPortfolioIn, PortfolioStatusIn},
    created, done, listed, ok, parse, reader,
    resources::{Membership, Portfolio, PortfolioDetail, PortfolioIntents, PortfolioList},
    writer, Answer, Body, Created, Done, OiResult, OiTag,
};
use crate::{
    api::security::TenantKey,
    openintent::{portfolios::NewPortfolio, Portfolios},
};

pub struct PortfoliosOi(pub Portfolios);

#[derive(Deserialize)]
struct StatusChange {
    status: String,
}

#[derive(Deserialize)]
struct Member {
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
    /// Create a portfolio.
    #[oai(
        path = "/portfolios",
        method = "post",
        operation_id = "oi_create_portfolio"
    )]
    async fn create(
        &self,
        key: TenantKey,
        req: &Request,
        body: Body<NewPortfolioIn>,
    ) -> OiResult<Created<Portfolio>> {
        let caller = writer(&key, req)?;
        created(
            self.0
                .create_portfolio(&caller, parse::<NewPortfolio, _>(body)?)
                .await,
        )
    }

    /// The tenant's portfolios, optionally only those `created_by` an agent.
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
    ) -> OiResult<Answer<PortfolioList>> {
        listed(
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
    async fn get(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<PortfolioDetail>> {
        ok(self.0.get_portfolio(&reader(&key, req)?, &id).await)
    }

    /// Change the portfolio's status; answers the portfolio with its intents.
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
        body: Body<PortfolioStatusIn>,
    ) -> OiResult<Answer<PortfolioDetail>> {
        let caller = writer(&key, req)?;
        let input = parse::<StatusChange, _>(body)?;
        ok(self
            .0
            .set_portfolio_status(&caller, &id, &input.status)
            .await)
    }

    /// The member intents, highest priority first, with their aggregate status.
    #[oai(
        path = "/portfolios/:id/intents",
        method = "get",
        operation_id = "oi_portfolio_intents"
    )]
    async fn intents(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<PortfolioIntents>> {
        ok(self.0.portfolio_intents(&reader(&key, req)?, &id).await)
    }

    /// Add an intent; answers the membership.
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
        body: Body<MemberIn>,
    ) -> OiResult<Created<Membership>> {
        let caller = writer(&key, req)?;
        let input = parse::<Member, _>(body)?;
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
    ) -> OiResult<Done> {
        done(
            self.0
                .remove_from_portfolio(&writer(&key, req)?, &id, &intent_id)
                .await,
        )
    }

    /// The portfolios containing the intent.
    #[oai(
        path = "/intents/:id/portfolios",
        method = "get",
        operation_id = "oi_intent_portfolios"
    )]
    async fn of_intent(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<PortfolioList>> {
        listed(self.0.intent_portfolios(&reader(&key, req)?, &id).await)
    }
}
