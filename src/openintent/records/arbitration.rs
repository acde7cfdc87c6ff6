//! RFC-0004: requests for arbitration and the decisions that settle them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{object, require_text, Announced, Record};
use crate::{
    error::Result,
    openintent::{Caller, Records},
};

#[derive(Debug, Deserialize)]
pub struct ArbitrationIn {
    pub reason: String,
    #[serde(default)]
    pub context: Value,
    #[serde(default)]
    pub requested_by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DecisionIn {
    pub decision_type: String,
    pub outcome: String,
    #[serde(default)]
    pub reasoning: String,
    #[serde(default)]
    pub decided_by: Option<String>,
}

/// A request for arbitration; `pending` until a decision settles it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arbitration {
    pub intent_id: String,
    pub requester_id: String,
    pub reason: String,
    pub context: Value,
    pub status: String,
}

/// A recorded decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub intent_id: String,
    pub decision_maker_id: String,
    pub decision_type: String,
    pub outcome: String,
    pub reasoning: String,
}

impl Records {
    pub async fn request_arbitration(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: ArbitrationIn,
    ) -> Result<Record<Arbitration>> {
        require_text(&input.reason, "reason", 10_000)?;
        let fields = Arbitration {
            intent_id: intent_id.to_string(),
            requester_id: self.attributed(caller, input.requested_by).await?,
            reason: input.reason,
            context: object(input.context, "context")?,
            status: "pending".into(),
        };
        let announced = Announced {
            event: "arbitration_requested",
            replaces: false,
        };
        self.add_record(caller, fields, announced).await
    }

    pub async fn record_decision(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: DecisionIn,
    ) -> Result<Record<Decision>> {
        require_text(&input.decision_type, "decision_type", 200)?;
        require_text(&input.outcome, "outcome", 10_000)?;
        let fields = Decision {
            intent_id: intent_id.to_string(),
            decision_maker_id: self.attributed(caller, input.decided_by).await?,
            decision_type: input.decision_type,
            outcome: input.outcome,
            reasoning: input.reasoning,
        };
        let announced = Announced {
            event: "decision_recorded",
            replaces: false,
        };
        self.add_record(caller, fields, announced).await
    }
}

super::intent_records! {
    Arbitration => Arbitration;
    Decision => Decision;
}
