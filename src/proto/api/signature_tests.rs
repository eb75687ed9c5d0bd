//! Tests for request signing: the published Pusher vector, each SDK's wire form, every refusal.

use super::*;
use crate::proto::http::parse_query;
use proptest::prelude::*;

const KEY: &str = "278d425bdf160c739803";
const SECRET: &str = "7ad3773142a6692b25b8";
const TS: u64 = 1_353_088_179;
const BODY: &[u8] = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
const MD5: &str = "ec365a775a4cd0599faeb73354201b6f";
const SIG: &str = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";

fn q(s: &str) -> Vec<(String, String)> {
    parse_query(s).unwrap()
}

fn verify(method: &str, path: &str, query: &str, body: &[u8], now: u64) -> Result<(), ApiError> {
    verify_request(method, path, &q(query), body, KEY, SECRET, now)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The worked example of the Pusher HTTP API reference ("Worked authentication example").
#[test]
fn pusher_docs_worked_example_verifies_and_is_reproduced() {
    assert_eq!(body_md5_hex(BODY), MD5);
    let query = format!(
        "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&body_md5={MD5}&auth_signature={SIG}"
    );
    assert_eq!(
        string_to_sign("POST", "/apps/3/events", &q(&query)),
        format!("POST\n/apps/3/events\nauth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&body_md5={MD5}")
    );
    assert_eq!(verify("POST", "/apps/3/events", &query, BODY, TS), Ok(()));
    assert_eq!(
        sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS),
        query
    );
}

#[test]
fn sign_then_verify_round_trips_with_params() {
    let params = pairs(&[
        ("info", "user_count,subscription_count"),
        ("filter_by_prefix", "presence-"),
    ]);
    let signed = sign_request("GET", "/apps/3/channels", &params, b"", KEY, SECRET, TS);
    // Node order and raw values: sorted keys, commas not encoded, no body_md5 without a body.
    assert!(signed.starts_with(&format!(
        "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&filter_by_prefix=presence-&\
         info=user_count,subscription_count&auth_signature="
    )));
    assert_eq!(
        verify("GET", "/apps/3/channels", &signed, b"", TS + 30),
        Ok(())
    );
    assert_eq!(
        verify("GET", "/apps/3/other", &signed, b"", TS),
        Err(ApiError::InvalidSignature)
    );
    assert_eq!(
        verify("POST", "/apps/3/channels", &signed, b"", TS),
        Err(ApiError::InvalidSignature)
    );
}

#[test]
fn query_order_and_key_case_do_not_matter() {
    let signed = sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS);
    let mut parts: Vec<&str> = signed.split('&').collect();
    parts.reverse();
    let reversed = parts.join("&");
    assert_eq!(
        verify("POST", "/apps/3/events", &reversed, BODY, TS),
        Ok(())
    );
    let upper = reversed.replace("auth_version", "AUTH_VERSION");
    assert_eq!(verify("POST", "/apps/3/events", &upper, BODY, TS), Ok(()));
}

#[test]
fn python_sdk_style_percent_encoded_values_verify_like_raw() {
    let params = pairs(&[("info", "user_count,subscription_count")]);
    let signed = sign_request("GET", "/apps/3/channels", &params, b"", KEY, SECRET, TS);
    let encoded = signed.replace(
        "user_count,subscription_count",
        "user_count%2Csubscription_count",
    );
    assert_ne!(encoded, signed);
    assert_eq!(verify("GET", "/apps/3/channels", &encoded, b"", TS), Ok(()));
    // A space may arrive as %20 (requests, Guzzle) or '+' (form encoding).
    let params = pairs(&[("filter_by_prefix", "a b")]);
    let signed = sign_request("GET", "/p", &params, b"", KEY, SECRET, TS);
    assert!(signed.contains("filter_by_prefix=a%20b"));
    assert_eq!(verify("GET", "/p", &signed, b"", TS), Ok(()));
    let plus = signed.replace("a%20b", "a+b");
    assert_eq!(verify("GET", "/p", &plus, b"", TS), Ok(()));
}

/// The Python SDK puts `body_md5` (MD5 of the empty body) on GET requests, and signs it.
#[test]
fn get_with_empty_body_md5_is_accepted() {
    let empty_md5 = body_md5_hex(b"");
    assert_eq!(empty_md5, "d41d8cd98f00b204e9800998ecf8427e");
    let params = pairs(&[
        ("auth_key", KEY),
        ("auth_timestamp", "1353088179"),
        ("auth_version", "1.0"),
        ("body_md5", &empty_md5),
    ]);
    let mut mac = mac_for(SECRET);
    mac.update(string_to_sign("GET", "/apps/3/channels", &params).as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let query = format!(
        "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&body_md5={empty_md5}&auth_signature={sig}"
    );
    assert_eq!(verify("GET", "/apps/3/channels", &query, b"", TS), Ok(()));
}

#[test]
fn timestamp_skew_boundary_is_600_seconds_each_way() {
    let signed = sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS);
    let at = |now| verify("POST", "/apps/3/events", &signed, BODY, now);
    assert_eq!(at(TS + 600), Ok(()));
    assert_eq!(at(TS - 600), Ok(()));
    assert_eq!(
        at(TS + 601),
        Err(ApiError::TimestampExpired { skew_secs: -601 })
    );
    assert_eq!(
        at(TS - 601),
        Err(ApiError::TimestampExpired { skew_secs: 601 })
    );
    assert_eq!(
        at(0),
        Err(ApiError::TimestampExpired {
            skew_secs: TS as i64
        })
    );
}

#[test]
fn missing_params_are_named() {
    let signed = sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS);
    for name in [
        "auth_key",
        "auth_timestamp",
        "auth_version",
        "auth_signature",
        "body_md5",
    ] {
        let without: Vec<&str> = signed
            .split('&')
            .filter(|kv| !kv.starts_with(&format!("{name}=")))
            .collect();
        let err = verify("POST", "/apps/3/events", &without.join("&"), BODY, TS).unwrap_err();
        assert_eq!(err, ApiError::MissingParam(name));
        assert_eq!(err.status(), 401);
        assert!(err.to_string().contains(name));
    }
    assert_eq!(
        verify("GET", "/", "", b"", TS),
        Err(ApiError::MissingParam("auth_key"))
    );
}

#[test]
fn body_md5_mismatch_and_tampered_body_are_refused() {
    let signed = sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS);
    let other = br#"{"name":"evil","channels":["project-3"],"data":"x"}"#;
    assert_eq!(
        verify("POST", "/apps/3/events", &signed, other, TS),
        Err(ApiError::BodyMd5Mismatch)
    );
    let wrong = signed.replace(MD5, "00000000000000000000000000000000");
    assert_eq!(
        verify("POST", "/apps/3/events", &wrong, BODY, TS),
        Err(ApiError::InvalidSignature)
    );
}

#[test]
fn wrong_key_version_timestamp_or_signature_are_refused() {
    let signed = sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS);
    let check = |query: &str| verify("POST", "/apps/3/events", query, BODY, TS);
    assert_eq!(
        check(&signed.replace(KEY, "someoneelse")),
        Err(ApiError::InvalidAuthKey)
    );
    assert_eq!(
        check(&signed.replace("auth_version=1.0", "auth_version=2.0")),
        Err(ApiError::InvalidAuthVersion)
    );
    assert_eq!(
        check(&signed.replace("auth_timestamp=1353088179", "auth_timestamp=1353088179.0")),
        Err(ApiError::InvalidTimestamp)
    );
    assert_eq!(
        check(&signed.replace("auth_timestamp=1353088179", "auth_timestamp=")),
        Err(ApiError::InvalidTimestamp)
    );
    let (head, _) = signed.split_once("auth_signature=").unwrap();
    assert_eq!(
        check(&format!("{head}auth_signature=nothex")),
        Err(ApiError::InvalidSignature)
    );
    assert_eq!(
        check(&format!("{head}auth_signature={}", "0".repeat(64))),
        Err(ApiError::InvalidSignature)
    );
    assert_eq!(
        verify_request(
            "POST",
            "/apps/3/events",
            &q(&signed),
            BODY,
            KEY,
            "wrong",
            TS
        ),
        Err(ApiError::InvalidSignature)
    );
}

#[test]
fn added_param_breaks_the_signature() {
    let signed = sign_request("GET", "/apps/3/channels", &[], b"", KEY, SECRET, TS);
    assert_eq!(
        verify("GET", "/apps/3/channels", &format!("{signed}&x=1"), b"", TS),
        Err(ApiError::InvalidSignature)
    );
}

#[test]
fn signer_ignores_caller_reserved_params() {
    let params = pairs(&[("auth_key", "forged"), ("Body_MD5", "x"), ("a", "1")]);
    let signed = sign_request("GET", "/p", &params, b"", KEY, SECRET, TS);
    assert!(!signed.contains("forged"));
    assert!(!signed.to_ascii_lowercase().contains("body_md5"));
    assert_eq!(verify("GET", "/p", &signed, b"", TS), Ok(()));
}

proptest! {
    #[test]
    fn verify_never_panics(
        method in ".{0,8}",
        path in ".{0,32}",
        params in prop::collection::vec((".{0,16}", ".{0,32}"), 0..8),
        body in prop::collection::vec(any::<u8>(), 0..64),
        now in any::<u64>(),
    ) {
        let _ = verify_request(&method, &path, &params, &body, KEY, SECRET, now);
    }

    #[test]
    fn verify_never_panics_on_nearly_valid_requests(
        ts in any::<u64>(),
        now in any::<u64>(),
        sig in "[0-9a-fA-F]{0,70}",
        md5 in prop::option::of("[0-9a-f]{32}"),
    ) {
        let mut params = pairs(&[("auth_key", KEY), ("auth_version", "1.0")]);
        params.push(("auth_timestamp".into(), ts.to_string()));
        params.push(("auth_signature".into(), sig));
        if let Some(m) = md5 {
            params.push(("body_md5".into(), m));
        }
        let _ = verify_request("POST", "/x", &params, b"{}", KEY, SECRET, now);
    }

    #[test]
    fn sign_then_verify_holds_for_arbitrary_params_and_bodies(
        method in "[A-Za-z]{1,7}",
        path in "/[!-~]{0,40}",
        params in prop::collection::vec((".{0,12}", ".{0,24}"), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..128),
        secret in ".{0,40}",
        ts in 0u64..4_000_000_000,
        skew in -600i64..=600,
    ) {
        let signed = sign_request(&method, &path, &params, &body, KEY, &secret, ts);
        let parsed = parse_query(&signed).unwrap();
        let now = ts.saturating_add_signed(skew);
        let now = if now.abs_diff(ts) > 600 { ts } else { now };
        prop_assert_eq!(
            verify_request(&method.to_ascii_uppercase(), &path, &parsed, &body, KEY, &secret, now),
            Ok(())
        );
    }
}

/// Hex digits are read in either case, and a signature or MD5 of the wrong length is refused
/// whatever its digits; a key that was made once checks like the secret it was made from.
#[test]
fn hex_is_read_in_either_case_and_only_at_its_length() {
    let signed = sign_request("POST", "/apps/3/events", &[], BODY, KEY, SECRET, TS);
    let (head, sig) = signed.split_once("auth_signature=").unwrap();
    let check = |query: &str| verify("POST", "/apps/3/events", query, BODY, TS);
    let upper = format!("{head}auth_signature={}", sig.to_ascii_uppercase());
    assert_eq!(check(&upper), Ok(()));
    for wrong in [&sig[..62], &format!("{sig}00")[..], ""] {
        let query = format!("{head}auth_signature={wrong}");
        assert_eq!(check(&query), Err(ApiError::InvalidSignature), "{wrong}");
    }
    let key = SigningKey::new(SECRET);
    let keyed = verify_signed("POST", "/apps/3/events", &q(&signed), BODY, KEY, &key, TS);
    assert_eq!(keyed, Ok(()));

    // An uppercase `body_md5`, signed as it is sent.
    let md5 = MD5.to_ascii_uppercase();
    let sign = |md5: &str| {
        let params = pairs(&[
            ("auth_key", KEY),
            ("auth_timestamp", "1353088179"),
            ("AUTH_VERSION", "1.0"),
            ("body_md5", md5),
        ]);
        let mut mac = mac_for(SECRET);
        mac.update(string_to_sign("post", "/apps/3/events", &params).as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        format!("auth_key={KEY}&auth_timestamp={TS}&AUTH_VERSION=1.0&body_md5={md5}&auth_signature={sig}")
    };
    assert_eq!(check(&sign(&md5)), Ok(()));
    let short = &MD5[..30];
    assert_eq!(check(&sign(short)), Err(ApiError::BodyMd5Mismatch));
}
