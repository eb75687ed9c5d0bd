//! The auth layer's one error enum: why an upgrade was refused, mapped 1:1 to an HTTP status
//! and a short machine-readable `reason`, and turned into the JSON response sent before any
//! `101 Switching Protocols`.
//!
//! Messages name the problem but never echo the token (it is a credential).

use std::fmt;

use crate::proto::http::Response;

/// Why connection authentication refused an upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// 401 `missing_token`: no `?token=` and no `Authorization: Bearer`.
    MissingToken,
    /// 400 `ambiguous_token`: `?token=` and the `Authorization` header carry different tokens.
    AmbiguousToken,
    /// 401 `malformed_token`: not three base64url segments of JSON, or bad characters.
    Malformed(&'static str),
    /// 401 `unsupported_algorithm`: the JWT header's `alg` is not `HS256` (`none` included).
    UnsupportedAlgorithm(String),
    /// 401 `invalid_signature`: the HMAC-SHA256 with the app secret does not match.
    InvalidSignature,
    /// 401 `missing_claim`: a required claim (`exp`, `sub`) is absent or of the wrong type.
    MissingClaim(&'static str),
    /// 401 `expired`: `exp` (plus the leeway) is in the past.
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The server's clock.
        now: i64,
    },
    /// 401 `not_yet_valid`: `nbf` (minus the leeway) is in the future.
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The server's clock.
        now: i64,
    },
    /// 401 `rejected`: the app's Sanctum introspection answered 401 or 403.
    Rejected,
    /// 503 `introspection_unavailable`: the introspection failed (timeout, connection refused,
    /// another status, a body without a user id). The client may retry; nothing is cached.
    Unavailable(String),
}

impl AuthError {
    /// The HTTP status the refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::AmbiguousToken => 400,
            AuthError::Unavailable(_) => 503,
            _ => 401,
        }
    }

    /// A stable machine-readable name for the refusal (`reason` in the JSON body).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::AmbiguousToken => "ambiguous_token",
            AuthError::Malformed(_) => "malformed_token",
            AuthError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            AuthError::InvalidSignature => "invalid_signature",
            AuthError::MissingClaim(_) => "missing_claim",
            AuthError::Expired { .. } => "expired",
            AuthError::NotYetValid { .. } => "not_yet_valid",
            AuthError::Rejected => "rejected",
            AuthError::Unavailable(_) => "introspection_unavailable",
        }
    }

    /// The response sent instead of the upgrade: `{"error": "...", "reason": "..."}`, with
    /// `WWW-Authenticate` on a 401 (RFC 6750) and `Retry-After` on a 503.
    pub fn response(&self) -> Response {
        let body = serde_json::json!({ "error": self.to_string(), "reason": self.reason() });
        let resp = Response::json(self.status(), body.to_string());
        match self.status() {
            401 => resp.with_header(
                "WWW-Authenticate",
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    self.reason()
                ),
            ),
            503 => resp.with_header("Retry-After", "1"),
            _ => resp,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingToken => f.write_str(
                "this app requires a token: pass ?token=<token> or 'Authorization: Bearer <token>'",
            ),
            AuthError::AmbiguousToken => {
                f.write_str("?token= and the Authorization header carry different tokens; send one")
            }
            AuthError::Malformed(what) => write!(f, "malformed token: {what}"),
            AuthError::UnsupportedAlgorithm(alg) => {
                write!(
                    f,
                    "JWT alg '{alg}' is not accepted; sign with HS256 and the app secret"
                )
            }
            AuthError::InvalidSignature => {
                f.write_str("invalid JWT signature: expected HMAC-SHA256 with the app secret")
            }
            AuthError::MissingClaim(claim) => {
                write!(f, "JWT claim '{claim}' is missing or invalid")
            }
            AuthError::Expired { exp, now } => {
                write!(
                    f,
                    "token expired: exp {exp} is before the server time {now}"
                )
            }
            AuthError::NotYetValid { nbf, now } => {
                write!(
                    f,
                    "token not yet valid: nbf {nbf} is after the server time {now}"
                )
            }
            AuthError::Rejected => f.write_str("token rejected by the app (Sanctum introspection)"),
            AuthError::Unavailable(why) => {
                write!(
                    f,
                    "token could not be checked with the app: {why}; retry later"
                )
            }
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_statuses_and_json_bodies() {
        let r = AuthError::Expired { exp: 1, now: 9 }.response();
        assert_eq!(r.status, 401);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["reason"], "expired");
        assert!(body["error"].as_str().unwrap().contains("exp 1"));
        assert!(r.headers.iter().any(|(k, _)| k == "WWW-Authenticate"));
        assert_eq!(AuthError::Unavailable("timeout".into()).status(), 503);
        assert_eq!(AuthError::AmbiguousToken.status(), 400);
    }
}
