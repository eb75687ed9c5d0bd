//! The conformance report: a text summary (counts per verdict and per section, every non-OK
//! case with its reason, section 9 timings) and the same data as JSON, written under
//! `<target dir>/conformance/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::case::Verdict;
use super::runner::Result;

/// The verdicts the summary counts, in report order.
const COUNTED: [Verdict; 5] = [
    Verdict::Ok,
    Verdict::NonStrict,
    Verdict::Informational,
    Verdict::Unimplemented,
    Verdict::Failed,
];

/// A server that takes this long to close TCP after the closing handshake is noted: Autobahn's
/// client gives it 1 s before dropping the connection itself.
const SLOW_TCP_CLOSE: Duration = Duration::from_millis(500);

/// Section ids in numeric order ("10" after "9").
fn section_key(id: &str) -> Vec<u32> {
    id.split('.').filter_map(|p| p.parse().ok()).collect()
}

pub fn summary(results: &[Result], target: &str, wall: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "WebSocket conformance: Autobahn fuzzingclient sections 1-7, 9, 10"
    );
    let _ = writeln!(out, "server: {target}");
    let _ = writeln!(
        out,
        "{} cases in {:.1} s\n",
        results.len(),
        wall.as_secs_f64()
    );

    let count = |v: Verdict, rs: &mut dyn Iterator<Item = &Result>| {
        rs.filter(|r| r.outcome.overall() == v).count()
    };
    let _ = writeln!(out, "{:<15}{:>6}", "verdict", "cases");
    for v in COUNTED {
        let _ = writeln!(out, "{:<15}{:>6}", v.label(), count(v, &mut results.iter()));
    }

    let mut sections: BTreeMap<Vec<u32>, Vec<&Result>> = BTreeMap::new();
    for r in results {
        sections
            .entry(section_key(&r.id)[..1].to_vec())
            .or_default()
            .push(r);
    }
    let _ = write!(out, "\n{:<9}{:>6}", "section", "cases");
    for v in COUNTED {
        let _ = write!(out, "{:>15}", v.label());
    }
    out.push('\n');
    for (key, rs) in &sections {
        let _ = write!(out, "{:<9}{:>6}", key[0], rs.len());
        for v in COUNTED {
            let _ = write!(out, "{:>15}", count(v, &mut rs.iter().copied()));
        }
        out.push('\n');
    }

    let mut not_ok: Vec<&Result> = results
        .iter()
        .filter(|r| r.outcome.overall() != Verdict::Ok)
        .collect();
    not_ok.sort_by_key(|r| section_key(&r.id));
    let _ = writeln!(out, "\nnon-OK cases ({}):", not_ok.len());
    if not_ok.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for r in not_ok {
        let o = &r.outcome;
        let _ = writeln!(
            out,
            "  {:<9}{:<15}behaviour {}, close {}: {}",
            r.id,
            o.overall().label(),
            o.behavior,
            o.close,
            o.reason
        );
        let _ = writeln!(out, "  {:<24}expected: {}", "", r.expectation);
        let _ = writeln!(out, "  {:<24}observed: {}", "", o.observed);
    }

    let delays: Vec<(&str, Duration)> = results
        .iter()
        .filter_map(|r| Some((r.id.as_str(), r.outcome.tcp_close_delay?)))
        .collect();
    let slow = delays.iter().filter(|(_, d)| *d >= SLOW_TCP_CLOSE).count();
    let max = delays.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let _ = writeln!(
        out,
        "\nTCP close after the closing handshake (informational): {slow} of {} cases took >= {} ms \
         (max {} ms); RFC 6455 7.1.1 wants the server to close TCP first, and promptly",
        delays.len(),
        SLOW_TCP_CLOSE.as_millis(),
        max.as_millis()
    );

    let _ = writeln!(out, "\nsection 9 timings (informational):");
    for r in results.iter().filter(|r| r.id.starts_with("9.")) {
        let _ = writeln!(
            out,
            "  {:<8}{:>8} ms  {:<10} {}",
            r.id,
            r.outcome.duration.as_millis(),
            r.outcome.overall().label(),
            r.description
        );
    }
    out
}

pub fn json(results: &[Result], target: &str, wall: Duration) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = COUNTED
        .iter()
        .map(|v| {
            (
                v.label().to_owned(),
                json!(results.iter().filter(|r| r.outcome.overall() == *v).count()),
            )
        })
        .collect();
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let o = &r.outcome;
            json!({
                "id": r.id,
                "description": r.description,
                "expectation": r.expectation,
                "verdict": o.overall().label(),
                "behavior": o.behavior.label(),
                "behavior_close": o.close.label(),
                "reason": o.reason,
                "observed": o.observed,
                "remote_close_code": o.remote_close_code,
                "tcp_close_delay_ms": o.tcp_close_delay.map(|d| d.as_millis() as u64),
                "duration_ms": o.duration.as_millis() as u64,
            })
        })
        .collect();
    json!({ "server": target, "wall_ms": wall.as_millis() as u64, "counts": counts, "cases": cases })
}

/// `<target dir>/conformance`, found from this test binary's path (`<target>/<profile>/deps/`)
/// so that `CARGO_TARGET_DIR` is honoured.
pub fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("conformance")
}
