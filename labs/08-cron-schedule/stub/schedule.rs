//! Your code for lab 08. `kubelab lab reset 08` puts this file back as it was.

use chrono::NaiveDateTime;
use kubelab_batch::schedule::Schedule;

/// The first whole minute strictly after `after` that `schedule` allows,
/// on a wall clock (no time zone: the controller converts); `None` if
/// there is none within five years (`0 0 30 2 *`: February 30th).
///
/// `schedule` is already parsed: its five fields (`schedule.minute`,
/// `.hour`, `.day_of_month`, `.month`, `.day_of_week`) are sets of
/// allowed values, and `field.has(v)` says whether `v` is one of them
/// (minutes 0–59, hours 0–23, days 1–31, months 1–12, days of the week
/// 0–6 with 0 for Sunday).
///
/// - **Strictly after, whole minutes.** `after` may have seconds: drop
///   them, then start one minute later (after 10:15:00 or 10:15:20, the
///   first candidate is 10:16:00). The answer's seconds are always 0.
/// - **A minute is allowed** when its minute, hour and month are in their
///   fields and its day is allowed.
/// - **A day is allowed** by the two day fields together: when both are
///   restricted (`0 0 13 * FRI`), the 13th *or* a Friday will do; when
///   one of them is `*`, only the other counts. `schedule.day_matches(date)`
///   applies that rule for you.
/// - **Search field by field, from the largest.** Trying every minute of
///   five years is 2.6 million tries. A month that is not allowed is
///   skipped whole (go to the 1st of the next one at 00:00), then a day
///   that is not allowed (the next day at 00:00), then an hour (the next
///   hour at :00), and only then minute by minute. Mind the ends: after
///   December comes January of the next year, after the 30th of April the
///   1st of May, after 23:00 the next day.
pub fn next_after(schedule: &Schedule, after: NaiveDateTime) -> Option<NaiveDateTime> {
    let _ = (schedule, after);
    todo!("lab 08: find the first minute after `after` that the schedule allows")
}
