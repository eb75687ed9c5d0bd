//! Which WebSocket upgrades to `/app/{key}` become Pusher sessions: the browser's `Origin`
//! against the app's `allowed_origins`, and the `protocol` query parameter.
//!
//! Finding the app and counting its connections is the shell's (it owns the configuration
//! and the counters); these rules only look at what the client sent.

use std::ops::RangeInclusive;

use super::super::error::PusherError;

/// Pusher protocol versions this server speaks (pusher-js sends 7).
pub const PROTOCOLS: RangeInclusive<u32> = 5..=7;

/// Checks an upgrade's `Origin` header and `protocol` query parameter.
pub fn check(
    allowed_origins: &[String],
    origin: Option<&str>,
    protocol: Option<&str>,
) -> Result<(), PusherError> {
    if let Some(origin) = origin {
        if !origin_allowed(allowed_origins, origin) {
            return Err(PusherError::Unauthorized);
        }
    }
    let protocol = protocol.ok_or(PusherError::NoProtocolVersion)?;
    let version: u32 = protocol
        .parse()
        .map_err(|_| PusherError::InvalidVersionFormat)?;
    if !PROTOCOLS.contains(&version) {
        return Err(PusherError::UnsupportedProtocol);
    }
    Ok(())
}

/// Whether a browser `Origin` may connect: `*`, the exact origin, its host, or a `*.domain`
/// pattern matching the host (Reverb compares hosts the same way).
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    allowed.iter().any(|a| {
        a == "*"
            || a == origin
            || a.eq_ignore_ascii_case(host)
            || a.strip_prefix("*.").is_some_and(|domain| {
                host.len() > domain.len() + 1
                    && host
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn origins_match_exactly_by_host_or_by_subdomain_pattern() {
        let allowed = list(&["https://app.test", "example.com", "*.corp.test"]);
        assert!(origin_allowed(&allowed, "https://app.test"));
        assert!(origin_allowed(&allowed, "http://EXAMPLE.com:8080"));
        assert!(origin_allowed(&allowed, "https://a.b.corp.test"));
        assert!(
            !origin_allowed(&allowed, "https://corp.test"),
            "apex is not *.corp.test"
        );
        assert!(!origin_allowed(&allowed, "https://evilcorp.test"));
        assert!(!origin_allowed(&allowed, "https://app.test.evil"));
        assert!(origin_allowed(&list(&["*"]), "https://anything"));
        assert!(!origin_allowed(&[], "https://app.test"));
    }

    #[test]
    fn protocol_version_must_be_an_integer_we_speak() {
        let any = list(&["*"]);
        assert_eq!(check(&any, None, Some("7")), Ok(()));
        assert_eq!(check(&any, None, Some("5")), Ok(()));
        assert_eq!(check(&any, None, None), Err(PusherError::NoProtocolVersion));
        assert_eq!(
            check(&any, None, Some("seven")),
            Err(PusherError::InvalidVersionFormat)
        );
        assert_eq!(
            check(&any, None, Some("8")),
            Err(PusherError::UnsupportedProtocol)
        );
        assert_eq!(
            check(
                &list(&["https://a.test"]),
                Some("https://b.test"),
                Some("7")
            ),
            Err(PusherError::Unauthorized),
            "the origin is checked first"
        );
    }
}
