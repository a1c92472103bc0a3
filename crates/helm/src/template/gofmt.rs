//! Go's `fmt` as templates see it: how `{{ . }}` prints a value (`%v`),
//! `print`, `println` and `printf` with Go's verbs, and `strconv.Quote`.
//!
//! Output must match Go byte for byte, so the odd corners are here too:
//! floats print in `%g` style with the shortest digits (`1e+06`, `0.1`),
//! maps as `map[a:1 b:2]`, a verb that does not fit its operand as
//! `%!d(string=x)`, a missing operand as `%!d(MISSING)`.

use super::value::Value;

/// `fmt.Sprint(v)` of one value (`%v`).
pub fn sprint(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 'v', &Spec::default(), 0);
    out
}

/// `fmt.Sprint(args...)`: spaces between operands when neither is a string.
pub fn sprint_all(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&sprint(a));
    }
    out
}

/// `fmt.Sprintln(args...)`: always spaces, then a newline.
pub fn sprintln_all(args: &[Value]) -> String {
    let mut out = args.iter().map(sprint).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, closely enough: graphic characters and the
/// ASCII space.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Unassigned, private-use and format characters Go treats as not printable.
    !matches!(u, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff)
}

/// Flags, width and precision of one verb.
#[derive(Default, Clone)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        loop {
            match chars.peek() {
                Some('-') => spec.minus = true,
                Some('+') => spec.plus = true,
                Some('#') => spec.sharp = true,
                Some(' ') => spec.space = true,
                Some('0') => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let mut piece = String::new();
        write_value(&mut piece, arg, verb, &spec, 0);
        pad(&mut out, &piece, &spec, verb, arg);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| {
                if a.is_nil() {
                    "<nil>".to_string()
                } else {
                    format!("{}={}", a.type_name(), sprint(a))
                }
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn pad(out: &mut String, piece: &str, spec: &Spec, verb: char, arg: &Value) {
    let len = piece.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(piece);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(piece);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && is_numeric(arg) && verb != 's' && verb != 'v'
        || spec.zero && matches!(verb, 'd' | 'f' | 'x' | 'e' | 'g') && is_numeric(arg)
    {
        // zero padding goes after the sign
        let (sign, digits) = match piece.strip_prefix(['-', '+']) {
            Some(rest) => (&piece[..1], rest),
            None => ("", piece),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(piece);
    }
}

fn is_numeric(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Int64(_) | Value::Float(_))
}

fn bad_verb(out: &mut String, verb: char, v: &Value) {
    if v.is_nil() {
        out.push_str(&format!("%!{verb}(<nil>)"));
    } else {
        out.push_str(&format!("%!{verb}({}={})", v.type_name(), sprint(v)));
    }
}

fn write_value(out: &mut String, v: &Value, verb: char, spec: &Spec, depth: usize) {
    if verb == 'T' {
        out.push_str(&v.type_name());
        return;
    }
    match v {
        Value::Nil => match verb {
            // a nil argument prints only with %v, other verbs are bad
            // (%!s(<nil>)); a nil inside a list or map prints with any verb
            _ if verb == 'v' || depth > 0 => out.push_str("<nil>"),
            _ => bad_verb(out, verb, v),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => out.push_str(if *b { "true" } else { "false" }),
            _ => bad_verb(out, verb, v),
        },
        Value::Int(i) | Value::Int64(i) => write_int(out, *i, verb, spec, v),
        Value::Float(f) => write_float(out, *f, verb, spec, v),
        Value::String(s) | Value::Number(s) => write_str(out, s, verb, spec, v),
        Value::Bytes(b) => match verb {
            's' => out.push_str(&String::from_utf8_lossy(b)),
            'q' => out.push_str(&quote(&String::from_utf8_lossy(b))),
            'x' => b.iter().for_each(|c| out.push_str(&format!("{c:02x}"))),
            _ => {
                out.push('[');
                for (i, c) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    write_int(out, *c as i64, verb, spec, &Value::Int(*c as i64));
                }
                out.push(']');
            }
        },
        Value::List(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item, verb, spec, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m, _) => {
            out.push_str("map[");
            for (i, (k, item)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_str(out, k, verb, spec, &Value::str(k.as_str()));
                out.push(':');
                write_value(out, item, verb, spec, depth + 1);
            }
            out.push(']');
        }
        Value::Time(t) => {
            let s = go_time_string(t);
            write_str(out, &s, verb, spec, v)
        }
        Value::Object(o) => out.push_str(&o.display()),
    }
}

/// Go's `time.Time.String()`.
pub fn go_time_string(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    let frac = t.timestamp_subsec_nanos();
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    let off = t.offset().local_minus_utc();
    let zone = if off == 0 {
        "UTC".to_string()
    } else {
        t.format("%z").to_string()
    };
    s.push_str(&format!(" {} {}", t.format("%z"), zone));
    s
}

fn write_str(out: &mut String, s: &str, verb: char, spec: &Spec, v: &Value) {
    match verb {
        'v' | 's' => match spec.prec {
            Some(p) => out.extend(s.chars().take(p)),
            None => out.push_str(s),
        },
        'q' => out.push_str(&quote(s)),
        'x' => s.bytes().for_each(|c| out.push_str(&format!("{c:02x}"))),
        'X' => s.bytes().for_each(|c| out.push_str(&format!("{c:02X}"))),
        _ => bad_verb(out, verb, v),
    }
}

fn write_int(out: &mut String, i: i64, verb: char, spec: &Spec, v: &Value) {
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let u = i.unsigned_abs();
    let body = match verb {
        'v' | 'd' => u.to_string(),
        'x' => format!("{}{u:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{u:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{u:o}", if spec.sharp { "0" } else { "" }),
        'b' => format!("{u:b}"),
        'c' => {
            out.push(char::from_u32(i as u32).unwrap_or('\u{fffd}'));
            return;
        }
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            out.push('\'');
            out.push(c);
            out.push('\'');
            return;
        }
        'e' | 'f' | 'g' | 'E' | 'F' | 'G' | 's' | 't' => return bad_verb(out, verb, v),
        _ => return bad_verb(out, verb, v),
    };
    let body = match spec.prec {
        Some(p) if body.len() < p => format!("{}{body}", "0".repeat(p - body.len())),
        _ => body,
    };
    out.push_str(sign);
    out.push_str(&body);
}

/// The shortest decimal digits of `f` (no sign) and the position of the
/// decimal point, like Go's `strconv` shortest mode.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-trip digits: "1.2345e6".
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    if digits == "0" {
        return ("0".into(), 1);
    }
    (digits, exp + 1)
}

/// Go's `strconv.FormatFloat(f, fmt, prec, 64)`.
pub fn format_float(f: f64, fmt: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative() && f != 0.0;
    let sign = if neg { "-" } else { "" };
    match fmt {
        'f' | 'F' => {
            let p = prec.unwrap_or_else(|| {
                let (d, dp) = shortest_digits(f);
                (d.len() as i32 - dp).max(0) as usize
            });
            format!("{sign}{:.*}", p, f.abs())
        }
        'e' | 'E' => {
            let s = match prec {
                Some(p) => format!("{:.*e}", p, f.abs()),
                None => format!("{:e}", f.abs()),
            };
            format!("{sign}{}", go_exponent(&s, fmt == 'E'))
        }
        _ => {
            // 'g'
            let (digits, dp) = match prec {
                None => shortest_digits(f),
                Some(p) => {
                    let p = p.max(1);
                    let s = format!("{:.*e}", p - 1, f.abs());
                    let (mant, exp) = s.split_once('e').unwrap();
                    let mut d: String = mant.chars().filter(|c| *c != '.').collect();
                    while d.len() > 1 && d.ends_with('0') {
                        d.pop();
                    }
                    (d, exp.parse::<i32>().unwrap() + 1)
                }
            };
            let eprec = match prec {
                None => 6,
                Some(p) => {
                    let p = p.max(1) as i32;
                    if p > digits.len() as i32 && digits.len() as i32 >= dp {
                        digits.len() as i32
                    } else {
                        p
                    }
                }
            };
            layout_g(sign, &digits, dp, eprec)
        }
    }
}

/// Go's `%g` layout of decimal `digits` with the point after `dp` of them:
/// `%e` form when the exponent is below -4 or at least `eprec`, else plain.
pub(crate) fn layout_g(sign: &str, digits: &str, dp: i32, eprec: i32) -> String {
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let e = if exp < 0 {
            format!("-{:02}", -exp)
        } else {
            format!("+{exp:02}")
        };
        format!("{sign}{m}e{e}")
    } else if dp <= 0 {
        format!("{sign}0.{}{}", "0".repeat((-dp) as usize), digits)
    } else if dp as usize >= digits.len() {
        format!("{sign}{}{}", digits, "0".repeat(dp as usize - digits.len()))
    } else {
        format!(
            "{sign}{}.{}",
            &digits[..dp as usize],
            &digits[dp as usize..]
        )
    }
}

/// Rust's `1.5e6` → Go's `1.5e+06`.
fn go_exponent(s: &str, upper: bool) -> String {
    let (m, e) = s.split_once('e').unwrap_or((s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let letter = if upper { 'E' } else { 'e' };
    if e < 0 {
        format!("{m}{letter}-{:02}", -e)
    } else {
        format!("{m}{letter}+{e:02}")
    }
}

fn write_float(out: &mut String, f: f64, verb: char, spec: &Spec, v: &Value) {
    let s = match verb {
        'v' | 'g' => format_float(f, 'g', spec.prec),
        'G' => format_float(f, 'g', spec.prec).to_uppercase(),
        'f' | 'F' => format_float(f, 'f', Some(spec.prec.unwrap_or(6))),
        'e' | 'E' => format_float(f, verb, Some(spec.prec.unwrap_or(6))),
        _ => return bad_verb(out, verb, v),
    };
    if spec.plus && !s.starts_with('-') {
        out.push('+');
    }
    out.push_str(&s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(format_float(1e6, 'g', None), "1e+06");
        assert_eq!(format_float(100000.0, 'g', None), "100000");
        assert_eq!(format_float(1.5, 'g', None), "1.5");
        assert_eq!(format_float(0.0001, 'g', None), "0.0001");
        assert_eq!(format_float(0.00001, 'g', None), "1e-05");
        assert_eq!(format_float(1234567.0, 'g', None), "1.234567e+06");
        assert_eq!(format_float(-2.25, 'g', None), "-2.25");
        assert_eq!(format_float(1.23456, 'f', Some(2)), "1.23");
    }

    #[test]
    fn printf_matches_go() {
        let s = |x: &str| Value::str(x);
        assert_eq!(sprintf("%s-%d", &[s("a"), Value::Int(3)]), "a-3");
        assert_eq!(sprintf("%d", &[s("a")]), "%!d(string=a)");
        assert_eq!(sprintf("%d %s", &[Value::Int(1)]), "1 %!s(MISSING)");
        assert_eq!(
            sprintf("%05d|%-4s|%4s", &[Value::Int(42), s("ab"), s("ab")]),
            "00042|ab  |  ab"
        );
        assert_eq!(sprintf("%q", &[s("a\"b\n")]), "\"a\\\"b\\n\"");
        assert_eq!(
            sprintf("%v", &[Value::list(vec![Value::Int(1), s("x")])]),
            "[1 x]"
        );
        assert_eq!(sprintf("x", &[Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(sprintf("%.2f", &[Value::Float(2.0)]), "2.00");
    }
}
