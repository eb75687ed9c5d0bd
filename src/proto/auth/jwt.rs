//! JSON Web Tokens (RFC 7519) signed with HS256 and the app secret, verified locally.
//!
//! Only `alg: HS256` is accepted (never `none`, never an asymmetric algorithm whose key could be
//! confused with the secret); the algorithm is checked before the signature, the signature in
//! constant time (`hmac`'s `verify_slice`) before any claim is read. `exp` is required, `nbf`
//! is honoured when present, both with [`JWT_LEEWAY_SECS`] of clock skew, and `sub` (string or
//! number) is the user id. The caller passes `now`; this module never reads a clock.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::AuthError;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const JWT_LEEWAY_SECS: i64 = 5;

/// Longest token accepted, in bytes (a request head is at most 8 KiB anyway).
const MAX_TOKEN_LEN: usize = 4096;

/// base64url without padding, as JWTs are written; trailing `=` is tolerated.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The verified facts of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `sub` as text: strings as they are, integers in decimal.
    pub user_id: String,
    /// `exp`, seconds since the Unix epoch.
    pub exp: i64,
    /// The whole payload, which collection filters read as `@request.auth.*`.
    pub claims: serde_json::Value,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
}

/// Verifies `token` against `secret` at `now_unix` (seconds since the epoch).
pub fn verify_jwt(token: &str, secret: &[u8], now_unix: i64) -> Result<Verified, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("longer than 4096 bytes"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "a JWT has three dot-separated segments",
        ));
    };
    let header_json = B64URL
        .decode(header_b64)
        .map_err(|_| AuthError::Malformed("header is not base64url"))?;
    let header: Header<'_> = serde_json::from_slice(&header_json)
        .map_err(|_| AuthError::Malformed("header is not a JSON object"))?;
    match header.alg.as_deref() {
        Some("HS256") => {}
        Some(other) => {
            let alg: String = other.chars().take(16).collect();
            return Err(AuthError::UnsupportedAlgorithm(alg));
        }
        None => return Err(AuthError::Malformed("header has no alg")),
    }
    let sig = B64URL
        .decode(sig_b64)
        .map_err(|_| AuthError::Malformed("signature is not base64url"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(header_b64.as_bytes());
    mac.update(b".");
    mac.update(payload_b64.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| AuthError::InvalidSignature)?;
    let payload = B64URL
        .decode(payload_b64)
        .map_err(|_| AuthError::Malformed("payload is not base64url"))?;
    let payload: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|_| AuthError::Malformed("payload is not a JSON object"))?;
    let claims = Claims::deserialize(&payload)
        .map_err(|_| AuthError::Malformed("payload is not a JSON object"))?;
    let exp = claims
        .exp
        .as_ref()
        .and_then(numeric_date)
        .ok_or(AuthError::MissingClaim("exp"))?;
    if now_unix > exp.saturating_add(JWT_LEEWAY_SECS) {
        return Err(AuthError::Expired { exp, now: now_unix });
    }
    if let Some(nbf) = claims.nbf.as_ref() {
        let nbf = numeric_date(nbf).ok_or(AuthError::MissingClaim("nbf"))?;
        if now_unix.saturating_add(JWT_LEEWAY_SECS) < nbf {
            return Err(AuthError::NotYetValid { nbf, now: now_unix });
        }
    }
    let user_id = claims
        .sub
        .as_ref()
        .and_then(subject)
        .ok_or(AuthError::MissingClaim("sub"))?;
    Ok(Verified {
        user_id,
        exp,
        claims: payload,
    })
}

/// A NumericDate: integer seconds, or a fraction (rounded down).
fn numeric_date(v: &serde_json::Value) -> Option<i64> {
    let n = v.as_number()?;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.floor() as i64)
    })
}

/// `sub` as a user id: a non-empty string, or an integer in decimal (Laravel ids).
fn subject(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// Signs `claims` (a JSON object) as an HS256 JWT; used by tests and tools.
pub fn sign_hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
    let header = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64URL.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{header}.{payload}").as_bytes());
    let sig = B64URL.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{sig}")
}

/// base64url-encodes `bytes` without padding (for building test tokens).
pub fn b64url(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}
