//! The headers of one delivery attempt: content type, user agent, the signature scheme of the
//! endpoint's format, and the endpoint's own headers.
//!
//! Owns the assembly and order of headers; signatures come from `signing`. The timestamp is the
//! attempt's (`now_ms`), so a retry is re-signed while its `webhook-id` stays the same. It never
//! writes bytes to a socket; the HTTP client serializes the list.

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

/// Every header of an attempt, in sending order. `custom` was validated at creation (no
/// reserved names), so it cannot override a signature.
pub fn attempt_headers(
    signer: Signer<'_>,
    message_id: &str,
    now_ms: i64,
    body: &[u8],
    custom: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut out = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), USER_AGENT.to_owned()),
    ];
    let own = |pairs: &[(&'static str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<Vec<_>>()
    };
    match signer {
        Signer::Standard { key } => {
            let ts = now_ms.div_euclid(1000);
            out.extend(own(&standard_headers(key, message_id, ts, body)));
        }
        Signer::Pusher {
            app_key,
            app_secret,
        } => {
            out.extend(own(&pusher_headers(app_key, app_secret, body)));
        }
    }
    out.extend(custom.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signing::{pusher_signature, standard_signature};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
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
        assert_eq!(
            h.last().unwrap(),
            &("X-Team".to_owned(), "billing".to_owned())
        );
        assert_eq!(get(&h, "X-Pusher-Signature"), None);
    }

    #[test]
    fn pusher_attempts_are_signed_with_the_app_secret() {
        let h = attempt_headers(
            Signer::Pusher {
                app_key: "key",
                app_secret: "secret",
            },
            "msg_2",
            5,
            b"{\"time_ms\":5}",
            &BTreeMap::new(),
        );
        assert_eq!(get(&h, "X-Pusher-Key"), Some("key"));
        let sig = pusher_signature("secret", b"{\"time_ms\":5}");
        assert_eq!(get(&h, "X-Pusher-Signature"), Some(sig.as_str()));
        assert_eq!(get(&h, "webhook-id"), None);
        assert_eq!(h.len(), 4);
    }
}
