//! `POST /api/realtime/subscribe`: registers a socket's filter on a collection and answers the
//! channel the client then subscribes to with pusher-js.
//!
//! Two ways to authenticate, checked in this order:
//! - signed like the Pusher REST API (`auth_key`, `auth_timestamp`, `auth_version`,
//!   `body_md5`, `auth_signature` on this path): the app whose key is `auth_key`, acting on
//!   behalf of one of its sockets; the filter reads that connection's claims.
//! - `Authorization: Bearer <token>` (or `?token=`), the token the socket connected with: the
//!   app is the one the socket belongs to, and the token's user must be the socket's
//!   authenticated user. This works with one app or several without naming the app.
//!
//! No or invalid authentication is 401; everything else is decided on the socket's core.

use serde_json::json;

use crate::proto::api::realtime::{parse_subscribe, RealtimeError};
use crate::proto::api::verify_signed;
use crate::proto::auth::bearer_token;
use crate::proto::http::{self, RequestHead, Response};
use crate::proto::pusher::SocketId;
use crate::shard::{Port, Registration};

/// Handles one subscribe request.
pub async fn subscribe(port: &Port, head: &RequestHead, body: &[u8], now_unix: u64) -> Response {
    match register(port, head, body, now_unix).await {
        Ok(channel) => Response::json(200, json!({ "channel_name": channel }).to_string()),
        Err(e) => e.to_response(),
    }
}

async fn register(
    port: &Port,
    head: &RequestHead,
    body: &[u8],
    now_unix: u64,
) -> Result<String, RealtimeError> {
    let params =
        http::parse_query(&head.query).map_err(|e| RealtimeError::BadBody(e.to_string()))?;
    let (app, token) = match http::query_value(&params, "auth_key") {
        Some(key) => {
            let apps = &port.config().apps;
            let app = apps.iter().position(|a| a.key == key).ok_or_else(|| {
                RealtimeError::Unauthorized(format!("auth_key '{key}' is not the key of any app"))
            })?;
            let config = &apps[app];
            verify_signed(
                &head.method,
                &head.path,
                &params,
                body,
                &config.key,
                port.signing_key(app),
                now_unix,
            )
            .map_err(|e| RealtimeError::Unauthorized(e.to_string()))?;
            (Some(app), None)
        }
        None => {
            let token = bearer_token(head).map_err(|e| {
                RealtimeError::Unauthorized(format!(
                    "{e}: send the socket's connection token as Authorization: Bearer, or sign the request like the Pusher REST API"
                ))
            })?;
            (None, Some(token))
        }
    };
    let req = parse_subscribe(body)?;
    let socket_id: SocketId = req.socket_id.parse().map_err(|_| {
        RealtimeError::BadBody(format!(
            "invalid socket_id '{}': expected two numbers joined by a dot, like 123.456",
            req.socket_id
        ))
    })?;
    port.register_collection(Registration {
        app,
        socket_id,
        collection: req.collection,
        filter: req.filter,
        token,
        introspected: None,
    })
    .await
}
