//! RFC-0003 routes: scope leases.

use poem::Request;
use poem_openapi::{param::Path, OpenApi};
use serde::Deserialize;

use super::{
    bodies::{AcquireLeaseIn, RenewLeaseIn},
    created, done, listed, ok, parse, reader,
    resources::{Lease, LeaseList},
    writer, Answer, Body, Created, Done, OiResult, OiTag,
};
use crate::{api::security::TenantKey, openintent::Leases};

pub struct LeasesOi(pub Leases);

#[derive(Deserialize)]
struct Acquire {
    scope: String,
    #[serde(default = "default_duration")]
    duration_seconds: i64,
}

#[derive(Deserialize)]
struct Renew {
    #[serde(default = "default_duration")]
    duration_seconds: i64,
}

fn default_duration() -> i64 {
    300
}

#[OpenApi(tag = "OiTag::Leases")]
impl LeasesOi {
    /// The intent's leases, newest first; a lapsed lease shows as `expired`.
    #[oai(
        path = "/intents/:id/leases",
        method = "get",
        operation_id = "oi_list_leases"
    )]
    async fn list(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
    ) -> OiResult<Answer<LeaseList>> {
        listed(self.0.list_leases(&reader(&key, req)?, &id).await)
    }

    /// Lease a scope to the calling agent; 409 with `existing_lease` when another lease
    /// holds it.
    #[oai(
        path = "/intents/:id/leases",
        method = "post",
        operation_id = "oi_acquire_lease"
    )]
    async fn acquire(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        body: Body<AcquireLeaseIn>,
    ) -> OiResult<Created<Lease>> {
        let caller = writer(&key, req)?;
        let input = parse::<Acquire, _>(body)?;
        created(
            self.0
                .acquire_lease(&caller, &id, &input.scope, input.duration_seconds)
                .await,
        )
    }

    /// Renew the caller's lease for `duration_seconds` from now.
    #[oai(
        path = "/intents/:id/leases/:lease_id",
        method = "patch",
        operation_id = "oi_renew_lease"
    )]
    async fn renew(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        lease_id: Path<String>,
        body: Body<RenewLeaseIn>,
    ) -> OiResult<Answer<Lease>> {
        let caller = writer(&key, req)?;
        let input = parse::<Renew, _>(body)?;
        ok(self
            .0
            .renew_lease(&caller, &id, &lease_id, input.duration_seconds)
            .await)
    }

    /// Release the caller's lease.
    #[oai(
        path = "/intents/:id/leases/:lease_id",
        method = "delete",
        operation_id = "oi_release_lease"
    )]
    async fn release(
        &self,
        key: TenantKey,
        req: &Request,
        id: Path<String>,
        lease_id: Path<String>,
    ) -> OiResult<Done> {
        done(
            self.0
                .release_lease(&writer(&key, req)?, &id, &lease_id)
                .await,
        )
    }
}
