//! User authentication: `pusher:signin`, and closing every connection of a user.
//!
//! A signed-in connection carries the user id from its signed `user_data`. Terminating a user
//! is broadcast to every core; each closes its own connections of that user with 4009, which
//! tells pusher-js not to reconnect on its own.

use std::sync::Arc;

use serde::Deserialize;

use super::session::{close_frame, text_frame};
use super::state::Shard;
use crate::proto::pusher::{self, PusherError};

#[derive(Deserialize)]
struct UserData<'a> {
    #[serde(borrow)]
    id: Option<&'a serde_json::value::RawValue>,
}

/// Handles `pusher:signin` from connection `key`.
pub fn signin(shard: &Shard, key: usize, auth: &str, user_data: &str) {
    let mut conns = shard.conns.borrow_mut();
    let Some(conn) = conns.get_mut(key) else {
        return;
    };
    let app = &shard.config.apps[conn.app];
    let socket_id = conn.socket_id.to_string();
    if !pusher::verify_user_auth(&app.key, &app.secret, &socket_id, user_data, auth) {
        conn.outbox.send(text_frame(&pusher::error_for(
            &PusherError::InvalidUserAuth,
        )));
        return;
    }
    let id = serde_json::from_str::<UserData<'_>>(user_data)
        .ok()
        .and_then(|d| d.id)
        .and_then(
            |raw| match serde_json::from_str::<serde_json::Value>(raw.get()) {
                Ok(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
                Ok(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
        );
    let Some(id) = id else {
        let err = PusherError::InvalidField {
            field: "user_data.id",
            expected: "a non-empty string",
        };
        conn.outbox.send(text_frame(&pusher::error_for(&err)));
        return;
    };
    conn.user_id = Some(Arc::from(id));
    conn.outbox
        .send(text_frame(&pusher::signin_success(user_data)));
}

/// Closes this core's connections of `user_id` in `app`.
pub fn terminate_local(shard: &Shard, app: usize, user_id: &str) {
    let conns = shard.conns.borrow();
    for (_, conn) in conns.iter() {
        if conn.app == app && conn.user_id.as_deref() == Some(user_id) {
            conn.outbox.send(text_frame(&pusher::error(
                Some(4009),
                "Connection terminated by the app (terminate_connections)",
            )));
            conn.outbox
                .close_with(Some(close_frame(4009, "terminated by the app")));
        }
    }
}
