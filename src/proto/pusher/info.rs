//! The `info=` attributes of the REST channel queries and of a publish: which counts the
//! caller asks for, and the rule that `user_count` exists only for presence channels.
//!
//! Counting is the shell's (it asks every core); this module only parses the request and
//! shapes the attributes object of the answer.

use std::fmt;

use serde_json::{json, Map, Value};

/// The counts an `info=` parameter asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Info {
    /// `subscription_count`: connections subscribed, over all cores.
    pub subscription_count: bool,
    /// `user_count`: distinct presence members.
    pub user_count: bool,
}

/// Why an `info=` parameter was refused (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoError {
    /// An attribute other than `subscription_count` or `user_count`.
    UnknownAttribute(String),
    /// `user_count` asked for channels that are not all presence channels.
    UserCountNeedsPresence,
}

impl fmt::Display for InfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfoError::UnknownAttribute(attr) => write!(
                f,
                "unknown info attribute '{attr}': use subscription_count or user_count"
            ),
            InfoError::UserCountNeedsPresence => f.write_str(
                "info=user_count is only available for presence channels (filter_by_prefix=presence-)",
            ),
        }
    }
}

impl std::error::Error for InfoError {}

impl Info {
    /// Parses a comma-separated `info` value; `presence_only` says whether every channel
    /// concerned is a presence channel.
    pub fn parse(info: Option<&str>, presence_only: bool) -> Result<Info, InfoError> {
        let mut asked = Info::default();
        let attrs = info.unwrap_or("").split(',').map(str::trim);
        for attr in attrs.filter(|a| !a.is_empty()) {
            match attr {
                "subscription_count" => asked.subscription_count = true,
                "user_count" => asked.user_count = true,
                other => return Err(InfoError::UnknownAttribute(other.to_owned())),
            }
        }
        if asked.user_count && !presence_only {
            return Err(InfoError::UserCountNeedsPresence);
        }
        Ok(asked)
    }

    /// The attributes object of one channel with `subscriptions` and `users` counted.
    pub fn attributes(&self, subscriptions: u64, users: u64) -> Map<String, Value> {
        let mut attrs = Map::new();
        if self.subscription_count {
            attrs.insert("subscription_count".into(), json!(subscriptions));
        }
        if self.user_count {
            attrs.insert("user_count".into(), json!(users));
        }
        attrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_parsed_and_user_count_needs_presence() {
        let both = Info::parse(Some(" subscription_count ,user_count"), true).unwrap();
        assert_eq!(
            Value::Object(both.attributes(3, 2)),
            json!({"subscription_count": 3, "user_count": 2})
        );
        assert_eq!(Info::parse(None, false), Ok(Info::default()));
        assert!(Info::parse(Some(""), false)
            .unwrap()
            .attributes(1, 1)
            .is_empty());
        assert_eq!(
            Info::parse(Some("user_count"), false),
            Err(InfoError::UserCountNeedsPresence)
        );
        let unknown = Info::parse(Some("members"), true).unwrap_err();
        assert!(unknown.to_string().contains("'members'"));
    }
}
