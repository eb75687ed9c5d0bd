//! Notification ids: `ntf_` + 26 base-32 characters, creation time first, then randomness.
//!
//! Owns the id format: 48 bits of creation time in milliseconds and 80 random bits, written in
//! Crockford's base 32 (lowercase, no i/l/o/u), so ids sort by creation time as plain strings
//! (the list cursor relies on that) and cannot be guessed from one another. It never draws
//! randomness or reads the clock: the caller passes both.

use jiff::Timestamp;

use super::error::NotificationError;

/// Every notification id starts with this.
pub const ID_PREFIX: &str = "ntf_";
/// Characters after the prefix.
const ID_CHARS: usize = 26;
/// Crockford's base-32 alphabet, lowercased; in ASCII order, so string order is numeric order.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_BITS: u32 = 80;

/// A new id for a notification created at `now`, with 80 bits taken from `random` (the rest of
/// it is ignored).
pub fn new_id(now: Timestamp, random: u128) -> String {
    let millis = u128::try_from(now.as_millisecond().max(0)).unwrap_or(0) & ((1 << 48) - 1);
    let value = (millis << RANDOM_BITS) | (random & ((1 << RANDOM_BITS) - 1));
    let mut id = String::with_capacity(ID_PREFIX.len() + ID_CHARS);
    id.push_str(ID_PREFIX);
    // 26 characters of 5 bits are 130 bits: the first character carries the top 3 bits.
    for i in (0..ID_CHARS).rev() {
        id.push(ALPHABET[((value >> (5 * i)) & 31) as usize] as char);
    }
    id
}

/// Whether `id` has the shape of an id this server issues (a cheap 404 before any lookup).
pub fn is_valid_id(id: &str) -> bool {
    id.strip_prefix(ID_PREFIX).is_some_and(|rest| {
        rest.len() == ID_CHARS && rest.bytes().all(|b| ALPHABET.contains(&b)) && rest < "8"
    })
}

/// The id in a `/notifications/{nid}` path, or the 404 for one this server cannot have issued.
pub fn parse_id(segment: &str) -> Result<&str, NotificationError> {
    if is_valid_id(segment) {
        Ok(segment)
    } else {
        Err(NotificationError::UnknownId(segment.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap()
    }

    #[test]
    fn ids_have_the_documented_shape() {
        let id = new_id(at(1_780_000_000_000), 0x1234_5678_9abc_def0_1234);
        assert!(id.starts_with("ntf_"));
        assert_eq!(id.len(), 30);
        assert!(is_valid_id(&id), "{id}");
        assert_eq!(new_id(at(0), 0), format!("ntf_{}", "0".repeat(26)));
    }

    #[test]
    fn ids_sort_by_creation_time_whatever_the_randomness() {
        let earlier = new_id(at(1_780_000_000_000), u128::MAX);
        let later = new_id(at(1_780_000_000_001), 0);
        assert!(earlier < later, "{earlier} {later}");
    }

    #[test]
    fn randomness_changes_the_id() {
        let now = at(1_780_000_000_000);
        assert_ne!(new_id(now, 1), new_id(now, 2));
        // Only 80 bits are used: a higher bit does not leak into the time part.
        assert_eq!(new_id(now, 5), new_id(now, 5 | (1 << 100)));
    }

    #[test]
    fn foreign_strings_are_not_ids() {
        for bad in [
            "",
            "ntf_",
            "ntf_0000000000000000000000000",
            "ntf_000000000000000000000000000",
            "ntf_0000000000000000000000000i",
            "ntf_0000000000000000000000000A",
            "abc_00000000000000000000000000",
            // 130 bits would overflow 128: the first character is at most 7.
            "ntf_80000000000000000000000000",
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
            assert_eq!(parse_id(bad).unwrap_err().status(), 404);
        }
        let id = new_id(at(1), 1);
        assert_eq!(parse_id(&id), Ok(id.as_str()));
    }
}
