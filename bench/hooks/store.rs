//! The SQLite store after 1M webhook deliveries, and the cost of the retention cleanup over
//! them. Run with `cargo bench --bench webhook_store` (`BENCH_DELIVERIES` overrides the count).
//!
//! It writes through the store API as the control core does: deliveries recorded in group
//! commits of 1,000 (one published event to 1,000 endpoints), claimed, and settled as delivered
//! with one attempt line each in batches (the settle group commit). It then reports the file
//! size with the WAL checkpointed, and runs the retention job's prune, batch by batch as the job
//! does, timing each batch: one batch is one synchronous transaction, so its time is how long
//! the control core's loop is held.

use std::time::{Duration, Instant};

use ringcast::control::RETENTION_BATCH;
use ringcast::store::{
    AttemptRecord, DeliveryStore, EndpointStore, Finished, NewDelivery, NewEndpoint, SqliteStore,
};
use ringcast::webhook::body::{business_body, BusinessEvent};
use ringcast::webhook::endpoint::{EndpointSpec, Format};
use ringcast::webhook::retry::NextState;

const DELIVERIES: usize = 1_000_000;
const ENDPOINTS: usize = 1_000;
/// Outcomes per settle transaction, about what one flush window collects at full rate.
const SETTLE_BATCH: usize = 256;
const T0: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

fn main() {
    let total = std::env::var("BENCH_DELIVERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DELIVERIES);
    println!("load average at start: {}", load_average());
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    rt.block_on(async {
        for e in 0..ENDPOINTS {
            store.create_endpoint(endpoint(e)).await.unwrap();
        }
        let started = Instant::now();
        let mut done = 0;
        let mut event = 0;
        while done < total {
            let n = ENDPOINTS.min(total - done);
            store
                .insert_deliveries(&deliveries(event, n))
                .await
                .unwrap();
            settle_all(&store, T0 + event as i64).await;
            done += n;
            event += 1;
        }
        let took = started.elapsed();
        println!(
            "recorded and settled {done} deliveries (one attempt each) in {:.1} s: {:.0}/s",
            took.as_secs_f64(),
            done as f64 / took.as_secs_f64()
        );
        store.checkpoint().unwrap();
        let size = store.disk_usage().unwrap();
        println!(
            "store after {done} deliveries, WAL checkpointed: {:.1} MB ({:.0} bytes per delivery)",
            size.total() as f64 / 1e6,
            size.total() as f64 / done as f64
        );
        prune_all(&store).await;
        store.checkpoint().unwrap();
        let left = store.disk_usage().unwrap();
        println!(
            "after the cleanup: {:.1} MB on disk (SQLite keeps freed pages for reuse)",
            left.total() as f64 / 1e6
        );
    });
    println!("load average at end: {}", load_average());
}

/// Claims everything due and settles it as delivered, [`SETTLE_BATCH`] outcomes at a time.
async fn settle_all(store: &SqliteStore, now: i64) {
    loop {
        let claimed = store
            .claim_due_deliveries(now, now, now + 60_000, SETTLE_BATCH)
            .await
            .unwrap();
        if claimed.is_empty() {
            return;
        }
        let batch: Vec<Finished> = claimed
            .iter()
            .map(|d| Finished {
                id: d.id.clone(),
                lease: d.lease,
                attempt: Some(AttemptRecord {
                    attempt: 1,
                    status_code: Some(204),
                    latency_ms: 2,
                    error: None,
                    at_ms: now,
                }),
                next: NextState::Delivered,
            })
            .collect();
        store.finish_attempts(&batch, now).await.unwrap();
    }
}

/// The retention job's prune with a clock 91 days on, timing every batch.
async fn prune_all(store: &SqliteStore) {
    // `webhooks.retention_days` = 90 with the clock 91 days after the deliveries.
    let cutoff = T0 + 91 * DAY_MS - 90 * DAY_MS;
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    let (mut batches, mut deliveries, mut attempts) = (0u32, 0, 0);
    loop {
        let one = Instant::now();
        let step = store
            .prune_deliveries(cutoff, RETENTION_BATCH)
            .await
            .unwrap();
        worst = worst.max(one.elapsed());
        if step.deliveries == 0 && step.attempts == 0 {
            break;
        }
        batches += 1;
        deliveries += step.deliveries;
        attempts += step.attempts;
    }
    let took = started.elapsed();
    println!(
        "cleanup: {deliveries} deliveries and {attempts} attempts in {:.1} s, {batches} batches of \
         {RETENTION_BATCH}: {:.1} ms per batch on average, {:.1} ms at worst (the control loop is \
         held for one batch, then yields)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e3 / f64::from(batches.max(1)),
        worst.as_secs_f64() * 1e3
    );
}

fn endpoint(e: usize) -> NewEndpoint {
    NewEndpoint {
        id: format!("ep_{e:04}"),
        app_id: "bench".into(),
        spec: EndpointSpec {
            name: format!("endpoint {e}"),
            url: format!("https://hooks.example.com/{e}"),
            events: vec!["order.*".into()],
            tenant_id: None,
            is_active: true,
            max_retries: 5,
            retry_delays: vec![60, 300, 900, 3600, 7200],
            secret: None,
            headers: Default::default(),
            rate_limit_per_s: None,
            format: Format::Standard,
        },
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        now_ms: T0,
    }
}

/// The deliveries of event number `event` to the first `n` endpoints, with real bodies.
fn deliveries(event: usize, n: usize) -> Vec<NewDelivery> {
    let at = T0 + event as i64;
    let channels = ["orders".to_owned()];
    let data = format!(r#"{{"order_id":{event},"amount_cents":1999,"currency":"EUR"}}"#);
    (0..n)
        .map(|e| {
            let id = format!("msg_{event:07}_{e:04}");
            let body = business_body(&BusinessEvent {
                id: &id,
                event: "order.paid",
                at_ms: at,
                channels: &channels,
                data: &data,
            });
            NewDelivery {
                id,
                endpoint_id: format!("ep_{e:04}"),
                event: "order.paid".into(),
                body,
                created_at_ms: at,
                next_attempt_at_ms: at,
            }
        })
        .collect()
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
