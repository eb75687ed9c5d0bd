//! The soak's REST publishers: one for the big fan-out channel, up to eight for the small
//! channels, each channel owned by exactly one publisher that sends one request at a time.
//!
//! That ownership is what lets the accounting treat a channel's publish log as ordered (start
//! and answer times grow with the channel's seq). Owns the schedule and the body
//! `{"name":"soak","channels":[..],"data":"{\"k\":K,\"c\":C,\"seq\":S,\"t\":T}"}`; never looks at
//! deliveries.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::account::PubRec;
use crate::client::Shared;
use crate::publisher::{accepted, Http};
use crate::sign::signed_query;
use crate::stats::new_histogram;

/// Credentials and address for publishing.
pub struct PubTarget {
    pub shared: Arc<Shared>,
    pub app_id: String,
    pub key: String,
    pub secret: String,
}

/// One publisher's work: `channels` (index, name) in turn, at `rate` events per second, with
/// traffic kind `kind` in the stamp.
pub struct PubPlan {
    pub kind: u8,
    pub channels: Vec<(usize, Arc<str>)>,
    pub rate: f64,
}

/// What a publisher hands back: each channel's log, indexed by its seq.
pub struct PubOut {
    pub logs: Vec<(usize, Vec<PubRec>)>,
    pub rtt_us: Histogram<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// The body of event `seq` of channel `c` stamped `t_ns`.
pub fn body(kind: u8, name: &str, c: usize, seq: usize, t_ns: u64) -> String {
    format!(
        r#"{{"name":"soak","channels":["{name}"],"data":"{{\"k\":{kind},\"c\":{c},\"seq\":{seq},\"t\":{t_ns}}}"}}"#
    )
}

/// Publishes from `start` until `end`.
pub async fn run(target: Arc<PubTarget>, plan: PubPlan, start: Instant, end: Instant) -> PubOut {
    let sh = &target.shared;
    let mut http = Http::new(sh.addr, sh.host.clone());
    let path = format!("/apps/{}/events", target.app_id);
    let mut out = PubOut {
        logs: plan
            .channels
            .iter()
            .map(|(c, _)| (*c, Vec::new()))
            .collect(),
        rtt_us: new_histogram(),
        errors: 0,
        first_error: None,
    };
    if plan.channels.is_empty() || plan.rate <= 0.0 {
        return out;
    }
    let step = Duration::from_secs_f64(1.0 / plan.rate);
    let mut due = start + step.mul_f64(fastrand::f64());
    let mut turn = 0usize;
    while due < end {
        tokio::time::sleep_until(due.into()).await;
        let i = turn % plan.channels.len();
        turn += 1;
        let (c, name) = &plan.channels[i];
        let seq = out.logs[i].1.len();
        let t = sh.now_ns();
        let b = body(plan.kind, name, *c, seq, t);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let query = signed_query(
            "POST",
            &path,
            &target.key,
            &target.secret,
            unix,
            b.as_bytes(),
        );
        let result = http.post(&format!("{path}?{query}"), &b).await;
        let ack = sh.now_ns();
        let _ = out.rtt_us.record(((ack - t) / 1000).clamp(1, 60_000_000));
        let ok = accepted(result, &mut out.first_error);
        out.errors += u64::from(!ok);
        out.logs[i].1.push(PubRec { start: t, ack, ok });
        due += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_the_stamp() {
        let b = body(1, "soak-g-3", 3, 7, 99);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["channels"][0], "soak-g-3");
        let d: serde_json::Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            (d["k"].as_u64(), d["c"].as_u64(), d["seq"].as_u64()),
            (Some(1), Some(3), Some(7))
        );
    }
}
