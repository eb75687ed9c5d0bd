//! Collection channels (`{prefix}{collection}`): a connection may subscribe to one only after
//! the app registered its filter there (`POST /api/realtime/subscribe`), so nobody receives
//! records past the collection's list rule by subscribing directly. Unsubscribing drops the
//! registration; the shell removes the filter from its index on the matching `Leave`.

use std::rc::Rc;

use super::Session;

impl Session {
    /// Whether `channel` is a collection channel of this app.
    pub fn is_collection(&self, channel: &str) -> bool {
        let prefix = &*self.rules.collection_prefix;
        !prefix.is_empty() && channel.starts_with(prefix)
    }

    /// The user proven by connection authentication, which a Bearer-authenticated
    /// registration must name.
    pub fn auth_user(&self) -> Option<&str> {
        self.auth_user.as_deref()
    }

    /// Records that a filter is registered for the collection `channel` (idempotent).
    pub fn register_collection(&mut self, channel: &str) {
        if !self.collections.iter().any(|c| &**c == channel) {
            self.collections.push(Rc::from(channel));
        }
    }

    /// The refusal for subscribing to an unregistered collection channel, if it is one.
    pub(super) fn unregistered_collection(&self, channel: &str) -> Option<String> {
        let registered = self.collections.iter().any(|c| &**c == channel);
        (self.is_collection(channel) && !registered).then(|| {
            format!(
                "channel '{channel}' carries filtered records: register this socket first with POST /api/realtime/subscribe"
            )
        })
    }

    /// Forgets the registration of `channel` (on unsubscribe).
    pub(super) fn unregister_collection(&mut self, channel: &str) {
        self.collections.retain(|c| &**c != channel);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::*;
    use super::super::{Effect, Rules};

    fn with_prefix() -> Rules {
        Rules {
            collection_prefix: "velo.realtime.".into(),
            ..rules()
        }
    }

    fn join(s: &mut super::super::Session, channel: &str) -> Vec<Effect> {
        send(s, subscribe(channel, None, false), 0)
    }

    #[test]
    fn an_unregistered_collection_channel_is_refused_with_403() {
        let mut s = session_as(with_prefix(), None);
        let out = join(&mut s, "velo.realtime.posts");
        let msg = sent(&out[0]);
        assert_eq!(msg["event"], "pusher:subscription_error");
        assert_eq!(msg["data"]["status"], 403, "{msg}");
        assert!(!out.iter().any(|e| matches!(e, Effect::Join(_))));
    }

    #[test]
    fn a_registered_collection_joins_until_unsubscribed() {
        let mut s = session_as(with_prefix(), None);
        s.register_collection("velo.realtime.posts");
        let out = join(&mut s, "velo.realtime.posts");
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::Join(c) if &**c == "velo.realtime.posts")));
        let unsub =
            json!({"event": "pusher:unsubscribe", "data": {"channel": "velo.realtime.posts"}});
        send(&mut s, unsub, 0);
        let again = join(&mut s, "velo.realtime.posts");
        assert!(
            !again.iter().any(|e| matches!(e, Effect::Join(_))),
            "the registration went with the unsubscribe"
        );
    }

    #[test]
    fn without_collections_the_prefix_is_an_ordinary_channel() {
        let mut s = session();
        let out = join(&mut s, "velo.realtime.posts");
        assert!(out.iter().any(|e| matches!(e, Effect::Join(_))));
    }
}
