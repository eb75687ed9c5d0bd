//! Unit tests and a never-panics property for [`super::jwt`].

use proptest::prelude::*;
use serde_json::json;

use super::jwt::{b64url, sign_hs256, verify_jwt, Verified, JWT_LEEWAY_SECS};
use super::AuthError;

const SECRET: &[u8] = b"app-secret";
const NOW: i64 = 1_700_000_000;

fn token(claims: serde_json::Value) -> String {
    sign_hs256(&claims, SECRET)
}

#[test]
fn a_valid_token_yields_its_subject() {
    let t = token(json!({"sub": "u1", "exp": NOW + 60}));
    assert_eq!(
        verify_jwt(&t, SECRET, NOW),
        Ok(Verified {
            user_id: "u1".into(),
            exp: NOW + 60,
            claims: json!({"sub": "u1", "exp": NOW + 60}),
        })
    );
    let numeric = token(json!({"sub": 42, "exp": NOW + 60}));
    assert_eq!(verify_jwt(&numeric, SECRET, NOW).unwrap().user_id, "42");
}

#[test]
fn a_tampered_payload_fails_the_signature() {
    let t = token(json!({"sub": "u1", "exp": NOW + 60}));
    let parts: Vec<&str> = t.split('.').collect();
    let forged = b64url(
        json!({"sub": "admin", "exp": NOW + 60})
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(
        verify_jwt(&tampered, SECRET, NOW),
        Err(AuthError::InvalidSignature)
    );
    let mut bad_sig = t.clone();
    bad_sig.pop();
    bad_sig.push(if t.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        verify_jwt(&bad_sig, SECRET, NOW),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn another_secret_fails_the_signature() {
    let t = sign_hs256(&json!({"sub": "u1", "exp": NOW + 60}), b"other-secret");
    assert_eq!(
        verify_jwt(&t, SECRET, NOW),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let payload = b64url(json!({"sub": "u1", "exp": NOW + 60}).to_string().as_bytes());
    for alg in ["none", "None", "HS512", "RS256", "hs256"] {
        let header = b64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        for sig in ["", "AAAA"] {
            let t = format!("{header}.{payload}.{sig}");
            assert_eq!(
                verify_jwt(&t, SECRET, NOW),
                Err(AuthError::UnsupportedAlgorithm(alg.into())),
                "{alg}"
            );
        }
    }
    let no_alg = b64url(br#"{"typ":"JWT"}"#);
    assert!(matches!(
        verify_jwt(&format!("{no_alg}.{payload}."), SECRET, NOW),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn expiry_is_required_and_enforced_with_leeway() {
    let t = token(json!({"sub": "u1"}));
    assert_eq!(
        verify_jwt(&t, SECRET, NOW),
        Err(AuthError::MissingClaim("exp"))
    );
    let t = token(json!({"sub": "u1", "exp": "tomorrow"}));
    assert_eq!(
        verify_jwt(&t, SECRET, NOW),
        Err(AuthError::MissingClaim("exp"))
    );
    let t = token(json!({"sub": "u1", "exp": NOW - 1}));
    assert!(verify_jwt(&t, SECRET, NOW).is_ok(), "within the leeway");
    let t = token(json!({"sub": "u1", "exp": NOW - JWT_LEEWAY_SECS - 1}));
    assert_eq!(
        verify_jwt(&t, SECRET, NOW),
        Err(AuthError::Expired {
            exp: NOW - JWT_LEEWAY_SECS - 1,
            now: NOW
        })
    );
    let t = token(json!({"sub": "u1", "exp": (NOW + 60) as f64 + 0.5}));
    assert_eq!(verify_jwt(&t, SECRET, NOW).unwrap().exp, NOW + 60);
}

#[test]
fn not_before_is_honoured() {
    let t = token(json!({"sub": "u1", "exp": NOW + 600, "nbf": NOW + 60}));
    assert_eq!(
        verify_jwt(&t, SECRET, NOW),
        Err(AuthError::NotYetValid {
            nbf: NOW + 60,
            now: NOW
        })
    );
    let t = token(json!({"sub": "u1", "exp": NOW + 600, "nbf": NOW + 3}));
    assert!(verify_jwt(&t, SECRET, NOW).is_ok(), "within the leeway");
}

#[test]
fn subject_is_required() {
    for claims in [
        json!({"exp": NOW + 60}),
        json!({"exp": NOW + 60, "sub": ""}),
        json!({"exp": NOW + 60, "sub": null}),
        json!({"exp": NOW + 60, "sub": 1.5}),
        json!({"exp": NOW + 60, "sub": {"id": 1}}),
    ] {
        assert_eq!(
            verify_jwt(&token(claims.clone()), SECRET, NOW),
            Err(AuthError::MissingClaim("sub")),
            "{claims}"
        );
    }
}

#[test]
fn malformed_segments_are_refused() {
    let good = token(json!({"sub": "u1", "exp": NOW + 60}));
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "abc".into(),
        "a.b".into(),
        format!("{good}.extra"),
        format!("!!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.!!!", parts[0], parts[1]),
        format!("{}.{}.{}", b64url(b"not json"), parts[1], parts[2]),
        "a".repeat(5000),
    ];
    for t in cases {
        assert!(
            matches!(verify_jwt(&t, SECRET, NOW), Err(AuthError::Malformed(_))),
            "{t:.40}"
        );
    }
    // A payload that is not JSON, correctly signed, is malformed rather than accepted.
    let header = parts[0];
    let payload = b64url(b"[1,2");
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(SECRET).unwrap();
    hmac::Mac::update(&mut mac, format!("{header}.{payload}").as_bytes());
    let sig = b64url(&hmac::Mac::finalize(mac).into_bytes());
    assert_eq!(
        verify_jwt(&format!("{header}.{payload}.{sig}"), SECRET, NOW),
        Err(AuthError::Malformed("payload is not a JSON object"))
    );
}

proptest! {
    #[test]
    fn verification_never_panics(token in "\\PC{0,300}", now in any::<i64>()) {
        let _ = verify_jwt(&token, SECRET, now);
    }

    #[test]
    fn dotted_base64_never_panics(
        a in "[A-Za-z0-9_=-]{0,60}", b in "[A-Za-z0-9_=-]{0,60}", c in "[A-Za-z0-9_=-]{0,60}",
        now in any::<i64>(),
    ) {
        let _ = verify_jwt(&format!("{a}.{b}.{c}"), SECRET, now);
    }

    #[test]
    fn signed_claims_of_any_shape_never_panic(exp in any::<i64>(), now in any::<i64>(), sub in any::<u64>()) {
        let t = token(json!({"sub": sub, "exp": exp, "nbf": exp / 2}));
        let _ = verify_jwt(&t, SECRET, now);
    }
}
