//! `ramp`: the `channels` workload with the REST publish rate stepped up until it gives way.
//!
//! Step k publishes at `--rate × --ramp-factor^k` for `--step-secs`, then drains until every
//! delivery of the step arrived (at most `--drain`), so each step's deliveries are its own. The
//! ramp stops after the first step whose p99 reaches `--p99-limit-ms` (live: the share of
//! deliveries at or over the limit reaches 1%), that lost anything, or whose publishers could not
//! keep the rate (achieved < 90%); the report lists every step with its exact percentiles from the
//! delivery logs and names the highest rate still under the p99 limit.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::channels::Channels;
use super::Scenario;
use crate::args::Args;
use crate::client::ConnOutcome;
use crate::publisher::SentEvent;
use crate::run;
use crate::stats::{new_histogram, Percentiles, Report};

/// One step of the ramp as reported.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Step {
    pub target_rate: f64,
    /// Events actually published per second during the step.
    pub events_per_sec: f64,
    pub deliveries_per_sec: f64,
    pub deliveries_expected: u64,
    pub lost: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    #[serde(skip)]
    first_seq: u64,
    #[serde(skip)]
    secs: f64,
}

#[derive(Debug, Serialize)]
struct Ramp {
    p99_limit_ms: f64,
    steps: Vec<Step>,
    /// Highest target rate whose step held p99 under the limit without loss.
    best_rate: Option<f64>,
    best_deliveries_per_sec: Option<f64>,
    stopped_because: String,
}

pub async fn run(args: Args) -> Result<Report, String> {
    let channels = args.channel_count();
    let base: Arc<dyn Scenario> = Arc::new(Channels {
        rate: args.rate,
        channels,
    });
    let limit_us = (args.p99_limit_ms * 1000.0) as u64;
    let engine = run::connect(&args, base, limit_us).await?;
    let sh = engine.shared.clone();
    let mut steps: Vec<Step> = Vec::new();
    let mut sent_all: Vec<SentEvent> = Vec::new();
    let mut rtt = new_histogram();
    let mut errors = Vec::new();
    let mut seq_base = 0u64;
    let mut expected_total = 0u64;
    let mut stopped_because = format!("reached --max-steps {}", args.max_steps);
    let t_first = sh.now_ns();
    for k in 0..args.max_steps {
        let rate = args.rate * args.ramp_factor.powi(k as i32);
        let scenario: Arc<dyn Scenario> = Arc::new(Channels { rate, channels });
        let publishers = ((rate / 100.0).ceil() as usize).clamp(1, 8);
        let (recv0, slow0) = (
            sh.received.load(Ordering::Relaxed),
            sh.slow.load(Ordering::Relaxed),
        );
        let start = Instant::now() + Duration::from_millis(5);
        let end = start + Duration::from_secs_f64(args.step_secs);
        let p = engine
            .publish(&args, scenario, publishers, (start, end), seq_base)
            .await?;
        let secs = start.elapsed().as_secs_f64();
        let expected = engine.expected(&p.sent);
        expected_total += expected;
        engine.drain(expected_total, args.drain()).await;
        let got = sh.received.load(Ordering::Relaxed) - recv0;
        let slow = sh.slow.load(Ordering::Relaxed) - slow0;
        let ok_events = p.sent.iter().filter(|e| e.ok).count() as f64;
        let step = Step {
            target_rate: (rate * 10.0).round() / 10.0,
            events_per_sec: (ok_events / secs).round(),
            deliveries_expected: expected,
            first_seq: seq_base,
            secs,
            ..Step::default()
        };
        eprintln!(
            "ramp step {k}: {:.0} ev/s target, {:.0} achieved, {got}/{expected} deliveries, \
             {:.2}% at or over {} ms",
            rate,
            step.events_per_sec,
            100.0 * slow as f64 / got.max(1) as f64,
            args.p99_limit_ms
        );
        seq_base = p.sent.last().map_or(seq_base, |e| e.seq + 1);
        sent_all.extend(p.sent);
        let _ = rtt.add(&p.rtt);
        steps.push(step);
        if !p.errors.is_empty() {
            errors.extend(p.errors);
            stopped_because = "publish errors".into();
            break;
        }
        if got < expected {
            stopped_because = format!("step {k} lost {} deliveries", expected - got);
            break;
        }
        if slow * 100 >= got.max(1) {
            stopped_because = format!("step {k} p99 reached {} ms", args.p99_limit_ms);
            break;
        }
        if ok_events / secs < 0.9 * rate {
            stopped_because = format!("step {k}: the publishers could not keep {rate:.0} events/s");
            break;
        }
    }
    let publish_end = sh.now_ns();
    let (mut report, outcomes) = engine
        .finish(&args, &sent_all, &rtt, (t_first, publish_end))
        .await?;
    per_step(&mut steps, &sent_all, &outcomes);
    let limit = limit_us;
    let best = steps
        .iter()
        .take_while(|s| s.p99_us < limit && s.lost == 0)
        .last();
    let ramp = Ramp {
        p99_limit_ms: args.p99_limit_ms,
        best_rate: best.map(|s| s.target_rate),
        best_deliveries_per_sec: best.map(|s| s.deliveries_per_sec),
        steps,
        stopped_because,
    };
    eprintln!(
        "ramp: highest rate under p99 {} ms: {} events/s ({} deliveries/s); stopped: {}",
        args.p99_limit_ms,
        ramp.best_rate.map_or("none".into(), |r| r.to_string()),
        ramp.best_deliveries_per_sec
            .map_or("-".into(), |r| r.to_string()),
        ramp.stopped_because
    );
    report.errors.splice(0..0, errors);
    report.ramp = Some(serde_json::to_value(&ramp).expect("serialises"));
    Ok(report)
}

/// Fills each step's percentiles, loss and delivery rate from the connection logs.
fn per_step(steps: &mut [Step], sent: &[SentEvent], outcomes: &[ConnOutcome]) {
    let step_of = |seq: u64| {
        steps
            .partition_point(|s| s.first_seq <= seq)
            .saturating_sub(1)
    };
    let mut hists: Vec<_> = steps.iter().map(|_| new_histogram()).collect();
    let mut seen: Vec<u64> = vec![0; steps.len()];
    let known = |seq: u32| {
        sent.binary_search_by_key(&u64::from(seq), |e| e.seq)
            .is_ok()
    };
    for o in outcomes.iter().filter(|o| o.setup_error.is_none()) {
        let mut last = None;
        for d in &o.log {
            // Logs are sorted by `analyze`; count first receipts only.
            if last == Some(d.seq) || !known(d.seq) {
                continue;
            }
            last = Some(d.seq);
            let k = step_of(u64::from(d.seq));
            seen[k] += 1;
            let _ = hists[k].record(u64::from(d.lat_us).max(1));
        }
    }
    for (k, s) in steps.iter_mut().enumerate() {
        let p = Percentiles::of(&hists[k]);
        (s.p50_us, s.p99_us, s.p999_us, s.max_us) = (p.p50, p.p99, p.p999, p.max);
        s.lost = s.deliveries_expected.saturating_sub(seen[k]);
        s.deliveries_per_sec = (seen[k] as f64 / s.secs.max(1e-9)).round();
    }
}
