//! RFC-0009: costs incurred for an intent, and their totals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{object, require_text, Announced, Record};
use crate::{
    error::{Error, Result},
    openintent::{Caller, Records},
};

#[derive(Debug, Deserialize)]
pub struct CostIn {
    #[serde(default)]
    pub agent_id: Option<String>,
    pub cost_type: String,
    pub amount: f64,
    pub unit: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cost {
    pub intent_id: String,
    pub agent_id: String,
    pub cost_type: String,
    pub amount: f64,
    pub unit: String,
    pub provider: Option<String>,
    pub metadata: Value,
}

/// An intent's costs and their sums.
#[derive(Debug, Clone)]
pub struct Costs {
    pub costs: Vec<Record<Cost>>,
    pub summary: CostSummary,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostSummary {
    pub total: f64,
    pub by_type: BTreeMap<String, f64>,
    pub by_agent: BTreeMap<String, f64>,
}

impl CostSummary {
    pub(crate) fn of(costs: &[Record<Cost>]) -> CostSummary {
        let mut summary = CostSummary::default();
        for Record { fields: cost, .. } in costs {
            summary.total += cost.amount;
            *summary.by_type.entry(cost.cost_type.clone()).or_default() += cost.amount;
            *summary.by_agent.entry(cost.agent_id.clone()).or_default() += cost.amount;
        }
        summary
    }
}

impl Records {
    pub async fn record_cost(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: CostIn,
    ) -> Result<Record<Cost>> {
        require_text(&input.cost_type, "cost_type", 200)?;
        require_text(&input.unit, "unit", 100)?;
        if !input.amount.is_finite() || input.amount < 0.0 {
            return Err(Error::invalid(&["amount"], "must be a non-negative number"));
        }
        let fields = Cost {
            intent_id: intent_id.to_string(),
            agent_id: self.attributed(caller, input.agent_id).await?,
            cost_type: input.cost_type,
            amount: input.amount,
            unit: input.unit,
            provider: input.provider,
            metadata: object(input.metadata, "metadata")?,
        };
        let announced = Announced {
            event: "cost_recorded",
            replaces: false,
        };
        self.add_record(caller, fields, announced).await
    }

    pub async fn costs(&self, caller: &Caller, intent_id: &str) -> Result<Costs> {
        let costs = self.records::<Cost>(caller, intent_id).await?;
        let summary = CostSummary::of(&costs);
        Ok(Costs { costs, summary })
    }
}

impl super::RecordFields for Cost {
    const KIND: super::RecordKind = super::RecordKind::Cost;

    fn owner(&self) -> Option<&str> {
        Some(&self.intent_id)
    }

    fn cost(&self) -> Option<f64> {
        Some(self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(agent: &str, kind: &str, amount: f64) -> Record<Cost> {
        Record {
            id: "cst_1".into(),
            fields: Cost {
                intent_id: "oin_1".into(),
                agent_id: agent.into(),
                cost_type: kind.into(),
                amount,
                unit: "tokens".into(),
                provider: None,
                metadata: Value::Null,
            },
            created_at: String::new(),
        }
    }

    #[test]
    fn the_summary_sums_by_type_and_by_agent() {
        let summary = CostSummary::of(&[
            cost("a", "tokens", 10.0),
            cost("b", "tokens", 5.0),
            cost("a", "api_call", 1.5),
        ]);
        assert_eq!(summary.total, 16.5);
        assert_eq!(summary.by_type["tokens"], 15.0);
        assert_eq!(summary.by_type["api_call"], 1.5);
        assert_eq!(summary.by_agent["a"], 11.5);
        assert_eq!(summary.by_agent["b"], 5.0);
        assert_eq!(CostSummary::of(&[]), CostSummary::default());
    }
}
