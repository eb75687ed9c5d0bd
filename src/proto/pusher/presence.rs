//! Presence channel data: the member a client claims in `channel_data`, and the member list
//! sent back in `subscription_succeeded`.
//!
//! Owns the JSON shapes only. Who is a member of which channel is the shard's state; this
//! module parses and encodes with no knowledge of connections.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::PusherError;

/// The most bytes of `user_info` a member may carry (Pusher's documented 1 KB limit).
pub const MAX_USER_INFO_BYTES: usize = 1024;

/// The member a presence subscription claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceMember {
    /// The member's id; numbers are accepted and kept as their decimal text (Laravel sends
    /// integer ids).
    pub user_id: String,
    /// The raw JSON of `user_info`, when present and not null.
    pub user_info: Option<String>,
}

#[derive(Deserialize)]
struct ChannelData<'a> {
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_info: Option<&'a RawValue>,
}

/// Parses a presence subscription's `channel_data` (the JSON text the auth endpoint signed).
pub fn parse_channel_data(channel_data: &str) -> Result<PresenceMember, PusherError> {
    let data: ChannelData<'_> = serde_json::from_str(channel_data)
        .map_err(|e| PusherError::InvalidJson(format!("channel_data is not a JSON object: {e}")))?;
    let raw_id = data.user_id.ok_or(PusherError::MissingField("user_id"))?;
    let user_id = match serde_json::from_str::<serde_json::Value>(raw_id.get()) {
        Ok(serde_json::Value::String(s)) if !s.is_empty() => s,
        Ok(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            return Err(PusherError::InvalidField {
                field: "user_id",
                expected: "a non-empty string or a number",
            })
        }
    };
    let user_info = data
        .user_info
        .map(|raw| raw.get().to_owned())
        .filter(|raw| raw != "null");
    if user_info
        .as_ref()
        .is_some_and(|i| i.len() > MAX_USER_INFO_BYTES)
    {
        return Err(PusherError::InvalidField {
            field: "user_info",
            expected: "at most 1024 bytes of JSON",
        });
    }
    Ok(PresenceMember { user_id, user_info })
}

/// The `{"presence":{"ids":[…],"hash":{id: info},"count":N}}` object for
/// `subscription_succeeded` on a presence channel. `members` yields (user_id, raw user_info).
pub fn presence_data<'a>(members: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut ids = Vec::new();
    let mut hash = Vec::new();
    let mut count = 0usize;
    for (id, info) in members {
        if count > 0 {
            ids.push(b',');
            hash.push(b',');
        }
        let quoted = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".to_owned());
        ids.extend_from_slice(quoted.as_bytes());
        hash.extend_from_slice(quoted.as_bytes());
        hash.push(b':');
        hash.extend_from_slice(info.unwrap_or("null").as_bytes());
        count += 1;
    }
    let mut out = String::with_capacity(40 + ids.len() + hash.len());
    out.push_str(r#"{"presence":{"ids":["#);
    out.push_str(&String::from_utf8_lossy(&ids));
    out.push_str(r#"],"hash":{"#);
    out.push_str(&String::from_utf8_lossy(&hash));
    out.push_str(&format!(r#"}},"count":{count}}}}}"#));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_and_numeric_ids() {
        let m = parse_channel_data(r#"{"user_id":"u1","user_info":{"name":"Ann"}}"#).unwrap();
        assert_eq!(m.user_id, "u1");
        assert_eq!(m.user_info.as_deref(), Some(r#"{"name":"Ann"}"#));
        let m = parse_channel_data(r#"{"user_id":42}"#).unwrap();
        assert_eq!((m.user_id.as_str(), m.user_info), ("42", None));
    }

    #[test]
    fn bad_channel_data_is_refused() {
        assert!(parse_channel_data("nope").is_err());
        assert_eq!(
            parse_channel_data(r#"{"user_info":{}}"#),
            Err(PusherError::MissingField("user_id"))
        );
        assert!(parse_channel_data(r#"{"user_id":""}"#).is_err());
        assert!(parse_channel_data(r#"{"user_id":{"a":1}}"#).is_err());
        let big = format!(r#"{{"user_id":"u","user_info":"{}"}}"#, "x".repeat(1100));
        assert!(parse_channel_data(&big).is_err());
    }

    #[test]
    fn presence_data_shape() {
        let json = presence_data([("u1", Some(r#"{"name":"Ann"}"#)), ("u\"2", None)].into_iter());
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["presence"]["count"], 2);
        assert_eq!(v["presence"]["ids"], serde_json::json!(["u1", "u\"2"]));
        assert_eq!(v["presence"]["hash"]["u1"]["name"], "Ann");
        assert!(v["presence"]["hash"]["u\"2"].is_null());
        let empty: serde_json::Value =
            serde_json::from_str(&presence_data([].into_iter())).unwrap();
        assert_eq!(empty["presence"]["count"], 0);
    }
}
