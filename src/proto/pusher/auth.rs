//! Channel authorisation and user authentication signatures (HMAC-SHA256, hex).
//!
//! Owns the exact strings Pusher signs (docs: library_auth_reference/auth-signatures):
//! `socket_id:channel` for private channels, `socket_id:channel:channel_data` for presence
//! channels and `socket_id::user::user_data` for `pusher:signin`, and the `key:hexsig` form of an
//! auth string. Verification compares in constant time. It never decides who may subscribe: it
//! only says whether the app's own server signed this request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 tag; a decoded signature of any other length is refused
/// before the MAC is even computed.
const TAG_LEN: usize = 32;

/// Lowercase hex HMAC-SHA256 of `socket_id:channel` or `socket_id:channel:channel_data`.
pub fn channel_signature(
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    channel_mac(secret, socket_id, channel, channel_data)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// The auth string a server SDK returns for a channel: `key:hexsig`.
pub fn channel_auth(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    join_auth(
        key,
        &channel_signature(secret, socket_id, channel, channel_data),
    )
}

/// Whether `auth` is `key:hexsig` for this app key and a valid signature of the channel
/// string. The key must match exactly (it is public, so plain comparison is fine); the
/// signature is compared in constant time by `Mac::verify_slice`.
pub fn verify_channel_auth(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: &str,
) -> bool {
    let Some(tag) = split_auth(key, auth) else {
        return false;
    };
    channel_mac(secret, socket_id, channel, channel_data)
        .is_some_and(|m| m.verify_slice(&tag).is_ok())
}

/// Lowercase hex HMAC-SHA256 of `socket_id::user::user_data`, for `pusher:signin`.
pub fn user_signature(secret: &str, socket_id: &str, user_data: &str) -> String {
    user_mac(secret, socket_id, user_data)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `auth` is `key:hexsig` with a valid user signature. The auth-signatures docs and
/// the server SDKs use the same `key:signature` form as for channels.
pub fn verify_user_auth(
    key: &str,
    secret: &str,
    socket_id: &str,
    user_data: &str,
    auth: &str,
) -> bool {
    let Some(tag) = split_auth(key, auth) else {
        return false;
    };
    user_mac(secret, socket_id, user_data).is_some_and(|m| m.verify_slice(&tag).is_ok())
}

/// The MAC over the channel string, fed in parts so no joined string is allocated.
/// `None` is unreachable (HMAC takes keys of any length) but keeps this path panic-free.
fn channel_mac(
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(socket_id.as_bytes());
    mac.update(b":");
    mac.update(channel.as_bytes());
    if let Some(data) = channel_data {
        mac.update(b":");
        mac.update(data.as_bytes());
    }
    Some(mac)
}

fn user_mac(secret: &str, socket_id: &str, user_data: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(socket_id.as_bytes());
    mac.update(b"::user::");
    mac.update(user_data.as_bytes());
    Some(mac)
}

fn join_auth(key: &str, sig: &str) -> String {
    let mut s = String::with_capacity(key.len() + 1 + sig.len());
    s.push_str(key);
    s.push(':');
    s.push_str(sig);
    s
}

/// The decoded signature of `key:hex` when the key part equals `key` and the hex is a
/// 32-byte tag. Keys never contain `:`, so the first colon separates.
fn split_auth(key: &str, auth: &str) -> Option<Vec<u8>> {
    let (given_key, hex_sig) = auth.split_once(':')?;
    if given_key != key || hex_sig.len() != TAG_LEN * 2 {
        return None;
    }
    hex::decode(hex_sig).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // From the Pusher docs, library_auth_reference/auth-signatures ("Worked examples").
    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";
    const DOCS_SIG: &str = "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
    const DOCS_USER_SIG: &str = "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba";

    #[test]
    fn channel_signature_matches_docs_vector() {
        assert_eq!(
            channel_signature(SECRET, "1234.1234", "private-foobar", None),
            DOCS_SIG
        );
    }

    #[test]
    fn channel_auth_is_key_colon_sig() {
        assert_eq!(
            channel_auth(KEY, SECRET, "1234.1234", "private-foobar", None),
            format!("{KEY}:{DOCS_SIG}")
        );
    }

    #[test]
    fn user_signature_matches_docs_vector() {
        assert_eq!(
            user_signature(SECRET, "1234.1234", r#"{"id":"12345"}"#),
            DOCS_USER_SIG
        );
    }

    #[test]
    fn presence_signature_covers_channel_data() {
        let data = r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#;
        let with = channel_signature(SECRET, "1234.1234", "presence-foobar", Some(data));
        let without = channel_signature(SECRET, "1234.1234", "presence-foobar", None);
        assert_ne!(with, without);
        assert_eq!(with.len(), 64);
        assert!(with
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let auth = channel_auth(KEY, SECRET, "1234.1234", "presence-foobar", Some(data));
        assert!(verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            Some(data),
            &auth
        ));
        assert!(!verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            None,
            &auth
        ));
    }

    #[test]
    fn verify_accepts_docs_auth() {
        let auth = format!("{KEY}:{DOCS_SIG}");
        assert!(verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "private-foobar",
            None,
            &auth
        ));
    }

    #[test]
    fn verify_rejects_wrong_key_sig_or_hex() {
        let ok = |auth: &str| {
            verify_channel_auth(KEY, SECRET, "1234.1234", "private-foobar", None, auth)
        };
        let mut flipped = DOCS_SIG.to_string();
        flipped.replace_range(0..1, "6");
        let bad = [
            format!("otherkey:{DOCS_SIG}"),
            format!(":{DOCS_SIG}"),
            DOCS_SIG.to_string(),
            format!("{KEY}:{flipped}"),
            format!("{KEY}:{}", &DOCS_SIG[..62]),
            format!("{KEY}:{DOCS_SIG}00"),
            format!("{KEY}:{}zz", &DOCS_SIG[..62]),
            format!("{KEY}:"),
            format!("{KEY}:{DOCS_SIG}:x"),
            String::new(),
        ];
        for auth in &bad {
            assert!(!ok(auth), "{auth:?}");
        }
        // Right signature, wrong inputs.
        let auth = format!("{KEY}:{DOCS_SIG}");
        assert!(!verify_channel_auth(
            KEY,
            SECRET,
            "1234.1235",
            "private-foobar",
            None,
            &auth
        ));
        assert!(!verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "private-foobaz",
            None,
            &auth
        ));
        assert!(!verify_channel_auth(
            KEY,
            "wrong",
            "1234.1234",
            "private-foobar",
            None,
            &auth
        ));
    }

    #[test]
    fn verify_user_auth_round_trip_and_rejects() {
        let data = r#"{"id":"12345"}"#;
        let auth = format!("{KEY}:{DOCS_USER_SIG}");
        assert!(verify_user_auth(KEY, SECRET, "1234.1234", data, &auth));
        assert!(!verify_user_auth("other", SECRET, "1234.1234", data, &auth));
        assert!(!verify_user_auth(
            KEY,
            SECRET,
            "1234.1234",
            r#"{"id":"1"}"#,
            &auth
        ));
        assert!(!verify_user_auth(
            KEY,
            SECRET,
            "1234.1234",
            data,
            DOCS_USER_SIG
        ));
        // A channel signature is not a user signature.
        let chan = channel_auth(KEY, SECRET, "1234.1234", "", Some(data));
        assert!(!verify_user_auth(KEY, SECRET, "1234.1234", data, &chan));
    }
}
