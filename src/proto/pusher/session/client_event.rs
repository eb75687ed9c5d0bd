//! Client events (`client-*`): sent by a member of a private or presence channel to the other
//! members, never echoed to the sender, within the app's per-connection rate.
//!
//! Every refusal goes back to the sender alone as `pusher:error`; the event is dropped. An
//! accepted event first catches up with the other cores, so every member whose subscription
//! was confirmed before the event was sent receives it.

use std::rc::Rc;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::super::channel::{channel_kind, ChannelKind};
use super::super::channel_event_raw;
use super::super::error::PusherError;
use super::super::frame::text_frame;
use super::{Effect, Millis, Session};

impl Session {
    /// A client event on `channel`.
    pub(super) fn client_event(
        &mut self,
        event: &str,
        channel: &str,
        data: &RawValue,
        now: Millis,
        out: &mut Vec<Effect>,
    ) {
        match self.check_client_event(channel, now) {
            Ok((name, member)) => {
                let json = channel_event_raw(event, channel, data, member.as_deref());
                // A member whose subscription was confirmed before this event was sent may
                // live on a core whose announcement is still on its way: apply it first, as a
                // REST publish does.
                out.push(Effect::CatchUp);
                out.push(Effect::Publish {
                    channel: name.clone(),
                    frame: text_frame(&json),
                });
                // Pusher's webhook carries `data` as a string: a JSON string's text, else the
                // JSON the client sent.
                let text = serde_json::from_str::<String>(data.get());
                out.push(Effect::ClientEventSent {
                    channel: name,
                    event: event.to_owned(),
                    data: text.unwrap_or_else(|_| data.get().to_owned()),
                    user_id: member,
                });
            }
            Err(err) => out.push(Effect::Error(err)),
        }
    }

    /// The subscription's channel name and presence member id when a client event may go out
    /// on `channel`; counts it against the rate.
    fn check_client_event(
        &mut self,
        channel: &str,
        now: Millis,
    ) -> Result<(Rc<str>, Option<Arc<str>>), PusherError> {
        if !self.rules.client_events {
            return Err(PusherError::ClientEventsDisabled);
        }
        match channel_kind(channel)? {
            ChannelKind::Private | ChannelKind::Presence => {}
            ChannelKind::PrivateEncrypted => {
                return Err(PusherError::ClientEventRejected {
                    reason: "client events are not allowed on private-encrypted channels",
                })
            }
            ChannelKind::Public => {
                return Err(PusherError::ClientEventRejected {
                    reason: "client events are only allowed on private and presence channels",
                })
            }
        }
        let sub = self
            .is_member(channel)
            .ok_or(PusherError::ClientEventNotMember)?;
        let found = (sub.channel.clone(), sub.member.clone());
        let limit = self.rules.max_client_events_per_second;
        if !self.client_events.take(now, 1, limit) {
            return Err(PusherError::RateLimited);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::*;
    use super::super::Rules;
    use super::*;

    fn event(channel: &str) -> serde_json::Value {
        json!({"event": "client-typing", "channel": channel, "data": {"x": 1}})
    }

    /// The published frame; the webhook effect that follows it must describe the same event.
    fn published(out: &[Effect]) -> serde_json::Value {
        match out {
            [Effect::CatchUp, Effect::Publish { frame, channel }, Effect::ClientEventSent {
                channel: hooked,
                event,
                data,
                user_id,
            }] => {
                let msg = frame_json(frame);
                assert_eq!((hooked, event.as_str()), (channel, "client-typing"));
                assert_eq!(
                    data, r#"{"x":1}"#,
                    "object data is handed on as its JSON text"
                );
                assert_eq!(user_id.as_deref(), msg["user_id"].as_str());
                msg
            }
            other => panic!("expected a catch-up, one Publish and its webhook, got {other:?}"),
        }
    }

    #[test]
    fn members_of_private_channels_publish_to_the_others() {
        let mut s = session();
        send(&mut s, subscribe("private-a", None, true), 0);
        let msg = published(&send(&mut s, event("private-a"), 0));
        assert_eq!(
            msg,
            json!({"event": "client-typing", "channel": "private-a", "data": {"x": 1}})
        );
    }

    #[test]
    fn presence_events_carry_the_sender_user_id() {
        let mut s = session();
        send(
            &mut s,
            subscribe("presence-a", Some(r#"{"user_id":"u9"}"#), true),
            0,
        );
        let out = send(&mut s, event("presence-a"), 0);
        assert_eq!(
            out,
            [Effect::Error(PusherError::ClientEventNotMember)],
            "join pending"
        );
        let answer = presence_answer("presence-a", "u9", Ok("{}"));
        feed(&mut s, answer, 0);
        let msg = published(&send(&mut s, event("presence-a"), 0));
        assert_eq!(msg["user_id"], "u9");
    }

    #[test]
    fn refused_where_the_rules_say_so() {
        let mut s = session();
        send(&mut s, subscribe("news", None, false), 0);
        send(&mut s, subscribe("private-encrypted-a", None, true), 0);
        let refused = |s: &mut Session, channel: &str| match &send(s, event(channel), 0)[..] {
            [Effect::Error(err)] => err.clone(),
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            refused(&mut s, "news"),
            PusherError::ClientEventRejected { .. }
        ));
        assert!(matches!(
            refused(&mut s, "private-encrypted-a"),
            PusherError::ClientEventRejected { .. }
        ));
        assert_eq!(
            refused(&mut s, "private-b"),
            PusherError::ClientEventNotMember
        );
        assert_eq!(refused(&mut s, "private-b").code(), 4009);
        let mut off = session_as(
            Rules {
                client_events: false,
                ..rules()
            },
            None,
        );
        send(&mut off, subscribe("private-a", None, true), 0);
        assert_eq!(
            refused(&mut off, "private-a"),
            PusherError::ClientEventsDisabled
        );
    }

    #[test]
    fn the_client_event_rate_is_per_second() {
        let mut s = session_as(
            Rules {
                max_client_events_per_second: 2,
                ..rules()
            },
            None,
        );
        send(&mut s, subscribe("private-a", None, true), 0);
        published(&send(&mut s, event("private-a"), 0));
        published(&send(&mut s, event("private-a"), 500));
        let out = send(&mut s, event("private-a"), 999);
        assert_eq!(out, [Effect::Error(PusherError::RateLimited)]);
        assert_eq!(PusherError::RateLimited.code(), 4301);
        published(&send(&mut s, event("private-a"), 1000));
    }
}
