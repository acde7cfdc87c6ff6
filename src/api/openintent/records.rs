//! Per-intent records: arbitration and decisions (RFC-0004), attachments (RFC-0005), costs
//! (RFC-0009), retry policies and failures (RFC-0010).

use poem::Request;
use poem_openapi::{param::Path, OpenApi};

use super::{
    bodies::{ArbitrationIn, AttachmentIn, CostIn, DecisionIn, FailureIn, RetryPolicyIn},
    created, done, listed, ok, parse, reader,
    resources::{
        Arbitration, Attachment, AttachmentList, Cost, Costs, DecisionList, DecisionRecord,
        Failure, FailureList, RetryPolicy,
    },
    writer, Answer, Body, Created, Done, OiResult, OiTag,
};
use crate::{
    api::security::TenantKey,
    openintent::{
        records::{arbitration, attachments, retries, RecordKind},
        Records,
    },
};

pub struct RecordsOi(pub Records);

#[OpenApi(tag = "OiTag::Records")]
impl RecordsOi {
    /// Ask for arbitration; answers the pending request.
    #[oai(
        path = "/intents/:id/arbitrate",
        method = "post",
        operation_id = "oi_arbitrate"
    )]
    async fn arbitrate(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<ArbitrationIn>,
    ) -> OiResult<Created<Arbitration>> {
        let caller = writer(&key, req)?;
        created(self.0.request_arbitration(&caller, &id, parse(body)?).await)
    }

    /// Record a decision.
    #[oai(
        path = "/intents/:id/decisions",
        method = "post",
        operation_id = "oi_record_decision"
    )]
    async fn decide(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<DecisionIn>,
    ) -> OiResult<Created<DecisionRecord>> {
        let caller = writer(&key, req)?;
        created(self.0.record_decision(&caller, &id, parse(body)?).await)
    }

    /// The intent's decisions.
    #[oai(
        path = "/intents/:id/decisions",
        method = "get",
        operation_id = "oi_list_decisions"
    )]
    async fn decisions(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<DecisionList>> {
        listed(
            self.0
                .records::<arbitration::Decision>(&reader(&key, req)?, &id)
                .await,
        )
    }

    /// Attach a file by reference.
    #[oai(
        path = "/intents/:id/attachments",
        method = "post",
        operation_id = "oi_add_attachment"
    )]
    async fn attach(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<AttachmentIn>,
    ) -> OiResult<Created<Attachment>> {
        let caller = writer(&key, req)?;
        created(self.0.add_attachment(&caller, &id, parse(body)?).await)
    }

    /// The intent's attachments.
    #[oai(
        path = "/intents/:id/attachments",
        method = "get",
        operation_id = "oi_list_attachments"
    )]
    async fn attachments(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<AttachmentList>> {
        listed(
            self.0
                .records::<attachments::Attachment>(&reader(&key, req)?, &id)
                .await,
        )
    }

    #[oai(
        path = "/intents/:id/attachments/:attachment_id",
        method = "delete",
        operation_id = "oi_delete_attachment"
    )]
    async fn detach(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        attachment_id: Path<String>,
    ) -> OiResult<Done> {
        let caller = writer(&key, req)?;
        done(
            self.0
                .delete_record(
                    &caller,
                    RecordKind::Attachment,
                    Some(&id),
                    &attachment_id,
                    "attachment_removed",
                )
                .await,
        )
    }

    /// Record a cost.
    #[oai(
        path = "/intents/:id/costs",
        method = "post",
        operation_id = "oi_record_cost"
    )]
    async fn record_cost(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<CostIn>,
    ) -> OiResult<Created<Cost>> {
        let caller = writer(&key, req)?;
        created(self.0.record_cost(&caller, &id, parse(body)?).await)
    }

    /// The intent's costs with their totals by type and by agent.
    #[oai(
        path = "/intents/:id/costs",
        method = "get",
        operation_id = "oi_list_costs"
    )]
    async fn costs(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<Costs>> {
        ok(self.0.costs(&reader(&key, req)?, &id).await)
    }

    /// The retry policy; 404 when none is set.
    #[oai(
        path = "/intents/:id/retry-policy",
        method = "get",
        operation_id = "oi_get_retry_policy"
    )]
    async fn retry_policy(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<RetryPolicy>> {
        ok(self.0.retry_policy(&reader(&key, req)?, &id).await)
    }

    /// Set (replace) the retry policy.
    #[oai(
        path = "/intents/:id/retry-policy",
        method = "put",
        operation_id = "oi_set_retry_policy"
    )]
    async fn set_retry_policy(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<RetryPolicyIn>,
    ) -> OiResult<Answer<RetryPolicy>> {
        let caller = writer(&key, req)?;
        ok(self.0.set_retry_policy(&caller, &id, parse(body)?).await)
    }

    /// Record a failed attempt.
    #[oai(
        path = "/intents/:id/failures",
        method = "post",
        operation_id = "oi_record_failure"
    )]
    async fn record_failure(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<FailureIn>,
    ) -> OiResult<Created<Failure>> {
        let caller = writer(&key, req)?;
        created(self.0.record_failure(&caller, &id, parse(body)?).await)
    }

    /// The intent's failed attempts.
    #[oai(
        path = "/intents/:id/failures",
        method = "get",
        operation_id = "oi_list_failures"
    )]
    async fn failures(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<FailureList>> {
        listed(
            self.0
                .records::<retries::Failure>(&reader(&key, req)?, &id)
                .await,
        )
    }
}
