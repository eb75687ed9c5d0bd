//! User authentication: `pusher:signin`, and closing every connection of a user.
//!
//! A signed-in connection carries the user id from its signed `user_data`. Terminating a user
//! is broadcast to every core; each closes its own connections of that user with 4009, which
//! tells pusher-js not to reconnect on its own.

use std::sync::Arc;

use serde::Deserialize;

use crate::proto::pusher::text_frame;
use crate::proto::pusher::{self, PusherError};
use crate::shard::cores::watchlist;
use crate::shard::state::Shard;

#[derive(Deserialize)]
struct UserData<'a> {
    #[serde(borrow)]
    id: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    watchlist: Vec<serde_json::Value>,
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
    let parsed = serde_json::from_str::<UserData<'_>>(user_data).ok();
    let watched: Vec<Arc<str>> = parsed
        .as_ref()
        .map(|d| {
            d.watchlist
                .iter()
                .filter_map(id_text)
                .map(Arc::from)
                .collect()
        })
        .unwrap_or_default();
    let id = parsed
        .and_then(|d| d.id)
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .as_ref()
        .and_then(id_text);
    let Some(id) = id else {
        let err = PusherError::InvalidField {
            field: "user_data.id",
            expected: "a non-empty string",
        };
        conn.outbox.send(text_frame(&pusher::error_for(&err)));
        return;
    };
    if let Err(msg) =
        crate::proto::pusher::auth_binding::check_signin(conn.auth_user.as_deref(), &id)
    {
        conn.outbox
            .send(text_frame(&pusher::error_for(&PusherError::UserMismatch(
                msg,
            ))));
        return;
    }
    if conn.user_id.is_some() {
        let err = PusherError::InvalidField {
            field: "pusher:signin",
            expected: "sent once per connection",
        };
        conn.outbox.send(text_frame(&pusher::error_for(&err)));
        return;
    }
    let user: Arc<str> = Arc::from(id);
    conn.user_id = Some(user.clone());
    conn.watchlist = watched.clone();
    conn.outbox
        .send(text_frame(&pusher::signin_success(user_data)));
    let (app, me) = (conn.app, shard.conn_ref(key, conn.socket_id));
    drop(conns);
    watchlist::signed(shard, app, &user, me, &watched, true);
}

/// A user id as text: strings as they are, numbers in decimal.
fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Closes this core's connections of `user_id` in `app`.
pub fn terminate_local(shard: &Shard, app: usize, user_id: &str) {
    let conns = shard.conns.borrow();
    for (_, conn) in conns.iter() {
        if conn.app == app && conn.user_id.as_deref() == Some(user_id) {
            super::session::refuse(shard, &conn.outbox, &PusherError::Terminated);
        }
    }
}
