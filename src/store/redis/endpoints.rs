//! Endpoints and breakers in Redis: one JSON string per endpoint, sorted sets by creation time
//! (all, and per app), the breaker as a short string beside it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{arg, array, scripts, text, RedisStore};
use crate::store::error::StoreError;
use crate::store::types::{Endpoint, EndpointStats, NewEndpoint};
use crate::store::{EndpointStore, WebhookGauges};
use crate::webhook::breaker::BreakerState;
use crate::webhook::endpoint::{EndpointPatch, Format};

/// The stored shape of an endpoint; `app_id` and `name` are read by the scripts too.
#[derive(Serialize, Deserialize)]
struct EndpointRow {
    id: String,
    app_id: String,
    name: String,
    url: String,
    events: Vec<String>,
    tenant_id: Option<String>,
    is_active: bool,
    max_retries: u32,
    retry_delays: Vec<u32>,
    secret: String,
    headers: BTreeMap<String, String>,
    rate_limit_per_s: Option<u32>,
    format: String,
    created_at_ms: i64,
    updated_at_ms: i64,
}

fn encode(ep: &Endpoint) -> Result<Vec<u8>, StoreError> {
    let row = EndpointRow {
        id: ep.id.clone(),
        app_id: ep.app_id.clone(),
        name: ep.name.clone(),
        url: ep.url.clone(),
        events: ep.events.clone(),
        tenant_id: ep.tenant_id.clone(),
        is_active: ep.is_active,
        max_retries: ep.max_retries,
        retry_delays: ep.retry_delays.clone(),
        secret: ep.secret.clone(),
        headers: ep.headers.clone(),
        rate_limit_per_s: ep.rate_limit_per_s,
        format: ep.format.as_str().to_owned(),
        created_at_ms: ep.created_at_ms,
        updated_at_ms: ep.updated_at_ms,
    };
    Ok(serde_json::to_vec(&row)?)
}

fn decode(json: &[u8]) -> Result<Endpoint, StoreError> {
    let r: EndpointRow = serde_json::from_slice(json)?;
    let format = Format::parse(&r.format).ok_or_else(|| {
        StoreError::Corrupt(format!("endpoint '{}': format '{}'", r.id, r.format))
    })?;
    Ok(Endpoint {
        id: r.id,
        app_id: r.app_id,
        name: r.name,
        url: r.url,
        events: r.events,
        tenant_id: r.tenant_id,
        is_active: r.is_active,
        max_retries: r.max_retries,
        retry_delays: r.retry_delays,
        secret: r.secret,
        headers: r.headers,
        rate_limit_per_s: r.rate_limit_per_s,
        format,
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
    })
}

/// `failures,open_until,probing` with an empty `open_until` for none.
fn encode_breaker(b: &BreakerState) -> Vec<u8> {
    let open = b.open_until_ms.map(|t| t.to_string()).unwrap_or_default();
    format!("{},{open},{}", b.consecutive_failures, u8::from(b.probing)).into_bytes()
}

fn decode_breaker(raw: &str) -> Result<BreakerState, StoreError> {
    if raw.is_empty() {
        return Ok(BreakerState::default());
    }
    let bad = || StoreError::Corrupt(format!("breaker '{raw}'"));
    let mut parts = raw.split(',');
    let (Some(failures), Some(open), Some(probing)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(BreakerState {
        consecutive_failures: failures.parse().map_err(|_| bad())?,
        open_until_ms: match open {
            "" => None,
            t => Some(t.parse().map_err(|_| bad())?),
        },
        probing: probing == "1",
    })
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "endpoint",
        id: id.to_owned(),
    }
}

impl RedisStore {
    /// The queue depth and the breakers open at `now_ms`, for the `/metrics` gauges.
    pub async fn webhook_gauges(&self, now_ms: i64) -> Result<WebhookGauges, StoreError> {
        let mut counts = array(self.eval(&scripts::GAUGES, vec![arg(now_ms)]).await?)?.into_iter();
        let mut next = || counts.next().map_or(Ok(0), super::integer);
        Ok(WebhookGauges {
            queued: next()?.max(0) as u64,
            breakers_open: next()?.max(0) as u64,
        })
    }

    async fn endpoints_in(&self, index: String) -> Result<Vec<Endpoint>, StoreError> {
        let frame = self.eval(&scripts::EP_LIST, vec![arg(index)]).await?;
        array(frame)?
            .into_iter()
            .map(|f| decode(&super::bytes(f)?))
            .collect()
    }
}

impl EndpointStore for RedisStore {
    async fn create_endpoint(&self, new: NewEndpoint) -> Result<Endpoint, StoreError> {
        let ep = Endpoint::from_new(new);
        let args = vec![
            arg(&ep.id),
            arg(&ep.app_id),
            encode(&ep)?,
            arg(ep.created_at_ms),
        ];
        self.eval(&scripts::EP_CREATE, args).await?;
        Ok(ep)
    }

    async fn get_endpoint(&self, app_id: &str, id: &str) -> Result<Endpoint, StoreError> {
        let key = self.key(&format!("ep:{id}"));
        let raw = super::bytes(self.command(&[b"GET", key.as_bytes()]).await?)?;
        if raw.is_empty() {
            return Err(not_found(id));
        }
        let ep = decode(&raw)?;
        match ep.app_id == app_id {
            true => Ok(ep),
            false => Err(not_found(id)),
        }
    }

    async fn list_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.endpoints_in(format!("app_eps:{app_id}")).await
    }

    async fn all_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.endpoints_in("eps".to_owned()).await
    }

    async fn update_endpoint(
        &self,
        app_id: &str,
        id: &str,
        patch: &EndpointPatch,
        now_ms: i64,
    ) -> Result<Endpoint, StoreError> {
        let mut ep = self.get_endpoint(app_id, id).await?;
        ep.apply(patch, now_ms);
        self.eval(&scripts::EP_UPDATE, vec![arg(id), encode(&ep)?])
            .await?;
        Ok(ep)
    }

    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<(), StoreError> {
        self.eval(&scripts::EP_DELETE, vec![arg(app_id), arg(id)])
            .await
            .map(drop)
    }

    async fn get_breaker(&self, endpoint_id: &str) -> Result<BreakerState, StoreError> {
        let key = self.key(&format!("br:{endpoint_id}"));
        decode_breaker(&text(self.command(&[b"GET", key.as_bytes()]).await?)?)
    }

    async fn put_breaker(&self, endpoint_id: &str, state: &BreakerState) -> Result<(), StoreError> {
        let args = vec![arg(endpoint_id), encode_breaker(state)];
        self.eval(&scripts::BREAKER_PUT, args).await.map(drop)
    }

    async fn endpoint_stats(
        &self,
        app_id: &str,
        since_ms: i64,
    ) -> Result<Vec<EndpointStats>, StoreError> {
        let frame = self
            .eval(&scripts::EP_STATS, vec![arg(app_id), arg(since_ms)])
            .await?;
        array(frame)?
            .into_iter()
            .map(|f| {
                let mut cols = array(f)?.into_iter();
                let mut next = || {
                    cols.next().ok_or_else(|| {
                        StoreError::Backend("a stats row from Redis is short".into())
                    })
                };
                let endpoint_id = text(next()?)?;
                let name = text(next()?)?;
                let attempts = super::integer(next()?)?.max(0) as u64;
                let successes = super::integer(next()?)?.max(0) as u64;
                let latency_sum = super::integer(next()?)? as f64;
                let breaker = decode_breaker(&text(next()?)?)?;
                Ok(EndpointStats {
                    endpoint_id,
                    name,
                    attempts,
                    successes,
                    success_rate: (attempts > 0).then(|| successes as f64 / attempts as f64),
                    avg_latency_ms: (attempts > 0).then(|| latency_sum / attempts as f64),
                    breaker,
                })
            })
            .collect()
    }
}
