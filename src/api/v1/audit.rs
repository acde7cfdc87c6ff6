//! `/v1/audit`: the tenant's hash-chained audit trail and its verification.

use std::sync::Arc;

use poem::{IntoResponse, Response};
use poem_openapi::{
    param::Query,
    payload::{Json, Payload},
    registry::{MetaSchema, MetaSchemaRef},
    types::Example,
    ApiResponse, Object, OpenApi,
};

use crate::{
    api::{
        error::ApiResult,
        schema::{example_json, examples},
        security::Credential,
        types::{Data, JsonObject, ListPage},
        Tag,
    },
    audit::{AuditLog, AuditQuery, AuditRecord, Verification},
    auth::Scope,
    error::Error,
    pagination::PageRequest,
    time::TimeRange,
};

/// One audit record. `hash` is SHA-256 over the canonical JSON of the other fields.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct AuditRecordOut {
    /// Position in the tenant's chain: 1, 2, … without gaps.
    sequence: i64,
    /// What happened: `intent.submitted`, `agent.trust.changed`, `key.created`, … and
    /// `openintent.<event type>` for the OpenIntent face's changes.
    event_type: String,
    /// Who acted: an API key id, user id, agent id, `cli` or `system`.
    actor: String,
    /// The id acted on.
    subject: String,
    /// The event's facts; their shape depends on `eventType`.
    data: JsonObject,
    created_at: String,
    previous_hash: String,
    hash: String,
}

impl From<AuditRecord> for AuditRecordOut {
    fn from(record: AuditRecord) -> Self {
        AuditRecordOut {
            data: JsonObject(record.data_value()),
            sequence: record.sequence,
            event_type: record.event_type,
            actor: record.actor,
            subject: record.subject,
            created_at: record.created_at,
            previous_hash: record.previous_hash,
            hash: record.hash,
        }
    }
}

/// The record of the seed's invoice submission.
impl Example for AuditRecordOut {
    fn example() -> Self {
        AuditRecordOut {
            sequence: 42,
            event_type: "intent.submitted".into(),
            actor: "key_01HN4WZ3J5K6M7N8P9Q0R1S2T3".into(),
            subject: "int_01HN4X7KQZ8Y1A2B3C4D5E6F7G".into(),
            data: JsonObject(serde_json::json!({
                "type": "billing.send_invoice",
                "domain": "billing",
                "agentId": "billing-agent",
                "status": "pending_approval",
                "decision": {
                    "outcome": "require_approval",
                    "rule": "new-agents-are-reviewed",
                    "reason": "rule 'new-agents-are-reviewed' matched",
                    "policyVersion": 0,
                    "requiredApprovals": 1,
                    "roles": []
                }
            })),
            created_at: "2024-01-15T10:30:00.000Z".into(),
            previous_hash: "9f2c4e0a7b1d3f5e6a8c0b2d4f6e8a0c1b3d5f7e9a1c3e5b7d9f1a3c5e7b9d1f"
                .into(),
            hash: "3b7e1f9a5c2d8e4b6a0f1c3e5d7b9a2c4e6f8a0b1d3c5e7f9a2b4c6d8e0f1a3b".into(),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct VerificationOut {
    valid: bool,
    event_count: i64,
    /// Hash of the last record: keep it somewhere else to detect a rewritten chain later.
    head_hash: String,
    /// The first sequence where the chain breaks; null when valid.
    first_invalid_sequence: Option<i64>,
    /// Whether the records reproduce the latest signed checkpoint's root; absent before the
    /// first checkpoint. A root they do not reproduce makes the trail invalid.
    checkpoint: Option<CheckpointMatchOut>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CheckpointMatchOut {
    tree_size: i64,
    root_hash: String,
    matches: bool,
}

impl From<Verification> for VerificationOut {
    fn from(result: Verification) -> Self {
        VerificationOut {
            valid: result.valid,
            event_count: result.event_count,
            head_hash: result.head_hash,
            first_invalid_sequence: result.first_invalid_sequence,
            checkpoint: result.checkpoint.map(|c| CheckpointMatchOut {
                tree_size: c.tree_size,
                root_hash: c.root_hash,
                matches: c.matches,
            }),
        }
    }
}

examples! {
    VerificationOut => {
        "valid": true,
        "eventCount": 42,
        "headHash": "3b7e1f9a5c2d8e4b6a0f1c3e5d7b9a2c4e6f8a0b1d3c5e7f9a2b4c6d8e0f1a3b",
        "firstInvalidSequence": null,
        "checkpoint": {
            "treeSize": 40,
            "rootHash": "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
            "matches": true
        }
    }
}

/// A chain as JSON Lines: one record (as `GET /v1/audit` lists them) per line, oldest first.
pub struct JsonLines(Vec<u8>);

impl Payload for JsonLines {
    const CONTENT_TYPE: &'static str = "application/x-ndjson";

    fn schema_ref() -> MetaSchemaRef {
        let line = example_json::<AuditRecordOut>().to_string();
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("One audit record per line, oldest first"),
            example: Some(serde_json::Value::String(format!("{line}\n"))),
            ..MetaSchema::new("string")
        }))
    }
}

impl IntoResponse for JsonLines {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum ExportResponse {
    /// What `intendedops audit export` writes, so `intendedops audit verify-file` checks it
    /// offline.
    #[oai(status = 200)]
    Records(JsonLines, #[oai(header = "content-disposition")] String),
}

pub struct AuditApi {
    audit: Arc<AuditLog>,
}

impl AuditApi {
    pub fn new(audit: Arc<AuditLog>) -> Self {
        Self { audit }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Audit")]
impl AuditApi {
    /// The tenant's audit records, oldest first. `fromDate`/`toDate` take an RFC 3339 time or
    /// a date (`2024-01-15`, the whole UTC day); both ends are inclusive.
    #[oai(path = "/audit", method = "get", operation_id = "list_audit_records")]
    async fn list(
        &self,
        auth: Credential,
        #[oai(name = "eventType")] event_type: Query<Option<String>>,
        #[oai(name = "fromDate")] from_date: Query<Option<String>>,
        #[oai(name = "toDate")] to_date: Query<Option<String>>,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<AuditRecordOut>>>> {
        let caller = auth.require(Scope::Read)?;
        let query = parse_query(event_type.0, from_date.0, to_date.0)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let records = self.audit.list(&caller.tenant_id, query, request).await?;
        Ok(Json(Data::new(ListPage::from_page(
            records,
            AuditRecordOut::from,
        ))))
    }

    /// Recomputes the tenant's whole chain and reports the first record that does not fit
    /// (changed, removed or reordered).
    #[oai(
        path = "/audit/verify",
        method = "get",
        operation_id = "verify_audit_chain"
    )]
    async fn verify(&self, auth: Credential) -> ApiResult<Json<Data<VerificationOut>>> {
        let caller = auth.require(Scope::Read)?;
        let result = self.audit.verify(&caller.tenant_id).await?;
        Ok(Json(Data::new(result.into())))
    }

    /// The tenant's whole chain as a download, for offline verification and archiving.
    #[oai(
        path = "/audit/export",
        method = "get",
        operation_id = "export_audit_chain"
    )]
    async fn export(&self, auth: Credential) -> ApiResult<ExportResponse> {
        let caller = auth.require(Scope::Read)?;
        let mut lines = Vec::new();
        self.audit
            .walk(&caller.tenant_id, None, |record| {
                serde_json::to_writer(&mut lines, &record)
                    .map_err(|e| Error::Internal(e.into()))?;
                lines.push(b'\n');
                Ok(())
            })
            .await?;
        let file = format!(
            "attachment; filename=\"audit-{}.jsonl\"",
            caller.tenant_id.as_str()
        );
        Ok(ExportResponse::Records(JsonLines(lines), file))
    }
}

fn parse_query(
    event_type: Option<String>,
    from_date: Option<String>,
    to_date: Option<String>,
) -> Result<AuditQuery, Error> {
    Ok(AuditQuery {
        event_type: event_type.filter(|t| !t.is_empty()),
        created: TimeRange::parse(
            from_date.as_deref(),
            to_date.as_deref(),
            ("fromDate", "toDate"),
        )?,
    })
}
