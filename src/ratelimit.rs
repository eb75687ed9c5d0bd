//! Connection-rate limiting by client address: the exact sliding window, the address grouping
//! (IPv6 by /64) and the trusted-proxy rule for `X-Forwarded-For`.
//!
//! Pure logic with `now` passed in. Each address group is counted by exactly one core (its
//! owner, chosen by hash), so the window is exact across all cores: never more than `limit`
//! admissions in any `window`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// An address group: an IPv4 address, or the /64 prefix of an IPv6 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpGroup(u128);

impl IpGroup {
    /// The group of `ip` (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => IpGroup(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpGroup(u128::from(u32::from(v4))),
                None => IpGroup((u128::from(v6) >> 64 << 64) | 1 << 32),
            },
        }
    }

    /// A stable number for choosing the owning core.
    pub fn hash(&self) -> u64 {
        (self.0 ^ (self.0 >> 64)) as u64
    }
}

/// A trusted proxy: an address with a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1` or `192.168.1.7` (a bare address is a /32 or /128).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("'{s}' has an invalid prefix length"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(chain) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in chain.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Admissions per address group within a sliding window.
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    seen: HashMap<IpGroup, VecDeque<Instant>>,
}

impl SlidingWindow {
    /// At most `limit` admissions per group in any `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        SlidingWindow {
            limit,
            window,
            seen: HashMap::new(),
        }
    }

    /// Admits one connection from `group` at `now`, or returns how long until one would be.
    pub fn admit(&mut self, group: IpGroup, now: Instant) -> Result<(), Duration> {
        let times = self.seen.entry(group).or_default();
        while times
            .front()
            .is_some_and(|&t| now.duration_since(t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() < self.limit {
            times.push_back(now);
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        Err(self.window.saturating_sub(now.duration_since(oldest)))
    }

    /// Forgets groups with no admission inside the window (bounded memory).
    pub fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.seen.retain(|_, t| {
            t.back()
                .is_some_and(|&last| now.duration_since(last) < window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn window_is_exact() {
        let mut w = SlidingWindow::new(3, Duration::from_secs(60));
        let g = IpGroup::of(ip("1.2.3.4"));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(w.admit(g, t0 + Duration::from_secs(i * 10)).is_ok());
        }
        // The fourth at t=30 waits until the first (t=0) leaves the window at t=60.
        assert_eq!(
            w.admit(g, t0 + Duration::from_secs(30)),
            Err(Duration::from_secs(30))
        );
        assert!(w.admit(g, t0 + Duration::from_secs(60)).is_ok());
        assert!(
            w.admit(IpGroup::of(ip("1.2.3.5")), t0).is_ok(),
            "other address"
        );
        w.prune(t0 + Duration::from_secs(200));
        assert!(w.seen.is_empty());
    }

    #[test]
    fn ipv6_is_grouped_by_64() {
        assert_eq!(
            IpGroup::of(ip("2001:db8:1:2::1")),
            IpGroup::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            IpGroup::of(ip("2001:db8:1:2::1")),
            IpGroup::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            IpGroup::of(ip("::ffff:1.2.3.4")),
            IpGroup::of(ip("1.2.3.4"))
        );
        assert_ne!(IpGroup::of(ip("::1")), IpGroup::of(ip("0.0.0.1")));
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = [
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ];
        assert_eq!(
            client_ip(ip("8.8.8.8"), Some("1.1.1.1"), &trusted),
            ip("8.8.8.8")
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("1.1.1.1"), &trusted),
            ip("1.1.1.1")
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("6.6.6.6, 1.1.1.1, 10.2.2.2"), &trusted),
            ip("1.1.1.1"),
            "right-most untrusted hop"
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("garbage"), &trusted),
            ip("10.1.1.1")
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("9.9.9.9")));
    }
}
