//! Where a connection's token comes from and what kind it is.
//!
//! The token is `?token=` in the connect URL or `Authorization: Bearer <token>` on the upgrade
//! request; when both are present they must agree. A token with two dots is a JWT, anything
//! else a Sanctum personal access token (`{id}|{plaintext}` or a bare plaintext).

use super::AuthError;
use crate::proto::http::{self, RequestHead};

/// Longest token accepted from either place, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Which verifier a token's shape calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Three dot-separated segments: a JWT.
    Jwt,
    /// Anything else: a Sanctum personal access token.
    Sanctum,
}

impl TokenKind {
    /// The kind of `token` by its shape.
    pub fn of(token: &str) -> TokenKind {
        if token.bytes().filter(|&b| b == b'.').count() == 2 {
            TokenKind::Jwt
        } else {
            TokenKind::Sanctum
        }
    }
}

/// The token of an upgrade request: `?token=` or `Authorization: Bearer`.
pub fn bearer_token(head: &RequestHead) -> Result<String, AuthError> {
    let params = http::parse_query(&head.query)
        .map_err(|_| AuthError::Malformed("the query string is not valid percent-encoding"))?;
    let from_query = http::query_value(&params, "token").filter(|t| !t.is_empty());
    let from_header = head.header("authorization").and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim())
            .filter(|t| !t.is_empty())
    });
    let token = match (from_query, from_header) {
        (Some(q), Some(h)) if q != h => return Err(AuthError::AmbiguousToken),
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(AuthError::MissingToken),
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("longer than 4096 bytes"));
    }
    // Visible ASCII only: a Sanctum token is forwarded in a header line, so CR/LF and other
    // control bytes must never get through.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthError::Malformed(
            "only visible ASCII characters are allowed",
        ));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(query: &str, auth: Option<&str>) -> RequestHead {
        let mut req = format!("GET /app/k?{query} HTTP/1.1\r\nHost: x\r\n");
        if let Some(a) = auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        req.push_str("\r\n");
        http::parse_head(req.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn token_from_query_or_header() {
        assert_eq!(
            bearer_token(&head("protocol=7&token=1%7Cabc", None)).unwrap(),
            "1|abc"
        );
        assert_eq!(
            bearer_token(&head("protocol=7", Some("Bearer a.b.c"))).unwrap(),
            "a.b.c"
        );
        assert_eq!(
            bearer_token(&head("protocol=7", Some("bearer  x "))).unwrap(),
            "x"
        );
        assert_eq!(
            bearer_token(&head("token=x", Some("Bearer x"))).unwrap(),
            "x"
        );
    }

    #[test]
    fn missing_ambiguous_and_unsafe_tokens_are_refused() {
        assert_eq!(
            bearer_token(&head("protocol=7", None)),
            Err(AuthError::MissingToken)
        );
        assert_eq!(
            bearer_token(&head("token=", Some("Basic eA=="))),
            Err(AuthError::MissingToken)
        );
        assert_eq!(
            bearer_token(&head("token=x", Some("Bearer y"))),
            Err(AuthError::AmbiguousToken)
        );
        assert!(matches!(
            bearer_token(&head("token=a%0D%0AX-Evil:%201", None)),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn kinds_by_shape() {
        assert_eq!(TokenKind::of("aaa.bbb.ccc"), TokenKind::Jwt);
        assert_eq!(TokenKind::of("1|plain"), TokenKind::Sanctum);
        assert_eq!(TokenKind::of("plaintext"), TokenKind::Sanctum);
    }
}
