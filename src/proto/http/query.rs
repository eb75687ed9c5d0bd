//! Query strings: `application/x-www-form-urlencoded` pairs, decoded to owned UTF-8 strings.
//!
//! Owns percent-decoding for the whole server, so request signing, channel filters and every
//! handler see the same decoded value whatever encoding the client chose (the Node SDK sends
//! `info=user_count,subscription_count` raw, Guzzle under the PHP SDK sends `%2C`). It refuses
//! malformed escapes instead of guessing, and never allocates more than the input's length.

use std::fmt;

/// Why a query string was refused. Every variant is answered with HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// A `%` not followed by two hex digits, at this byte offset of the component: 400.
    BadEscape {
        /// Byte offset of the `%` in the component being decoded.
        at: usize,
    },
    /// The decoded bytes are not UTF-8: 400.
    NotUtf8,
}

impl QueryError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        400
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::BadEscape { at } => write!(
                f,
                "query string has a '%' at byte {at} that is not followed by two hex digits; \
                 percent-encode '%' itself as %25"
            ),
            QueryError::NotUtf8 => f.write_str(
                "query string decodes to bytes that are not UTF-8; percent-encode UTF-8 text",
            ),
        }
    }
}

impl std::error::Error for QueryError {}

/// Decodes one query component: `+` becomes a space and `%XX` the byte `0xXX`.
pub fn percent_decode(s: &str) -> Result<String, QueryError> {
    // Fast path: most SDK values (timestamps, hex signatures, keys) need no work.
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_val(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_val(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(QueryError::BadEscape { at: i }),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a raw query (the part after `?`) into decoded `(key, value)` pairs, in order.
///
/// Empty segments (`a=1&&b=2`, a trailing `&`) are skipped; a segment without `=` is a key
/// with an empty value. Repeated keys are all kept: callers decide what a repeat means.
pub fn parse_query(q: &str) -> Result<Vec<(String, String)>, QueryError> {
    q.split('&')
        .filter(|seg| !seg.is_empty())
        .map(|seg| {
            let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

/// The value of the first pair whose key is exactly `key`.
pub fn query_value<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_plus_and_escapes() {
        assert_eq!(percent_decode("a+b%2Cc%2cd").unwrap(), "a b,c,d");
        assert_eq!(percent_decode("%E2%82%AC").unwrap(), "€");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
    }

    #[test]
    fn refuses_bad_escapes_and_non_utf8() {
        assert_eq!(percent_decode("50%"), Err(QueryError::BadEscape { at: 2 }));
        assert_eq!(percent_decode("%4"), Err(QueryError::BadEscape { at: 0 }));
        assert_eq!(percent_decode("%zz"), Err(QueryError::BadEscape { at: 0 }));
        assert_eq!(percent_decode("%ff"), Err(QueryError::NotUtf8));
        assert!(QueryError::NotUtf8.to_string().contains("UTF-8"));
    }

    #[test]
    fn parses_pairs_in_order() {
        let p = parse_query("b=2&a=&&c&info=user_count%2Csubscription_count&").unwrap();
        assert_eq!(
            p,
            vec![
                ("b".into(), "2".into()),
                ("a".into(), "".into()),
                ("c".into(), "".into()),
                ("info".into(), "user_count,subscription_count".into()),
            ]
        );
        assert_eq!(
            query_value(&p, "info"),
            Some("user_count,subscription_count")
        );
        assert_eq!(query_value(&p, "zzz"), None);
        assert!(parse_query("").unwrap().is_empty());
        assert!(parse_query("a=%").is_err());
    }

    #[test]
    fn value_may_contain_equals() {
        let p = parse_query("k=a=b").unwrap();
        assert_eq!(p, vec![("k".into(), "a=b".into())]);
    }

    proptest! {
        #[test]
        fn percent_decode_never_panics(s in ".*") {
            let _ = percent_decode(&s);
        }

        #[test]
        fn parse_query_never_panics(s in "[a-z%+=&0-9A-F\\x00-\\x7f]{0,64}|.*") {
            let _ = parse_query(&s);
        }

        #[test]
        fn escaping_every_byte_round_trips(s in ".*") {
            let enc: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
            prop_assert_eq!(percent_decode(&enc).unwrap(), s);
        }
    }
}
