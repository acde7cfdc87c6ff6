//! RFC-0010: an intent's retry policy (one at a time) and its failed attempts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{instant, object, Announced, Record};
use crate::{
    error::{Error, Result},
    openintent::{Caller, Records},
};

pub const STRATEGIES: [&str; 4] = ["none", "fixed", "exponential", "linear"];

#[derive(Debug, Deserialize)]
pub struct RetryPolicyIn {
    #[serde(default = "default_strategy")]
    pub strategy: String,
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_base_delay")]
    pub base_delay_ms: u64,
    #[serde(default = "default_max_delay")]
    pub max_delay_ms: u64,
    #[serde(default)]
    pub fallback_agent_id: Option<String>,
    #[serde(default = "default_max_retries")]
    pub failure_threshold: u32,
}

fn default_strategy() -> String {
    "exponential".into()
}
fn default_max_retries() -> u32 {
    3
}
fn default_base_delay() -> u64 {
    1000
}
fn default_max_delay() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
pub struct FailureIn {
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub attempt_number: u32,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub recoverable: Option<bool>,
    #[serde(default)]
    pub retry_scheduled_at: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub intent_id: String,
    pub strategy: String,
    pub max_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub fallback_agent_id: Option<String>,
    pub failure_threshold: u32,
}

/// A failed attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub intent_id: String,
    pub agent_id: String,
    pub attempt_number: u32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub error_type: String,
    pub recoverable: bool,
    pub retry_scheduled_at: Option<String>,
    pub resolved_at: Option<String>,
    pub metadata: Value,
}

impl Records {
    /// Sets the intent's retry policy, replacing any previous one.
    pub async fn set_retry_policy(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: RetryPolicyIn,
    ) -> Result<Record<RetryPolicy>> {
        if !STRATEGIES.contains(&input.strategy.as_str()) {
            return Err(Error::invalid(
                &["strategy"],
                format!("must be one of {}", STRATEGIES.join(", ")),
            ));
        }
        if input.base_delay_ms > input.max_delay_ms {
            return Err(Error::invalid(
                &["base_delay_ms"],
                "must not exceed max_delay_ms",
            ));
        }
        let fields = RetryPolicy {
            intent_id: intent_id.to_string(),
            strategy: input.strategy,
            max_retries: input.max_retries,
            base_delay_ms: input.base_delay_ms,
            max_delay_ms: input.max_delay_ms,
            fallback_agent_id: input.fallback_agent_id,
            failure_threshold: input.failure_threshold,
        };
        let announced = Announced {
            event: "retry_policy_set",
            replaces: true,
        };
        self.add_record(caller, fields, announced).await
    }

    /// The intent's retry policy, or 404 when none is set.
    pub async fn retry_policy(
        &self,
        caller: &Caller,
        intent_id: &str,
    ) -> Result<Record<RetryPolicy>> {
        self.records(caller, intent_id)
            .await?
            .pop()
            .ok_or(Error::NotFound {
                what: "retry policy",
            })
    }

    pub async fn record_failure(
        &self,
        caller: &Caller,
        intent_id: &str,
        input: FailureIn,
    ) -> Result<Record<Failure>> {
        let fields = Failure {
            intent_id: intent_id.to_string(),
            agent_id: self.attributed(caller, input.agent_id).await?,
            attempt_number: input.attempt_number,
            error_code: input.error_code,
            error_message: input.error_message,
            error_type: input.error_type.unwrap_or_else(|| "error".into()),
            recoverable: input.recoverable.unwrap_or(true),
            retry_scheduled_at: instant(input.retry_scheduled_at.as_deref(), "retry_scheduled_at")?,
            resolved_at: None,
            metadata: object(input.metadata, "metadata")?,
        };
        let announced = Announced {
            event: "failure_recorded",
            replaces: false,
        };
        self.add_record(caller, fields, announced).await
    }
}

super::intent_records! {
    RetryPolicy => RetryPolicy;
    Failure => Failure;
}
