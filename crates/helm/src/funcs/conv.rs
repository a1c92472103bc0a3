//! The conversions Sprig applies to `interface {}` arguments: spf13/cast's
//! `ToInt64`, `ToFloat64`, `ToString` and Sprig's own `strval`/`strslice`.
//! They never fail; what does not convert becomes zero (`add "x" 1` is 1),
//! as in Go.

use crate::template::gofmt;
use crate::template::{ListKind, Value};

/// Go's `strconv.ParseInt(s, 0, 64)`: base prefixes `0x`, `0o`, `0b`,
/// leading-zero octal, and `_` separators with a prefix.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    // Go allows `_` between digits when the base comes from the text
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// cast's `trimZeroDecimal`: "10.0" → "10", "10.5" stays.
fn trim_zero_decimal(s: &str) -> &str {
    match s.split_once('.') {
        Some((int, frac))
            if !int.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') =>
        {
            int
        }
        _ => s,
    }
}

/// spf13/cast `ToInt64`.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => *b as i64,
        Value::String(s) | Value::Number(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// spf13/cast `ToFloat64`.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => *b as i64 as f64,
        Value::String(s) | Value::Number(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// spf13/cast `ToString`: floats in `%f`-shortest style (`1000000`, not `1e+06`).
pub fn cast_to_string(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => gofmt::format_float(*f, 'f', None),
        Value::String(s) | Value::Number(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// Sprig's `strval`: strings as they are, `[]byte` as text, anything else
/// with `%v` (nil is `<nil>`).
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) | Value::Number(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        v => gofmt::sprint(v),
    }
}

/// Sprig's `strslice`: a list's items as strings (nil items dropped), a
/// single value as a one-item list, nil as an empty list.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items, ListKind::Str) => items.iter().map(strval).collect(),
        Value::List(items, _) => items.iter().filter(|i| !i.is_nil()).map(strval).collect(),
        Value::Nil => vec![],
        v => vec![strval(v)],
    }
}

/// The items of a slice-kinded value (`None` for anything else), for
/// Sprig's list functions that take `interface {}` and reflect on it.
pub fn list_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(items, _) => Some(items.as_ref().clone()),
        Value::Bytes(b) => Some(b.iter().map(|c| Value::Int(*c as i64)).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_as_go_does() {
        assert_eq!(to_int64(&Value::str("0x10")), 16);
        assert_eq!(to_int64(&Value::str("010")), 8);
        assert_eq!(to_int64(&Value::str("10.0")), 10);
        assert_eq!(to_int64(&Value::str("10.5")), 0);
        assert_eq!(to_int64(&Value::Float(2.9)), 2);
        assert_eq!(cast_to_string(&Value::Float(1e6)), "1000000");
        assert_eq!(strval(&Value::Nil), "<nil>");
    }
}
