//! The two date formats webhooks use: RFC 3339 for the `timestamp` of a delivery body and the
//! HTTP date of a `Retry-After` answer.
//!
//! Thin wrappers over jiff (the crate's calendar library) that work on unix milliseconds and
//! seconds, the units the webhook rules pass around. They never read the clock.

use jiff::fmt::rfc2822::DateTimeParser;
use jiff::Timestamp;

/// `2026-11-26T12:04:01.123Z` for a unix time in milliseconds (always three fraction digits,
/// so bodies have one shape); times outside jiff's range (±9999 years) are clamped to it.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let ts = Timestamp::from_millisecond(unix_ms).unwrap_or(if unix_ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    format!("{ts:.3}")
}

/// Unix seconds of an HTTP date such as `Sun, 06 Nov 1994 08:49:37 GMT` (the IMF-fixdate
/// senders must use; jiff's RFC 2822 parser also takes the numeric-offset variants). Anything
/// else, including a weekday that does not match the date, is `None`: a refused `Retry-After`
/// only means the regular schedule applies.
pub fn parse_http_date(text: &str) -> Option<i64> {
    static PARSER: DateTimeParser = DateTimeParser::new();
    PARSER
        .parse_timestamp(text.trim())
        .ok()
        .map(|ts| ts.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::fmt::rfc2822::DateTimePrinter;
    use proptest::prelude::*;

    #[test]
    fn rfc3339_has_millisecond_precision() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_614_265_330_007), "2021-02-25T15:02:10.007Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert!(rfc3339_ms(i64::MAX).starts_with("9999-12-"), "clamped");
        assert!(rfc3339_ms(i64::MIN).starts_with("-009999-"), "clamped");
    }

    #[test]
    fn http_dates_parse_and_bad_ones_are_refused() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date(" Wed, 21 Oct 2015 07:28:00 GMT "),
            Some(1_445_412_480)
        );
        for bad in [
            "Sun Nov  6 08:49:37 1994",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "120",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn printed_http_dates_parse_back(secs in 0i64..4_000_000_000) {
            let ts = Timestamp::from_second(secs).unwrap();
            let mut text = String::new();
            DateTimePrinter::new().print_timestamp_rfc9110(&ts, &mut text).unwrap();
            prop_assert_eq!(parse_http_date(&text), Some(secs));
        }
    }
}
