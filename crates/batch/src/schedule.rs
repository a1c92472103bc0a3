//! Cron schedules: `"*/5 9-17 * * MON-FRI"` → the times a CronJob runs.
//!
//! Upstream's CronJob controller parses `spec.schedule` with the standard
//! parser of `robfig/cron` (v3): five fields, minute to day of week, each a
//! list of values, ranges and steps, plus the `@hourly`-style macros. This
//! module is that parser and the one question the controller asks of a
//! schedule: *when is the first run after this moment?*
//!
//! ```text
//!  ┌──────── minute        0-59
//!  │ ┌────── hour          0-23
//!  │ │ ┌──── day of month  1-31
//!  │ │ │ ┌── month         1-12 or JAN-DEC
//!  │ │ │ │ ┌ day of week   0-6  or SUN-SAT (0 is Sunday)
//!  * * * * *      a field: *  ?  5  1-5  */15  1-30/10  MON,WED,FRI
//! ```
//!
//! One rule surprises everybody once: when *both* day fields are
//! restricted (`0 0 13 * FRI`), a day matches if *either* does (the 13th,
//! and every Friday) — not only Friday the 13th. When one of them is `*`,
//! only the other counts.
//!
//! **Simplification.** `@every 1h` (robfig's constant delay) is refused.
//!
//! ## Where to start reading
//! [`Schedule::parse`], then [`Schedule::next_after`] (lab 08 writes it),
//! then [`next_run`], which adds the time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The first minute after a moment that a schedule allows, on a wall
/// clock: [`Schedule::next_after`], or lab 08's.
pub type NextAfter = fn(&Schedule, NaiveDateTime) -> Option<NaiveDateTime>;

/// A set of allowed values of one field, as bits (bit n: value n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub bits: u64,
    /// Written as `*` or `?`: "any" (matters for the two day fields).
    pub any: bool,
}

impl Field {
    pub fn has(&self, v: u32) -> bool {
        self.bits & (1 << v) != 0
    }
}

/// A parsed schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub minute: Field,
    pub hour: Field,
    pub day_of_month: Field,
    pub month: Field,
    pub day_of_week: Field,
}

/// `(lowest, highest, names)` of each field, in order.
const BOUNDS: [(u32, u32, &[&str]); 5] = [
    (0, 59, &[]),
    (0, 23, &[]),
    (1, 31, &[]),
    (
        1,
        12,
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    ),
    (0, 6, &["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
];

impl Schedule {
    /// Parses a schedule, with robfig/cron's error messages (the API
    /// server returns them in its 422).
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        let expanded = match spec.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@hourly" => "0 * * * *".to_string(),
            s if s.starts_with("@every ") => {
                return Err(format!("kubelab does not support @every schedules: {spec}"));
            }
            s if s.starts_with('@') => return Err(format!("unrecognized descriptor: {spec}")),
            _ => spec.to_string(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        let mut parsed = [Field {
            bits: 0,
            any: false,
        }; 5];
        for (i, text) in fields.iter().enumerate() {
            parsed[i] = parse_field(text, BOUNDS[i])?;
        }
        Ok(Schedule {
            minute: parsed[0],
            hour: parsed[1],
            day_of_month: parsed[2],
            month: parsed[3],
            day_of_week: parsed[4],
        })
    }

    /// Does the schedule allow this day? Either day field when both are
    /// restricted; only the restricted one otherwise.
    pub fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.day_of_month.has(date.day());
        let dow = self.day_of_week.has(date.weekday().num_days_from_sunday());
        if self.day_of_month.any || self.day_of_week.any {
            dom && dow
        } else {
            dom || dow
        }
    }

    // ANCHOR: next_after
    /// The first minute strictly after `after` that the schedule allows,
    /// on a wall clock (no time zone); `None` if there is none in the next
    /// five years (`0 0 30 2 *`: February 30th).
    ///
    /// Field by field, from the largest: if the month is wrong, jump to
    /// the first minute of the next month and look again; then the day,
    /// the hour, the minute. Each jump lands on a time that earlier checks
    /// may now reject (a new month), hence the loop.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let last_year = t.year() + 5;
        while t.year() <= last_year {
            if !self.month.has(t.month()) {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
            } else if !self.day_matches(t.date()) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
            } else if !self.hour.has(t.hour()) {
                t = t.with_minute(0)? + Duration::hours(1);
            } else if !self.minute.has(t.minute()) {
                t += Duration::minutes(1);
            } else {
                return Some(t);
            }
        }
        None
    }
    // ANCHOR_END: next_after
}

/// `a`, `a-b`, `*`, each with an optional `/step`, comma-separated.
fn parse_field(text: &str, (min, max, names): (u32, u32, &[&str])) -> Result<Field, String> {
    let mut field = Field {
        bits: 0,
        any: false,
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                if s.contains('/') {
                    return Err(format!("too many slashes: {part}"));
                }
                (r, Some(number(s, &[])?))
            }
            None => (part, None),
        };
        let (start, end) = if range == "*" || range == "?" {
            if step.is_none() {
                field.any = true;
            }
            (min, max)
        } else {
            match range.split_once('-') {
                Some((a, b)) => {
                    if b.contains('-') {
                        return Err(format!("too many hyphens: {part}"));
                    }
                    (number(a, names)?, number(b, names)?)
                }
                // `5/15` means 5, 20, 35, 50: from 5 to the end.
                None => {
                    let a = number(range, names)?;
                    (a, if step.is_some() { max } else { a })
                }
            }
        };
        if start < min {
            return Err(format!(
                "beginning of range ({start}) below minimum ({min}): {part}"
            ));
        }
        if end > max {
            return Err(format!(
                "end of range ({end}) above maximum ({max}): {part}"
            ));
        }
        if start > end {
            return Err(format!(
                "beginning of range ({start}) beyond end of range ({end}): {part}"
            ));
        }
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(format!("step of range should be a positive number: {part}"));
        }
        let mut v = start;
        while v <= end {
            field.bits |= 1 << v;
            v += step;
        }
    }
    Ok(field)
}

/// A number, or a name (`jan`, `sun`) where the field has names.
fn number(text: &str, names: &[&str]) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        // Months count from 1, days of the week from 0.
        return Ok(i as u32 + if names.len() == 12 { 1 } else { 0 });
    }
    text.parse::<u32>().map_err(|_| {
        format!("failed to parse int from {text}: strconv.Atoi: parsing \"{text}\": invalid syntax")
    })
}

/// A `spec.timeZone`: an IANA name (`Europe/Paris`); none means UTC
/// (upstream: the controller manager's own zone, which is UTC in most
/// clusters and always in kubelab).
pub fn time_zone(name: Option<&str>) -> Result<Tz, String> {
    match name {
        None => Ok(Tz::UTC),
        Some(n) => n
            .parse::<Tz>()
            .map_err(|_| format!("unknown time zone {n}")),
    }
}

/// The first run strictly after `after`, in zone `tz`. A wall-clock time
/// that does not exist (skipped by a daylight-saving change) is skipped; an
/// ambiguous one (repeated) runs at its first occurrence.
pub fn next_run(schedule: &Schedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_run_with(schedule, tz, after, Schedule::next_after)
}

/// [`next_run`] with another wall-clock search than [`Schedule::next_after`]
/// (lab 08's).
pub fn next_run_with(
    schedule: &Schedule,
    tz: Tz,
    after: DateTime<Utc>,
    next_after: NextAfter,
) -> Option<DateTime<Utc>> {
    let mut local = after.with_timezone(&tz).naive_local();
    for _ in 0..1000 {
        let n = next_after(schedule, local)?;
        match tz.from_local_datetime(&n) {
            chrono::LocalResult::Single(t) if t.with_timezone(&Utc) > after => {
                return Some(t.with_timezone(&Utc));
            }
            chrono::LocalResult::Ambiguous(a, b) => {
                for t in [a, b] {
                    if t.with_timezone(&Utc) > after {
                        return Some(t.with_timezone(&Utc));
                    }
                }
            }
            _ => {}
        }
        local = n;
    }
    None
}

/// The schedule times in `(earliest, now]`: the most recent one, and how
/// many there were (upstream warns when over 100 were missed).
pub fn most_recent(
    schedule: &Schedule,
    tz: Tz,
    earliest: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, usize) {
    most_recent_with(schedule, tz, earliest, now, Schedule::next_after)
}

/// [`most_recent`] with another wall-clock search (the CronJob
/// controller's, lab 08's).
pub fn most_recent_with(
    schedule: &Schedule,
    tz: Tz,
    earliest: DateTime<Utc>,
    now: DateTime<Utc>,
    next_after: NextAfter,
) -> (Option<DateTime<Utc>>, usize) {
    let mut last = None;
    let mut count = 0;
    let mut t = earliest;
    while let Some(n) = next_run_with(schedule, tz, t, next_after).filter(|n| *n <= now) {
        count += 1;
        last = Some(n);
        t = n;
        // A schedule missed for years: the count is enough to warn.
        if count > 100_000 {
            break;
        }
    }
    (last, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn next(spec: &str, after: &str) -> String {
        Schedule::parse(spec)
            .unwrap()
            .next_after(at(after))
            .map(|t| t.format("%Y-%m-%d %H:%M %a").to_string())
            .unwrap_or_else(|| "never".into())
    }

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        assert_eq!(
            next("*/15 * * * *", "2026-03-01 10:07"),
            "2026-03-01 10:15 Sun"
        );
        assert_eq!(
            next("5/20 * * * *", "2026-03-01 10:30"),
            "2026-03-01 10:45 Sun"
        );
        assert_eq!(
            next("0 9-17 * * MON-FRI", "2026-03-06 17:00"),
            "2026-03-09 09:00 Mon"
        );
        assert_eq!(
            next("30 2 * jan,Jul *", "2026-03-01 00:00"),
            "2026-07-01 02:30 Wed"
        );
        assert_eq!(
            next("0 0 1 1 *", "2026-12-31 23:59"),
            "2027-01-01 00:00 Fri"
        );
        assert_eq!(next("@hourly", "2026-03-01 10:00"), "2026-03-01 11:00 Sun");
        assert_eq!(next("@weekly", "2026-03-01 00:00"), "2026-03-08 00:00 Sun");
        // Strictly after: a run at 10:00 is not the next one at 10:00.
        assert_eq!(
            next("0 10 * * *", "2026-03-01 10:00"),
            "2026-03-02 10:00 Mon"
        );
        assert_eq!(next("0 0 30 2 *", "2026-01-01 00:00"), "never");
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 13th of each month and every Friday.
        assert_eq!(
            next("0 0 13 * FRI", "2026-03-01 00:00"),
            "2026-03-06 00:00 Fri"
        );
        assert_eq!(
            next("0 0 13 * FRI", "2026-03-10 00:00"),
            "2026-03-13 00:00 Fri"
        );
        assert_eq!(
            next("0 0 13 * MON", "2026-03-10 00:00"),
            "2026-03-13 00:00 Fri"
        );
        // One of them `*`: only the other counts.
        assert_eq!(
            next("0 0 * * FRI", "2026-03-10 00:00"),
            "2026-03-13 00:00 Fri"
        );
        assert_eq!(
            next("0 0 13 * *", "2026-03-14 00:00"),
            "2026-04-13 00:00 Mon"
        );
        // A step is not "any": */2 restricts the day of month.
        assert_eq!(
            next("0 0 */2 * MON", "2026-03-02 00:00"),
            "2026-03-03 00:00 Tue"
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |s: &str| Schedule::parse(s).unwrap_err();
        assert_eq!(err("bad"), "expected exactly 5 fields, found 1: [bad]");
        assert_eq!(
            err("61 * * * *"),
            "end of range (61) above maximum (59): 61"
        );
        assert_eq!(
            err("* * 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            err("5-1 * * * *"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            err("*/0 * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(
            err("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(err("@fortnightly"), "unrecognized descriptor: @fortnightly");
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        let s = Schedule::parse("30 2 * * *").unwrap();
        let paris = time_zone(Some("Europe/Paris")).unwrap();
        let utc = |s: &str| at(s).and_utc();
        // 02:30 in Paris in winter is 01:30 UTC.
        assert_eq!(
            next_run(&s, paris, utc("2026-01-10 12:00")),
            Some(utc("2026-01-11 01:30"))
        );
        // 29 March 2026: Paris jumps from 02:00 to 03:00; 02:30 does not
        // exist that day, the next run is the day after (00:30 UTC, summer).
        assert_eq!(
            next_run(&s, paris, utc("2026-03-28 12:00")),
            Some(utc("2026-03-30 00:30"))
        );
        assert!(time_zone(Some("Mars/Olympus")).is_err());
        let (last, n) = most_recent(
            &Schedule::parse("*/10 * * * *").unwrap(),
            Tz::UTC,
            utc("2026-01-01 00:00"),
            utc("2026-01-01 01:05"),
        );
        assert_eq!((last, n), (Some(utc("2026-01-01 01:00")), 6));
    }
}
