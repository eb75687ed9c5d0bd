//! The SSRF guard: which URLs may be webhook targets and which addresses may be connected to.
//!
//! Owns URL validation (http or https only, at most 2,048 bytes, a host, no credentials, a valid
//! port) and address classification (loopback, private, link-local, CGNAT 100.64/10, ULA
//! fc00::/7, multicast, unspecified, broadcast, and IPv4-mapped IPv6 judged by its inner
//! address). An address outside the public class is refused unless it lies in one of the
//! configured `webhooks.allowed_subnets`. It never resolves names: the HTTP client resolves once
//! and checks the very address it connects to with [`check_ip`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::WebhookError;
use crate::proto::http::HttpUrl;
use crate::ratelimit::Cidr;

/// Longest accepted URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// The kind of an address, as far as the guard cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Routable on the internet.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT.
    Cgnat,
    /// fc00::/7, unique local IPv6.
    UniqueLocal,
    /// 224/4, ff00::/8.
    Multicast,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
}

impl AddressClass {
    /// User-facing name of the class.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private-network",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Cgnat => "carrier-grade NAT (100.64.0.0/10)",
            AddressClass::UniqueLocal => "unique-local IPv6 (fc00::/7)",
            AddressClass::Multicast => "multicast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Broadcast => "broadcast",
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if a == 0 {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if a == 100 && (64..128).contains(&b) {
        AddressClass::Cgnat
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if first & 0xfe00 == 0xfc00 {
        AddressClass::UniqueLocal
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else {
        AddressClass::Public
    }
}

/// The address the guard judges: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4
/// address, so `::ffff:127.0.0.1` cannot pass as public.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The class of `ip` (of its inner address when IPv4-mapped).
pub fn classify(ip: IpAddr) -> AddressClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether a connection to `ip` is allowed: public, or inside one of `allowed`.
pub fn check_ip(ip: IpAddr, allowed: &[Cidr]) -> Result<(), WebhookError> {
    let ip = canonical(ip);
    match classify(ip) {
        AddressClass::Public => Ok(()),
        _ if allowed.iter().any(|c| c.contains(ip)) => Ok(()),
        class => Err(WebhookError::RefusedAddress { ip, class }),
    }
}

/// A validated webhook URL, split for the HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// Whether the scheme is https.
    pub https: bool,
    /// Host, port (443 by default for https) and path, as the outgoing HTTP client takes them.
    pub url: HttpUrl,
    /// The IP when the host is a literal.
    pub ip: Option<IpAddr>,
}

fn invalid(reason: impl Into<String>) -> WebhookError {
    WebhookError::InvalidUrl {
        reason: reason.into(),
    }
}

/// Parses and validates a webhook URL. The split into host, port and path is the outgoing
/// client's own ([`HttpUrl`]); this adds https, the length limit and the guard. An IP literal
/// is classified here; a name is checked only when it is `localhost` (or under `.localhost`),
/// which always means loopback.
pub fn parse_url(url: &str, allowed: &[Cidr]) -> Result<TargetUrl, WebhookError> {
    if url.len() > MAX_URL_LEN {
        let len = url.len();
        return Err(invalid(format!(
            "it is {len} bytes long; the limit is {MAX_URL_LEN}"
        )));
    }
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid("it contains a space or a control character"));
    }
    let scheme = |p: &str| {
        url.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let (https, rest) = if scheme("https://") {
        (true, &url[8..])
    } else if scheme("http://") {
        (false, &url[7..])
    } else {
        return Err(invalid(
            "only http:// and https:// URLs can receive webhooks",
        ));
    };
    let mut parsed =
        HttpUrl::parse(&format!("http://{rest}")).map_err(|e| invalid(e.to_string()))?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let after_v6 = authority
        .rsplit_once(']')
        .map_or(authority, |(_, tail)| tail);
    if https && !after_v6.contains(':') {
        parsed.port = 443;
    }
    let ip = parsed.host.parse::<IpAddr>().ok();
    let lower = parsed.host.to_ascii_lowercase();
    if let Some(ip) = ip {
        check_ip(ip, allowed)?;
    } else if lower == "localhost" || lower.ends_with(".localhost") {
        check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST), allowed)?;
    }
    Ok(TargetUrl {
        https,
        url: parsed,
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn public_urls_split_back_into_their_parts(
            host in "[a-z]{1,10}(\\.[a-z]{1,10}){1,3}",
            port in proptest::option::of(1u16..),
            path in "(/[A-Za-z0-9._~-]{0,12}){0,4}(\\?[a-z0-9=&]{0,12})?",
            https in any::<bool>(),
        ) {
            prop_assume!(!host.ends_with(".localhost"), "always loopback, refused by design");
            let scheme = if https { "https" } else { "http" };
            let authority = port.map_or(host.clone(), |p| format!("{host}:{p}"));
            let u = parse_url(&format!("{scheme}://{authority}{path}"), &[]).unwrap();
            prop_assert_eq!(u.https, https);
            prop_assert_eq!(&u.url.host, &host);
            prop_assert_eq!(u.url.port, port.unwrap_or(if https { 443 } else { 80 }));
            let want = if path.starts_with('/') { path.clone() } else { format!("/{path}") };
            prop_assert_eq!(&u.url.path_and_query, &want);
        }

        #[test]
        fn arbitrary_text_never_panics(url in "\\PC{0,80}") {
            let _ = parse_url(&url, &[]);
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_address_class() {
        let cases = [
            ("8.8.8.8", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.9", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.0.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::Cgnat),
            ("100.127.255.255", AddressClass::Cgnat),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd12:3456::1", AddressClass::UniqueLocal),
            ("224.0.0.1", AddressClass::Multicast),
            ("239.255.255.250", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("0.0.0.0", AddressClass::Unspecified),
            ("0.1.2.3", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("255.255.255.255", AddressClass::Broadcast),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:10.0.0.1", AddressClass::Private),
            ("::ffff:8.8.8.8", AddressClass::Public),
        ];
        for (text, class) in cases {
            assert_eq!(classify(ip(text)), class, "{text}");
        }
        for edge in [
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "172.15.255.255",
        ] {
            assert_eq!(classify(ip(edge)), AddressClass::Public, "{edge}");
        }
    }

    #[test]
    fn allowed_subnets_let_a_class_through() {
        let allow = [Cidr::parse("127.0.0.0/8").unwrap()];
        assert!(check_ip(ip("127.0.0.1"), &allow).is_ok());
        assert!(
            check_ip(ip("::ffff:127.0.0.1"), &allow).is_ok(),
            "mapped form matches too"
        );
        let err = check_ip(ip("10.0.0.1"), &allow).unwrap_err().to_string();
        assert!(
            err.contains("10.0.0.1") && err.contains("private-network"),
            "{err}"
        );
        assert!(err.contains("allowed_subnets"), "{err}");
        let err = check_ip(ip("::ffff:169.254.169.254"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("to 169.254.169.254,") && err.contains("link-local"),
            "{err}"
        );
    }

    #[test]
    fn urls_split_into_parts() {
        let u = parse_url("HTTPS://hooks.example.com/in?x=1#frag", &[]).unwrap();
        let parts = (
            u.https,
            u.url.host.as_str(),
            u.url.port,
            u.url.path_and_query.as_str(),
        );
        assert_eq!(parts, (true, "hooks.example.com", 443, "/in?x=1"));
        assert_eq!(
            parse_url("https://x.example:8443/", &[]).unwrap().url.port,
            8443
        );
        assert_eq!(
            parse_url("https://[2606:4700::1111]/", &[])
                .unwrap()
                .url
                .port,
            443
        );
        let u = parse_url("http://[2606:4700::1111]:8080", &[]).unwrap();
        let parts = (u.ip, u.url.port, u.url.path_and_query.as_str());
        assert_eq!(parts, (Some(ip("2606:4700::1111")), 8080, "/"));
        let u = parse_url("http://93.184.216.34?q", &[]).unwrap();
        let parts = (u.https, u.url.port, u.url.path_and_query.as_str());
        assert_eq!(parts, (false, 80, "/?q"));
        let allow = [Cidr::parse("127.0.0.0/8").unwrap()];
        assert_eq!(
            parse_url("http://127.0.0.1:9/h", &allow).unwrap().url.port,
            9
        );
        assert!(parse_url("http://localhost:9/h", &allow).is_ok());
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        let cases = [
            ("ftp://example.com/", "only http:// and https://"),
            ("example.com/hook", "only http:// and https://"),
            ("https:///path", "no host"),
            ("https://:443/", "no host"),
            ("https://user:pw@example.com/", "user:password@"),
            ("https://example.com:0/", "port must be a number 1-65535"),
            (
                "https://example.com:99999/",
                "port must be a number 1-65535",
            ),
            ("https://example.com:x/", "port must be a number 1-65535"),
            ("https://[::1/", "unclosed ["),
            ("https://bücher.example/", "visible ASCII"),
            ("https://exa mple.com/", "space"),
            ("http://127.0.0.1/", "loopback"),
            ("http://[::1]:80/", "loopback"),
            ("http://LOCALHOST/", "loopback"),
            ("http://api.localhost/", "loopback"),
            ("http://169.254.169.254/latest/meta-data", "link-local"),
            ("http://[::ffff:10.0.0.1]/", "private-network"),
            (long.as_str(), "the limit is 2048"),
        ];
        for (url, reason) in cases {
            let err = parse_url(url, &[]).unwrap_err().to_string();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }
}
