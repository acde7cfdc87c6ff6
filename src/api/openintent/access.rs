//! RFC-0011 routes: ACLs and access requests.

use poem::Request;
use poem_openapi::{param::Path, OpenApi};

use super::{
    bodies::{AccessDecisionIn, AccessRequestIn, AclEntryIn, AclIn},
    created, done, listed, ok, parse, reader,
    resources::{AccessRequest, AccessRequestList, Acl, AclEntry},
    writer, Answer, Body, Created, Done, OiResult, OiTag,
};
use crate::{
    api::security::TenantKey,
    openintent::{access, Access},
};

pub struct AccessOi(pub Access);

#[OpenApi(tag = "OiTag::Access")]
impl AccessOi {
    /// The intent's ACL.
    #[oai(path = "/intents/:id/acl", method = "get", operation_id = "oi_get_acl")]
    async fn acl(&self, key: TenantKey, req: &Request, id: Path<String>) -> OiResult<Answer<Acl>> {
        ok(self.0.acl(&reader(&key, req)?, &id).await)
    }

    /// Replace the ACL.
    #[oai(path = "/intents/:id/acl", method = "put", operation_id = "oi_set_acl")]
    async fn set_acl(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<AclIn>,
    ) -> OiResult<Answer<Acl>> {
        let caller = writer(&key, req)?;
        ok(self.0.set_acl(&caller, &id, parse(body)?).await)
    }

    /// Grant access.
    #[oai(
        path = "/intents/:id/acl/entries",
        method = "post",
        operation_id = "oi_grant_access"
    )]
    async fn grant(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<AclEntryIn>,
    ) -> OiResult<Created<AclEntry>> {
        let caller = writer(&key, req)?;
        created(self.0.grant_access(&caller, &id, parse(body)?).await)
    }

    #[oai(
        path = "/intents/:id/acl/entries/:entry_id",
        method = "delete",
        operation_id = "oi_revoke_access"
    )]
    async fn revoke(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        entry_id: Path<String>,
    ) -> OiResult<Done> {
        let caller = writer(&key, req)?;
        done(self.0.revoke_access(&caller, &id, &entry_id).await)
    }

    /// Ask for access (needs no access to the intent, only that it exists).
    #[oai(
        path = "/intents/:id/access-requests",
        method = "post",
        operation_id = "oi_request_access"
    )]
    async fn request(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<AccessRequestIn>,
    ) -> OiResult<Created<AccessRequest>> {
        let caller = writer(&key, req)?;
        created(self.0.request_access(&caller, &id, parse(body)?).await)
    }

    /// The intent's access requests.
    #[oai(
        path = "/intents/:id/access-requests",
        method = "get",
        operation_id = "oi_list_access_requests"
    )]
    async fn requests(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<AccessRequestList>> {
        listed(
            self.0
                .records::<access::AccessRequest>(&reader(&key, req)?, &id)
                .await,
        )
    }

    /// Approve a pending request and grant its entry; a decided request answers 409.
    #[oai(
        path = "/intents/:id/access-requests/:request_id/approve",
        method = "post",
        operation_id = "oi_approve_access"
    )]
    async fn approve(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        request_id: Path<String>,
        body: Body<AccessDecisionIn>,
    ) -> OiResult<Answer<AccessRequest>> {
        let caller = writer(&key, req)?;
        ok(self
            .0
            .decide_access_request(&caller, &id, &request_id, true, parse(body)?)
            .await)
    }

    /// Deny a pending request; a decided request answers 409.
    #[oai(
        path = "/intents/:id/access-requests/:request_id/deny",
        method = "post",
        operation_id = "oi_deny_access"
    )]
    async fn deny(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        request_id: Path<String>,
        body: Body<AccessDecisionIn>,
    ) -> OiResult<Answer<AccessRequest>> {
        let caller = writer(&key, req)?;
        ok(self
            .0
            .decide_access_request(&caller, &id, &request_id, false, parse(body)?)
            .await)
    }
}
