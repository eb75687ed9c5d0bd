//! Quiet hours in Berlin, New York, Sydney and Kolkata, across both DST transitions of each zone
//! that has them (2026 dates), windows crossing midnight or not, and a property test.

use jiff::civil::time;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    time_zone(name).unwrap()
}

fn window(start: &str, end: &str) -> QuietHours {
    QuietHours::parse(start, end).unwrap()
}

/// `deliver_at` of a due time in `zone`, compared as instants.
fn moved(w: &QuietHours, zone_name: &str, due: &str) -> Timestamp {
    w.deliver_at(ts(due), &zone(zone_name))
}

#[test]
fn default_window_moves_a_late_evening_to_the_next_8am() {
    let w = QuietHours::default();
    // Berlin in winter is +01:00.
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-01-15T23:00:00+01:00"),
        ts("2026-01-16T08:00:00+01:00")
    );
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-01-16T07:59:59+01:00"),
        ts("2026-01-16T08:00:00+01:00")
    );
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-01-15T22:00:00+01:00"),
        ts("2026-01-16T08:00:00+01:00")
    );
}

#[test]
fn outside_the_window_nothing_moves() {
    let w = QuietHours::default();
    for due in [
        "2026-01-16T08:00:00+01:00",
        "2026-01-16T12:00:00+01:00",
        "2026-01-16T21:59:59+01:00",
    ] {
        assert_eq!(moved(&w, "Europe/Berlin", due), ts(due), "{due}");
    }
}

#[test]
fn the_zone_decides_not_utc() {
    let w = QuietHours::default();
    // 21:00 UTC is 22:00 in Berlin (quiet) but 02:30 next day in Kolkata (quiet, ends 08:00 IST).
    let due = "2026-01-15T21:00:00Z";
    assert_eq!(
        moved(&w, "Europe/Berlin", due),
        ts("2026-01-16T08:00:00+01:00")
    );
    assert_eq!(
        moved(&w, "Asia/Kolkata", due),
        ts("2026-01-16T08:00:00+05:30")
    );
    // 21:00 UTC is 16:00 in New York: not quiet.
    assert_eq!(moved(&w, "America/New_York", due), ts(due));
}

#[test]
fn kolkata_has_no_dst_and_a_half_hour_offset() {
    let w = QuietHours::default();
    assert_eq!(
        moved(&w, "Asia/Kolkata", "2026-06-01T23:30:00+05:30"),
        ts("2026-06-02T02:30:00Z")
    );
    assert_eq!(
        moved(&w, "Asia/Kolkata", "2026-03-29T01:00:00+05:30"),
        ts("2026-03-29T08:00:00+05:30")
    );
}

#[test]
fn berlin_spring_forward_night_is_an_hour_shorter() {
    // 2026-03-29 02:00 CET becomes 03:00 CEST.
    let w = QuietHours::default();
    let due = ts("2026-03-28T23:00:00+01:00");
    let at = w.deliver_at(due, &zone("Europe/Berlin"));
    assert_eq!(at, ts("2026-03-29T08:00:00+02:00"));
    assert_eq!(at.duration_since(due).as_secs(), 8 * 3600);
}

#[test]
fn berlin_fall_back_night_is_an_hour_longer() {
    // 2026-10-25 03:00 CEST becomes 02:00 CET.
    let w = QuietHours::default();
    let due = ts("2026-10-24T23:00:00+02:00");
    let at = w.deliver_at(due, &zone("Europe/Berlin"));
    assert_eq!(at, ts("2026-10-25T08:00:00+01:00"));
    assert_eq!(at.duration_since(due).as_secs(), 10 * 3600);
}

#[test]
fn end_in_a_skipped_hour_moves_to_the_end_of_the_gap() {
    let w = window("22:00", "02:30");
    // Berlin: 02:30 does not exist on 2026-03-29; the gap ends at 03:00 CEST (01:00 UTC).
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-03-28T23:00:00+01:00"),
        ts("2026-03-29T03:00:00+02:00")
    );
    // New York: 2026-03-08 02:00 EST becomes 03:00 EDT.
    assert_eq!(
        moved(&w, "America/New_York", "2026-03-07T23:00:00-05:00"),
        ts("2026-03-08T03:00:00-04:00")
    );
    // Sydney: 2026-10-04 02:00 AEST becomes 03:00 AEDT.
    assert_eq!(
        moved(&w, "Australia/Sydney", "2026-10-03T23:00:00+10:00"),
        ts("2026-10-04T03:00:00+11:00")
    );
}

#[test]
fn end_in_a_repeated_hour_takes_the_earlier_occurrence() {
    // Berlin 2026-10-25: 02:00–03:00 happens in CEST, then again in CET.
    let w = window("22:00", "02:30");
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-10-24T23:00:00+02:00"),
        ts("2026-10-25T02:30:00+02:00")
    );
    // New York 2026-11-01: 01:00–02:00 repeats (EDT, then EST).
    let w = window("22:00", "01:30");
    assert_eq!(
        moved(&w, "America/New_York", "2026-10-31T23:00:00-04:00"),
        ts("2026-11-01T01:30:00-04:00")
    );
    // Sydney 2026-04-05: 02:00–03:00 repeats (AEDT, then AEST).
    let w = window("22:00", "02:30");
    assert_eq!(
        moved(&w, "Australia/Sydney", "2026-04-04T23:00:00+11:00"),
        ts("2026-04-05T02:30:00+11:00")
    );
}

#[test]
fn due_in_the_second_pass_of_a_repeated_hour_takes_the_later_end() {
    let w = window("22:00", "02:30");
    // 02:10 CET is after 02:30 CEST: the earlier end has passed, the later one is ahead.
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-10-25T02:10:00+01:00"),
        ts("2026-10-25T02:30:00+01:00")
    );
    // 02:40 CEST (first pass) is past the end by the wall clock: not quiet.
    assert_eq!(
        moved(&w, "Europe/Berlin", "2026-10-25T02:40:00+02:00"),
        ts("2026-10-25T02:40:00+02:00")
    );
}

#[test]
fn new_york_and_sydney_default_window_across_both_transitions() {
    let w = QuietHours::default();
    // New York spring forward (2026-03-08) and fall back (2026-11-01).
    assert_eq!(
        moved(&w, "America/New_York", "2026-03-07T23:00:00-05:00"),
        ts("2026-03-08T08:00:00-04:00")
    );
    assert_eq!(
        moved(&w, "America/New_York", "2026-10-31T23:00:00-04:00"),
        ts("2026-11-01T08:00:00-05:00")
    );
    // Sydney fall back (2026-04-05) and spring forward (2026-10-04).
    assert_eq!(
        moved(&w, "Australia/Sydney", "2026-04-04T23:00:00+11:00"),
        ts("2026-04-05T08:00:00+10:00")
    );
    assert_eq!(
        moved(&w, "Australia/Sydney", "2026-10-03T23:00:00+10:00"),
        ts("2026-10-04T08:00:00+11:00")
    );
}

#[test]
fn a_daytime_window_does_not_cross_midnight() {
    let w = window("13:00", "14:00");
    let z = "America/New_York";
    assert_eq!(
        moved(&w, z, "2026-07-01T13:30:00-04:00"),
        ts("2026-07-01T14:00:00-04:00")
    );
    for due in ["2026-07-01T12:59:59-04:00", "2026-07-01T14:00:00-04:00"] {
        assert_eq!(moved(&w, z, due), ts(due));
    }
    // 00:30–01:30 on New York's fall-back night: the end repeats, the earlier one is taken.
    let w = window("00:30", "01:30");
    assert_eq!(
        moved(&w, z, "2026-11-01T00:45:00-04:00"),
        ts("2026-11-01T01:30:00-04:00")
    );
}

#[test]
fn policy_falls_back_to_the_app_zone_and_can_be_off() {
    let due = ts("2026-01-15T22:30:00Z");
    let utc = QuietPolicy::default();
    let w = utc.window;
    assert_eq!(
        utc.deliver_at(due, w.as_ref(), None),
        ts("2026-01-16T08:00:00Z")
    );
    let berlin = QuietPolicy {
        default_zone: zone("Europe/Berlin"),
        ..QuietPolicy::default()
    };
    assert_eq!(
        berlin.deliver_at(due, w.as_ref(), None),
        ts("2026-01-16T08:00:00+01:00")
    );
    // The notification's own zone wins over the app's.
    assert_eq!(
        berlin.deliver_at(due, w.as_ref(), Some(&zone("America/New_York"))),
        due
    );
    assert_eq!(berlin.deliver_at(due, None, None), due);
}

#[test]
fn bad_settings_are_refused_with_their_reason() {
    assert_eq!(
        QuietHours::parse("22:00", "22:00"),
        Err(SchedulerError::EmptyWindow)
    );
    for bad in ["25:00", "7:30", "22h00", "", "22:00:00.5", "2200"] {
        let err = QuietHours::parse(bad, "08:00").unwrap_err();
        assert!(
            matches!(err, SchedulerError::InvalidTimeOfDay { ref value } if value == bad),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(window("07:30:15", "08:00").start(), time(7, 30, 15, 0));
    let err = time_zone("Mars/Olympus_Mons").unwrap_err();
    assert!(err.to_string().contains("Mars/Olympus_Mons"));
}

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
];

proptest! {
    #[test]
    fn moved_times_are_never_early_and_only_quiet_ones_move(
        secs in 1_577_836_800i64..1_893_456_000,
        start in 0i8..24, start_min in 0i8..60, end in 0i8..24, end_min in 0i8..60,
        zi in 0usize..ZONES.len(),
    ) {
        let (start, end) = (time(start, start_min, 0, 0), time(end, end_min, 0, 0));
        prop_assume!(start != end);
        let w = QuietHours::new(start, end).unwrap();
        let tz = zone(ZONES[zi]);
        let due = Timestamp::from_second(secs).unwrap();
        let at = w.deliver_at(due, &tz);
        prop_assert!(at >= due);
        let quiet = w.contains(tz.to_datetime(due).time());
        prop_assert_eq!(at != due, quiet);
        // No window is longer than a day, and DST adds at most an hour.
        prop_assert!(at.duration_since(due).as_secs() <= 25 * 3600);
        if quiet {
            let local = tz.to_datetime(at).time();
            // The end itself, or the end of the DST gap that swallowed it.
            prop_assert!(local == w.end() || local > w.end(), "{local} vs {}", w.end());
        }
    }
}
