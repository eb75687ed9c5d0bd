//! The headers of one delivery attempt: content type, user agent, the signature scheme of the
//! endpoint's format, and the endpoint's own headers.
//!
//! Owns the assembly and order of headers; signatures come from `signing`. The timestamp is the
//! attempt's (`now_ms`), so a retry is re-signed while its `webhook-id` stays the same. It never
//! writes bytes to a socket; the HTTP client serializes the list.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::signing::{pusher_headers, standard_headers, SigningKey};

/// The `User-Agent` of webhook requests.
pub const USER_AGENT: &str = concat!("ringcast-webhooks/", env!("CARGO_PKG_VERSION"));

/// How an endpoint's deliveries are signed.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// Standard Webhooks plus `X-Webhook-Signature`, with the endpoint's key.
    Standard {
        /// The decoded `whsec_` key.
        key: &'a SigningKey,
    },
    /// Pusher channel webhooks, with the app's key and secret.
    Pusher {
        /// The app key (`X-Pusher-Key`).
        app_key: &'a str,
        /// The app secret.
        app_secret: &'a str,
    },
}

/// One header: name and value, borrowed where the name, the endpoint's own headers or the
/// message id already hold the text, so an attempt allocates only its signatures.
pub type Header<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Every header of an attempt, in sending order. `custom` was validated at creation (no
/// reserved names), so it cannot override a signature.
pub fn attempt_headers<'a>(
    signer: Signer<'_>,
    message_id: &str,
    now_ms: i64,
    body: &[u8],
    custom: &'a BTreeMap<String, String>,
) -> Vec<Header<'a>> {
    let mut out: Vec<Header<'a>> = Vec::with_capacity(6 + custom.len());
    out.push(("Content-Type".into(), "application/json".into()));
    out.push(("User-Agent".into(), USER_AGENT.into()));
    let owned = |(k, v): (&'static str, String)| (Cow::Borrowed(k), Cow::Owned(v));
    match signer {
        Signer::Standard { key } => {
            let ts = now_ms.div_euclid(1000);
            out.extend(standard_headers(key, message_id, ts, body).map(owned));
        }
        Signer::Pusher {
            app_key,
            app_secret,
        } => {
            out.extend(pusher_headers(app_key, app_secret, body).map(owned));
        }
    }
    out.extend(
        custom
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signing::{pusher_signature, standard_signature};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn get<'a>(headers: &'a [Header<'_>], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    #[test]
    fn standard_attempts_carry_both_signatures_and_custom_headers() {
        let key = SigningKey::from_secret(SECRET).unwrap();
        let custom = BTreeMap::from([("X-Team".to_owned(), "billing".to_owned())]);
        let h = attempt_headers(
            Signer::Standard { key: &key },
            "msg_1",
            1_700_000_000_999,
            b"{}",
            &custom,
        );
        assert_eq!(get(&h, "Content-Type"), Some("application/json"));
        assert!(get(&h, "User-Agent")
            .unwrap()
            .starts_with("ringcast-webhooks/"));
        assert_eq!(get(&h, "webhook-id"), Some("msg_1"));
        assert_eq!(
            get(&h, "webhook-timestamp"),
            Some("1700000000"),
            "whole seconds"
        );
        let sig = standard_signature(&key, "msg_1", 1_700_000_000, b"{}");
        assert_eq!(get(&h, "webhook-signature"), Some(sig.as_str()));
        assert!(get(&h, "X-Webhook-Signature").is_some());
        assert_eq!(h.last().unwrap(), &("X-Team".into(), "billing".into()));
        assert_eq!(get(&h, "X-Pusher-Signature"), None);
    }

    #[test]
    fn pusher_attempts_are_signed_with_the_app_secret() {
        let custom = BTreeMap::new();
        let h = attempt_headers(
            Signer::Pusher {
                app_key: "key",
                app_secret: "secret",
            },
            "msg_2",
            5,
            b"{\"time_ms\":5}",
            &custom,
        );
        assert_eq!(get(&h, "X-Pusher-Key"), Some("key"));
        let sig = pusher_signature("secret", b"{\"time_ms\":5}");
        assert_eq!(get(&h, "X-Pusher-Signature"), Some(sig.as_str()));
        assert_eq!(get(&h, "webhook-id"), None);
        assert_eq!(h.len(), 4);
    }
}
