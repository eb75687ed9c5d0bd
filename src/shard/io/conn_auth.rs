//! Connection authentication before the WebSocket upgrade: for an app whose
//! `connection_auth` is not `none`, the upgrade request must carry a token (`?token=` or
//! `Authorization: Bearer`) that is a valid HS256 JWT signed with the app secret, or a Sanctum
//! personal access token the app's introspection URL accepts. A refusal is answered by the
//! caller with [`AuthError::response`] (401, 400 or 503 with a JSON body), never a 101.
//!
//! The verified user id is stored on the connection's session and binds presence membership
//! and `pusher:signin` (see `binding`); the token's claims are kept on the connection
//! (`Conn::claims`) for collection filters. Verification logic is in
//! `proto::auth`; this file only picks the verifier, reads the clock and makes the HTTP call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::unix_now;
use super::http_client;
use crate::proto::auth::{self, sanctum, AuthError, Identity};
use crate::proto::http::{HttpUrl, RequestHead};
use crate::shard::model::sanctum_cache::{self, Verdict};
use crate::shard::state::Shard;

/// How long the Sanctum introspection may take, connect included.
pub const INTROSPECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// The authenticated identity of an upgrade to `/app/{key}`: `Ok(None)` when the app asks for
/// no token (or is unknown: the session refuses it with the Pusher error after the upgrade).
pub async fn authenticate(
    shard: &Shard,
    head: &RequestHead,
) -> Result<Option<Identity>, AuthError> {
    let key = head.path.trim_start_matches("/app/").trim_end_matches('/');
    let Some(app) = shard.app_by_key(key) else {
        return Ok(None);
    };
    let config = &shard.config.apps[app];
    let mode = config.connection_auth;
    if !mode.jwt() && !mode.sanctum() {
        return Ok(None);
    }
    let result = async {
        let token = auth::bearer_token(head)?;
        if mode.verifies_as_jwt(&token) {
            let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
            let verified = auth::verify_jwt(&token, config.secret.as_bytes(), now)?;
            return Ok(Identity {
                user: Arc::from(verified.user_id),
                claims: Arc::new(verified.claims),
            });
        }
        sanctum_user(shard, app, &token).await
    }
    .await;
    match &result {
        Err(AuthError::Unavailable(why)) => tracing::warn!(
            shard = shard.id,
            app = %config.id,
            url = config.sanctum_url.as_deref().unwrap_or_default(),
            "connection refused: Sanctum introspection failed: {why}"
        ),
        Err(e) => {
            tracing::debug!(shard = shard.id, app = %config.id, reason = e.reason(), "connection refused: {e}")
        }
        Ok(_) => {}
    }
    result.map(Some)
}

/// Checks a Sanctum token with the app, through this shard's cache (also for a collection
/// registration whose socket's core had no verdict).
pub async fn sanctum_user(shard: &Shard, app: usize, token: &str) -> Result<Identity, AuthError> {
    let config = &shard.config.apps[app];
    if let Some(verdict) = sanctum_cache::with(|c| c.get(app, token, Instant::now())) {
        return match verdict {
            Verdict::User(user) => Ok(user),
            Verdict::Rejected => Err(AuthError::Rejected),
        };
    }
    let url_text = config.sanctum_url.as_deref().unwrap_or_default();
    // Validated at startup; a parse failure here would be a bug, answered as unavailable.
    let url =
        HttpUrl::parse(url_text).map_err(|e| AuthError::Unavailable(format!("sanctum_url {e}")))?;
    let request = sanctum::request(&url, token);
    let reply = http_client::send(&url, &request, INTROSPECTION_TIMEOUT, sanctum::MAX_BODY)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    let verdict = match sanctum::interpret(reply.status, &reply.body) {
        Ok(identity) => Verdict::User(identity),
        Err(AuthError::Rejected) => Verdict::Rejected,
        Err(other) => return Err(other),
    };
    let ttl = Duration::from_secs(u64::from(config.sanctum_cache_ttl));
    sanctum_cache::with(|c| c.put(app, token, verdict.clone(), ttl, Instant::now()));
    match verdict {
        Verdict::User(user) => Ok(user),
        Verdict::Rejected => Err(AuthError::Rejected),
    }
}
