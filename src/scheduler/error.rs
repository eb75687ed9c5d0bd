//! The scheduler layer's error: what a quiet-hours setting or a time zone name can get wrong.
//!
//! The scheduler modules are pure, so the only failures are bad inputs from configuration or a
//! request. Each message names the value and says what to send instead; the REST layer wraps
//! these in its own error with an HTTP status.

use std::fmt;

/// Why a scheduler setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerError {
    /// A quiet-hours bound is not a time of day such as `22:00` or `07:30`.
    InvalidTimeOfDay {
        /// The text given.
        value: String,
    },
    /// The quiet-hours window starts and ends at the same time, so it is empty (or the whole
    /// day); turning quiet hours off is said explicitly instead.
    EmptyWindow,
    /// The time zone is not an IANA name in the bundled tz database.
    UnknownTimeZone {
        /// The name given.
        name: String,
    },
}

impl fmt::Display for SchedulerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulerError::InvalidTimeOfDay { value } => write!(
                f,
                "{value:?} is not a time of day: write it as HH:MM on a 24-hour clock, \
                 e.g. \"22:00\" or \"07:30\""
            ),
            SchedulerError::EmptyWindow => f.write_str(
                "the quiet hours start and end at the same time: give two different times, \
                 or turn quiet hours off",
            ),
            SchedulerError::UnknownTimeZone { name } => write!(
                f,
                "unknown time zone {name:?}: use an IANA time zone name such as \
                 \"Europe/Berlin\" or \"America/New_York\""
            ),
        }
    }
}

impl std::error::Error for SchedulerError {}
