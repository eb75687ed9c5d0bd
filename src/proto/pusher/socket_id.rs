//! Socket ids: the `digits.digits` identifier Pusher gives each connection.
//!
//! Owns the id's value, its wire form (`hi.lo`) and the strict parser used for ids that clients
//! and server SDKs send back (e.g. `socket_id` on REST publishes, to exclude the sender). It
//! never generates ids: the shell picks `hi`/`lo` (shard and counter, or random) and calls
//! [`SocketId::new`].

use std::fmt;
use std::str::FromStr;

use super::error::PusherError;

/// A connection's id, shown on the wire as `hi.lo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketId {
    /// The part before the dot.
    pub hi: u64,
    /// The part after the dot.
    pub lo: u64,
}

impl SocketId {
    /// An id from its two parts.
    pub fn new(hi: u64, lo: u64) -> Self {
        SocketId { hi, lo }
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.hi, self.lo)
    }
}

impl FromStr for SocketId {
    type Err = PusherError;

    /// Accepts exactly `^\d+\.\d+$` (ASCII digits) with each part fitting in a u64. Checked by
    /// hand because `u64::from_str` also accepts a leading `+`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hi, lo) = s.split_once('.').ok_or(PusherError::InvalidSocketId)?;
        Ok(SocketId {
            hi: digits(hi)?,
            lo: digits(lo)?,
        })
    }
}

fn digits(s: &str) -> Result<u64, PusherError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PusherError::InvalidSocketId);
    }
    s.parse().map_err(|_| PusherError::InvalidSocketId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_hi_dot_lo() {
        assert_eq!(SocketId::new(1234, 5678).to_string(), "1234.5678");
        assert_eq!(
            SocketId::new(0, u64::MAX).to_string(),
            "0.18446744073709551615"
        );
    }

    #[test]
    fn parses_valid_ids() {
        assert_eq!("1234.1234".parse(), Ok(SocketId::new(1234, 1234)));
        assert_eq!("0.0".parse(), Ok(SocketId::new(0, 0)));
        assert_eq!(
            "18446744073709551615.1".parse(),
            Ok(SocketId::new(u64::MAX, 1))
        );
    }

    #[test]
    fn rejects_invalid_ids() {
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1",
            "1.2.3",
            "+1.2",
            "1.+2",
            "-1.2",
            " 1.2",
            "1.2 ",
            "a.b",
            "1,2",
            "18446744073709551616.1",
            "١.٢",
        ] {
            assert_eq!(
                bad.parse::<SocketId>(),
                Err(PusherError::InvalidSocketId),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn round_trips() {
        let id = SocketId::new(987_654_321, 42);
        assert_eq!(id.to_string().parse(), Ok(id));
    }
}
