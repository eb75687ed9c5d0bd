//! The stored form of a notification's request: what the store keeps as an opaque payload and
//! the delivery loop turns back into a frame.
//!
//! Owns the encoding (a small JSON object: the `data` literal to publish, the asked-for time and
//! the zone), so the REST answers and the delivery loop cannot disagree about it. Pure.

use serde::{Deserialize, Serialize};

/// What a stored notification carries besides the store's own columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The JSON string literal spliced into the frame as `data`.
    #[serde(rename = "d")]
    pub data_literal: String,
    /// `scheduled_at` as asked, unix milliseconds (`deliver_at` is the store's due time).
    #[serde(rename = "s")]
    pub scheduled_at_ms: i64,
    /// The IANA zone the request named.
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl Payload {
    /// The bytes to store.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings and integers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The payload stored as `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Payload, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_and_garbage_is_refused() {
        let p = Payload {
            data_literal: r#""{\"id\":\"ntf_1\"}""#.to_owned(),
            scheduled_at_ms: 1_780_000_000_000,
            timezone: Some("Europe/Berlin".to_owned()),
        };
        assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
        assert!(Payload::decode(b"not json").is_err());
    }
}
