//! The reference solution of lab 08 (`kubelab lab check 08 --solution`).

use chrono::{Datelike, Duration, Months, NaiveDateTime, Timelike};
use kubelab_batch::schedule::Schedule;

pub fn next_after(schedule: &Schedule, after: NaiveDateTime) -> Option<NaiveDateTime> {
    // The first candidate: the next whole minute.
    let first = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
    let last_year = first.year() + 5;
    let mut day = first.date();
    while day.year() <= last_year {
        if !schedule.month.has(day.month()) {
            // A month not allowed: skip to the 1st of the next one.
            day = day.with_day(1)?.checked_add_months(Months::new(1))?;
            continue;
        }
        if schedule.day_matches(day) {
            // On the first day, start at the candidate's time; later, at 00:00.
            let (h0, m0) = if day == first.date() {
                (first.hour(), first.minute())
            } else {
                (0, 0)
            };
            for h in (h0..24).filter(|h| schedule.hour.has(*h)) {
                let from = if h == h0 { m0 } else { 0 };
                if let Some(m) = (from..60).find(|m| schedule.minute.has(*m)) {
                    return day.and_hms_opt(h, m, 0);
                }
            }
        }
        day = day.succ_opt()?;
    }
    None
}
