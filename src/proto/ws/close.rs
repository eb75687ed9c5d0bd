//! RFC 6455 §5.5.1 / §7.4 Close frames: status codes, building and parsing the payload.
//!
//! Owns which status codes may appear on the wire and how a close payload (2-byte code plus a
//! UTF-8 reason, at most 125 bytes in all) is laid out. It never decides when to close a
//! connection or what to answer; the shell does, using `WsError::close_code` and these helpers.

use super::error::WsError;
use super::frame::{server_frame, Opcode, MAX_CONTROL_PAYLOAD};

/// Close status codes ringcast sends (RFC 6455 §7.4.1).
pub mod code {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: the endpoint cannot accept this kind of data.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1007: a message's data is inconsistent with its type (e.g. text that is not UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: the message violates a policy (generic; used when nothing more specific fits).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: the message is too big to process.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// A received Close frame's status code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, already checked with [`is_valid_received_code`].
    pub code: u16,
    /// The reason text (possibly empty), already checked to be UTF-8.
    pub reason: String,
}

/// Builds a close payload: the code big-endian, then `reason` cut at a char boundary so the
/// whole payload fits a control frame (≤ 125 bytes).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let room = MAX_CONTROL_PAYLOAD - 2;
    let end = (0..=room.min(reason.len()))
        .rev()
        .find(|&i| reason.is_char_boundary(i))
        .unwrap_or(0);
    let mut out = Vec::with_capacity(2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason.get(..end).unwrap_or("").as_bytes());
    out
}

/// A complete unmasked Close frame, ready to write: what a server sends to close.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    server_frame(Opcode::Close, &close_payload(code, reason))
}

/// Whether a peer may send `code` in a Close frame.
///
/// RFC 6455 §7.4 defines 1000–1003 and 1007–1011 and reserves 1004 (unassigned), 1005, 1006 and
/// 1015 (which "MUST NOT be set as a status code in a Close control frame"). The IANA registry
/// has since assigned 1012 (Service Restart), 1013 (Try Again Later) and 1014 (Bad Gateway), and
/// the current Autobahn suite dropped them from its invalid list (case 7.9.x), so we accept
/// them. 3000–3999 are registered for libraries/frameworks and 4000–4999 are private use; the
/// rest of 1016–2999 is reserved for future protocol revisions and everything below 1000 or at
/// 5000 and above is undefined, so those are refused.
pub fn is_valid_received_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parses a received close payload.
///
/// Empty → `Ok(None)` (a close without a status). One byte → [`WsError::InvalidClosePayload`];
/// a code that may not be sent → [`WsError::InvalidCloseCode`] (both 1002); a reason that is not
/// UTF-8 → [`WsError::InvalidCloseReason`] (1007).
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_received_code(code) {
                return Err(WsError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidCloseReason)?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_codes() {
        for c in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
        ] {
            assert!(is_valid_received_code(c), "{c} should be valid");
        }
        for c in [3000, 3999, 4000, 4999] {
            assert!(is_valid_received_code(c), "{c} should be valid");
        }
        // Autobahn 7.9.x plus the RFC's "must not be sent" codes and the edges.
        for c in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_received_code(c), "{c} should be invalid");
        }
    }

    #[test]
    fn payload_round_trip() {
        let p = close_payload(code::GOING_AWAY, "bye");
        assert_eq!(p, [0x03, 0xE9, b'b', b'y', b'e']);
        let f = parse_close_payload(&p).unwrap().unwrap();
        assert_eq!(
            f,
            CloseFrame {
                code: 1001,
                reason: "bye".into()
            }
        );
    }

    #[test]
    fn empty_payload_is_a_close_without_status() {
        assert_eq!(parse_close_payload(&[]), Ok(None));
    }

    #[test]
    fn one_byte_payload_is_a_protocol_error() {
        let err = parse_close_payload(&[0x03]).unwrap_err();
        assert_eq!(err, WsError::InvalidClosePayload);
        assert_eq!(err.close_code(), 1002);
    }

    #[test]
    fn invalid_code_is_a_protocol_error() {
        let err = parse_close_payload(&1005u16.to_be_bytes()).unwrap_err();
        assert_eq!(err, WsError::InvalidCloseCode(1005));
        assert_eq!(err.close_code(), 1002);
    }

    #[test]
    fn non_utf8_reason_is_invalid_payload() {
        let err = parse_close_payload(&[0x03, 0xE8, 0xFF, 0xFE]).unwrap_err();
        assert_eq!(err.close_code(), 1007);
    }

    #[test]
    fn long_reason_is_cut_at_a_char_boundary() {
        // 'é' is 2 bytes; 62 of them are 124 bytes, one more than fits after the code.
        let reason = "é".repeat(62);
        let p = close_payload(1000, &reason);
        assert!(p.len() <= 125);
        assert_eq!(p.len(), 2 + 122);
        let f = parse_close_payload(&p).unwrap().unwrap();
        assert_eq!(f.reason, "é".repeat(61));
        assert_eq!(close_payload(1000, &"a".repeat(500)).len(), 125);
    }

    #[test]
    fn close_frame_is_a_server_frame() {
        assert_eq!(close_frame(1000, ""), vec![0x88, 0x02, 0x03, 0xE8]);
    }
}
