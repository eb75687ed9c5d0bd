//! Event name patterns (`order.paid`, `inventory.*`, `*`) and tenant channel matching.
//!
//! Owns the grammar of a pattern, the rule that an event name matches it, and the rule that a
//! channel belongs to a tenant (`tenant.{id}`, `tenant.{id}.*` and their `private-` and
//! `presence-` forms). It never decides whether an endpoint is active or reachable.

use super::error::WebhookError;

/// Longest pattern, in bytes: Pusher's limit on an event name (200).
pub const MAX_PATTERN_LEN: usize = 200;
/// Longest tenant id, in bytes, so that `presence-tenant.{id}.x` stays a valid channel name.
pub const MAX_TENANT_LEN: usize = 100;

/// A validated event name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: every event.
    Any,
    /// `prefix.*`: every event whose name starts with `prefix.` and has at least one more
    /// segment (`inventory.*` matches `inventory.low` and `inventory.low.eu`, not `inventory`).
    Prefix(String),
    /// An exact event name.
    Exact(String),
}

impl Pattern {
    /// Parses and validates a pattern.
    pub fn parse(text: &str) -> Result<Pattern, WebhookError> {
        let fail = |reason| {
            Err(WebhookError::InvalidPattern {
                pattern: text.to_owned(),
                reason,
            })
        };
        if text.is_empty() {
            return fail("it is empty");
        }
        if text.len() > MAX_PATTERN_LEN {
            return fail("it is longer than 200 bytes");
        }
        if text == "*" {
            return Ok(Pattern::Any);
        }
        let (body, wildcard) = match text.strip_suffix(".*") {
            Some(prefix) => (prefix, true),
            None => (text, false),
        };
        if body.contains('*') {
            return fail(
                "'*' may only stand alone or as the whole last segment, as in 'inventory.*'",
            );
        }
        if body.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail("it contains a space or a control character");
        }
        if body.split('.').any(str::is_empty) {
            return fail("it has an empty segment (a leading, trailing or doubled '.')");
        }
        Ok(if wildcard {
            Pattern::Prefix(format!("{body}."))
        } else {
            Pattern::Exact(body.to_owned())
        })
    }

    /// Whether the event name `event` matches.
    pub fn matches(&self, event: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Prefix(prefix) => event.len() > prefix.len() && event.starts_with(prefix),
            Pattern::Exact(name) => name == event,
        }
    }
}

/// Parses a list of patterns, refusing an empty list and naming the first bad entry.
pub fn parse_patterns<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Pattern>, WebhookError> {
    texts.iter().map(|t| Pattern::parse(t.as_ref())).collect()
}

/// Whether `event` matches any of `patterns`.
pub fn any_matches(patterns: &[Pattern], event: &str) -> bool {
    patterns.iter().any(|p| p.matches(event))
}

/// Checks a tenant id: non-empty, at most 100 bytes, and only characters a channel name allows
/// other than `.` (a dot would let tenant `a` see tenant `a.b`'s channels).
pub fn validate_tenant(id: &str) -> Result<(), WebhookError> {
    let fail = |reason| Err(WebhookError::InvalidTenant { reason });
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.len() > MAX_TENANT_LEN {
        return fail("it is longer than 100 bytes");
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=' | '@' | ',' | ';');
    if !id.chars().all(allowed) {
        return fail("use only letters, digits and _ - = @ , ; (no '.')");
    }
    Ok(())
}

/// Whether `channel` belongs to tenant `id`: `tenant.{id}` or `tenant.{id}.…`, optionally
/// prefixed with `private-` or `presence-`.
pub fn channel_in_tenant(channel: &str, id: &str) -> bool {
    let bare = channel
        .strip_prefix("private-")
        .or_else(|| channel.strip_prefix("presence-"))
        .unwrap_or(channel);
    let Some(rest) = bare
        .strip_prefix("tenant.")
        .and_then(|r| r.strip_prefix(id))
    else {
        return false;
    };
    rest.is_empty() || (rest.len() > 1 && rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_prefix_and_any_match_as_documented() {
        let exact = Pattern::parse("order.paid").unwrap();
        assert!(exact.matches("order.paid"));
        assert!(!exact.matches("order.paid.late"));
        assert!(!exact.matches("order"));
        let prefix = Pattern::parse("inventory.*").unwrap();
        assert!(prefix.matches("inventory.low"));
        assert!(prefix.matches("inventory.low.eu"));
        assert!(!prefix.matches("inventory"));
        assert!(!prefix.matches("inventory."));
        assert!(!prefix.matches("inventoryx.low"));
        assert!(Pattern::parse("*").unwrap().matches("anything at all"));
        assert!(Pattern::parse(r"App\Events\OrderPaid")
            .unwrap()
            .matches(r"App\Events\OrderPaid"));
    }

    #[test]
    fn invalid_patterns_are_refused_with_their_reason() {
        let cases = [
            ("", "empty"),
            ("order.*.paid", "whole last segment"),
            ("order*", "whole last segment"),
            ("*.paid", "whole last segment"),
            ("**", "whole last segment"),
            (".order", "empty segment"),
            ("order.", "empty segment"),
            ("order..paid", "empty segment"),
            (".*", "empty segment"),
            ("order paid", "space"),
            ("order\u{7}", "control"),
        ];
        for (text, reason) in cases {
            let err = Pattern::parse(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text:?}: {err}");
            assert!(
                err.contains("inventory.*"),
                "the message shows a valid form: {err}"
            );
        }
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert!(Pattern::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("200"));
        assert!(Pattern::parse(&"a".repeat(MAX_PATTERN_LEN)).is_ok());
        let list = parse_patterns(&["order.paid", "bad..one"]).unwrap_err();
        assert!(list.to_string().contains("bad..one"));
    }

    #[test]
    fn tenant_channels_in_all_three_forms() {
        for ch in [
            "tenant.acme",
            "tenant.acme.orders",
            "private-tenant.acme",
            "private-tenant.acme.orders.eu",
            "presence-tenant.acme.room",
        ] {
            assert!(channel_in_tenant(ch, "acme"), "{ch}");
        }
        for ch in [
            "tenant.acmeco",
            "tenant.acme.",
            "tenant.other.acme",
            "private-encrypted-tenant.acme",
            "cache-tenant.acme",
            "acme",
            "tenant.",
            "presence-tenant.ac",
        ] {
            assert!(!channel_in_tenant(ch, "acme"), "{ch}");
        }
    }

    #[test]
    fn tenant_ids_refuse_dots_and_oversize() {
        assert!(validate_tenant("acme-01").is_ok());
        assert!(validate_tenant("").is_err());
        assert!(validate_tenant("a.b")
            .unwrap_err()
            .to_string()
            .contains("no '.'"));
        assert!(validate_tenant(&"x".repeat(101)).is_err());
    }

    proptest! {
        #[test]
        fn exact_patterns_match_only_themselves(name in "[a-z]{1,8}(\\.[a-z]{1,8}){0,3}", other in "[a-z.]{0,20}") {
            let p = Pattern::parse(&name).unwrap();
            prop_assert!(p.matches(&name));
            prop_assert_eq!(p.matches(&other), other == name);
        }

        #[test]
        fn prefix_patterns_match_every_longer_name(prefix in "[a-z]{1,8}", tail in "[a-z]{1,8}") {
            let p = Pattern::parse(&format!("{prefix}.*")).unwrap();
            let matched = format!("{prefix}.{tail}");
            prop_assert!(p.matches(&matched));
            prop_assert!(!p.matches(&prefix));
        }
    }
}
