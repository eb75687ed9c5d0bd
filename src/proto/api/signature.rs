//! Pusher HTTP API request authentication: the string to sign, verification and signing.
//!
//! A request is signed by HMAC-SHA256 (hex, keyed by the app secret) over
//! `METHOD\nPATH\nQUERY`, where QUERY is every query parameter but `auth_signature`, keys
//! lowercased, sorted by key, joined `key=value` with `&`, values NOT URL-encoded. The SDKs sign
//! unencoded values but put them on the wire differently (Node raw, Python through `requests`'
//! requoting, PHP through Guzzle's RFC 3986 encoding, so `,` arrives as `%2C`), so we verify
//! over the percent-DECODED values and all three agree. This module never reads the clock: the
//! caller passes `now_unix`.

use std::borrow::Cow;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

use super::error::ApiError;

/// How far `auth_timestamp` may be from the server clock, either way (Pusher: 600 s).
pub const MAX_SKEW_SECS: u64 = 600;
/// The only `auth_version` the API speaks.
pub const AUTH_VERSION: &str = "1.0";

/// Parameters the signer sets itself; a caller's own values for them are ignored when signing
/// (the Node SDK refuses them outright).
const RESERVED: [&str; 5] = [
    "auth_key",
    "auth_timestamp",
    "auth_version",
    "auth_signature",
    "body_md5",
];

type HmacSha256 = Hmac<Sha256>;

/// The exact text that is HMAC'd: `METHOD\nPATH\nQUERY` (see the module docs).
///
/// `params` are decoded pairs as [`crate::proto::http::parse_query`] returns them; `path` is the
/// request path exactly as it appeared in the request line, without the query.
pub fn string_to_sign(method: &str, path: &str, params: &[(String, String)]) -> String {
    let mut out = Vec::with_capacity(method.len() + path.len() + 2 + 24 * params.len());
    write_string_to_sign(method, path, params, |piece| out.extend_from_slice(piece));
    // Every piece is a whole `&str` (or an ASCII case change of one), so the text is UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// The string to sign handed to `put` piece by piece, so that a MAC can read it without the
/// text being put together first. Keys are lowercased without a copy when they already are,
/// which is how every SDK sends them.
fn write_string_to_sign(
    method: &str,
    path: &str,
    params: &[(String, String)],
    mut put: impl FnMut(&[u8]),
) {
    let mut pairs: Vec<(Cow<'_, str>, &str)> = params
        .iter()
        .map(|(k, v)| (lowercase(k), v.as_str()))
        .filter(|(k, _)| k != "auth_signature")
        .collect();
    // Sorting on (key, value) rather than key alone keeps repeated keys deterministic.
    pairs.sort_unstable();
    match method.bytes().any(|b| b.is_ascii_lowercase()) {
        true => put(method.to_ascii_uppercase().as_bytes()),
        false => put(method.as_bytes()),
    }
    put(b"\n");
    put(path.as_bytes());
    put(b"\n");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            put(b"&");
        }
        put(k.as_bytes());
        put(b"=");
        put(v.as_bytes());
    }
}

/// `key` in lowercase, copied only when it is not already.
fn lowercase(key: &str) -> Cow<'_, str> {
    match key.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(key.to_ascii_lowercase()),
        false => Cow::Borrowed(key),
    }
}

/// The lowercase hex MD5 of `body`, as `body_md5` carries it.
pub fn body_md5_hex(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// An app secret made ready to sign with: HMAC-SHA256 keyed by it, its two key blocks already
/// hashed. Made once per app, it saves each request two of the SHA-256 blocks its check costs.
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl SigningKey {
    /// The key for `secret`.
    pub fn new(secret: &str) -> Self {
        // HMAC accepts keys of any length, so the error arm is unreachable; it exists so that
        // this path cannot panic even if that ever changed.
        SigningKey(
            <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
                .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default())),
        )
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

fn mac_for(secret: &str) -> HmacSha256 {
    SigningKey::new(secret).0
}

/// Checks a REST request's Pusher authentication.
///
/// Requires `auth_key` (equal to `app_key`), `auth_timestamp` within ±[`MAX_SKEW_SECS`] of
/// `now_unix`, `auth_version` = `1.0` and a valid `auth_signature`. A non-empty body requires
/// `body_md5`; when `body_md5` is present it must match the body, which also accepts the MD5 of
/// the empty body that the Python SDK sends on GET requests. Parameter keys are compared
/// case-insensitively, like the signature's lowercased keys.
pub fn verify_request(
    method: &str,
    path: &str,
    params: &[(String, String)],
    body: &[u8],
    app_key: &str,
    secret: &str,
    now_unix: u64,
) -> Result<(), ApiError> {
    let key = SigningKey::new(secret);
    verify_signed(method, path, params, body, app_key, &key, now_unix)
}

/// [`verify_request`] with the app's secret already made a [`SigningKey`], as the server keeps
/// it.
pub fn verify_signed(
    method: &str,
    path: &str,
    params: &[(String, String)],
    body: &[u8],
    app_key: &str,
    secret: &SigningKey,
    now_unix: u64,
) -> Result<(), ApiError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let key = get("auth_key").ok_or(ApiError::MissingParam("auth_key"))?;
    let timestamp = get("auth_timestamp").ok_or(ApiError::MissingParam("auth_timestamp"))?;
    let version = get("auth_version").ok_or(ApiError::MissingParam("auth_version"))?;
    let signature = get("auth_signature").ok_or(ApiError::MissingParam("auth_signature"))?;
    let body_md5 = get("body_md5");
    if body_md5.is_none() && !body.is_empty() {
        return Err(ApiError::MissingParam("body_md5"));
    }

    if key != app_key {
        return Err(ApiError::InvalidAuthKey);
    }
    if version != AUTH_VERSION {
        return Err(ApiError::InvalidAuthVersion);
    }
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidTimestamp);
    }
    let ts: u64 = timestamp.parse().map_err(|_| ApiError::InvalidTimestamp)?;
    if ts.abs_diff(now_unix) > MAX_SKEW_SECS {
        let skew = i128::from(ts) - i128::from(now_unix);
        let skew_secs = i64::try_from(skew).unwrap_or(if skew > 0 { i64::MAX } else { i64::MIN });
        return Err(ApiError::TimestampExpired { skew_secs });
    }

    // A SHA-256 MAC is 32 bytes: any other length (or a non-hex digit) cannot be right.
    let mut claimed = [0u8; 32];
    hex::decode_to_slice(signature, &mut claimed).map_err(|_| ApiError::InvalidSignature)?;
    let mut mac = secret.0.clone();
    write_string_to_sign(method, path, params, |piece| mac.update(piece));
    // verify_slice compares in constant time, so timing reveals nothing about the right MAC.
    mac.verify_slice(&claimed)
        .map_err(|_| ApiError::InvalidSignature)?;

    if let Some(md5) = body_md5 {
        // Either case of hex digit is accepted, as the SDKs' hex differs.
        let mut claimed = [0u8; 16];
        let decoded = hex::decode_to_slice(md5, &mut claimed).is_ok();
        if !decoded || claimed[..] != Md5::digest(body)[..] {
            return Err(ApiError::BodyMd5Mismatch);
        }
    }
    Ok(())
}

/// Signs a request the way the Node SDK does and returns the whole query string.
///
/// The result is `auth_key`, `auth_timestamp`, `auth_version`, `body_md5` (only when `body` is
/// non-empty) and the caller's `params`, sorted by key, then `&auth_signature=…` last. Values
/// made only of the characters the SDKs send raw (`A-Z a-z 0-9 - . _ ~ , : @ / ! $ ' ( ) * ;`)
/// are written unencoded, byte for byte what Node would send; any other character is
/// percent-encoded so that arbitrary values still parse back to what was signed. A caller
/// parameter named like one of the signer's own (`auth_*`, `body_md5`) is ignored.
pub fn sign_request(
    method: &str,
    path: &str,
    params: &[(String, String)],
    body: &[u8],
    app_key: &str,
    secret: &str,
    timestamp: u64,
) -> String {
    let mut all: Vec<(String, String)> = vec![
        ("auth_key".into(), app_key.into()),
        ("auth_timestamp".into(), timestamp.to_string()),
        ("auth_version".into(), AUTH_VERSION.into()),
    ];
    if !body.is_empty() {
        all.push(("body_md5".into(), body_md5_hex(body)));
    }
    all.extend(
        params
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.to_ascii_lowercase().as_str()))
            .cloned(),
    );

    let mut mac = mac_for(secret);
    mac.update(string_to_sign(method, path, &all).as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());

    // Same order as the string to sign, so the wire query reads like the signed one.
    all.sort_unstable_by(|a, b| {
        (a.0.to_ascii_lowercase(), &a.1).cmp(&(b.0.to_ascii_lowercase(), &b.1))
    });
    let mut out = String::new();
    for (k, v) in &all {
        encode_into(&mut out, k);
        out.push('=');
        encode_into(&mut out, v);
        out.push('&');
    }
    out.push_str("auth_signature=");
    out.push_str(&signature);
    out
}

/// Appends `s`, percent-encoding every byte outside the set the SDKs send raw.
fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        let raw = b.is_ascii_alphanumeric() || b"-._~,:@/!$'()*;".contains(&b);
        if raw {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&format!("{b:02X}"));
        }
    }
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
