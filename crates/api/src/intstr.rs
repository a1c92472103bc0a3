//! `IntOrString` fields: `maxSurge: 1` or `maxSurge: "25%"`.
//!
//! Rollouts, disruption budgets and DaemonSets all take a count that may be
//! a percentage of some total; upstream resolves them with
//! `GetScaledValueFromIntOrPercent`, rounding up or down depending on
//! which side is the safe one.

use serde_json::Value;

/// `n`, or `"n%"` of `total` rounded up or down; `None` when `v` is
/// neither.
pub fn scaled(v: &Value, total: i64, round_up: bool) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => {
                let p = p.parse::<i64>().ok()?;
                Some(if round_up {
                    (p * total + 99).div_euclid(100)
                } else {
                    (p * total).div_euclid(100)
                })
            }
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// [`scaled`], with `default` (itself an int or a percentage) for a
/// missing or malformed value.
pub fn scaled_or(v: &Value, default: &str, total: i64, round_up: bool) -> i64 {
    scaled(v, total, round_up)
        .or_else(|| scaled(&Value::String(default.into()), total, round_up))
        .unwrap_or(0)
}

/// The percentage of a `"n%"` string.
pub fn percent(v: &Value) -> Option<i64> {
    v.as_str()?.strip_suffix('%')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        assert_eq!(scaled_or(&Value::Null, "25%", 3, true), 1);
        assert_eq!(scaled_or(&Value::Null, "25%", 3, false), 0);
        assert_eq!(scaled_or(&json!(2), "25%", 3, false), 2);
        assert_eq!(scaled_or(&json!("50%"), "25%", 10, false), 5);
        assert_eq!(scaled(&json!("x%"), 10, true), None);
        assert_eq!(percent(&json!("30%")), Some(30));
    }
}
