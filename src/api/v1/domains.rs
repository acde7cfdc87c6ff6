//! `/v1/domains`: the domain catalog.

use std::sync::Arc;

use poem_openapi::{param::Path, payload::Json, Object, OpenApi};

use crate::{
    api::{
        error::ApiResult,
        schema::examples,
        schema::Word,
        security::Credential,
        types::{Data, JsonObject, ListPage},
        v1::vocab::{Risk, ValueCategory},
        Tag,
    },
    auth::Scope,
    error::Error,
    governance::catalog::{Catalog, Domain, IntentType},
    pagination::{Page, PageRequest},
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct IntentTypeSummary {
    /// `domain.action`, e.g. `billing.send_invoice`.
    #[oai(rename = "type")]
    intent_type: String,
    description: String,
    /// Null when the type generates no tracked value.
    value_category: Option<Word<ValueCategory>>,
    risk: Word<Risk>,
}

impl From<&IntentType> for IntentTypeSummary {
    fn from(intent_type: &IntentType) -> Self {
        IntentTypeSummary {
            intent_type: intent_type.name.clone(),
            description: intent_type.description.clone(),
            value_category: intent_type
                .value_category
                .map(|c| Word::new(c.as_str().to_string())),
            risk: Word::new(intent_type.risk.as_str().to_string()),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct DomainOut {
    domain: String,
    description: String,
    agent_package: Option<String>,
    intent_types: Vec<IntentTypeSummary>,
}

impl From<&Domain> for DomainOut {
    fn from(domain: &Domain) -> Self {
        DomainOut {
            domain: domain.name.clone(),
            description: domain.description.clone(),
            agent_package: domain.agent_package.clone(),
            intent_types: domain
                .intent_types
                .iter()
                .map(|t| t.as_ref().into())
                .collect(),
        }
    }
}

/// One intent type with the JSON Schema its `params` must satisfy.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct IntentTypeOut {
    #[oai(rename = "type")]
    intent_type: String,
    domain: String,
    description: String,
    value_category: Option<Word<ValueCategory>>,
    risk: Word<Risk>,
    /// Why the risk level is what it is.
    risk_rationale: String,
    /// Draft 2020-12 JSON Schema of `params`.
    params_schema: JsonObject,
}

examples! {
    /// The seed's billing domain (two of its ten types).
    DomainOut => {
        "domain": "billing",
        "description": "Invoice, payment, subscription management",
        "agentPackage": "@intendedops/billing-agent",
        "intentTypes": [
            {
                "type": "billing.send_invoice",
                "description": "Generate and send invoice",
                "valueCategory": "efficiency",
                "risk": "low"
            },
            {
                "type": "billing.process_refund",
                "description": "Issue refund to customer",
                "valueCategory": null,
                "risk": "high"
            }
        ]
    }
    IntentTypeOut => {
        "type": "billing.send_invoice",
        "domain": "billing",
        "description": "Generate and send invoice",
        "valueCategory": "efficiency",
        "risk": "low",
        "riskRationale": "Sends a document the customer can dispute; moves no money",
        "paramsSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["customerId", "amount"],
            "properties": {
                "customerId": {"type": "string"},
                "amount": {"type": "number", "exclusiveMinimum": 0}
            }
        }
    }
}

pub struct DomainsApi {
    catalog: Arc<Catalog>,
}

impl DomainsApi {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Domains")]
impl DomainsApi {
    /// The domain catalog: every domain with its intent types, value category and risk.
    #[oai(path = "/domains", method = "get", operation_id = "list_domains")]
    async fn list(&self, auth: Credential) -> ApiResult<Json<Data<ListPage<DomainOut>>>> {
        auth.require(Scope::Read)?;
        let domains: Vec<DomainOut> = self.catalog.domains().iter().map(DomainOut::from).collect();
        let count = domains.len() as i64;
        let whole = Page {
            items: domains,
            total: count,
            request: PageRequest {
                page: 1,
                page_size: count as u32,
            },
        };
        Ok(Json(Data::new(ListPage::from_page(whole, |d| d))))
    }

    /// One intent type with its params schema. `type` may be given in full
    /// (`billing.send_invoice`) or without the domain (`send_invoice`).
    #[oai(
        path = "/domains/:domain/intent-types/:type",
        method = "get",
        operation_id = "get_intent_type"
    )]
    async fn get(
        &self,
        auth: Credential,
        domain: Path<String>,
        #[oai(name = "type")] intent_type: Path<String>,
    ) -> ApiResult<Json<Data<IntentTypeOut>>> {
        auth.require(Scope::Read)?;
        let full_name = if intent_type.contains('.') {
            intent_type.0.clone()
        } else {
            format!("{}.{}", domain.0, intent_type.0)
        };
        let found = self
            .catalog
            .intent_type(&full_name)
            .filter(|t| t.domain == domain.0)
            .ok_or(Error::NotFound {
                what: "intent type",
            })?;
        Ok(Json(Data::new(IntentTypeOut {
            intent_type: found.name.clone(),
            domain: found.domain.clone(),
            description: found.description.clone(),
            value_category: found
                .value_category
                .map(|c| Word::new(c.as_str().to_string())),
            risk: Word::new(found.risk.as_str().to_string()),
            risk_rationale: found.risk_rationale.clone(),
            params_schema: JsonObject(found.params_schema.clone()),
        })))
    }
}
