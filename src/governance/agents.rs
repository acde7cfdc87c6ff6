//! Agents: registration, their scope of intent types, status and trust tier.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::json;

use super::{catalog::Catalog, catalog::IntentType, trust::TrustTier};
use crate::{
    audit::AuditEvent,
    auth::{identity::valid_agent_id, TenantId},
    error::{Error, FieldError, Result},
    pagination::{Page, PageRequest},
    store::{self, agents, agents::AgentFilter, agents::AgentRow},
    time::{now_ms, Millis},
    work::Writer,
};

pub mod event_types {
    pub const AGENT_REGISTERED: &str = "agent.registered";
    pub const AGENT_UPDATED: &str = "agent.updated";
    pub const AGENT_TRUST_CHANGED: &str = "agent.trust.changed";
    /// A reported completion that earned no trust (too soon after approval, or over the cap).
    pub const AGENT_TRUST_WITHHELD: &str = "agent.trust.withheld";
}

const MAX_NAME_LEN: usize = 100;
const MAX_DESCRIPTION_LEN: usize = 2000;
use crate::auth::identity::MAX_AGENT_ID_LEN as MAX_ID_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStatus {
    Active,
    Suspended,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Suspended => "suspended",
        }
    }

    fn parse(raw: &str) -> AgentStatus {
        if raw == "suspended" {
            AgentStatus::Suspended
        } else {
            AgentStatus::Active
        }
    }
}

impl std::str::FromStr for AgentStatus {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self> {
        match raw {
            "active" => Ok(AgentStatus::Active),
            "suspended" => Ok(AgentStatus::Suspended),
            _ => Err(Error::invalid(
                &["status"],
                "must be one of active, suspended",
            )),
        }
    }
}

/// What a listing of agents is narrowed to; `None` narrows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentQuery {
    pub status: Option<AgentStatus>,
    /// The tier in force (pinned, else earned).
    pub trust_tier: Option<TrustTier>,
}

/// A registered agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Domains the agent may act in; empty = any.
    pub domains: Vec<String>,
    /// Intent types the agent may submit; empty = any in its domains.
    pub intent_types: Vec<String>,
    /// The tier in force: the pinned one if an admin pinned it, else the earned one.
    pub trust_tier: TrustTier,
    pub pinned_tier: Option<TrustTier>,
    pub trust_score: f64,
    pub status: AgentStatus,
    /// The agent's intents per status.
    pub intent_counts: BTreeMap<String, i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Agent {
    fn from_row(row: AgentRow, intent_counts: BTreeMap<String, i64>) -> Self {
        let earned = row.trust_tier.parse().unwrap_or(TrustTier::T0);
        let pinned_tier = row
            .pinned_tier
            .as_deref()
            .and_then(|tier| tier.parse().ok());
        Agent {
            trust_tier: pinned_tier.unwrap_or(earned),
            pinned_tier,
            id: row.id,
            name: row.name,
            description: row.description,
            domains: serde_json::from_str(&row.domains).unwrap_or_default(),
            intent_types: serde_json::from_str(&row.intent_types).unwrap_or_default(),
            trust_score: row.trust_score,
            status: AgentStatus::parse(&row.status),
            intent_counts,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    /// `Ok` when this agent may submit `intent_type`, else 403 `FORBIDDEN` saying why.
    pub fn may_submit(&self, intent_type: &IntentType) -> Result<()> {
        let refuse = |why: String| Err(Error::Forbidden(format!("agent '{}' {why}", self.id)));
        if self.status == AgentStatus::Suspended {
            return refuse("is suspended".into());
        }
        if !self.intent_types.is_empty() && !self.intent_types.contains(&intent_type.name) {
            return refuse(format!(
                "is not registered for intent type '{}'",
                intent_type.name
            ));
        }
        if !self.domains.is_empty() && !self.domains.contains(&intent_type.domain) {
            return refuse(format!(
                "is not registered for domain '{}'",
                intent_type.domain
            ));
        }
        Ok(())
    }
}

/// A registration request.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub description: Option<String>,
    pub domains: Vec<String>,
    pub intent_types: Vec<String>,
    /// Defaults to the slug of `name`.
    pub id: Option<String>,
}

/// A partial update; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub domains: Option<Vec<String>>,
    pub intent_types: Option<Vec<String>>,
    pub suspended: Option<bool>,
    pub pinned_tier: Option<Option<TrustTier>>,
}

/// `Billing Agent` → `billing-agent`: lowercase ASCII letters and digits, runs of anything
/// else become one `-`.
pub fn slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let trimmed = slug.trim_end_matches('-');
    trimmed
        .chars()
        .take(MAX_ID_LEN)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

pub struct AgentService {
    writer: Writer,
    catalog: Arc<Catalog>,
}

impl AgentService {
    pub fn new(writer: Writer, catalog: Arc<Catalog>) -> Self {
        Self { writer, catalog }
    }

    /// Registers an agent at trust tier `T0`; an existing id is a conflict.
    pub async fn register(
        &self,
        tenant: &TenantId,
        actor: &str,
        registration: Registration,
    ) -> Result<Agent> {
        let mut errors = Vec::new();
        let name = check_name(&registration.name, &mut errors);
        let description = check_description(registration.description, &mut errors);
        let id = match registration.id {
            Some(id) if !valid_agent_id(&id) => {
                errors.push(FieldError::new(
                    &["id"],
                    "must be 1-64 characters of letters, digits, '-', '_' and '.', starting with a letter or digit",
                ));
                id
            }
            Some(id) => id,
            None => {
                let id = slug(&name);
                if id.is_empty() && !name.is_empty() {
                    errors.push(FieldError::new(
                        &["name"],
                        "must contain a letter or digit to derive the agent id",
                    ));
                }
                id
            }
        };
        let (domains, intent_types) =
            self.check_scope(registration.domains, registration.intent_types, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = now_ms();
        let row = AgentRow {
            id,
            name,
            description,
            domains: json!(domains).to_string(),
            intent_types: json!(intent_types).to_string(),
            trust_tier: TrustTier::T0.as_str().into(),
            trust_score: 0.0,
            pinned_tier: None,
            status: AgentStatus::Active.as_str().into(),
            completed_count: 0,
            credit_window_start: 0,
            credit_window_count: 0,
            created_at: now,
            updated_at: now,
        };
        let mut work = self.writer.begin(tenant).await?;
        match agents::insert(&mut work, tenant, &row).await {
            Err(err) if store::is_unique_violation(&err) => {
                return Err(Error::Conflict(format!(
                    "an agent with id '{}' already exists",
                    row.id
                )))
            }
            other => other?,
        }
        let data = json!({"name": row.name, "domains": domains, "intentTypes": intent_types, "trustTier": "T0"});
        let mut notice = data.clone();
        notice["agentId"] = json!(row.id);
        notice["description"] = json!(row.description);
        let event = AuditEvent {
            event_type: event_types::AGENT_REGISTERED,
            actor,
            subject: &row.id,
            data,
        };
        work.audit(event).await?;
        work.emit(event_types::AGENT_REGISTERED, &row.id, &notice)
            .await?;
        work.commit().await?.publish();
        Ok(Agent::from_row(row, BTreeMap::new()))
    }

    /// The agent without its intent counts (the submission path needs only scope and status).
    pub async fn get_registration(&self, tenant: &TenantId, id: &str) -> Result<Agent> {
        let mut conn = self.writer.store().reader().acquire().await?;
        agents::get(&mut conn, tenant, id)
            .await?
            .map(|row| Agent::from_row(row, BTreeMap::new()))
            .ok_or(Error::NotFound { what: "agent" })
    }

    /// The agent with its intent counts.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Agent> {
        let mut agent = self.get_registration(tenant, id).await?;
        agent.intent_counts = agents::intent_counts(self.writer.store(), tenant, id)
            .await?
            .into_iter()
            .collect();
        Ok(agent)
    }

    /// The agent an intent names: `AGENT_NOT_FOUND` (not `NOT_FOUND`) when unknown.
    pub async fn get_for_intent(&self, tenant: &TenantId, id: &str) -> Result<Agent> {
        match self.get_registration(tenant, id).await {
            Err(Error::NotFound { .. }) => Err(Error::AgentNotFound(id.to_string())),
            other => other,
        }
    }

    /// The tenant's agents narrowed by `query`, in registration order.
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: AgentQuery,
        page: PageRequest,
    ) -> Result<Page<Agent>> {
        let filter = &AgentFilter {
            status: query.status.map(|status| status.as_str().to_string()),
            trust_tier: query.trust_tier.map(|tier| tier.as_str().to_string()),
        };
        let store = self.writer.store();
        let (rows, total) =
            agents::list(store, tenant, filter, page.limit(), page.offset()).await?;
        let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let page_counts =
            agents::intent_counts_for_page(store, tenant, filter, page.limit(), page.offset());
        for (agent_id, status, count) in page_counts.await? {
            counts.entry(agent_id).or_default().insert(status, count);
        }
        Ok(Page {
            items: rows
                .into_iter()
                .map(|row| {
                    let agent_counts = counts.remove(&row.id).unwrap_or_default();
                    Agent::from_row(row, agent_counts)
                })
                .collect(),
            total,
            request: page,
        })
    }

    /// Applies an admin's update and records what changed.
    pub async fn update(
        &self,
        tenant: &TenantId,
        actor: &str,
        id: &str,
        update: AgentUpdate,
    ) -> Result<Agent> {
        let mut errors = Vec::new();
        let mut work = self.writer.begin(tenant).await?;
        let mut row = agents::get(&mut work, tenant, id)
            .await?
            .ok_or(Error::NotFound { what: "agent" })?;
        let mut changed = serde_json::Map::new();
        if let Some(name) = update.name {
            row.name = check_name(&name, &mut errors);
            changed.insert("name".into(), json!(row.name));
        }
        if let Some(description) = update.description {
            row.description = check_description(description, &mut errors);
            changed.insert("description".into(), json!(row.description));
        }
        if update.domains.is_some() || update.intent_types.is_some() {
            let current = Agent::from_row(row.clone(), BTreeMap::new());
            let (domains, intent_types) = self.check_scope(
                update.domains.unwrap_or(current.domains),
                update.intent_types.unwrap_or(current.intent_types),
                &mut errors,
            );
            row.domains = json!(domains).to_string();
            row.intent_types = json!(intent_types).to_string();
            changed.insert("domains".into(), json!(domains));
            changed.insert("intentTypes".into(), json!(intent_types));
        }
        if let Some(suspended) = update.suspended {
            let status = if suspended {
                AgentStatus::Suspended
            } else {
                AgentStatus::Active
            };
            row.status = status.as_str().into();
            changed.insert("status".into(), json!(row.status));
        }
        if let Some(pinned) = update.pinned_tier {
            row.pinned_tier = pinned.map(|tier| tier.as_str().to_string());
            changed.insert("pinnedTier".into(), json!(row.pinned_tier));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        if changed.is_empty() {
            drop(work);
            return self.get(tenant, id).await;
        }
        row.updated_at = now_ms();
        agents::update(&mut work, tenant, &row).await?;
        let event = AuditEvent {
            event_type: event_types::AGENT_UPDATED,
            actor,
            subject: id,
            data: serde_json::Value::Object(changed),
        };
        work.audit(event).await?;
        work.commit().await?.publish();
        self.get(tenant, id).await
    }

    /// Validates and de-duplicates an agent's domains and intent types against the catalog.
    fn check_scope(
        &self,
        domains: Vec<String>,
        intent_types: Vec<String>,
        errors: &mut Vec<FieldError>,
    ) -> (Vec<String>, Vec<String>) {
        let mut kept_domains: Vec<String> = Vec::new();
        for (index, domain) in domains.into_iter().enumerate() {
            if self.catalog.domain(&domain).is_none() {
                errors.push(FieldError::new(
                    &["domains", &index.to_string()],
                    format!("unknown domain '{domain}'"),
                ));
            } else if !kept_domains.contains(&domain) {
                kept_domains.push(domain);
            }
        }
        let mut kept_types: Vec<String> = Vec::new();
        for (index, name) in intent_types.into_iter().enumerate() {
            let path = ["intentTypes", &index.to_string()];
            match self.catalog.intent_type(&name) {
                None => errors.push(FieldError::new(
                    &path,
                    format!("unknown intent type '{name}'"),
                )),
                Some(known)
                    if !kept_domains.is_empty() && !kept_domains.contains(&known.domain) =>
                {
                    errors.push(FieldError::new(
                        &path,
                        format!(
                            "belongs to domain '{}', which is not among the agent's domains",
                            known.domain
                        ),
                    ))
                }
                Some(_) if kept_types.contains(&name) => {}
                Some(_) => kept_types.push(name),
            }
        }
        (kept_domains, kept_types)
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        errors.push(FieldError::new(
            &["name"],
            format!("must be 1-{MAX_NAME_LEN} characters"),
        ));
    }
    name.to_string()
}

fn check_description(description: Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let description = description
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        errors.push(FieldError::new(
            &["description"],
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    description
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_seed() {
        assert_eq!(slug("Billing Agent"), "billing-agent");
        assert_eq!(slug("  Sales -- Agent #2! "), "sales-agent-2");
        assert_eq!(slug("Ünïcode Bot"), "n-code-bot");
        assert_eq!(slug("!!!"), "");
        assert_eq!(slug(&"a".repeat(100)).len(), MAX_ID_LEN);
    }
}
