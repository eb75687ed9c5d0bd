//! The filter layer's one error enum: why a collection filter (or a list rule) was refused.
//!
//! Every variant is a 400 for the subscribe endpoint and names the byte offset into the filter
//! text where the problem starts, so a client can point at it. Messages say what to change.
//! This file never decides anything about HTTP bodies beyond the status and a stable reason.

use std::fmt;

/// The most characters a filter may have (Unicode scalar values, not bytes).
pub const MAX_FILTER_LEN: usize = 2_500;

/// The most nodes one filter may have. A node is a comparison, an `&&` or `||` operator, or a
/// parenthesized group; counting groups also bounds how deep the parser recurses.
pub const MAX_FILTER_NODES: usize = 64;

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    /// The filter is longer than [`MAX_FILTER_LEN`] characters.
    TooLong {
        /// Characters in the filter.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// The filter has more than [`MAX_FILTER_NODES`] nodes; `at` is where the first node over
    /// the limit starts.
    TooManyNodes {
        /// Byte offset of the first node over the limit.
        at: usize,
        /// The most allowed.
        max: usize,
    },
    /// The parser found something other than what the grammar allows at `at`.
    Expected {
        /// Byte offset of the offending token.
        at: usize,
        /// What the grammar allows there, in words.
        expected: &'static str,
        /// What was there instead (clipped), or `end of filter`.
        found: String,
    },
    /// A quoted string has no closing quote; `at` is its opening quote.
    UnterminatedString {
        /// Byte offset of the opening quote.
        at: usize,
    },
    /// A run of operator characters is not one of the operators.
    UnknownOperator {
        /// Byte offset of the operator.
        at: usize,
        /// The operator as written.
        op: String,
    },
    /// Valid PocketBase syntax that ringcast cannot evaluate at delivery time: identifier
    /// modifiers (`:lower`), macros (`@now`), `@collection.*` and `@request.*` other than
    /// `@request.auth.*`.
    Unsupported {
        /// Byte offset of the identifier.
        at: usize,
        /// The identifier as written (clipped).
        what: String,
        /// Why it cannot be used, and what to use instead.
        why: &'static str,
    },
}

impl FilterError {
    /// The HTTP status the subscribe endpoint answers with: always 400 (the request is wrong).
    pub fn status(&self) -> u16 {
        400
    }

    /// A stable machine-readable name for the refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            FilterError::TooLong { .. } => "filter_too_long",
            FilterError::TooManyNodes { .. } => "filter_too_complex",
            FilterError::Expected { .. } => "filter_syntax",
            FilterError::UnterminatedString { .. } => "filter_unterminated_string",
            FilterError::UnknownOperator { .. } => "filter_unknown_operator",
            FilterError::Unsupported { .. } => "filter_unsupported",
        }
    }

    /// The byte offset the error points at (0 for a filter that is too long as a whole).
    pub fn at(&self) -> usize {
        match self {
            FilterError::TooLong { .. } => 0,
            FilterError::TooManyNodes { at, .. }
            | FilterError::Expected { at, .. }
            | FilterError::UnterminatedString { at }
            | FilterError::UnknownOperator { at, .. }
            | FilterError::Unsupported { at, .. } => *at,
        }
    }
}

/// Clips user text quoted back in a message, so a 2,500-byte token does not fill the response.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 32;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::TooLong { len, max } => write!(
                f,
                "filter is {len} characters; the limit is {max}: shorten it"
            ),
            FilterError::TooManyNodes { at, max } => write!(
                f,
                "filter has more than {max} comparisons, operators and groups (at byte {at}); \
                 simplify it"
            ),
            FilterError::Expected {
                at,
                expected,
                found,
            } => write!(f, "filter: expected {expected} at byte {at}, found {found}"),
            FilterError::UnterminatedString { at } => write!(
                f,
                "filter: the string starting at byte {at} has no closing quote; \
                 close it (escape a quote inside with a backslash)"
            ),
            FilterError::UnknownOperator { at, op } => write!(
                f,
                "filter: unknown operator '{op}' at byte {at}; expected one of \
                 = != > >= < <= ~ !~, the same with a leading ? (any-of), && or ||"
            ),
            FilterError::Unsupported { at, what, why } => {
                write!(f, "filter: '{what}' at byte {at} is not supported: {why}")
            }
        }
    }
}

impl std::error::Error for FilterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_offset_and_the_fix() {
        let e = FilterError::Expected {
            at: 7,
            expected: "an operand",
            found: "'&&'".into(),
        };
        assert_eq!(e.status(), 400);
        assert_eq!(e.at(), 7);
        assert_eq!(e.reason(), "filter_syntax");
        assert!(e.to_string().contains("at byte 7"), "{e}");
        let long = FilterError::TooLong {
            len: 3000,
            max: 2500,
        };
        assert!(long.to_string().contains("3000"), "{long}");
        assert_eq!(long.reason(), "filter_too_long");
        assert_eq!(
            FilterError::TooManyNodes { at: 1, max: 64 }.reason(),
            "filter_too_complex"
        );
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(40);
        let c = clip(&long);
        assert_eq!(c.chars().count(), 33);
        assert!(c.ends_with('…'));
    }
}
