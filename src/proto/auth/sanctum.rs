//! Laravel Sanctum personal access tokens, checked by the app's introspection endpoint.
//!
//! The shard sends `GET <sanctum_url>` with `Authorization: Bearer <token>` and
//! `Accept: application/json` (for instance to a route `Route::get('/api/user', fn (Request $r)
//! => $r->user())->middleware('auth:sanctum')`). This module builds that request and reads the
//! answer: 200 with a JSON body holding the user id as `{"id": …}` or `{"user": {"id": …}}`
//! (string or integer) means valid; 401 or 403 means the app rejected the token; anything else
//! means the check failed and the connection is refused without caching.

use std::sync::Arc;

use serde_json::Value;

use super::{AuthError, Identity};
use crate::proto::http::url::HttpUrl;

/// Largest introspection body read, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The introspection request's bytes. HTTP/1.0 so the answer is never chunked: its body ends
/// at `Content-Length` or when the app closes the connection.
pub fn request(url: &HttpUrl, token: &str) -> Vec<u8> {
    format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\
         User-Agent: ringcast\r\nConnection: close\r\n\r\n",
        url.path_and_query,
        url.host_header()
    )
    .into_bytes()
}

/// What an introspection answer means: the user (its id, and the user object as the claims
/// collection filters read), a rejection, or a failure.
pub fn interpret(status: u16, body: &[u8]) -> Result<Identity, AuthError> {
    match status {
        200 => {}
        401 | 403 => return Err(AuthError::Rejected),
        other => {
            return Err(AuthError::Unavailable(format!(
                "the introspection URL answered HTTP {other}"
            )))
        }
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        AuthError::Unavailable("the introspection answer is not a JSON object".to_owned())
    })?;
    // `{"user": {…}}` wraps the user; otherwise the answer is the user itself.
    let user = match parsed.get("id") {
        Some(_) => parsed,
        None => parsed.get("user").cloned().unwrap_or(Value::Null),
    };
    let id = match user.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => {
            return Err(AuthError::Unavailable(
                "the introspection answer has no user id ({\"id\":…} or {\"user\":{\"id\":…}})"
                    .to_owned(),
            ))
        }
    };
    Ok(Identity {
        user: Arc::from(id),
        claims: Arc::new(user),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_documented() {
        let flat = interpret(200, br#"{"id":7,"name":"x"}"#).unwrap();
        assert_eq!(&*flat.user, "7");
        assert_eq!(flat.claims["name"], "x", "the user object is the claims");
        let wrapped = interpret(200, br#"{"user":{"id":"abc","team":3}}"#).unwrap();
        assert_eq!(
            (&*wrapped.user, &wrapped.claims["team"]),
            ("abc", &serde_json::json!(3))
        );
        assert_eq!(interpret(401, b""), Err(AuthError::Rejected));
        assert_eq!(interpret(403, b"{}"), Err(AuthError::Rejected));
        assert!(matches!(
            interpret(500, b""),
            Err(AuthError::Unavailable(_))
        ));
        assert!(matches!(
            interpret(302, b""),
            Err(AuthError::Unavailable(_))
        ));
        assert!(matches!(
            interpret(200, b"<html>"),
            Err(AuthError::Unavailable(_))
        ));
        assert!(matches!(
            interpret(200, br#"{"id":null}"#),
            Err(AuthError::Unavailable(_))
        ));
    }

    #[test]
    fn the_request_carries_the_token_and_accept() {
        let url = HttpUrl::parse("http://127.0.0.1:8000/api/user?x=1").unwrap();
        let req = String::from_utf8(request(&url, "1|good")).unwrap();
        assert!(req.starts_with("GET /api/user?x=1 HTTP/1.0\r\nHost: 127.0.0.1:8000\r\n"));
        assert!(req.contains("Authorization: Bearer 1|good\r\n"));
        assert!(req.contains("Accept: application/json\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
    }
}
