//! The delivery loop: claims due deliveries from the store, gates each one (breaker, rate
//! limit), POSTs it signed with Standard Webhooks headers, and records the outcome and the
//! next retry.
//!
//! Runs only on the control core, one task per attempt so a slow receiver holds nothing else
//! up. Each claim is a lease longer than the request timeout, so a delivery in flight is never
//! claimed twice, and one whose process died is claimed again after a restart with the same
//! `webhook-id`. Due deliveries are found by polling the store every [`POLL`]; it never runs
//! on a shard.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::directory::Directory;
use super::now_ms;
use super::pusher_endpoints::{standard_headers, DeliveryContext};
use crate::proto::http::HttpUrl;
use crate::ratelimit::Cidr;
use crate::shard::io::http_client;
use crate::store::{AnyStore, AttemptRecord, Delivery, DeliveryStore, Endpoint, EndpointStore};
use crate::webhook::breaker::BreakerConfig;
use crate::webhook::engine::{EndpointGate, Gate};
use crate::webhook::retry::{NextState, Outcome, RetryPolicy};
use crate::webhook::ssrf::{check_ip, parse_url};

/// How often the store is asked for due deliveries.
pub const POLL: Duration = Duration::from_millis(100);
/// How long a claimed delivery is reserved; longer than [`TIMEOUT`].
const LEASE_MS: i64 = 60_000;
/// Most deliveries claimed per poll.
const CLAIM: usize = 64;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer body read from a receiver.
const MAX_ANSWER: usize = 64 * 1024;

/// What every attempt task shares.
pub struct Deliverer {
    /// The store.
    pub store: Rc<AnyStore>,
    /// Endpoints by id.
    pub dir: Rc<RefCell<Directory>>,
    /// `webhooks.allowed_subnets`.
    pub allowed: Vec<Cidr>,
    /// Per endpoint, shared by its attempts in flight; borrowed only between awaits.
    gates: RefCell<HashMap<String, Rc<RefCell<EndpointGate>>>>,
    /// App credentials (pusher-format signing) and metrics; standard-only without it.
    context: Option<DeliveryContext>,
}

impl Deliverer {
    /// A loop over `store` and `dir`.
    pub fn new(store: Rc<AnyStore>, dir: Rc<RefCell<Directory>>, allowed: Vec<Cidr>) -> Self {
        Deliverer {
            store,
            dir,
            allowed,
            gates: RefCell::new(HashMap::new()),
            context: None,
        }
    }

    /// Adds the apps' credentials and the metrics counters.
    pub fn with_context(self, context: DeliveryContext) -> Self {
        Deliverer {
            context: Some(context),
            ..self
        }
    }
}

/// Claims and starts due deliveries until `stop` says so.
pub async fn run(ctx: Rc<Deliverer>, stop: impl Fn() -> bool) {
    while !stop() {
        match ctx
            .store
            .claim_due_deliveries(now_ms(), LEASE_MS, CLAIM)
            .await
        {
            Ok(batch) => {
                for delivery in batch {
                    monoio::spawn(attempt(ctx.clone(), delivery));
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot claim due deliveries"),
        }
        monoio::time::sleep(POLL).await;
    }
}

/// One gated attempt of `d`, recorded in the store.
async fn attempt(ctx: Rc<Deliverer>, d: Delivery) {
    let now = now_ms();
    let endpoint = super::shared_endpoints::endpoint(&ctx.store, &ctx.dir, &d.endpoint_id).await;
    let Some(ep) = endpoint.filter(|ep| ep.is_active) else {
        // Removed or disabled: the delivery ends without an attempt.
        finish(&ctx, &d, None, &NextState::Failed, now).await;
        return;
    };
    let gate = match gate_of(&ctx, &ep, now).await {
        Ok(g) => g,
        Err(next) => return finish(&ctx, &d, None, &next, now).await,
    };
    let cfg = BreakerConfig::DEFAULT;
    let admitted = gate.borrow_mut().admit(&cfg, now);
    if let Gate::Wait { until_ms } = admitted {
        return finish(&ctx, &d, None, &NextState::Wait { until_ms }, now).await;
    }
    let started = Instant::now();
    let sent = post(&ctx, &ep, &d, now).await;
    let outcome = outcome_of(&sent);
    if let Some(c) = &ctx.context {
        let latency_ms = started.elapsed().as_millis().min(u64::MAX as u128) as u64;
        c.shared.webhooks.attempt(&outcome, latency_ms);
    }
    let policy = RetryPolicy {
        max_retries: ep.max_retries,
        delays: ep.retry_delays.clone(),
    };
    let number = d.attempt + 1;
    let settled = gate
        .borrow_mut()
        .settle(&cfg, &policy, number, &outcome, now_ms());
    let record = AttemptRecord {
        attempt: number,
        status_code: sent.ok(),
        latency_ms: started.elapsed().as_millis().min(u32::MAX as u128) as u32,
        error: settled.error.clone(),
        at_ms: now,
    };
    tracing::debug!(delivery = %d.id, endpoint = %ep.id, attempt = number, next = ?settled.next, "webhook attempt");
    finish(&ctx, &d, Some(&record), &settled.next, now_ms()).await;
    let breaker = gate.borrow().breaker;
    if let Err(e) = ctx.store.put_breaker(&ep.id, &breaker).await {
        tracing::error!(endpoint = %ep.id, error = %e, "cannot persist the breaker");
    }
    if settled.disable_endpoint {
        disable(&ctx, &ep).await;
    }
}

/// The endpoint's gate, created from its persisted breaker on first use. A store failure
/// postpones the delivery by one poll without using an attempt.
async fn gate_of(
    ctx: &Deliverer,
    ep: &Endpoint,
    now: i64,
) -> Result<Rc<RefCell<EndpointGate>>, NextState> {
    if let Some(gate) = ctx.gates.borrow().get(&ep.id) {
        return Ok(gate.clone());
    }
    let mut breaker = ctx.store.get_breaker(&ep.id).await.map_err(|e| {
        tracing::error!(endpoint = %ep.id, error = %e, "cannot read the breaker");
        NextState::Wait {
            until_ms: now + POLL.as_millis() as i64,
        }
    })?;
    breaker.after_restart();
    let fresh = Rc::new(RefCell::new(EndpointGate::new(
        breaker,
        ep.rate_limit_per_s,
        now,
    )));
    // Another attempt may have created it while the breaker was read: keep the first.
    let mut gates = ctx.gates.borrow_mut();
    Ok(gates.entry(ep.id.clone()).or_insert(fresh).clone())
}

async fn finish(
    ctx: &Deliverer,
    d: &Delivery,
    record: Option<&AttemptRecord>,
    next: &NextState,
    now: i64,
) {
    if let Err(e) = ctx.store.finish_attempt(&d.id, record, next, now).await {
        tracing::error!(delivery = %d.id, error = %e, "cannot record a webhook attempt");
    }
}

async fn disable(ctx: &Deliverer, ep: &Endpoint) {
    let patch = crate::webhook::endpoint::EndpointPatch {
        is_active: Some(false),
        ..Default::default()
    };
    match ctx
        .store
        .update_endpoint(&ep.app_id, &ep.id, &patch, now_ms())
        .await
    {
        Ok(_) => match Directory::load(ctx.store.as_ref()).await {
            Ok(dir) => *ctx.dir.borrow_mut() = dir,
            Err(e) => tracing::error!(error = %e, "cannot reload the endpoints"),
        },
        Err(e) => tracing::error!(endpoint = %ep.id, error = %e, "cannot disable an endpoint"),
    }
    tracing::warn!(endpoint = %ep.id, "receiver answered 410: endpoint disabled");
}

/// Why a request got no HTTP answer.
pub(super) enum SendError {
    Timeout,
    Connect(String),
}

/// What the retry rules make of a request's result.
pub(super) fn outcome_of(sent: &Result<u16, SendError>) -> Outcome<'_> {
    match sent {
        Ok(code) => Outcome::Status {
            code: *code,
            retry_after: None,
        },
        Err(SendError::Timeout) => Outcome::Timeout,
        Err(SendError::Connect(why)) => Outcome::Connect(why),
    }
}

/// POSTs the delivery; the status code of the answer.
async fn post(ctx: &Deliverer, ep: &Endpoint, d: &Delivery, now: i64) -> Result<u16, SendError> {
    let headers = match &ctx.context {
        Some(c) => c.headers(ep, d, now),
        None => standard_headers(ep, d, now),
    };
    let headers = headers.map_err(SendError::Connect)?;
    post_to(&ep.url, &ctx.allowed, &headers, &d.body).await
}

/// POSTs `body` with `headers` to `url` through the SSRF guard; the status code of the answer.
pub(super) async fn post_to(
    url: &str,
    allowed: &[Cidr],
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u16, SendError> {
    let target = parse_url(url, allowed).map_err(|e| SendError::Connect(e.to_string()))?;
    if target.https {
        return Err(SendError::Connect(
            "https receivers are not supported yet".into(),
        ));
    }
    let ip = match target.ip {
        Some(ip) => ip,
        None => resolve(&target.url)?,
    };
    // The address checked is the one connected to: the name is not resolved again.
    check_ip(ip, allowed).map_err(|e| SendError::Connect(e.to_string()))?;
    let request = request_bytes(&target.url, headers, body);
    let connect_to = HttpUrl {
        host: ip.to_string(),
        port: target.url.port,
        path_and_query: target.url.path_and_query.clone(),
    };
    match http_client::send(&connect_to, &request, TIMEOUT, MAX_ANSWER).await {
        Ok(reply) => Ok(reply.status),
        Err(http_client::ClientError::Timeout(_)) => Err(SendError::Timeout),
        Err(e) => Err(SendError::Connect(e.to_string())),
    }
}

fn resolve(url: &HttpUrl) -> Result<IpAddr, SendError> {
    (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| SendError::Connect(format!("cannot resolve {}: {e}", url.host)))?
        .next()
        .map(|a: SocketAddr| a.ip())
        .ok_or_else(|| SendError::Connect(format!("{} has no address", url.host)))
}

/// An HTTP/1.0 POST (the client reads to EOF and refuses chunked answers, which 1.0 rules out).
fn request_bytes(url: &HttpUrl, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path_and_query,
        url.host_header(),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}
