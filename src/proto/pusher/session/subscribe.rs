//! Subscribing and unsubscribing: which channels a connection may join and what it is told.
//!
//! Public channels and `#server-to-user-{id}` (for the signed-in user only) need nothing;
//! private, encrypted and presence channels need an `auth` signature over the socket id and
//! channel (and the presence `channel_data`). A presence join stays pending until the channel's
//! owner core answers: only it knows whether the channel is full. A cache channel asks its owner
//! for the last event once subscribed. Refusals about one channel are
//! `pusher:subscription_error` on that channel; a bad channel name is a `pusher:error`.

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use super::super::channel::{channel_kind, is_cache_channel, server_to_user_id, ChannelKind};
use super::super::frame::text_frame;
use super::super::presence::parse_channel_data;
use super::super::{cache_miss, subscription_error, subscription_succeeded, verify_channel_auth};
use super::{binding, Effect, OwnerRequest, Session, Subscription};

/// A `pusher:subscription_error` frame.
fn refusal(channel: &str, kind: &str, error: &str, status: u16) -> Effect {
    Effect::Send(text_frame(&subscription_error(
        channel, kind, error, status,
    )))
}

fn auth_refusal(channel: &str, error: &str) -> Effect {
    refusal(channel, "AuthError", error, 401)
}

impl Session {
    fn subscribed(&self, channel: &str) -> Option<&Subscription> {
        self.subs.iter().find(|s| &*s.channel == channel)
    }

    /// Whether the connection is subscribed to `channel` (a pending presence join is not).
    pub(super) fn is_member(&self, channel: &str) -> Option<&Subscription> {
        self.subscribed(channel).filter(|s| !s.pending)
    }

    /// `pusher:subscribe`.
    pub(super) fn subscribe(
        &mut self,
        channel: &str,
        auth: Option<&str>,
        channel_data: Option<&str>,
        out: &mut Vec<Effect>,
    ) {
        if let Some(existing) = self.subscribed(channel) {
            // Subscribing twice is answered like the first time, without a second join.
            if !existing.pending {
                out.push(Effect::Send(text_frame(&subscription_succeeded(
                    channel, None,
                ))));
            }
            return;
        }
        if self.subs.len() >= self.rules.max_subscriptions {
            let error = format!(
                "this connection already has {} subscriptions (max_subscriptions_per_connection)",
                self.subs.len()
            );
            return out.push(refusal(channel, "LimitReached", &error, 429));
        }
        let kind = if let Some(user) = server_to_user_id(channel) {
            // pusher-js joins `#server-to-user-{id}` after sign-in; only that user may.
            if self.user.as_deref() != Some(user) {
                let error = format!("channel '{channel}' is only for the signed-in user '{user}'");
                return out.push(auth_refusal(channel, &error));
            }
            ChannelKind::Public
        } else {
            match channel_kind(channel) {
                Ok(kind) => kind,
                Err(err) => return out.push(Effect::Error(err)),
            }
        };
        if let Some(error) = self.unregistered_collection(channel) {
            return out.push(refusal(channel, "AuthError", &error, 403));
        }
        if let Err(refused) = self.check_auth(kind, channel, auth, channel_data) {
            return out.push(refused);
        }
        if kind == ChannelKind::Presence {
            return self.join_presence(channel, channel_data.unwrap_or_default(), out);
        }
        let name: Rc<str> = Rc::from(channel);
        self.subs.push(Subscription {
            channel: name.clone(),
            member: None,
            pending: false,
        });
        out.push(Effect::Join(name.clone()));
        self.succeeded(name, None, out);
    }

    /// Checks the `auth` signature of a channel that needs one.
    fn check_auth(
        &self,
        kind: ChannelKind,
        channel: &str,
        auth: Option<&str>,
        channel_data: Option<&str>,
    ) -> Result<(), Effect> {
        if !kind.requires_auth() {
            return Ok(());
        }
        let data = match (kind, channel_data) {
            (ChannelKind::Presence, None) => {
                let error =
                    format!("presence channel '{channel}' needs channel_data with a user_id");
                return Err(auth_refusal(channel, &error));
            }
            (ChannelKind::Presence, data) => data,
            _ => None,
        };
        let Some(auth) = auth else {
            let error = format!("channel '{channel}' requires an auth signature");
            return Err(auth_refusal(channel, &error));
        };
        let socket_id = self.socket_id.to_string();
        let (key, secret) = (&self.rules.key, &self.rules.secret);
        if verify_channel_auth(key, secret, &socket_id, channel, data, auth) {
            return Ok(());
        }
        let signed = match data {
            Some(_) => format!("'{socket_id}:{channel}:<channel_data>'"),
            None => format!("'{socket_id}:{channel}'"),
        };
        let error = format!(
            "invalid signature for channel '{channel}': expected key:HMAC-SHA256 of {signed} with the app secret"
        );
        Err(auth_refusal(channel, &error))
    }

    /// A signed presence join: pending until the owner answers.
    fn join_presence(&mut self, channel: &str, channel_data: &str, out: &mut Vec<Effect>) {
        let member = match parse_channel_data(channel_data) {
            Ok(member) => member,
            Err(e) => return out.push(refusal(channel, "AuthError", &e.to_string(), 400)),
        };
        let bound = binding::check_presence(self.auth_user.as_deref(), &member.user_id);
        if let Err(error) = bound {
            return out.push(refusal(channel, "AuthError", &error, 403));
        }
        let user_id: Arc<str> = Arc::from(member.user_id);
        let name: Rc<str> = Rc::from(channel);
        self.subs.push(Subscription {
            channel: name.clone(),
            member: Some(user_id.clone()),
            pending: true,
        });
        out.push(Effect::Owner {
            channel: name,
            request: OwnerRequest::PresenceJoin {
                user_id,
                user_info: member.user_info.map(Arc::from),
            },
        });
    }

    /// `subscription_succeeded`, then the cached event for a cache channel.
    fn succeeded(&self, name: Rc<str>, presence: Option<&str>, out: &mut Vec<Effect>) {
        let json = subscription_succeeded(&name, presence);
        out.push(Effect::Send(text_frame(&json)));
        if is_cache_channel(&name) {
            out.push(Effect::Owner {
                channel: name,
                request: OwnerRequest::CacheFetch,
            });
        }
    }

    /// `pusher:unsubscribe` (no answer is sent, as in Pusher).
    pub(super) fn unsubscribe(&mut self, channel: &str, out: &mut Vec<Effect>) {
        // An event acknowledged to its publisher before this unsubscribe was sent may still be
        // on its way between cores; it belongs to the subscription, so it is delivered first.
        out.push(Effect::CatchUp);
        self.unregister_collection(channel);
        let Some(pos) = self.subs.iter().position(|s| &*s.channel == channel) else {
            return;
        };
        let sub = self.subs.swap_remove(pos);
        forget(sub, out);
    }

    /// The owner's answer to this connection's presence join.
    pub(super) fn presence_answered(
        &mut self,
        channel: &str,
        user_id: Arc<str>,
        result: Result<&str, &str>,
        out: &mut Vec<Effect>,
    ) {
        let pending = self
            .subs
            .iter()
            .position(|s| &*s.channel == channel && s.pending);
        let Some(pos) = pending else {
            // The connection unsubscribed while the join was in flight: take the join back.
            if result.is_ok() {
                out.push(leave_presence(Rc::from(channel), user_id));
            }
            return;
        };
        match result {
            Ok(presence) => {
                self.subs[pos].pending = false;
                let name = self.subs[pos].channel.clone();
                out.push(Effect::Join(name.clone()));
                self.succeeded(name, Some(presence), out);
            }
            Err(reason) => {
                self.subs.swap_remove(pos);
                out.push(refusal(channel, "LimitReached", reason, 403));
            }
        }
    }

    /// The owner's answer to a cache fetch: the event, or `pusher:cache_miss`, if the
    /// connection is still subscribed.
    pub(super) fn cache_answered(
        &self,
        channel: &str,
        frame: Option<Bytes>,
        out: &mut Vec<Effect>,
    ) {
        if self.is_member(channel).is_none() {
            return;
        }
        let frame = frame.unwrap_or_else(|| text_frame(&cache_miss(channel)));
        out.push(Effect::Send(frame));
    }

    /// The connection is gone: every subscription is undone, then the sign-in.
    pub(super) fn closed(&mut self, out: &mut Vec<Effect>) {
        for sub in self.subs.drain(..) {
            forget(sub, out);
        }
        if let Some(user) = self.user.take() {
            out.push(Effect::SignedIn {
                user,
                watchlist: std::mem::take(&mut self.watchlist),
                online: false,
            });
        }
    }
}

/// Undoes one subscription. A pending presence join is left to the owner's answer, which finds
/// the subscription gone and takes the join back.
fn forget(sub: Subscription, out: &mut Vec<Effect>) {
    if sub.pending {
        return;
    }
    out.push(Effect::Leave(sub.channel.clone()));
    if let Some(user_id) = sub.member {
        out.push(leave_presence(sub.channel, user_id));
    }
}

fn leave_presence(channel: Rc<str>, user_id: Arc<str>) -> Effect {
    Effect::Owner {
        channel,
        request: OwnerRequest::PresenceLeave { user_id },
    }
}

/// What to do with a presence answer for a connection that no longer exists: a join that
/// succeeded is taken back.
pub fn unclaimed_presence_answer(channel: &str, user_id: Arc<str>, joined: bool) -> Option<Effect> {
    joined.then(|| leave_presence(Rc::from(channel), user_id))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::*;
    use super::super::{Input, Rules};
    use super::*;
    use crate::proto::pusher::PusherError;

    fn join(channel: &str) -> Effect {
        Effect::Join(Rc::from(channel))
    }

    fn error_data(effect: &Effect) -> serde_json::Value {
        let msg = sent(effect);
        assert_eq!(msg["event"], "pusher:subscription_error", "{msg}");
        msg["data"].clone()
    }

    #[test]
    fn public_channels_join_at_once_and_only_once() {
        let mut s = session();
        let out = send(&mut s, subscribe("news", None, false), 0);
        assert_eq!(out[0], join("news"));
        assert_eq!(events(&out), ["pusher_internal:subscription_succeeded"]);
        assert_eq!(out.len(), 2);
        let again = send(&mut s, subscribe("news", None, false), 0);
        assert_eq!(events(&again), ["pusher_internal:subscription_succeeded"]);
        assert!(!again.contains(&join("news")), "no second index entry");
    }

    #[test]
    fn private_channels_need_a_valid_signature() {
        let mut s = session();
        let out = send(&mut s, subscribe("private-a", None, false), 0);
        let data = error_data(&out[0]);
        assert_eq!(
            (data["type"].as_str(), data["status"].as_u64()),
            (Some("AuthError"), Some(401))
        );
        assert!(data["error"].as_str().unwrap().contains("requires an auth"));
        let mut forged = subscribe("private-a", None, false);
        forged["data"]["auth"] = json!(format!("{KEY}:{}", "0".repeat(64)));
        let out = send(&mut s, forged, 0);
        let error = error_data(&out[0])["error"].as_str().unwrap().to_owned();
        assert!(error.contains("'123.456:private-a'"), "{error}");
        let out = send(&mut s, subscribe("private-a", None, true), 0);
        assert_eq!(out[0], join("private-a"));
    }

    #[test]
    fn encrypted_channels_need_a_signature_too() {
        let mut s = session();
        let out = send(&mut s, subscribe("private-encrypted-x", None, false), 0);
        assert_eq!(error_data(&out[0])["status"], 401);
        let out = send(&mut s, subscribe("private-encrypted-x", None, true), 0);
        assert_eq!(out[0], join("private-encrypted-x"));
    }

    #[test]
    fn a_bad_channel_name_is_a_pusher_error() {
        let mut s = session();
        let out = send(&mut s, subscribe("bad name!", None, false), 0);
        assert!(matches!(
            &out[..],
            [Effect::Error(PusherError::InvalidChannelName { .. })]
        ));
    }

    #[test]
    fn the_subscription_limit_is_enforced_with_429() {
        let mut s = session_as(
            Rules {
                max_subscriptions: 1,
                ..rules()
            },
            None,
        );
        send(&mut s, subscribe("a", None, false), 0);
        let out = send(&mut s, subscribe("b", None, false), 0);
        let data = error_data(&out[0]);
        assert_eq!(
            (data["type"].as_str(), data["status"].as_u64()),
            (Some("LimitReached"), Some(429))
        );
    }

    #[test]
    fn presence_joins_wait_for_the_owner() {
        let mut s = session();
        let data = r#"{"user_id":"u1","user_info":{"name":"A"}}"#;
        let out = send(&mut s, subscribe("presence-room", None, true), 0);
        assert!(error_data(&out[0])["error"]
            .as_str()
            .unwrap()
            .contains("channel_data"));
        let out = send(&mut s, subscribe("presence-room", Some(data), true), 0);
        let expected = Effect::Owner {
            channel: Rc::from("presence-room"),
            request: OwnerRequest::PresenceJoin {
                user_id: Arc::from("u1"),
                user_info: Some(Arc::from(r#"{"name":"A"}"#)),
            },
        };
        assert_eq!(out, [expected]);
        assert!(
            send(&mut s, subscribe("presence-room", Some(data), true), 0).is_empty(),
            "still pending"
        );
        let presence = r#"{"presence":{"count":1}}"#;
        let answer = presence_answer("presence-room", "u1", Ok(presence));
        let out = feed(&mut s, answer, 5);
        assert_eq!(out[0], join("presence-room"));
        let msg = sent(&out[1]);
        assert_eq!(msg["event"], "pusher_internal:subscription_succeeded");
        assert_eq!(msg["data"], presence);
    }

    #[test]
    fn a_full_presence_channel_refuses_with_403() {
        let mut s = session();
        send(
            &mut s,
            subscribe("presence-room", Some(r#"{"user_id":"u1"}"#), true),
            0,
        );
        let answer = presence_answer("presence-room", "u1", Err("full"));
        let out = feed(&mut s, answer, 0);
        let data = error_data(&out[0]);
        assert_eq!(
            (data["type"].as_str(), data["status"].as_u64()),
            (Some("LimitReached"), Some(403))
        );
        let out = send(
            &mut s,
            subscribe("presence-room", Some(r#"{"user_id":"u1"}"#), true),
            0,
        );
        assert!(matches!(&out[..], [Effect::Owner { .. }]), "may try again");
    }

    #[test]
    fn a_join_answered_after_unsubscribing_is_taken_back() {
        let mut s = session();
        send(
            &mut s,
            subscribe("presence-room", Some(r#"{"user_id":"u1"}"#), true),
            0,
        );
        let out = send(
            &mut s,
            json!({"event": "pusher:unsubscribe", "data": {"channel": "presence-room"}}),
            0,
        );
        assert_eq!(out, [Effect::CatchUp], "nothing to leave yet");
        let answer = presence_answer("presence-room", "u1", Ok("{}"));
        let leave = Effect::Owner {
            channel: Rc::from("presence-room"),
            request: OwnerRequest::PresenceLeave {
                user_id: Arc::from("u1"),
            },
        };
        let unclaimed = unclaimed_presence_answer("presence-room", Arc::from("u1"), true);
        assert_eq!(unclaimed.as_ref(), Some(&leave));
        assert_eq!(feed(&mut s, answer, 0), [leave]);
        assert_eq!(
            unclaimed_presence_answer("presence-room", Arc::from("u1"), false),
            None
        );
    }

    #[test]
    fn presence_must_claim_the_authenticated_user() {
        let mut s = session_as(rules(), Some("u1"));
        let out = send(
            &mut s,
            subscribe("presence-room", Some(r#"{"user_id":"u2"}"#), true),
            0,
        );
        let data = error_data(&out[0]);
        assert_eq!(data["status"], 403);
        assert!(data["error"].as_str().unwrap().contains("'u1'"));
        let out = send(
            &mut s,
            subscribe("presence-room", Some(r#"{"user_id":"u1"}"#), true),
            0,
        );
        assert!(matches!(&out[..], [Effect::Owner { .. }]));
    }

    #[test]
    fn cache_channels_fetch_the_last_event_or_report_a_miss() {
        let mut s = session();
        let out = send(&mut s, subscribe("cache-news", None, false), 0);
        let fetch = Effect::Owner {
            channel: Rc::from("cache-news"),
            request: OwnerRequest::CacheFetch,
        };
        assert_eq!(out.last(), Some(&fetch));
        let event = bytes::Bytes::from_static(b"\x81\x02{}");
        let hit = Input::CacheAnswer {
            channel: "cache-news",
            frame: Some(event.clone()),
        };
        assert_eq!(feed(&mut s, hit, 0), [Effect::Send(event)]);
        let miss = Input::CacheAnswer {
            channel: "cache-news",
            frame: None,
        };
        assert_eq!(events(&feed(&mut s, miss, 0)), ["pusher:cache_miss"]);
        let stale = Input::CacheAnswer {
            channel: "cache-other",
            frame: None,
        };
        assert!(feed(&mut s, stale, 0).is_empty(), "not subscribed");
    }

    #[test]
    fn server_to_user_channels_are_for_the_signed_in_user_only() {
        let mut s = session();
        let out = send(&mut s, subscribe("#server-to-user-7", None, false), 0);
        assert_eq!(error_data(&out[0])["status"], 401);
        send(&mut s, signin(r#"{"id":"7"}"#), 0);
        let out = send(&mut s, subscribe("#server-to-user-7", None, false), 0);
        assert_eq!(out[0], join("#server-to-user-7"));
        let out = send(&mut s, subscribe("#server-to-user-8", None, false), 0);
        assert_eq!(error_data(&out[0])["status"], 401);
    }

    #[test]
    fn unsubscribing_and_closing_undo_everything() {
        let mut s = session();
        send(&mut s, subscribe("news", None, false), 0);
        send(
            &mut s,
            subscribe("presence-room", Some(r#"{"user_id":"u1"}"#), true),
            0,
        );
        let answer = presence_answer("presence-room", "u1", Ok("{}"));
        feed(&mut s, answer, 0);
        send(&mut s, signin(r#"{"id":"u1","watchlist":["u2"]}"#), 0);
        let out = send(
            &mut s,
            json!({"event": "pusher:unsubscribe", "data": {"channel": "news"}}),
            0,
        );
        assert_eq!(out, [Effect::CatchUp, Effect::Leave(Rc::from("news"))]);
        let out = feed(&mut s, Input::Closed, 0);
        assert_eq!(
            out,
            [
                Effect::Leave(Rc::from("presence-room")),
                Effect::Owner {
                    channel: Rc::from("presence-room"),
                    request: OwnerRequest::PresenceLeave {
                        user_id: Arc::from("u1")
                    },
                },
                Effect::SignedIn {
                    user: Arc::from("u1"),
                    watchlist: vec![Arc::from("u2")],
                    online: false,
                },
            ]
        );
    }
}
