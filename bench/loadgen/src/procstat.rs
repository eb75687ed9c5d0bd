//! Samples a process's resident memory and CPU time from `/proc` (Linux only).
//!
//! Owns reading `/proc/PID/status` (VmRSS) and `/proc/PID/stat` (utime + stime). Nothing else:
//! callers decide when to sample and what the differences mean.

/// One sample of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub rss_kb: u64,
    pub cpu_secs: f64,
}

/// `pid` is `None` for this process.
pub fn sample(pid: Option<u32>) -> Option<Sample> {
    let dir = pid.map_or_else(|| "/proc/self".to_owned(), |p| format!("/proc/{p}"));
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    Some(Sample {
        rss_kb,
        cpu_secs: cpu_from_stat(&stat)?,
    })
}

/// utime + stime in seconds from a `/proc/PID/stat` line (fields 14 and 15; the command name in
/// field 2 may contain spaces, so count from its closing parenthesis).
pub fn cpu_from_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Some((utime + stime) as f64 / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let stat = "42 (floor server) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert_eq!(cpu_from_stat(stat), Some(300.0 / hz));
        assert!(sample(None).is_some_and(|s| s.rss_kb > 0));
    }
}
