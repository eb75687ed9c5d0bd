//! `POST /apps/{id}/users/{user_id}/terminate_connections`.

use std::sync::Arc;

use crate::proto::http::Response;
use crate::shard::{broadcast, CoreMsg, Shard};

/// Closes every connection of `user_id` on every core.
pub fn terminate(shard: &Shard, app: usize, user_id: &str) -> Response {
    let user_id: Arc<str> = Arc::from(user_id);
    broadcast(shard, || CoreMsg::TerminateUser {
        app,
        user_id: user_id.clone(),
    });
    Response::json(200, "{}")
}
