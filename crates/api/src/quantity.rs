//! Resource quantities: `100m`, `0.5`, `64Mi`, `1G`, `2e3`.
//!
//! Kubernetes writes amounts of CPU and memory as strings with a suffix:
//! decimal SI (`k`, `M`, `G`, `T`, `P`, `E`, and `m`, `u`, `n` for
//! thousandths, millionths and billionths),
//! binary (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), or an exponent (`e3`).
//! The scheduler and kubelet need numbers: CPU in millicores, memory in
//! bytes.

use serde_json::Value;

/// The quantity as a number of base units (cores, bytes), or `None` if
/// it is not a valid quantity.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    if q.is_empty() {
        return None;
    }
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        // nanos and micros: metrics-server writes CPU as `123456789n`.
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * factor)
}

/// A quantity from JSON (a string, or a bare number).
pub fn of(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// CPU in millicores (`"250m"` → 250, `"1"` → 1000), rounded up.
pub fn cpu_millis(v: &Value) -> Option<u64> {
    of(v).map(|c| (c * 1000.0 - 1e-9).ceil().max(0.0) as u64)
}

/// Memory (or any count) in whole units, rounded up.
pub fn bytes(v: &Value) -> Option<u64> {
    of(v).map(|b| (b - 1e-9).ceil().max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suffixes() {
        assert_eq!(cpu_millis(&json!("100m")), Some(100));
        assert_eq!(cpu_millis(&json!("250000000n")), Some(250));
        assert_eq!(cpu_millis(&json!("1500u")), Some(2));
        assert_eq!(cpu_millis(&json!("0.5")), Some(500));
        assert_eq!(cpu_millis(&json!(2)), Some(2000));
        assert_eq!(bytes(&json!("64Mi")), Some(64 * 1024 * 1024));
        assert_eq!(bytes(&json!("1G")), Some(1_000_000_000));
        assert_eq!(bytes(&json!("129e6")), Some(129_000_000));
        assert_eq!(bytes(&json!("1Ki")), Some(1024));
        assert_eq!(parse("12x"), None);
        assert_eq!(parse(""), None);
    }
}
