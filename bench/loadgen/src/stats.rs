//! Turns the publish log and the per-connection delivery logs into the report.
//!
//! Owns the accounting (expected, received, lost, duplicated per (connection, seq)), the latency
//! histograms (per connection log, merged into one run histogram; per event "to the last
//! subscriber"), the JSON report and its one-line summary. Runs after the load has stopped, so it
//! may sort and allocate freely; it never touches a socket.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::ConnOutcome;
use crate::procstat::Sample;
use crate::publisher::SentEvent;

/// Highest latency the histograms hold: 60 s in microseconds.
const MAX_US: u64 = 60_000_000;

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

fn record(h: &mut Histogram<u64>, us: u64) {
    let _ = h.record(us.clamp(1, MAX_US));
}

/// Memory and CPU of one process over the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProcUsage {
    pub rss_kb_start: u64,
    /// After every connection was subscribed, before publishing: the idle cost.
    pub rss_kb_connected: u64,
    pub rss_kb_end: u64,
    /// (connected - start) / connections.
    pub rss_per_connection_bytes: u64,
    pub cpu_secs: f64,
}

impl ProcUsage {
    pub fn from_samples(start: Sample, connected: Sample, end: Sample, conns: usize) -> Self {
        ProcUsage {
            rss_kb_start: start.rss_kb,
            rss_kb_connected: connected.rss_kb,
            rss_kb_end: end.rss_kb,
            rss_per_connection_bytes: connected.rss_kb.saturating_sub(start.rss_kb) * 1024
                / conns.max(1) as u64,
            cpu_secs: ((end.cpu_secs - start.cpu_secs) * 100.0).round() / 100.0,
        }
    }
}

/// The run's report (printed as JSON).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub mode: String,
    pub connections: usize,
    pub connect_failures: usize,
    pub channels: usize,
    pub connect_time_ms: u64,
    pub events_sent: u64,
    pub publish_errors: u64,
    /// Events sent after the warmup (their deliveries make up the latency figures).
    pub events_measured: u64,
    pub events_per_sec: f64,
    pub deliveries_expected: u64,
    pub deliveries_received: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Deliveries of events the connection's channel never got (should be 0).
    pub unexpected: u64,
    pub connections_dropped: usize,
    pub latency_us: Percentiles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_subscriber_us: Option<Percentiles>,
    /// Measured deliveries per second of the measured publish window.
    pub deliveries_per_sec: f64,
    pub publish_rtt_us: Percentiles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ProcUsage>,
    pub generator: ProcUsage,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// `ramp`: every step and the highest rate that held the p99 limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramp: Option<serde_json::Value>,
    /// `--slice-secs`: the measured window's latency slice by slice.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<crate::slices::Slice>,
    /// `soak`: counts and latency per traffic kind, churn, reconnects, server peak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soak: Option<serde_json::Value>,
}

impl Report {
    /// True if the run delivered everything exactly once.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unexpected == 0
            && self.connect_failures == 0
            && self.publish_errors == 0
    }

    pub fn summary(&self) -> String {
        let last = self.last_subscriber_us.as_ref().map_or(String::new(), |l| {
            format!(" | to-last p50/p99 {:.2}/{:.2} ms", ms(l.p50), ms(l.p99))
        });
        let server = self.server.as_ref().map_or(String::new(), |s| {
            format!(
                " | server {} B/conn {:.2} cpu-s",
                s.rss_per_connection_bytes, s.cpu_secs
            )
        });
        format!(
            "{} {} conns ({} ms up) {} ev: p50/p99/p99.9/max {:.2}/{:.2}/{:.2}/{:.2} ms{last} | \
             {:.0} deliveries/s | lost {} dup {}{server}",
            self.mode,
            self.connections,
            self.connect_time_ms,
            self.events_sent,
            ms(self.latency_us.p50),
            ms(self.latency_us.p99),
            ms(self.latency_us.p999),
            ms(self.latency_us.max),
            self.deliveries_per_sec,
            self.lost,
            self.duplicated,
        )
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The delivery accounting over all connections.
#[derive(Debug)]
pub struct Analysis {
    pub events_sent: u64,
    pub publish_errors: u64,
    pub events_measured: u64,
    pub deliveries_expected: u64,
    pub deliveries_received: u64,
    pub measured_received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub unexpected: u64,
    pub latency: Histogram<u64>,
    pub last_subscriber: Histogram<u64>,
}

/// Accounts every (connection, seq): `sent` is the publish log; `outcomes` the connection logs
/// (sorted in place); events due before `warmup_end_ns` count for loss but not for latency.
pub fn analyze(
    sent: &[SentEvent],
    outcomes: &mut [ConnOutcome],
    channels: usize,
    warmup_end_ns: u64,
) -> Analysis {
    let max_seq = sent
        .iter()
        .map(|e| e.seq)
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut by_seq: Vec<Option<SentEvent>> = vec![None; max_seq];
    for e in sent {
        by_seq[e.seq as usize] = Some(*e);
    }
    let mut subs = vec![0u64; channels];
    for o in outcomes.iter().filter(|o| o.setup_error.is_none()) {
        subs[o.channel] += 1;
    }
    let ok = |e: &&SentEvent| e.ok;
    let mut a = Analysis {
        events_sent: sent.iter().filter(ok).count() as u64,
        publish_errors: sent.iter().filter(|e| !e.ok).count() as u64,
        events_measured: sent
            .iter()
            .filter(ok)
            .filter(|e| e.due_ns >= warmup_end_ns)
            .count() as u64,
        deliveries_expected: sent.iter().filter(ok).map(|e| subs[e.channel]).sum(),
        deliveries_received: 0,
        measured_received: 0,
        lost: 0,
        duplicated: 0,
        unexpected: 0,
        latency: new_histogram(),
        last_subscriber: new_histogram(),
    };
    // Per event: slowest receipt so far (µs) and whether any arrived.
    let mut last: Vec<Option<u32>> = vec![None; max_seq];
    for o in outcomes.iter_mut().filter(|o| o.setup_error.is_none()) {
        o.log.sort_unstable_by_key(|d| d.seq);
        let mut prev: Option<u32> = None;
        for d in &o.log {
            if prev == Some(d.seq) {
                a.duplicated += 1;
                continue;
            }
            prev = Some(d.seq);
            let Some(Some(e)) = by_seq.get(d.seq as usize) else {
                a.unexpected += 1;
                continue;
            };
            if e.channel != o.channel {
                a.unexpected += 1;
                continue;
            }
            a.deliveries_received += 1;
            if e.due_ns >= warmup_end_ns {
                a.measured_received += 1;
                record(&mut a.latency, u64::from(d.lat_us));
                let l = &mut last[d.seq as usize];
                *l = Some(l.map_or(d.lat_us, |v| v.max(d.lat_us)));
            }
        }
    }
    for l in last.iter().flatten() {
        record(&mut a.last_subscriber, u64::from(*l));
    }
    a.lost = a.deliveries_expected.saturating_sub(a.deliveries_received);
    a
}

/// Events or deliveries per second over a window.
pub fn per_sec(n: u64, window: Duration) -> f64 {
    let s = window.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        (n as f64 / s).round()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Delivery;

    fn ev(seq: u64, channel: usize, due_ns: u64) -> SentEvent {
        SentEvent {
            seq,
            channel,
            due_ns,
            ok: true,
        }
    }

    fn conn(conn: usize, channel: usize, log: &[(u32, u32)]) -> ConnOutcome {
        ConnOutcome {
            conn,
            channel,
            log: log
                .iter()
                .map(|&(seq, lat_us)| Delivery { seq, lat_us })
                .collect(),
            ..ConnOutcome::default()
        }
    }

    #[test]
    fn counts_lost_duplicated_and_last_subscriber() {
        // Events 0 (warmup) and 1, 2 on channel 0; event 3 on channel 1.
        let sent = [
            ev(0, 0, 10),
            ev(1, 0, 2_000),
            ev(2, 0, 3_000),
            ev(3, 1, 4_000),
        ];
        let mut outcomes = vec![
            conn(0, 0, &[(0, 5), (1, 100), (2, 300), (2, 300)]), // one duplicate
            conn(1, 0, &[(2, 500), (1, 200)]),                   // misses warmup event 0
            conn(2, 1, &[(3, 50), (1, 7)]),                      // event 1 is not its channel
        ];
        let a = analyze(&sent, &mut outcomes, 2, 1_000);
        assert_eq!(a.events_sent, 4);
        assert_eq!(a.events_measured, 3);
        assert_eq!(a.deliveries_expected, 3 * 2 + 1);
        assert_eq!(a.deliveries_received, 3 + 2 + 1);
        assert_eq!(a.lost, 1);
        assert_eq!(a.duplicated, 1);
        assert_eq!(a.unexpected, 1);
        assert_eq!(a.measured_received, 5);
        // Per event maxima: seq1 200, seq2 500, seq3 50.
        let last = Percentiles::of(&a.last_subscriber);
        assert_eq!((last.count, last.max), (3, 500));
        assert_eq!(last.p50, 200);
        let lat = Percentiles::of(&a.latency);
        assert_eq!((lat.count, lat.max), (5, 500));
        assert_eq!(per_sec(500, Duration::from_millis(250)), 2000.0);
    }

    #[test]
    fn rss_per_connection() {
        let s = |rss_kb, cpu_secs| Sample { rss_kb, cpu_secs };
        let u = ProcUsage::from_samples(s(1000, 1.0), s(2000, 1.5), s(2100, 3.25), 1024);
        assert_eq!(u.rss_per_connection_bytes, 1000);
        assert_eq!(u.cpu_secs, 2.25);
    }
}
