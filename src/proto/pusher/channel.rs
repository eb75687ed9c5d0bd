//! Channel names: validation and classification by prefix.
//!
//! Owns Pusher's channel naming rules (docs: "Channel Naming Conventions": letters, digits and
//! `_ - = @ , . ;`; `#` reserved for Pusher's own channels) and the mapping from a name's prefix
//! to the kind of subscription it needs. It never tracks subscriptions or checks signatures.

use super::error::PusherError;

/// The longest channel name accepted, in bytes (all allowed characters are ASCII).
///
/// Pusher's channel docs say 164 characters; Pusher's HTTP API and Reverb/soketi defaults allow
/// 200, and names created through the REST API must be subscribable, so we take the larger.
pub const MAX_CHANNEL_NAME_LEN: usize = 200;

/// The prefix pusher-js uses for the per-user channel it subscribes to after `pusher:signin`.
const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// What a channel's prefix makes of it. Cache channels are a property orthogonal to the kind,
/// see [`is_cache_channel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// No prefix: anyone may subscribe.
    Public,
    /// `private-`: needs a signature over `socket_id:channel`.
    Private,
    /// `private-encrypted-`: signed like private; payloads are end-to-end encrypted by the apps.
    PrivateEncrypted,
    /// `presence-`: needs a signature over `socket_id:channel:channel_data`, tracks members.
    Presence,
}

impl ChannelKind {
    /// Whether subscribing needs an `auth` signature.
    pub fn requires_auth(self) -> bool {
        !matches!(self, ChannelKind::Public)
    }
}

/// Validates `name` and classifies it by prefix.
///
/// `private-encrypted-` is checked before `private-` because it is the longer prefix;
/// `private-cache-x` is Private and `presence-cache-x` Presence (cache is orthogonal).
pub fn channel_kind(name: &str) -> Result<ChannelKind, PusherError> {
    if name.is_empty() {
        return Err(PusherError::InvalidChannelName {
            reason: "the name is empty",
        });
    }
    if name.len() > MAX_CHANNEL_NAME_LEN {
        return Err(PusherError::InvalidChannelName {
            reason: "the name is longer than 200 characters",
        });
    }
    if let Some(bad) = name.bytes().find(|b| !is_allowed(*b)) {
        return Err(PusherError::InvalidChannelName {
            reason: if bad == b'#' {
                "`#` is reserved for internal channels"
            } else {
                "only letters, digits and _ - = @ , . ; are allowed"
            },
        });
    }
    Ok(if name.starts_with("private-encrypted-") {
        ChannelKind::PrivateEncrypted
    } else if name.starts_with("private-") {
        ChannelKind::Private
    } else if name.starts_with("presence-") {
        ChannelKind::Presence
    } else {
        ChannelKind::Public
    })
}

/// Whether the channel remembers its last event for new subscribers (Pusher cache channels:
/// `cache-`, `private-cache-`, `private-encrypted-cache-`, `presence-cache-`).
pub fn is_cache_channel(name: &str) -> bool {
    [
        "cache-",
        "private-cache-",
        "private-encrypted-cache-",
        "presence-cache-",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// The user id of pusher-js's per-user channel `#server-to-user-{id}`, which it subscribes to
/// after a successful `pusher:signin`. [`channel_kind`] rejects these names (`#` is reserved),
/// so the shell checks this first and allows the subscription only for the signed-in user.
pub fn server_to_user_id(name: &str) -> Option<&str> {
    name.strip_prefix(SERVER_TO_USER_PREFIX)
        .filter(|id| !id.is_empty() && name.len() <= MAX_CHANNEL_NAME_LEN)
}

fn is_allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'@' | b',' | b'.' | b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_prefix() {
        assert_eq!(channel_kind("my-channel"), Ok(ChannelKind::Public));
        assert_eq!(channel_kind("cache-x"), Ok(ChannelKind::Public));
        assert_eq!(channel_kind("private-foobar"), Ok(ChannelKind::Private));
        assert_eq!(channel_kind("private-cache-x"), Ok(ChannelKind::Private));
        assert_eq!(
            channel_kind("private-encrypted-x"),
            Ok(ChannelKind::PrivateEncrypted)
        );
        assert_eq!(channel_kind("presence-room"), Ok(ChannelKind::Presence));
        assert_eq!(channel_kind("presence-cache-x"), Ok(ChannelKind::Presence));
        // Laravel Echo's default naming: dots are allowed.
        assert_eq!(
            channel_kind("private-App.Models.User.1"),
            Ok(ChannelKind::Private)
        );
        // No dash: not a prefix, so public.
        assert_eq!(channel_kind("privatechannel"), Ok(ChannelKind::Public));
    }

    #[test]
    fn accepts_the_docs_example_and_all_punctuation() {
        assert_eq!(channel_kind("foo-bar_1234@=,.;"), Ok(ChannelKind::Public));
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "a b",
            "a#b",
            "#server-to-user-1",
            "é",
            "a/b",
            "a:b",
            "a\"b",
            "a*",
        ] {
            assert!(
                matches!(
                    channel_kind(bad),
                    Err(PusherError::InvalidChannelName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn length_limit_is_inclusive() {
        let ok = "a".repeat(MAX_CHANNEL_NAME_LEN);
        assert_eq!(channel_kind(&ok), Ok(ChannelKind::Public));
        let long = "a".repeat(MAX_CHANNEL_NAME_LEN + 1);
        assert!(channel_kind(&long).is_err());
    }

    #[test]
    fn requires_auth_for_all_but_public() {
        assert!(!ChannelKind::Public.requires_auth());
        assert!(ChannelKind::Private.requires_auth());
        assert!(ChannelKind::PrivateEncrypted.requires_auth());
        assert!(ChannelKind::Presence.requires_auth());
    }

    #[test]
    fn cache_channels() {
        assert!(is_cache_channel("cache-x"));
        assert!(is_cache_channel("private-cache-x"));
        assert!(is_cache_channel("private-encrypted-cache-x"));
        assert!(is_cache_channel("presence-cache-x"));
        assert!(!is_cache_channel("cachex"));
        assert!(!is_cache_channel("private-x"));
    }

    #[test]
    fn server_to_user_channel() {
        assert_eq!(server_to_user_id("#server-to-user-42"), Some("42"));
        assert_eq!(server_to_user_id("#server-to-user-"), None);
        assert_eq!(server_to_user_id("server-to-user-42"), None);
    }
}
