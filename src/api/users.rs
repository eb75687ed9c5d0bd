//! `POST /apps/{id}/users/{user_id}/terminate_connections`.

use crate::proto::http::Response;
use crate::shard::Port;

/// Closes every connection of `user_id` on every core.
pub fn terminate(port: &Port, app: usize, user_id: &str) -> Response {
    port.terminate_user(app, user_id);
    Response::json(200, "{}")
}
