//! Sprig's date functions: `now`, `date`, `dateInZone` (`date_in_zone`),
//! `htmlDate`, `htmlDateInZone`, `dateModify` (`date_modify`,
//! `mustDateModify`), `toDate`, `mustToDate`, `unixEpoch`, `duration`,
//! `durationRound`, `ago`.
//!
//! Dates are formatted and parsed with Go *layouts*: the reference time
//! `Mon Jan 2 15:04:05 MST 2006` written the way the result should look
//! (`2006-01-02T15:04:05Z07:00`). This file carries Go's layout scanner
//! (`nextStdChunk`), formatter and parser, including the parser's error
//! messages (`parsing time "x" as "2006-01-02": cannot parse "x" as
//! "2006"`), and Go's `time.Duration` text (`1m30s`).
//!
//! `date` and friends always show the time in a zone: `Local` (from `TZ`
//! or `/etc/localtime`, as Go finds it) unless one is named. They accept a
//! `time.Time`, or Go `int`/`int64` Unix seconds; anything else — a
//! string, a `json.Number` from values.yaml — silently means *now*.
//! `duration` likewise only takes a string or an `int64` (a literal `90`
//! is a Go `int`: "0s").

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::{OffsetName, Tz};

use super::{Funcs, Ty};
use crate::template::Value;

pub fn register(f: &mut Funcs) {
    f.add("now", &[], |_, _| Ok(Value::Time(now())));
    f.add("date", &[Ty::Str, Ty::Any], |_, a| {
        Ok(Value::str(date_in_zone(text(&a[0]), &a[1], "Local")))
    });
    for name in ["dateInZone", "date_in_zone"] {
        f.add(name, &[Ty::Str, Ty::Any, Ty::Str], |_, a| {
            Ok(Value::str(date_in_zone(text(&a[0]), &a[1], text(&a[2]))))
        });
    }
    f.add("htmlDate", &[Ty::Any], |_, a| {
        Ok(Value::str(date_in_zone("2006-01-02", &a[0], "Local")))
    });
    f.add("htmlDateInZone", &[Ty::Any, Ty::Str], |_, a| {
        Ok(Value::str(date_in_zone("2006-01-02", &a[0], text(&a[1]))))
    });
    for name in ["dateModify", "date_modify"] {
        f.add(name, &[Ty::Str, Ty::Time], |_, a| {
            let t = time_of(&a[1]);
            Ok(Value::Time(match parse_duration(text(&a[0])) {
                Ok(d) => add_nanos(t, d),
                Err(_) => t,
            }))
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        f.add(name, &[Ty::Str, Ty::Time], |_, a| {
            Ok(Value::Time(add_nanos(
                time_of(&a[1]),
                parse_duration(text(&a[0]))?,
            )))
        });
    }
    f.add("toDate", &[Ty::Str, Ty::Str], |_, a| {
        Ok(Value::Time(
            parse(text(&a[0]), text(&a[1]), &local_tz()).unwrap_or_else(|_| zero_time()),
        ))
    });
    f.add("mustToDate", &[Ty::Str, Ty::Str], |_, a| {
        Ok(Value::Time(parse(text(&a[0]), text(&a[1]), &local_tz())?))
    });
    f.add("unixEpoch", &[Ty::Time], |_, a| {
        Ok(Value::str(time_of(&a[0]).timestamp().to_string()))
    });
    f.add("duration", &[Ty::Any], |_, a| {
        let secs = match &a[0] {
            Value::String(s) => parse_int10(s).unwrap_or(0),
            Value::Int64(n) => *n,
            _ => 0,
        };
        Ok(Value::str(format_duration(
            secs.wrapping_mul(1_000_000_000),
        )))
    });
    f.add("durationRound", &[Ty::Any], |_, a| {
        let d = match &a[0] {
            Value::String(s) => parse_duration(s).unwrap_or(0),
            Value::Int64(n) => *n,
            Value::Time(t) => since(t),
            _ => 0,
        };
        Ok(Value::str(duration_round(d)))
    });
    f.add("ago", &[Ty::Any], |_, a| {
        let t = match &a[0] {
            Value::Time(t) => *t,
            Value::Int(n) | Value::Int64(n) => unix(*n),
            _ => now(),
        };
        Ok(Value::str(format_duration(round_duration(
            since(&t),
            1_000_000_000,
        ))))
    });
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn time_of(v: &Value) -> DateTime<FixedOffset> {
    match v {
        Value::Time(t) => *t,
        _ => zero_time(),
    }
}

/// Go's zero `time.Time`: January 1, year 1, 00:00:00 UTC.
pub fn zero_time() -> DateTime<FixedOffset> {
    let d = NaiveDate::from_ymd_opt(1, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    Utc.from_utc_datetime(&d).fixed_offset()
}

/// Go's `time.Local`: `$TZ` if set (empty means UTC), else
/// `/etc/localtime`; UTC when neither names a known zone.
pub fn local_tz() -> Tz {
    match std::env::var("TZ") {
        Ok(tz) => {
            let tz = tz.strip_prefix(':').unwrap_or(&tz);
            if tz.is_empty() {
                return Tz::UTC;
            }
            tz.parse().unwrap_or(Tz::UTC)
        }
        Err(_) => std::fs::read_link("/etc/localtime")
            .ok()
            .and_then(|p| {
                let p = p.to_string_lossy().into_owned();
                let name = p.split_once("zoneinfo/")?.1.to_string();
                name.parse().ok()
            })
            .unwrap_or(Tz::UTC),
    }
}

/// Go's `time.LoadLocation`, falling back to UTC as Sprig does.
fn load_location(zone: &str) -> Tz {
    match zone {
        "" | "UTC" => Tz::UTC,
        "Local" => local_tz(),
        z => z.parse().unwrap_or(Tz::UTC),
    }
}

fn now() -> DateTime<FixedOffset> {
    let t = Utc::now();
    t.with_timezone(&local_tz()).fixed_offset()
}

/// `time.Unix(n, 0)`, in the local zone.
fn unix(n: i64) -> DateTime<FixedOffset> {
    let t = DateTime::from_timestamp(n, 0).unwrap_or_default();
    t.with_timezone(&local_tz()).fixed_offset()
}

fn since(t: &DateTime<FixedOffset>) -> i64 {
    let d = Utc::now().signed_duration_since(t);
    d.num_nanoseconds()
        .unwrap_or(if d > chrono::TimeDelta::zero() {
            i64::MAX
        } else {
            i64::MIN
        })
}

fn add_nanos(t: DateTime<FixedOffset>, d: i64) -> DateTime<FixedOffset> {
    t.checked_add_signed(chrono::TimeDelta::nanoseconds(d))
        .unwrap_or(t)
}

/// Sprig's `dateInZone`: the time (or Unix seconds, or else now) in the
/// named zone, formatted with the Go layout.
fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let t = match date {
        Value::Time(t) => *t,
        Value::Int(n) | Value::Int64(n) => unix(*n),
        _ => now(),
    };
    let tz = load_location(zone);
    format(&Zoned::new(&t, &tz), layout)
}

/// A time as a Go `Time` in a location: wall clock, offset, zone name.
struct Zoned {
    wall: NaiveDateTime,
    offset: i32,
    name: String,
}

impl Zoned {
    fn new(t: &DateTime<FixedOffset>, tz: &Tz) -> Zoned {
        let z = t.with_timezone(tz);
        let offset = z.offset().fix().local_minus_utc();
        let name = match z.offset().abbreviation() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => numeric_zone_name(offset),
        };
        Zoned {
            wall: z.naive_local(),
            offset,
            name,
        }
    }
}

/// A zone without an abbreviation, as tzdata names it: `+04`, `+0530`.
fn numeric_zone_name(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let m = offset.abs() / 60;
    if m % 60 == 0 {
        format!("{sign}{:02}", m / 60)
    } else {
        format!("{sign}{:02}{:02}", m / 60, m % 60)
    }
}

// ---------------------------------------------------------------------------
// Go layouts

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    Iso8601TZ,
    Iso8601SecondsTZ,
    Iso8601ShortTZ,
    Iso8601ColonTZ,
    Iso8601ColonSecondsTZ,
    NumTZ,
    NumSecondsTz,
    NumShortTZ,
    NumColonTZ,
    NumColonSecondsTZ,
    /// `.000` (exactly n digits), with its separator.
    Frac0(usize, u8),
    /// `.999` (up to n digits, trailing zeros dropped).
    Frac9(usize, u8),
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit_at(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `nextStdChunk`: the text before the first layout element, the
/// element, and the rest.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let l = layout.as_bytes();
    let has = |i: usize, s: &str| l.len() >= i + s.len() && &l[i..i + s.len()] == s.as_bytes();
    for i in 0..l.len() {
        let hit = |n: usize, std: Std| Some((&layout[..i], Some(std), &layout[i + n..]));
        let found = match l[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    hit(7, Std::LongMonth)
                } else if !starts_lower(&l[i + 3..]) {
                    hit(3, Std::Month)
                } else {
                    None
                }
            }
            b'M' if l.len() >= i + 3 => {
                if has(i, "Mon") {
                    if has(i, "Monday") {
                        hit(6, Std::LongWeekDay)
                    } else if !starts_lower(&l[i + 3..]) {
                        hit(3, Std::WeekDay)
                    } else {
                        None
                    }
                } else if has(i, "MST") {
                    hit(3, Std::TZ)
                } else {
                    None
                }
            }
            b'0' => {
                if l.len() >= i + 2 && (b'1'..=b'6').contains(&l[i + 1]) {
                    let std = [
                        Std::ZeroMonth,
                        Std::ZeroDay,
                        Std::ZeroHour12,
                        Std::ZeroMinute,
                        Std::ZeroSecond,
                        Std::Year,
                    ][(l[i + 1] - b'1') as usize];
                    hit(2, std)
                } else if has(i, "002") {
                    hit(3, Std::ZeroYearDay)
                } else {
                    None
                }
            }
            b'1' => {
                if has(i, "15") {
                    hit(2, Std::Hour)
                } else {
                    hit(1, Std::NumMonth)
                }
            }
            b'2' => {
                if has(i, "2006") {
                    hit(4, Std::LongYear)
                } else {
                    hit(1, Std::Day)
                }
            }
            b'_' => {
                if l.len() >= i + 2 && l[i + 1] == b'2' {
                    if has(i + 1, "2006") {
                        // "_2006" is a literal "_" and a year.
                        return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                    }
                    hit(2, Std::UnderDay)
                } else if has(i, "__2") {
                    hit(3, Std::UnderYearDay)
                } else {
                    None
                }
            }
            b'3' => hit(1, Std::Hour12),
            b'4' => hit(1, Std::Minute),
            b'5' => hit(1, Std::Second),
            b'P' if has(i, "PM") => hit(2, Std::PM),
            b'p' if has(i, "pm") => hit(2, Std::Pm),
            b'-' => {
                if has(i, "-070000") {
                    hit(7, Std::NumSecondsTz)
                } else if has(i, "-07:00:00") {
                    hit(9, Std::NumColonSecondsTZ)
                } else if has(i, "-0700") {
                    hit(5, Std::NumTZ)
                } else if has(i, "-07:00") {
                    hit(6, Std::NumColonTZ)
                } else if has(i, "-07") {
                    hit(3, Std::NumShortTZ)
                } else {
                    None
                }
            }
            b'Z' => {
                if has(i, "Z070000") {
                    hit(7, Std::Iso8601SecondsTZ)
                } else if has(i, "Z07:00:00") {
                    hit(9, Std::Iso8601ColonSecondsTZ)
                } else if has(i, "Z0700") {
                    hit(5, Std::Iso8601TZ)
                } else if has(i, "Z07:00") {
                    hit(6, Std::Iso8601ColonTZ)
                } else if has(i, "Z07") {
                    hit(3, Std::Iso8601ShortTZ)
                } else {
                    None
                }
            }
            c @ (b'.' | b',') if i + 1 < l.len() && (l[i + 1] == b'0' || l[i + 1] == b'9') => {
                let ch = l[i + 1];
                let mut j = i + 1;
                while j < l.len() && l[j] == ch {
                    j += 1;
                }
                if !is_digit_at(l, j) {
                    let n = j - (i + 1);
                    let std = if ch == b'0' {
                        Std::Frac0(n, c)
                    } else {
                        Std::Frac9(n, c)
                    };
                    return (&layout[..i], Some(std), &layout[j..]);
                }
                None
            }
            _ => None,
        };
        if let Some(f) = found {
            return f;
        }
    }
    (layout, None, "")
}

/// Go's `appendInt`: a sign, then at least `width` digits.
fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", x.unsigned_abs()));
}

/// `Time.Format(layout)`.
fn format(t: &Zoned, layout: &str) -> String {
    let mut out = String::new();
    let w = &t.wall;
    let (year, month, day) = (w.year() as i64, w.month() as usize, w.day() as i64);
    let (hour, min, sec, nano) = (
        w.hour() as i64,
        w.minute() as i64,
        w.second() as i64,
        w.nanosecond(),
    );
    let mut rest = layout;
    loop {
        let (prefix, std, suffix) = next_std_chunk(rest);
        out.push_str(prefix);
        let Some(std) = std else { break };
        rest = suffix;
        match std {
            Std::Year => push_int(&mut out, year.abs() % 100, 2),
            Std::LongYear => push_int(&mut out, year, 4),
            Std::Month => out.push_str(&LONG_MONTHS[month - 1][..3]),
            Std::LongMonth => out.push_str(LONG_MONTHS[month - 1]),
            Std::NumMonth => push_int(&mut out, month as i64, 0),
            Std::ZeroMonth => push_int(&mut out, month as i64, 2),
            Std::WeekDay => {
                out.push_str(&LONG_DAYS[w.weekday().num_days_from_sunday() as usize][..3])
            }
            Std::LongWeekDay => {
                out.push_str(LONG_DAYS[w.weekday().num_days_from_sunday() as usize])
            }
            Std::Day => push_int(&mut out, day, 0),
            Std::UnderDay => {
                if day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, day, 0);
            }
            Std::ZeroDay => push_int(&mut out, day, 2),
            Std::UnderYearDay => {
                let yday = w.ordinal() as i64;
                if yday < 100 {
                    out.push(' ');
                    if yday < 10 {
                        out.push(' ');
                    }
                }
                push_int(&mut out, yday, 0);
            }
            Std::ZeroYearDay => push_int(&mut out, w.ordinal() as i64, 3),
            Std::Hour => push_int(&mut out, hour, 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let hr = if hour % 12 == 0 { 12 } else { hour % 12 };
                push_int(&mut out, hr, if std == Std::Hour12 { 0 } else { 2 });
            }
            Std::Minute => push_int(&mut out, min, 0),
            Std::ZeroMinute => push_int(&mut out, min, 2),
            Std::Second => push_int(&mut out, sec, 0),
            Std::ZeroSecond => push_int(&mut out, sec, 2),
            Std::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
            Std::TZ => {
                if !t.name.is_empty() {
                    out.push_str(&t.name);
                } else {
                    let zone = t.offset / 60;
                    out.push(if zone < 0 { '-' } else { '+' });
                    push_int(&mut out, (zone.abs() / 60) as i64, 2);
                    push_int(&mut out, (zone.abs() % 60) as i64, 2);
                }
            }
            Std::Frac0(n, sep) | Std::Frac9(n, sep) => {
                let trim = matches!(std, Std::Frac9(..));
                if trim && (n == 0 || nano == 0) {
                    continue;
                }
                let mut digits = format!("{nano:09}");
                if n < 9 {
                    digits.truncate(n);
                }
                if trim {
                    let kept = digits.trim_end_matches('0');
                    if kept.is_empty() {
                        continue;
                    }
                    digits = kept.to_string();
                }
                out.push(sep as char);
                out.push_str(&digits);
            }
            tz => {
                let iso = matches!(
                    tz,
                    Std::Iso8601TZ
                        | Std::Iso8601SecondsTZ
                        | Std::Iso8601ShortTZ
                        | Std::Iso8601ColonTZ
                        | Std::Iso8601ColonSecondsTZ
                );
                if t.offset == 0 && iso {
                    out.push('Z');
                    continue;
                }
                let zone = t.offset / 60;
                out.push(if zone < 0 { '-' } else { '+' });
                push_int(&mut out, (zone.abs() / 60) as i64, 2);
                let colon = matches!(
                    tz,
                    Std::Iso8601ColonTZ
                        | Std::NumColonTZ
                        | Std::Iso8601ColonSecondsTZ
                        | Std::NumColonSecondsTZ
                );
                if colon {
                    out.push(':');
                }
                if !matches!(tz, Std::NumShortTZ | Std::Iso8601ShortTZ) {
                    push_int(&mut out, (zone.abs() % 60) as i64, 2);
                }
                if matches!(
                    tz,
                    Std::Iso8601SecondsTZ
                        | Std::NumSecondsTz
                        | Std::NumColonSecondsTZ
                        | Std::Iso8601ColonSecondsTZ
                ) {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, (t.offset.abs() % 60) as i64, 2);
                }
            }
        }
    }
    out
}

/// Go's `time` package quoting (non-ASCII as `\x` bytes).
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) >= 0x80 || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Go's `getnum`: one or two digits (exactly two if `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if !is_digit_at(b, 0) {
        return None;
    }
    if !is_digit_at(b, 1) {
        if fixed {
            return None;
        }
        return Some(((b[0] - b'0') as i64, &s[1..]));
    }
    Some((((b[0] - b'0') * 10 + (b[1] - b'0')) as i64, &s[2..]))
}

/// Go's `getnum3`: one to three digits (exactly three if `fixed`).
fn getnum3(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && is_digit_at(b, i) {
        n = n * 10 + (b[i] - b'0') as i64;
        i += 1;
    }
    if i == 0 || fixed && i != 3 {
        return None;
    }
    Some((n, &s[i..]))
}

/// Go's `time.atoi`: an optional sign and decimal digits, nothing else.
fn time_atoi(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let x: i64 = body.parse().ok()?;
    Some(if neg { -x } else { x })
}

/// Go's `skip`: the literal layout text, where a space matches any run of
/// spaces.
fn skip<'a>(mut value: &'a str, mut prefix: &str) -> Result<&'a str, &'a str> {
    while !prefix.is_empty() {
        if prefix.starts_with(' ') {
            if !value.is_empty() && !value.starts_with(' ') {
                return Err(value);
            }
            prefix = prefix.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        if value.is_empty() || value.as_bytes()[0] != prefix.as_bytes()[0] {
            return Err(value);
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Ok(value)
}

/// Go's `lookup`: a case-insensitive prefix from a name table.
fn lookup<'a>(names: &[&str], val: &'a str, short: bool) -> Option<(usize, &'a str)> {
    for (i, full) in names.iter().enumerate() {
        let v = if short { &full[..3] } else { full };
        if val.len() >= v.len()
            && val.is_char_boundary(v.len())
            && val[..v.len()].eq_ignore_ascii_case(v)
        {
            return Some((i, &val[v.len()..]));
        }
    }
    None
}

/// Go's `parseNanoseconds`: `value[..nbytes]` is a separator and digits.
fn parse_nanos(value: &str, nbytes: usize) -> Option<i64> {
    let b = value.as_bytes();
    if b[0] != b'.' && b[0] != b',' {
        return None;
    }
    let nbytes = nbytes.min(10);
    let mut ns = time_atoi(&value[1..nbytes])?;
    if ns < 0 {
        return None;
    }
    for _ in 0..(10 - nbytes) {
        ns *= 10;
    }
    Some(ns)
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start.
fn parse_time_zone(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if b.len() >= 4 && (&b[..4] == b"ChST" || &b[..4] == b"MeST") {
        return Some(4);
    }
    if &b[..3] == b"GMT" {
        return Some(3 + parse_signed_offset(&value[3..]));
    }
    if b[0] == b'+' || b[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let upper = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        5 if b[4] == b'T' => Some(5),
        4 if b[3] == b'T' || &b[..4] == b"WITA" => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn parse_signed_offset(value: &str) -> usize {
    let b = value.as_bytes();
    if b.is_empty() || b[0] != b'-' && b[0] != b'+' {
        return 0;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return 0;
    }
    match value[1..1 + digits].parse::<u64>() {
        Ok(x) if x <= 23 => 1 + digits,
        _ => 0,
    }
}

fn days_in(month: i64, year: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `time.ParseInLocation(layout, value, local)`, with Go's errors.
pub fn parse(layout: &str, value: &str, local: &Tz) -> Result<DateTime<FixedOffset>, String> {
    let err_cannot = |value_elem: &str, layout_elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            go_quote(value),
            go_quote(layout),
            go_quote(value_elem),
            go_quote(layout_elem)
        )
    };
    let err_msg = |msg: &str| format!("parsing time {}{msg}", go_quote(value));

    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let (mut utc, mut zone_offset, mut zone_name) = (false, None::<i64>, String::new());
    let (mut am, mut pm) = (false, false);
    let mut lay = layout;
    let mut val = value;
    loop {
        let (prefix, std, suffix) = next_std_chunk(lay);
        let stdstr = &lay[prefix.len()..lay.len() - suffix.len()];
        val = skip(val, prefix).map_err(|v| err_cannot(v, prefix))?;
        let Some(std) = std else {
            if !val.is_empty() {
                return Err(err_msg(&format!(": extra text: {}", go_quote(val))));
            }
            break;
        };
        lay = suffix;
        let hold = val;
        let mut range_err = "";
        let ok: bool = 'step: {
            match std {
                Std::Year => {
                    if val.len() < 2 {
                        break 'step false;
                    }
                    let Some(y) = time_atoi(&val[..2]) else {
                        break 'step false;
                    };
                    val = &val[2..];
                    year = if y >= 69 { y + 1900 } else { y + 2000 };
                }
                Std::LongYear => {
                    if val.len() < 4 || !is_digit_at(val.as_bytes(), 0) {
                        break 'step false;
                    }
                    let Some(y) = time_atoi(&val[..4]) else {
                        break 'step false;
                    };
                    val = &val[4..];
                    year = y;
                }
                Std::Month | Std::LongMonth => {
                    let Some((m, rest)) = lookup(&LONG_MONTHS, val, std == Std::Month) else {
                        break 'step false;
                    };
                    month = m as i64 + 1;
                    val = rest;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let Some((m, rest)) = getnum(val, std == Std::ZeroMonth) else {
                        break 'step false;
                    };
                    month = m;
                    val = rest;
                    if !(1..=12).contains(&m) {
                        range_err = "month";
                    }
                }
                Std::WeekDay | Std::LongWeekDay => {
                    let Some((_, rest)) = lookup(&LONG_DAYS, val, std == Std::WeekDay) else {
                        break 'step false;
                    };
                    val = rest;
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && val.starts_with(' ') {
                        val = &val[1..];
                    }
                    let Some((d, rest)) = getnum(val, std == Std::ZeroDay) else {
                        break 'step false;
                    };
                    day = d;
                    val = rest;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && val.starts_with(' ') {
                            val = &val[1..];
                        }
                    }
                    let Some((d, rest)) = getnum3(val, std == Std::ZeroYearDay) else {
                        break 'step false;
                    };
                    yday = d;
                    val = rest;
                }
                Std::Hour => {
                    let Some((h, rest)) = getnum(val, false) else {
                        break 'step false;
                    };
                    hour = h;
                    val = rest;
                    if !(0..24).contains(&h) {
                        range_err = "hour";
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let Some((h, rest)) = getnum(val, std == Std::ZeroHour12) else {
                        break 'step false;
                    };
                    hour = h;
                    val = rest;
                    if !(0..=12).contains(&h) {
                        range_err = "hour";
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    let Some((m, rest)) = getnum(val, std == Std::ZeroMinute) else {
                        break 'step false;
                    };
                    min = m;
                    val = rest;
                    if !(0..60).contains(&m) {
                        range_err = "minute";
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    let Some((s, rest)) = getnum(val, std == Std::ZeroSecond) else {
                        break 'step false;
                    };
                    sec = s;
                    val = rest;
                    if !(0..60).contains(&s) {
                        range_err = "second";
                        break 'step true;
                    }
                    // A fractional second in the value but not in the layout.
                    let b = val.as_bytes();
                    if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && is_digit_at(b, 1) {
                        if let (_, Some(Std::Frac0(..) | Std::Frac9(..)), _) = next_std_chunk(lay) {
                            break 'step true;
                        }
                        let mut n = 2;
                        while is_digit_at(b, n) {
                            n += 1;
                        }
                        let Some(ns) = parse_nanos(val, n) else {
                            break 'step false;
                        };
                        nsec = ns;
                        val = &val[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    if val.len() < 2 || !val.is_char_boundary(2) {
                        break 'step false;
                    }
                    let (p, rest) = val.split_at(2);
                    let (pm_s, am_s) = if std == Std::PM {
                        ("PM", "AM")
                    } else {
                        ("pm", "am")
                    };
                    if p == pm_s {
                        pm = true;
                    } else if p == am_s {
                        am = true;
                    } else {
                        break 'step false;
                    }
                    val = rest;
                }
                Std::TZ => {
                    if val.starts_with("UTC") {
                        utc = true;
                        val = &val[3..];
                        break 'step true;
                    }
                    let Some(n) = parse_time_zone(val) else {
                        break 'step false;
                    };
                    zone_name = val[..n].to_string();
                    val = &val[n..];
                }
                Std::Frac0(n, _) => {
                    let ndigit = 1 + n;
                    if val.len() < ndigit || !val.is_char_boundary(ndigit) {
                        break 'step false;
                    }
                    let Some(ns) = parse_nanos(val, ndigit) else {
                        break 'step false;
                    };
                    nsec = ns;
                    val = &val[ndigit..];
                }
                Std::Frac9(..) => {
                    let b = val.as_bytes();
                    if b.len() < 2 || (b[0] != b'.' && b[0] != b',') || !b[1].is_ascii_digit() {
                        break 'step true;
                    }
                    let mut i = 0;
                    while i + 1 < b.len() && b[i + 1].is_ascii_digit() {
                        i += 1;
                    }
                    let Some(ns) = parse_nanos(val, 1 + i) else {
                        break 'step false;
                    };
                    nsec = ns;
                    val = &val[1 + i..];
                }
                tz => {
                    let iso = matches!(
                        tz,
                        Std::Iso8601TZ
                            | Std::Iso8601SecondsTZ
                            | Std::Iso8601ShortTZ
                            | Std::Iso8601ColonTZ
                            | Std::Iso8601ColonSecondsTZ
                    );
                    if iso && val.starts_with('Z') {
                        val = &val[1..];
                        utc = true;
                        break 'step true;
                    }
                    let b = val.as_bytes();
                    let ascii = |n: usize| b.len() >= n && val.is_char_boundary(n);
                    let (sign, hh, mm, ss, rest) = match tz {
                        Std::Iso8601ColonTZ | Std::NumColonTZ => {
                            if !ascii(6) || b[3] != b':' {
                                break 'step false;
                            }
                            (b[0], &val[1..3], &val[4..6], "00", &val[6..])
                        }
                        Std::NumShortTZ | Std::Iso8601ShortTZ => {
                            if !ascii(3) {
                                break 'step false;
                            }
                            (b[0], &val[1..3], "00", "00", &val[3..])
                        }
                        Std::Iso8601ColonSecondsTZ | Std::NumColonSecondsTZ => {
                            if !ascii(9) || b[3] != b':' || b[6] != b':' {
                                break 'step false;
                            }
                            (b[0], &val[1..3], &val[4..6], &val[7..9], &val[9..])
                        }
                        Std::Iso8601SecondsTZ | Std::NumSecondsTz => {
                            if !ascii(7) {
                                break 'step false;
                            }
                            (b[0], &val[1..3], &val[3..5], &val[5..7], &val[7..])
                        }
                        _ => {
                            if !ascii(5) {
                                break 'step false;
                            }
                            (b[0], &val[1..3], &val[3..5], "00", &val[5..])
                        }
                    };
                    val = rest;
                    let (Some((h, _)), Some((m, _)), Some((s, _))) =
                        (getnum(hh, true), getnum(mm, true), getnum(ss, true))
                    else {
                        break 'step false;
                    };
                    if h > 24 {
                        range_err = "time zone offset hour";
                    }
                    if m > 60 {
                        range_err = "time zone offset minute";
                    }
                    if s > 60 {
                        range_err = "time zone offset second";
                    }
                    let off = (h * 60 + m) * 60 + s;
                    zone_offset = Some(match sign {
                        b'+' => off,
                        b'-' => -off,
                        _ => break 'step false,
                    });
                }
            }
            true
        };
        if !range_err.is_empty() {
            return Err(err_msg(&format!(": {range_err} out of range")));
        }
        if !ok {
            return Err(err_cannot(hold, stdstr));
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let mut d = 0;
        let mut m = 0;
        if leap {
            if yday == 31 + 29 {
                m = 2;
                d = 29;
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(err_msg(": day-of-year out of range"));
        }
        if m == 0 {
            const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
            m = (yday - 1) / 31 + 1;
            if BEFORE[m as usize] < yday {
                m += 1;
            }
            d = yday - BEFORE[m as usize - 1];
        }
        if month >= 0 && month != m {
            return Err(err_msg(": day-of-year does not match month"));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(err_msg(": day-of-year does not match day"));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(err_msg(": day out of range"));
    }
    let wall = NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
        .and_then(|d| d.and_hms_nano_opt(hour as u32, min as u32, sec as u32, nsec as u32))
        .ok_or_else(|| err_msg(": out of range"))?;
    let fixed = |off: i64| {
        let o = FixedOffset::east_opt(off as i32).unwrap_or(FixedOffset::east_opt(0).unwrap());
        o.from_utc_datetime(&(wall - chrono::TimeDelta::seconds(off)))
    };
    if utc {
        return Ok(fixed(0));
    }
    if let Some(off) = zone_offset {
        return Ok(fixed(off));
    }
    if !zone_name.is_empty() {
        // The local zone, if it uses that abbreviation then.
        if let Some(t) = local.from_local_datetime(&wall).earliest()
            && t.offset().abbreviation() == Some(zone_name.as_str())
        {
            return Ok(t.fixed_offset());
        }
        let off = match zone_name.strip_prefix("GMT") {
            Some(h) if !h.is_empty() => time_atoi(h).unwrap_or(0) * 3600,
            _ => 0,
        };
        // Go attaches that zone to the wall clock read as UTC: the instant
        // is not shifted by the offset.
        let o = FixedOffset::east_opt(off as i32).unwrap_or(FixedOffset::east_opt(0).unwrap());
        return Ok(o.from_utc_datetime(&wall));
    }
    let t = local
        .from_local_datetime(&wall)
        .earliest()
        .or_else(|| {
            local
                .from_local_datetime(&(wall + chrono::TimeDelta::hours(1)))
                .earliest()
        })
        .map(|t| t.fixed_offset());
    Ok(t.unwrap_or_else(|| fixed(0)))
}

// ---------------------------------------------------------------------------
// Durations (nanoseconds, as Go's time.Duration)

fn parse_int10(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `time.ParseDuration`.
pub fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // integer part
        let n_int = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for c in &b[..n_int] {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + (c - b'0') as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        s = &s[n_int..];
        let pre = n_int > 0;
        // fraction
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.starts_with('.') {
            s = &s[1..];
            let b = s.as_bytes();
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for c in &b[..n] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + (c - b'0') as u64;
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            s = &s[n..];
            post = n > 0;
        }
        if !pre && !post {
            return Err(invalid());
        }
        // unit
        let i = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let u = &s[..i];
        s = &s[i..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(u),
                    go_quote(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn format_duration(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    // fraction of u / 10^prec, trailing zeros dropped
    fn frac(u: u64, prec: u32) -> (String, u64) {
        let p = 10u64.pow(prec);
        let f = u % p;
        if f == 0 {
            return (String::new(), u / p);
        }
        let s = format!("{f:0width$}", width = prec as usize);
        (format!(".{}", s.trim_end_matches('0')), u / p)
    }
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "\u{b5}s"),
            _ => (6, "ms"),
        };
        let (f, whole) = frac(u, prec);
        out.push_str(&format!("{whole}{f}{unit}"));
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        let s = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            let m = format!("{}m", u % 60);
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&m);
        }
        out.push_str(&s);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Go's `Duration.Round(m)`: half away from zero, saturating.
fn round_duration(d: i64, m: i64) -> i64 {
    let less_than_half = |x: i64| (x as u64).wrapping_add(x as u64) < m as u64;
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if less_than_half(r) {
            return d + r;
        }
        return match (d - m).checked_add(r) {
            Some(d1) if d1 < d => d1,
            _ => i64::MIN,
        };
    }
    if less_than_half(r) {
        return d - r;
    }
    match (d + r.wrapping_neg()).checked_add(m) {
        Some(d1) if d1 > d => d1,
        _ => i64::MAX,
    }
}

/// Sprig's `durationRound`: the largest whole unit (y, mo, d, h, m, s) the
/// duration exceeds; the sign is dropped.
fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    const S: u64 = 1_000_000_000;
    let units: [(u64, &str); 6] = [
        (S * 3600 * 24 * 365, "y"),
        (S * 3600 * 24 * 30, "mo"),
        (S * 3600 * 24, "d"),
        (S * 3600, "h"),
        (S * 60, "m"),
        (S, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::{Funcs, call};
    use crate::template::gofmt;

    fn run(name: &str, args: &[Value]) -> Result<Value, String> {
        call(&Funcs::helm(), name, args)
    }
    fn out(name: &str, args: &[Value]) -> String {
        gofmt::sprint(&run(name, args).unwrap())
    }
    fn s(x: &str) -> Value {
        Value::str(x)
    }
    fn utc_parse(layout: &str, value: &str) -> Result<DateTime<FixedOffset>, String> {
        parse(layout, value, &Tz::UTC)
    }
    fn fmt_utc(t: &DateTime<FixedOffset>, layout: &str) -> String {
        format(&Zoned::new(t, &Tz::UTC), layout)
    }
    fn show(t: DateTime<FixedOffset>) -> String {
        gofmt::sprint(&Value::Time(t))
    }

    #[test]
    fn formats_go_layouts() {
        // helm (TZ=UTC): date "2006-01-02T15:04:05Z07:00" 1700000000 → 2023-11-14T22:13:20Z
        let t = DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .fixed_offset();
        assert_eq!(
            fmt_utc(&t, "2006-01-02T15:04:05Z07:00"),
            "2023-11-14T22:13:20Z"
        );
        let t0 = DateTime::from_timestamp(0, 0).unwrap().fixed_offset();
        assert_eq!(
            fmt_utc(&t0, "Mon Jan _2 15:04:05 MST 2006"),
            "Thu Jan  1 00:00:00 UTC 1970"
        );
        let t1 = DateTime::from_timestamp(86400, 0).unwrap().fixed_offset();
        // (helm trims the line's trailing space: `.999` of 0ns is empty)
        assert_eq!(
            fmt_utc(&t1, "02/01/06 03:04:05 PM .000 .999"),
            "02/01/70 12:00:00 AM .000 "
        );
        // helm: the layout zoo on 2024-07-04T09:05:03.120450+02:00, shown in UTC
        let t = utc_parse(
            "2006-01-02T15:04:05.999999999Z07:00",
            "2024-07-04T09:05:03.120450+02:00",
        )
        .unwrap();
        assert_eq!(show(t), "2024-07-04 09:05:03.12045 +0200 +0200");
        assert_eq!(
            fmt_utc(&t, "2006 06 1 01 Jan January 2 02 _2 __2 002 Mon Monday"),
            "2024 24 7 07 Jul July 4 04  4 186 186 Thu Thursday"
        );
        assert_eq!(
            fmt_utc(&t, "15 3 03 4 04 5 05 PM pm .0 .000 .999999 ,000 .9"),
            "07 7 07 5 05 3 03 AM am .1 .120 .12045 ,120 .1"
        );
        assert_eq!(
            fmt_utc(
                &t,
                "MST -0700 -07:00 -07 Z0700 Z07:00 Z07 -070000 -07:00:00"
            ),
            "UTC +0000 +00:00 +00 Z Z Z +000000 +00:00:00"
        );
        assert_eq!(
            fmt_utc(&t, "Jank Monx January2 2006_2 _2006"),
            "Jank Monx July4 2024 4 _2024"
        );
        // helm: unixEpoch → 1720076703; htmlDateInZone "Asia/Tokyo" → 2024-07-04
        assert_eq!(t.timestamp(), 1_720_076_703);
        assert_eq!(
            format(
                &Zoned::new(&t, &"Asia/Tokyo".parse().unwrap()),
                "2006-01-02"
            ),
            "2024-07-04"
        );
    }

    #[test]
    fn zones_by_name() {
        // helm: dateInZone "2006-01-02 15:04 MST" (toDate "2006-01-02" "2024-01-15") "America/New_York" → 2024-01-14 19:00 EST
        let jan = utc_parse("2006-01-02", "2024-01-15").unwrap();
        let jul = utc_parse("2006-01-02", "2024-07-15").unwrap();
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            format(&Zoned::new(&jan, &ny), "2006-01-02 15:04 MST"),
            "2024-01-14 19:00 EST"
        );
        assert_eq!(
            format(&Zoned::new(&jul, &ny), "2006-01-02 15:04 MST"),
            "2024-07-14 20:00 EDT"
        );
        let t0 = DateTime::from_timestamp(0, 0).unwrap().fixed_offset();
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(format(&Zoned::new(&t0, &kolkata), "15:04 MST"), "05:30 IST");
        // An unknown zone is UTC (helm: date_in_zone "15:04 MST -0700" 0 "Bad/Zone" → 00:00 UTC +0000)
        assert_eq!(
            format(
                &Zoned::new(&t0, &load_location("Bad/Zone")),
                "15:04 MST -0700"
            ),
            "00:00 UTC +0000"
        );
        let dubai: Tz = "Asia/Dubai".parse().unwrap();
        assert_eq!(format(&Zoned::new(&t0, &dubai), "MST"), "+04");
    }

    #[test]
    fn parses_like_go() {
        // helm: toDate "2006-01-02" "2024-03-05" → 2024-03-05 00:00:00 +0000 UTC
        assert_eq!(
            show(utc_parse("2006-01-02", "2024-03-05").unwrap()),
            "2024-03-05 00:00:00 +0000 UTC"
        );
        assert_eq!(
            show(utc_parse("02 Jan 06 15:04 -0700", "05 Mar 24 10:00 +0530").unwrap()),
            "2024-03-05 10:00:00 +0530 +0530"
        );
        assert_eq!(
            show(utc_parse("2006-01-02 15:04:05", "2024-03-05 10:00:00.5").unwrap()),
            "2024-03-05 10:00:00.5 +0000 UTC"
        );
        assert_eq!(
            show(utc_parse("January 2 2006", "MARCH 5 2024").unwrap()),
            "2024-03-05 00:00:00 +0000 UTC"
        );
        assert_eq!(
            show(utc_parse("05.000", "07.123").unwrap()),
            "0000-01-01 00:00:07.123 +0000 UTC"
        );
        assert_eq!(
            show(utc_parse("2006-01-02T15:04:05Z07:00", "2024-03-05T10:00:00Z").unwrap()),
            "2024-03-05 10:00:00 +0000 UTC"
        );
        let t = utc_parse("Jan 2, 2006 at 3:04pm (MST)", "Feb 3, 2013 at 7:54pm (PST)").unwrap();
        assert_eq!(t.naive_utc().to_string(), "2013-02-03 19:54:00");
    }

    #[test]
    fn parse_errors_are_gos() {
        let e = |l: &str, v: &str| utc_parse(l, v).unwrap_err();
        assert_eq!(
            e("2006-01-02", "2024-13-01"),
            r#"parsing time "2024-13-01": month out of range"#
        );
        assert_eq!(
            e("2006-01-02", "2024-02-30"),
            r#"parsing time "2024-02-30": day out of range"#
        );
        assert_eq!(
            e("2006-01-02", "24-02-30"),
            r#"parsing time "24-02-30" as "2006-01-02": cannot parse "24-02-30" as "2006""#
        );
        assert_eq!(
            e("2006-01-02", "2024-02-03x"),
            r#"parsing time "2024-02-03x": extra text: "x""#
        );
        assert_eq!(
            e("date: 2006", "dat: 2024"),
            r#"parsing time "dat: 2024" as "date: 2006": cannot parse ": 2024" as "date: ""#
        );
        assert_eq!(
            e("Jan 2 2006", "Foo 2 2024"),
            r#"parsing time "Foo 2 2024" as "Jan 2 2006": cannot parse "Foo 2 2024" as "Jan""#
        );
        assert_eq!(
            e("15:04", "25:00"),
            r#"parsing time "25:00": hour out of range"#
        );
        assert_eq!(
            e("2006-01-02 15:04", "2024-01-02"),
            r#"parsing time "2024-01-02" as "2006-01-02 15:04": cannot parse "" as "15""#
        );
        assert_eq!(
            e("15:04 -07:00", "10:00 +0200"),
            r#"parsing time "10:00 +0200" as "15:04 -07:00": cannot parse "+0200" as "-07:00""#
        );
        assert_eq!(
            e("2006-01-02", "2023-02-29"),
            r#"parsing time "2023-02-29": day out of range"#
        );
        // helm: toDate "2006 002" "2024 060" → 2024-02-29; "2006 __2" "2023   9" → 2023-01-09
        assert_eq!(
            show(utc_parse("2006 002", "2024 060").unwrap()),
            "2024-02-29 00:00:00 +0000 UTC"
        );
        assert_eq!(
            show(utc_parse("2006 __2", "2023   9").unwrap()),
            "2023-01-09 00:00:00 +0000 UTC"
        );
        assert_eq!(
            show(utc_parse("Jan _2 3:04PM", "Feb  3 7:54PM").unwrap()),
            "0000-02-03 19:54:00 +0000 UTC"
        );
        // An unknown zone name keeps the wall clock as UTC, even GMT+2
        // (helm: toDate "15:04 MST" "10:00 GMT+2" shown in UTC → 10:00 UTC)
        let g = utc_parse("15:04 MST", "10:00 GMT+2").unwrap();
        assert_eq!(fmt_utc(&g, "15:04 MST"), "10:00 UTC");
        // toDate swallows the error: Go's zero time (helm: 0001-01-01 00:00:00 +0000 UTC, unixEpoch -62135596800)
        let z = run("toDate", &[s("2006-01-02"), s("nope")]).unwrap();
        assert_eq!(gofmt::sprint(&z), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(out("unixEpoch", &[z]), "-62135596800");
    }

    #[test]
    fn date_modify() {
        let t = Value::Time(utc_parse("2006-01-02", "2024-03-05").unwrap());
        assert_eq!(
            out("dateModify", &[s("1h30m"), t.clone()]),
            "2024-03-05 01:30:00 +0000 UTC"
        );
        assert_eq!(
            out("dateModify", &[s("-48h"), t.clone()]),
            "2024-03-03 00:00:00 +0000 UTC"
        );
        assert_eq!(
            out("dateModify", &[s("bad"), t.clone()]),
            "2024-03-05 00:00:00 +0000 UTC"
        );
        assert_eq!(
            out("date_modify", &[s("1.5h"), t.clone()]),
            "2024-03-05 01:30:00 +0000 UTC"
        );
        assert_eq!(
            out("dateModify", &[s("1h1m1s1ms1us1ns"), t.clone()]),
            "2024-03-05 01:01:01.001001001 +0000 UTC"
        );
        assert_eq!(
            run("mustDateModify", &[s("bad"), t.clone()]).unwrap_err(),
            r#"time: invalid duration "bad""#
        );
        assert_eq!(
            run("mustDateModify", &[s("1x"), t]).unwrap_err(),
            r#"time: unknown unit "x" in duration "1x""#
        );
    }

    #[test]
    fn durations() {
        // helm: duration 90 → 0s (an int); "90" → 1m30s; int64 3661 → 1h1m1s; "-75" → -1m15s; "86400" → 24h0m0s; "1.5" → 0s
        assert_eq!(out("duration", &[Value::Int(90)]), "0s");
        assert_eq!(out("duration", &[s("90")]), "1m30s");
        assert_eq!(out("duration", &[Value::Int64(3661)]), "1h1m1s");
        assert_eq!(out("duration", &[s("0")]), "0s");
        assert_eq!(out("duration", &[Value::Number("3".into())]), "0s");
        assert_eq!(out("duration", &[s("-75")]), "-1m15s");
        assert_eq!(out("duration", &[s("86400")]), "24h0m0s");
        assert_eq!(out("duration", &[s("1.5")]), "0s");
        // helm: durationRound "2h10m" "90s" "-3h" "400h" "9000h" int64(5e9) "1s" 100 "24h" "bad" → 2h 1m 3h 16d 1y 5s 0s 0s 24h 0s
        let dr: Vec<String> = [
            s("2h10m"),
            s("90s"),
            s("-3h"),
            s("400h"),
            s("9000h"),
            Value::Int64(5_000_000_000),
            s("1s"),
            Value::Int(100),
            s("24h"),
            s("bad"),
        ]
        .iter()
        .map(|v| out("durationRound", std::slice::from_ref(v)))
        .collect();
        assert_eq!(
            dr,
            ["2h", "1m", "3h", "16d", "1y", "5s", "0s", "0s", "24h", "0s"]
        );
        assert_eq!(format_duration(1_500_000), "1.5ms");
        assert_eq!(format_duration(1_500), "1.5\u{b5}s");
        assert_eq!(format_duration(7), "7ns");
        assert_eq!(format_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_duration(1_000_000_001), "1.000000001s");
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(
            parse_duration("1"),
            Err(r#"time: missing unit in duration "1""#.into())
        );
        assert_eq!(
            parse_duration(""),
            Err(r#"time: invalid duration """#.into())
        );
        assert_eq!(parse_duration("+.5m"), Ok(30_000_000_000));
        assert_eq!(out("duration", &[s("+5")]), "5s");
        assert_eq!(out("durationRound", &[s("1500ms")]), "1s");
        assert_eq!(out("durationRound", &[s("720h1s")]), "1mo");
        assert_eq!(round_duration(1_500_000_000, 1_000_000_000), 2_000_000_000);
        assert_eq!(
            round_duration(-1_400_000_000, 1_000_000_000),
            -1_000_000_000
        );
    }
}
