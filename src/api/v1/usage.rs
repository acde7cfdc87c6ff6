//! `/v1/usage`: how a tenant uses its keys (requests in the current rate-limit window and
//! the headroom left) and how many intents it submitted per day; the console's usage page.

use std::sync::Arc;

use poem_openapi::{param::Query, payload::Json, Object, OpenApi};

use crate::{
    api::{error::ApiResult, schema::examples, security::Credential, types::Data, Tag},
    auth::{keys::KeyService, Scope},
    governance::stats::StatsService,
    pagination::{PageRequest, MAX_PAGE_SIZE},
    ratelimit::RateLimiter,
    time::rfc3339,
};

/// Days of intent counts when `days` is not given, and the most that may be asked for.
const DEFAULT_DAYS: u32 = 14;
const MAX_DAYS: u32 = 90;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct KeyUsageOut {
    id: String,
    name: String,
    prefix: String,
    last_used_at: Option<String>,
    /// Requests counted against the key in the current one-minute window.
    requests_this_window: u64,
    /// Requests the key may make per window.
    limit: u64,
    /// Requests left in the current window.
    remaining: u64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DayCountOut {
    /// The UTC day, `YYYY-MM-DD`.
    date: String,
    intents: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct UsageOut {
    /// When the current rate-limit window ends and every key's count starts again.
    window_resets_at: String,
    /// The tenant's active keys (up to 100, newest first).
    keys: Vec<KeyUsageOut>,
    /// Intents submitted per UTC day, oldest first, today last; days without any count 0.
    intents_per_day: Vec<DayCountOut>,
}

examples! {
    UsageOut => {
        "windowResetsAt": "2024-01-15T10:31:00.000Z",
        "keys": [{
            "id": "key_01HN4WZ3J5K6M7N8P9Q0R1S2T3",
            "name": "billing-agent",
            "prefix": "intendedops_tenant123_xK9m",
            "lastUsedAt": "2024-01-15T10:30:12.000Z",
            "requestsThisWindow": 37,
            "limit": 1000,
            "remaining": 963
        }],
        "intentsPerDay": [
            {"date": "2024-01-14", "intents": 131},
            {"date": "2024-01-15", "intents": 145}
        ]
    }
}

pub struct UsageApi {
    keys: Arc<KeyService>,
    limiter: Arc<RateLimiter>,
    stats: Arc<StatsService>,
}

impl UsageApi {
    pub fn new(keys: Arc<KeyService>, limiter: Arc<RateLimiter>, stats: Arc<StatsService>) -> Self {
        Self {
            keys,
            limiter,
            stats,
        }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Keys")]
impl UsageApi {
    /// Requests and rate-limit headroom per active key, and intents per day over the last
    /// `days` days (default 14, at most 90). Reading it counts against no key's limit but the
    /// caller's own.
    #[oai(path = "/usage", method = "get", operation_id = "get_usage")]
    async fn usage(
        &self,
        auth: Credential,
        days: Query<Option<u32>>,
    ) -> ApiResult<Json<Data<UsageOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let tenant = &caller.tenant_id;
        let days = days.0.unwrap_or(DEFAULT_DAYS).clamp(1, MAX_DAYS);
        let listed = self
            .keys
            .list(
                tenant,
                PageRequest {
                    page: 1,
                    page_size: MAX_PAGE_SIZE,
                },
            )
            .await?;
        let mut keys = Vec::new();
        for key in listed.items.into_iter().filter(|k| k.revoked_at.is_none()) {
            let standing = self.limiter.key_standing(tenant, &key.id).await?;
            keys.push(KeyUsageOut {
                requests_this_window: standing.limit - standing.remaining,
                limit: standing.limit,
                remaining: standing.remaining,
                id: key.id,
                name: key.name,
                prefix: key.prefix,
                last_used_at: key.last_used_at.map(rfc3339),
            });
        }
        let per_day = self.stats.intents_per_day(tenant, days).await?;
        Ok(Json(Data::new(UsageOut {
            window_resets_at: rfc3339(i64::try_from(self.limiter.window_end()).unwrap_or(0) * 1000),
            keys,
            intents_per_day: per_day
                .into_iter()
                .map(|(day, intents)| DayCountOut {
                    date: rfc3339(day)[..10].to_string(),
                    intents,
                })
                .collect(),
        })))
    }
}
