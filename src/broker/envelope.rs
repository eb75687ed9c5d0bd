//! The message one node sends the others on the scaling channel, and its wire form.
//!
//! An [`Envelope`] is an [`Event`] (app, channel, event name, data, the socket to skip) plus
//! the node that published it and that node's sequence number. The origin lets a node drop
//! its own events when Redis echoes them back (they were already delivered locally); the
//! sequence lets a receiver count what it missed from each peer ([`SeqTracker`]).
//!
//! The wire form is one JSON object with a version field `v`; a receiver refuses other
//! versions (a mixed-version cluster must not misread events). Sans-IO: no sockets, no clock.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::BrokerError;

/// Version of the wire form written by this build.
pub const ENVELOPE_VERSION: u32 = 1;

/// One event to deliver on every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The app the channel belongs to.
    #[serde(rename = "app")]
    pub app_id: String,
    /// Channel name, as clients subscribed to it.
    pub channel: String,
    /// Event name.
    #[serde(rename = "event")]
    pub name: String,
    /// The payload the receiving nodes send their subscribers. The server puts here the whole
    /// Pusher message as the publishing node's clients got it, so it is not encoded twice.
    pub data: String,
    /// `socket_id` of the connection that must not receive it (the publisher's own client).
    #[serde(rename = "except", default, skip_serializing_if = "Option::is_none")]
    pub except_socket: Option<String>,
}

/// An event with its origin node and that node's sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The wire form's version ([`ENVELOPE_VERSION`]).
    pub v: u32,
    /// Id of the node that published it.
    pub origin: String,
    /// Per-origin counter, 1 for the node's first event, +1 for each later one.
    pub seq: u64,
    /// What to deliver.
    #[serde(flatten)]
    pub event: Event,
}

impl Envelope {
    /// Wraps `event` as the `seq`-th event of node `origin`.
    pub fn new(origin: &str, seq: u64, event: Event) -> Envelope {
        Envelope {
            v: ENVELOPE_VERSION,
            origin: origin.to_owned(),
            seq,
            event,
        }
    }

    /// The bytes published on the channel.
    pub fn encode(&self) -> Vec<u8> {
        // Strings and integers only: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a message from the channel, refusing other versions and other shapes.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, BrokerError> {
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| BrokerError::Envelope(e.to_string()))?;
        if env.v != ENVELOPE_VERSION {
            return Err(BrokerError::Envelope(format!(
                "version {} from node {} (this node reads version {ENVELOPE_VERSION}): run one \
                 ringcast version across the cluster",
                env.v, env.origin
            )));
        }
        Ok(env)
    }
}

/// A node's id on the scaling channel: 16 hex digits drawn at start, so a restarted node is
/// a new origin with a fresh sequence.
pub fn node_id(random: u64) -> String {
    format!("{random:016x}")
}

/// What a sequence number says about the messages before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// The next one expected (or the first seen from this origin).
    InOrder,
    /// This many messages from this origin were skipped.
    Gap(u64),
    /// Not newer than one already seen: a duplicate or a reordering.
    Stale,
}

/// The last sequence number seen from each origin.
#[derive(Debug, Default)]
pub struct SeqTracker {
    last: HashMap<String, u64>,
}

impl SeqTracker {
    /// Records `seq` from `origin` and says how it follows the previous one.
    pub fn observe(&mut self, origin: &str, seq: u64) -> SeqCheck {
        let Some(last) = self.last.get_mut(origin) else {
            self.last.insert(origin.to_owned(), seq);
            return SeqCheck::InOrder;
        };
        if seq <= *last {
            return SeqCheck::Stale;
        }
        let gap = seq - *last - 1;
        *last = seq;
        if gap == 0 {
            SeqCheck::InOrder
        } else {
            SeqCheck::Gap(gap)
        }
    }

    /// Forgets an origin (a node that left the cluster).
    pub fn forget(&mut self, origin: &str) {
        self.last.remove(origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(except: Option<&str>) -> Event {
        Event {
            app_id: "42".into(),
            channel: "private-orders".into(),
            name: "order.shipped".into(),
            data: r#"{"id":7}"#.into(),
            except_socket: except.map(str::to_owned),
        }
    }

    #[test]
    fn wire_form_is_one_flat_versioned_object() {
        let bytes = Envelope::new("00000000000000ab", 3, event(Some("1.2"))).encode();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"v": 1, "origin": "00000000000000ab", "seq": 3, "app": "42",
                "channel": "private-orders", "event": "order.shipped", "data": "{\"id\":7}",
                "except": "1.2"})
        );
        let without = Envelope::new("a", 1, event(None)).encode();
        assert!(!String::from_utf8(without).unwrap().contains("except"));
    }

    #[test]
    fn other_versions_and_shapes_are_refused() {
        let mut env = Envelope::new("n1", 1, event(None));
        env.v = 2;
        let err = Envelope::decode(&env.encode()).unwrap_err();
        assert!(err.to_string().contains("version 2 from node n1"), "{err}");
        for bad in [&b"not json"[..], br#"{"v":1,"origin":"n"}"#, b""] {
            assert!(matches!(
                Envelope::decode(bad),
                Err(BrokerError::Envelope(_))
            ));
        }
    }

    #[test]
    fn node_ids_are_sixteen_hex_digits() {
        assert_eq!(node_id(0xab), "00000000000000ab");
        assert_eq!(node_id(u64::MAX), "ffffffffffffffff");
    }

    #[test]
    fn tracker_reports_order_gaps_and_stale_per_origin() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe("a", 5), SeqCheck::InOrder);
        assert_eq!(t.observe("a", 6), SeqCheck::InOrder);
        assert_eq!(t.observe("b", 1), SeqCheck::InOrder);
        assert_eq!(t.observe("a", 9), SeqCheck::Gap(2));
        assert_eq!(t.observe("a", 9), SeqCheck::Stale);
        assert_eq!(t.observe("a", 4), SeqCheck::Stale);
        t.forget("a");
        assert_eq!(t.observe("a", 1), SeqCheck::InOrder);
    }

    proptest! {
        #[test]
        fn envelopes_round_trip(
            origin in "[0-9a-f]{16}", seq in any::<u64>(), app in "\\PC{0,12}",
            channel in "\\PC{0,40}", name in "\\PC{0,20}", data in "\\PC{0,200}",
            except in proptest::option::of("[0-9]{1,9}\\.[0-9]{1,9}"),
        ) {
            let env = Envelope::new(&origin, seq, Event {
                app_id: app, channel, name, data, except_socket: except,
            });
            prop_assert_eq!(Envelope::decode(&env.encode()).unwrap(), env);
        }

        #[test]
        fn any_bytes_decode_to_an_envelope_or_an_envelope_error(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            if let Err(e) = Envelope::decode(&bytes) {
                prop_assert!(matches!(e, BrokerError::Envelope(_)));
            }
        }
    }
}
