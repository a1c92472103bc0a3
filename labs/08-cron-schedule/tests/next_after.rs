//! Lab 08: your `next_after`, called directly. Each expected time comes
//! with its day of the week, so that a wrong day is easy to see.

use chrono::{Duration, NaiveDateTime, Timelike};
use kubelab_batch::schedule::Schedule;
use lab_08_cron_schedule::next_after;

/// `"2026-03-01 10:07"` or `"2026-03-01 10:07:30"`.
fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .unwrap()
}

/// Your answer for `spec` after `after`, as `"2026-03-01 10:15 Sun"`, or
/// `"never"`.
fn next_from(spec: &str, after: NaiveDateTime) -> String {
    let schedule = Schedule::parse(spec).unwrap();
    match next_after(&schedule, after) {
        Some(t) => {
            assert_eq!(
                (t.second(), t.nanosecond()),
                (0, 0),
                "{spec} after {after}: a schedule time is a whole minute, got {t}"
            );
            t.format("%Y-%m-%d %H:%M %a").to_string()
        }
        None => "never".into(),
    }
}

fn next(spec: &str, after: &str) -> String {
    next_from(spec, at(after))
}

#[test]
fn strictly_after_and_on_whole_minutes() {
    assert_eq!(
        next("* * * * *", "2026-03-01 10:07"),
        "2026-03-01 10:08 Sun"
    );
    assert_eq!(
        next("* * * * *", "2026-03-01 10:07:30"),
        "2026-03-01 10:08 Sun",
        "seconds are dropped"
    );
    assert_eq!(
        next("*/15 * * * *", "2026-03-01 10:15"),
        "2026-03-01 10:30 Sun",
        "a run at 10:15 is not after 10:15"
    );
    assert_eq!(
        next_from(
            "*/15 * * * *",
            at("2026-03-01 10:14:59") + Duration::milliseconds(999)
        ),
        "2026-03-01 10:15 Sun"
    );
    assert_eq!(
        next_from(
            "*/15 * * * *",
            at("2026-03-01 10:15") + Duration::nanoseconds(1)
        ),
        "2026-03-01 10:30 Sun",
        "10:15:00 is before 10:15:00.000000001"
    );
    assert_eq!(
        next("0 10 * * *", "2026-03-01 10:00"),
        "2026-03-02 10:00 Mon"
    );
}

#[test]
fn steps() {
    assert_eq!(
        next("*/15 * * * *", "2026-03-01 10:07"),
        "2026-03-01 10:15 Sun"
    );
    assert_eq!(
        next("5/20 * * * *", "2026-03-01 10:30"),
        "2026-03-01 10:45 Sun",
        "5/20 is 5, 25, 45"
    );
    assert_eq!(
        next("1-30/10 * * * *", "2026-03-01 10:22"),
        "2026-03-01 11:01 Sun",
        "1-30/10 is 1, 11, 21: no 31"
    );
    assert_eq!(
        next("0 */6 * * *", "2026-03-01 13:00"),
        "2026-03-01 18:00 Sun"
    );
    assert_eq!(
        next("0 0 */10 * *", "2026-03-12 00:00"),
        "2026-03-21 00:00 Sat"
    );
    assert_eq!(
        next("0 0 */10 * *", "2026-03-21 00:00"),
        "2026-03-31 00:00 Tue"
    );
    assert_eq!(
        next("0 0 */10 * *", "2026-03-31 00:00"),
        "2026-04-01 00:00 Wed"
    );
}

#[test]
fn ranges_and_names() {
    assert_eq!(
        next("0 9-17 * * MON-FRI", "2026-03-04 12:30"),
        "2026-03-04 13:00 Wed"
    );
    assert_eq!(
        next("0 9-17 * * MON-FRI", "2026-03-06 17:00"),
        "2026-03-09 09:00 Mon",
        "Friday 17:00 was the week's last run"
    );
    assert_eq!(
        next("45 23 * * sat,sun", "2026-03-02 00:00"),
        "2026-03-07 23:45 Sat"
    );
    assert_eq!(
        next("30 2 * jan,Jul *", "2026-03-01 00:00"),
        "2026-07-01 02:30 Wed"
    );
    assert_eq!(
        next("0 0 * JAN-MAR SUN", "2026-03-29 00:00"),
        "2027-01-03 00:00 Sun",
        "the last Sunday of March, then the first of January"
    );
}

#[test]
fn each_field_wraps_into_the_next() {
    assert_eq!(
        next("5 * * * *", "2026-03-01 10:06"),
        "2026-03-01 11:05 Sun",
        "minute → hour"
    );
    assert_eq!(
        next("0 0 * * *", "2026-03-01 23:30"),
        "2026-03-02 00:00 Mon",
        "hour → day"
    );
    assert_eq!(
        next("0 12 31 * *", "2026-04-01 00:00"),
        "2026-05-31 12:00 Sun",
        "April has no 31st"
    );
    assert_eq!(
        next("0 0 1 1 *", "2026-12-31 23:59"),
        "2027-01-01 00:00 Fri",
        "month → year"
    );
    assert_eq!(
        next("59 23 31 12 *", "2026-12-31 23:59"),
        "2027-12-31 23:59 Fri"
    );
    assert_eq!(
        next("0 0 * 2 *", "2026-02-28 23:59"),
        "2027-02-01 00:00 Mon"
    );
}

#[test]
fn february_29th_waits_for_a_leap_year() {
    assert_eq!(
        next("0 0 29 2 *", "2026-03-01 00:00"),
        "2028-02-29 00:00 Tue"
    );
    assert_eq!(
        next("0 0 29 2 *", "2028-02-28 12:00"),
        "2028-02-29 00:00 Tue"
    );
    assert_eq!(
        next("0 0 29 2 *", "2025-01-01 00:00"),
        "2028-02-29 00:00 Tue",
        "not March 1st of a common year"
    );
}

#[test]
fn both_day_fields_restricted_means_either() {
    // The 13th of each month, and every Friday.
    assert_eq!(
        next("0 0 13 * FRI", "2026-03-01 00:00"),
        "2026-03-06 00:00 Fri"
    );
    assert_eq!(
        next("0 0 13 * MON", "2026-03-10 00:00"),
        "2026-03-13 00:00 Fri",
        "the 13th, though not a Monday"
    );
    assert_eq!(
        next("0 0 13 * MON", "2026-03-13 00:00"),
        "2026-03-16 00:00 Mon",
        "a Monday, though not the 13th"
    );
    assert_eq!(
        next("0 0 1 * MON", "2026-03-30 00:00"),
        "2026-04-01 00:00 Wed"
    );
    // A step is not `*`: it restricts the day of month.
    assert_eq!(
        next("0 0 */2 * MON", "2026-03-02 00:00"),
        "2026-03-03 00:00 Tue"
    );
    // Every Monday of February, though there is no 30th.
    assert_eq!(
        next("0 0 30 2 MON", "2026-03-01 00:00"),
        "2027-02-01 00:00 Mon"
    );
}

#[test]
fn one_day_field_star_means_only_the_other() {
    assert_eq!(
        next("0 0 * * FRI", "2026-03-10 00:00"),
        "2026-03-13 00:00 Fri"
    );
    assert_eq!(
        next("0 0 13 * *", "2026-03-14 00:00"),
        "2026-04-13 00:00 Mon"
    );
    assert_eq!(
        next("0 0 13 * ?", "2026-03-14 00:00"),
        "2026-04-13 00:00 Mon",
        "? is *"
    );
}

#[test]
fn impossible_dates_never_come() {
    assert_eq!(next("0 0 30 2 *", "2026-01-01 00:00"), "never");
    assert_eq!(next("0 0 31 4,6,9,11 *", "2026-01-01 00:00"), "never");
}
