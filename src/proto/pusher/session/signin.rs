//! User authentication: `pusher:signin`, what a signed-in connection hears about the users it
//! watches, and the app terminating a user's connections.
//!
//! A sign-in carries `user_data` signed with the app secret; its `id` becomes the connection's
//! user (once per connection) and its `watchlist` the users whose online status it hears.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::super::error::PusherError;
use super::super::frame::text_frame;
use super::super::{signin_success, verify_user_auth, watchlist_event};
use super::{binding, Effect, Session};

#[derive(Deserialize)]
struct UserData<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(default)]
    watchlist: Vec<Value>,
}

/// A user id as text: strings as they are, numbers in decimal.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The user id and the watchlist of signed `user_data`.
fn parse_user_data(user_data: &str) -> (Option<String>, Vec<Arc<str>>) {
    let parsed = serde_json::from_str::<UserData<'_>>(user_data).ok();
    let watched = parsed
        .as_ref()
        .map(|d| {
            let ids = d.watchlist.iter().filter_map(id_text);
            ids.map(Arc::from).collect()
        })
        .unwrap_or_default();
    let id = parsed
        .and_then(|d| d.id)
        .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
        .as_ref()
        .and_then(id_text);
    (id, watched)
}

impl Session {
    /// `pusher:signin`.
    pub(super) fn signin(&mut self, auth: &str, user_data: &str, out: &mut Vec<Effect>) {
        match self.check_signin(auth, user_data) {
            Ok((user, watchlist)) => {
                self.user = Some(user.clone());
                self.watchlist = watchlist.clone();
                out.push(Effect::Send(text_frame(&signin_success(user_data))));
                out.push(Effect::SignedIn {
                    user,
                    watchlist,
                    online: true,
                });
            }
            Err(err) => out.push(Effect::Error(err)),
        }
    }

    fn check_signin(
        &self,
        auth: &str,
        user_data: &str,
    ) -> Result<(Arc<str>, Vec<Arc<str>>), PusherError> {
        let socket_id = self.socket_id.to_string();
        let (key, secret) = (&self.rules.key, &self.rules.secret);
        if !verify_user_auth(key, secret, &socket_id, user_data, auth) {
            return Err(PusherError::InvalidUserAuth);
        }
        let (id, watchlist) = parse_user_data(user_data);
        let id = id.ok_or(PusherError::InvalidField {
            field: "user_data.id",
            expected: "a non-empty string",
        })?;
        binding::check_signin(self.auth_user.as_deref(), &id).map_err(PusherError::UserMismatch)?;
        if self.user.is_some() {
            return Err(PusherError::InvalidField {
                field: "pusher:signin",
                expected: "sent once per connection",
            });
        }
        Ok((Arc::from(id), watchlist))
    }

    /// A watched user came online or went offline.
    pub(super) fn watched(&self, user: &str, online: bool, out: &mut Vec<Effect>) {
        out.push(Effect::Send(text_frame(&watchlist_event(online, user))));
    }

    /// The app terminates `user`'s connections: this one closes if it is signed in as `user`.
    pub(super) fn terminate(&self, user: &str, out: &mut Vec<Effect>) {
        if self.user.as_deref() == Some(user) {
            out.push(Effect::Close(PusherError::Terminated));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::*;
    use super::super::Input;
    use super::*;

    #[test]
    fn a_valid_signin_names_the_user_and_its_watchlist() {
        let mut s = session();
        let data = r#"{"id":"u1","watchlist":["u2",3,""]}"#;
        let out = send(&mut s, signin(data), 0);
        let msg = sent(&out[0]);
        assert_eq!(msg["event"], "pusher:signin_success");
        assert_eq!(msg["data"]["user_data"], data);
        assert_eq!(
            out[1],
            Effect::SignedIn {
                user: Arc::from("u1"),
                watchlist: vec![Arc::from("u2"), Arc::from("3")],
                online: true,
            }
        );
        assert_eq!(s.user(), Some("u1"));
    }

    #[test]
    fn numeric_ids_are_accepted_as_text() {
        let mut s = session();
        send(&mut s, signin(r#"{"id":42}"#), 0);
        assert_eq!(s.user(), Some("42"));
    }

    #[test]
    fn bad_signins_are_reported_and_change_nothing() {
        let mut s = session();
        let mut forged = signin(r#"{"id":"u1"}"#);
        forged["data"]["auth"] = json!(format!("{KEY}:{}", "0".repeat(64)));
        assert_eq!(
            send(&mut s, forged, 0),
            [Effect::Error(PusherError::InvalidUserAuth)]
        );
        let out = send(&mut s, signin(r#"{"name":"no id"}"#), 0);
        assert!(matches!(
            &out[..],
            [Effect::Error(PusherError::InvalidField {
                field: "user_data.id",
                ..
            })]
        ));
        assert_eq!(s.user(), None);
        send(&mut s, signin(r#"{"id":"u1"}"#), 0);
        let out = send(&mut s, signin(r#"{"id":"u2"}"#), 0);
        assert!(matches!(
            &out[..],
            [Effect::Error(PusherError::InvalidField {
                field: "pusher:signin",
                ..
            })]
        ));
        assert_eq!(s.user(), Some("u1"));
    }

    #[test]
    fn signin_must_name_the_authenticated_user() {
        let mut s = session_as(rules(), Some("u1"));
        let out = send(&mut s, signin(r#"{"id":"u2"}"#), 0);
        match &out[..] {
            [Effect::Error(err @ PusherError::UserMismatch(text))] => {
                assert_eq!(err.code(), 4009);
                assert!(text.contains("'u2'") && text.contains("'u1'"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn watchlist_news_and_termination() {
        let mut s = session();
        let out = feed(
            &mut s,
            Input::Watchlist {
                user: "u2",
                online: true,
            },
            0,
        );
        assert_eq!(sent(&out[0])["data"]["events"][0]["user_ids"][0], "u2");
        assert!(
            feed(&mut s, Input::Terminate { user: "u1" }, 0).is_empty(),
            "not signed in"
        );
        send(&mut s, signin(r#"{"id":"u1"}"#), 0);
        assert!(feed(&mut s, Input::Terminate { user: "u3" }, 0).is_empty());
        let out = feed(&mut s, Input::Terminate { user: "u1" }, 0);
        assert_eq!(out, [Effect::Close(PusherError::Terminated)]);
        assert!(PusherError::Terminated.closes_connection());
    }
}
