//! Webhook signatures and the random values behind them.
//!
//! Owns three schemes: Pusher channel webhooks (`X-Pusher-Signature`, hex HMAC-SHA256 of the body
//! keyed with the app secret), Standard Webhooks (`webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">` keyed with the base64-decoded part of a `whsec_` secret) and
//! `X-Webhook-Signature` (hex HMAC-SHA256 of the body with that same key). It also makes secrets
//! and message ids from the OS random generator. It never reads a clock: the timestamp of an
//! attempt is passed in, so a retry re-signs with its own time and the same id.

use base64::engine::general_purpose::{self, GeneralPurpose, STANDARD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::WebhookError;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a generated secret.
pub const SECRET_BYTES: usize = 32;
/// The shortest key accepted from a user (Svix issues 24-byte secrets).
const MIN_KEY_BYTES: usize = 24;
/// The longest key accepted from a user.
const MAX_KEY_BYTES: usize = 64;

/// HMAC-SHA256 over `parts` fed in order, so signed strings are never joined in memory.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    finish_mac(keyed(key), parts)
}

/// HMAC-SHA256 with its key already absorbed.
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length")
}

fn finish_mac(mut mac: Hmac<Sha256>, parts: &[&[u8]]) -> [u8; 32] {
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The decoded key of a `whsec_` secret: what Standard Webhooks and `X-Webhook-Signature` sign
/// with. It keeps the HMAC state with the key absorbed, so each signature starts from a copy
/// of it instead of hashing the key again (two of the SHA-256 blocks of every signature).
#[derive(Clone)]
pub struct SigningKey {
    bytes: Vec<u8>,
    mac: Hmac<Sha256>,
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SigningKey {}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, not even in a debug log.
        write!(f, "SigningKey({} bytes)", self.bytes.len())
    }
}

impl SigningKey {
    /// Decodes `whsec_<base64>`; the key must be 24 to 64 bytes.
    pub fn from_secret(secret: &str) -> Result<SigningKey, WebhookError> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(WebhookError::InvalidSecret {
                reason: "it does not start with 'whsec_'",
            })?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret {
                reason: "the part after 'whsec_' is not standard base64",
            })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(WebhookError::InvalidSecret {
                reason: "the decoded key must be 24 to 64 bytes long",
            });
        }
        Ok(SigningKey {
            mac: keyed(&key),
            bytes: key,
        })
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// HMAC-SHA256 of `parts` fed in order, with this key.
    fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        finish_mac(self.mac.clone(), parts)
    }
}

/// A new secret: `whsec_` + base64 of 32 bytes from the OS random generator.
pub fn generate_secret() -> Result<String, getrandom::Error> {
    let mut key = [0u8; SECRET_BYTES];
    getrandom::fill(&mut key)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// Base64url's 64 characters in ASCII order: an id encoded with them sorts as its bytes do.
const ORDERED: base64::alphabet::Alphabet = match base64::alphabet::Alphabet::new(
    "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
) {
    Ok(a) => a,
    Err(_) => panic!("64 distinct characters"),
};
const ORDERED_NO_PAD: GeneralPurpose = GeneralPurpose::new(&ORDERED, general_purpose::NO_PAD);

/// A new message id made at `now_ms`: `msg_` + 22 base64url characters of 16 bytes, the first
/// 6 the time in ms and the other 10 from the OS random generator. It is the `webhook-id` of a
/// delivery and stays the same across its retries. Ids made later sort after earlier ones, so
/// the store's index of ids grows at its end instead of being rewritten all over.
pub fn new_message_id(now_ms: i64) -> Result<String, getrandom::Error> {
    let mut raw = [0u8; 16];
    raw[..6].copy_from_slice(&now_ms.max(0).to_be_bytes()[2..]);
    getrandom::fill(&mut raw[6..])?;
    Ok(format!("msg_{}", ORDERED_NO_PAD.encode(raw)))
}

/// `X-Pusher-Signature`: lowercase hex HMAC-SHA256 of the body keyed with the app secret.
pub fn pusher_signature(app_secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(app_secret.as_bytes(), &[body]))
}

/// `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`.
pub fn standard_signature(key: &SigningKey, id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let ts = timestamp_s.to_string();
    let tag = key.sign(&[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(tag))
}

/// `X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the raw body with the endpoint key.
pub fn body_signature(key: &SigningKey, body: &[u8]) -> String {
    hex::encode(key.sign(&[body]))
}

/// The signature headers of one attempt at a business delivery, in sending order.
pub fn standard_headers(
    key: &SigningKey,
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> [(&'static str, String); 4] {
    [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp_s.to_string()),
        (
            "webhook-signature",
            standard_signature(key, id, timestamp_s, body),
        ),
        ("X-Webhook-Signature", body_signature(key, body)),
    ]
}

/// The signature headers of a Pusher channel webhook.
pub fn pusher_headers(app_key: &str, app_secret: &str, body: &[u8]) -> [(&'static str, String); 2] {
    [
        ("X-Pusher-Key", app_key.to_owned()),
        ("X-Pusher-Signature", pusher_signature(app_secret, body)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector from the Standard Webhooks specification's reference libraries: the secret,
    // id, timestamp and payload below sign to this exact value.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn standard_signature_matches_the_spec_vector() {
        let key = SigningKey::from_secret(SPEC_SECRET).unwrap();
        assert_eq!(
            standard_signature(&key, SPEC_ID, SPEC_TS, SPEC_BODY),
            SPEC_SIG
        );
    }

    #[test]
    fn pusher_signature_is_hex_hmac_of_the_body() {
        // Independent computation through the Mac API with the same key and message.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(b"{\"time_ms\":1}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(pusher_signature("app-secret", b"{\"time_ms\":1}"), expected);
        assert_eq!(expected.len(), 64);
        assert_ne!(pusher_signature("other", b"{\"time_ms\":1}"), expected);
    }

    #[test]
    fn body_signature_uses_the_decoded_key_not_the_secret_text() {
        let key = SigningKey::from_secret(SPEC_SECRET).unwrap();
        let with_key = body_signature(&key, SPEC_BODY);
        assert_eq!(
            with_key,
            hex::encode(hmac_sha256(key.as_bytes(), &[SPEC_BODY]))
        );
        assert_ne!(with_key, pusher_signature(SPEC_SECRET, SPEC_BODY));
    }

    #[test]
    fn headers_carry_one_id_and_the_attempt_timestamp() {
        let key = SigningKey::from_secret(SPEC_SECRET).unwrap();
        let first = standard_headers(&key, SPEC_ID, 100, b"{}");
        let retry = standard_headers(&key, SPEC_ID, 160, b"{}");
        assert_eq!(first[0], ("webhook-id", SPEC_ID.to_owned()));
        assert_eq!(retry[0], first[0]);
        assert_eq!(retry[1].1, "160");
        assert_ne!(
            first[2].1, retry[2].1,
            "a retry is re-signed with its own time"
        );
        assert_eq!(
            first[3].1, retry[3].1,
            "the body signature has no timestamp"
        );
    }

    #[test]
    fn generated_secrets_round_trip_and_differ() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(SigningKey::from_secret(&a).unwrap().as_bytes().len(), 32);
        let id = new_message_id(1_700_000_000_000).unwrap();
        assert!(id.starts_with("msg_") && id.len() == 4 + 22, "{id}");
        assert_ne!(id, new_message_id(1_700_000_000_000).unwrap());
        let later = new_message_id(1_700_000_000_001).unwrap();
        assert!(later > id, "ids sort by time: {id} then {later}");
        let url_safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        assert!(id[4..].chars().all(url_safe), "{id}");
    }

    #[test]
    fn bad_secrets_say_what_is_wrong() {
        let no_prefix = SigningKey::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(no_prefix
            .to_string()
            .contains("does not start with 'whsec_'"));
        let not_b64 = SigningKey::from_secret("whsec_not base64!").unwrap_err();
        assert!(not_b64.to_string().contains("not standard base64"));
        let short = SigningKey::from_secret(&format!("whsec_{}", STANDARD.encode([1u8; 8])));
        assert!(short.unwrap_err().to_string().contains("24 to 64 bytes"));
        assert!(
            format!("{:?}", SigningKey::from_secret(SPEC_SECRET).unwrap()).contains("24 bytes")
        );
    }
}
