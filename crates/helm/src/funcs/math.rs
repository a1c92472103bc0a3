//! Sprig's math: integer arithmetic (`add`, `add1`, `sub`, `mul`, `div`,
//! `mod`, `max`/`biggest`, `min`), float arithmetic (`addf`, `add1f`,
//! `subf`, `mulf`, `divf`, `maxf`, `minf`, `floor`, `ceil`, `round`),
//! `randInt`, and the integer sequences `until`, `untilStep`, `seq`.
//!
//! Arguments are `interface {}` converted with spf13/cast, so anything
//! goes and what does not convert is 0 (`add .Values.ratio 1` is 1: the
//! `json.Number` "1.5" is not an integer). Integer results are `int64`
//! and wrap on overflow as Go's do; dividing by zero is Go's runtime
//! panic, which helm reports as an error.
//!
//! The `…f` functions compute in decimal (shopspring/decimal): each
//! operand becomes the shortest decimal that round-trips its float, the
//! operation is exact (division: 16 decimal places, half away from zero),
//! and the result is rounded once back to a float — so `addf 0.1 0.2` is
//! 0.3, not 0.30000000000000004.

use std::cmp::Ordering;

use super::conv::{to_float64, to_int64};
use super::{Funcs, Ty};
use crate::template::{ListKind, Value};

pub fn register(f: &mut Funcs) {
    f.add_variadic("add", &[], Ty::Any, |_, a| {
        Ok(Value::Int64(
            a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
        ))
    });
    f.add("add1", &[Ty::Any], |_, a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
    });
    f.add("sub", &[Ty::Any, Ty::Any], |_, a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    f.add_variadic("mul", &[Ty::Any], Ty::Any, |_, a| {
        Ok(Value::Int64(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |acc, v| acc.wrapping_mul(to_int64(v))),
        ))
    });
    f.add("div", &[Ty::Any, Ty::Any], |_, a| {
        let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
        if y == 0 {
            return Err(DIVIDE_BY_ZERO.into());
        }
        Ok(Value::Int64(x.wrapping_div(y)))
    });
    f.add("mod", &[Ty::Any, Ty::Any], |_, a| {
        let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
        if y == 0 {
            return Err(DIVIDE_BY_ZERO.into());
        }
        Ok(Value::Int64(x.wrapping_rem(y)))
    });
    for name in ["max", "biggest"] {
        f.add_variadic(name, &[Ty::Any], Ty::Any, |_, a| {
            Ok(Value::Int64(
                a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::max),
            ))
        });
    }
    f.add_variadic("min", &[Ty::Any], Ty::Any, |_, a| {
        Ok(Value::Int64(
            a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::min),
        ))
    });
    f.add_variadic("maxf", &[Ty::Any], Ty::Any, |_, a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(to_float64(&a[0]), go_max),
        ))
    });
    f.add_variadic("minf", &[Ty::Any], Ty::Any, |_, a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(to_float64(&a[0]), go_min),
        ))
    });
    f.add("floor", &[Ty::Any], |_, a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    f.add("ceil", &[Ty::Any], |_, a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    f.add_variadic("round", &[Ty::Any, Ty::Int], Ty::Float, |_, a| {
        let round_on = a.get(2).map_or(0.5, to_float64);
        Ok(Value::Float(round(
            to_float64(&a[0]),
            to_int64(&a[1]),
            round_on,
        )))
    });

    f.add_variadic("addf", &[], Ty::Any, |_, a| {
        decimal_op(&Value::Float(0.0), a, Dec::add)
    });
    f.add("add1f", &[Ty::Any], |_, a| {
        decimal_op(&a[0], &[Value::Int(1)], Dec::add)
    });
    f.add_variadic("subf", &[Ty::Any], Ty::Any, |_, a| {
        decimal_op(&a[0], &a[1..], Dec::sub)
    });
    f.add_variadic("mulf", &[Ty::Any], Ty::Any, |_, a| {
        decimal_op(&a[0], &a[1..], Dec::mul)
    });
    f.add_variadic("divf", &[Ty::Any], Ty::Any, |_, a| {
        decimal_op(&a[0], &a[1..], Dec::div)
    });

    f.add("randInt", &[Ty::Int, Ty::Int], |_, a| {
        use rand::Rng;
        let (lo, hi) = (to_int64(&a[0]), to_int64(&a[1]));
        let n = hi.wrapping_sub(lo);
        if n <= 0 {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(rand::rng().random_range(0..n).wrapping_add(lo)))
    });

    f.add("until", &[Ty::Int], |_, a| {
        let n = to_int64(&a[0]);
        Ok(int_list(until_step(0, n, if n < 0 { -1 } else { 1 })))
    });
    f.add("untilStep", &[Ty::Int, Ty::Int, Ty::Int], |_, a| {
        Ok(int_list(until_step(
            to_int64(&a[0]),
            to_int64(&a[1]),
            to_int64(&a[2]),
        )))
    });
    f.add_variadic("seq", &[], Ty::Int, |_, a| {
        let p: Vec<i64> = a.iter().map(to_int64).collect();
        Ok(Value::str(seq(&p)))
    });
}

const DIVIDE_BY_ZERO: &str = "runtime error: integer divide by zero";

fn int_list(v: Vec<i64>) -> Value {
    Value::List(
        std::rc::Rc::new(v.into_iter().map(Value::Int).collect()),
        ListKind::Int,
    )
}

/// Sprig's `untilStep start stop step`: counts towards `stop` (excluded);
/// a step going the wrong way (or 0) gives an empty list.
pub fn until_step(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut v = Vec::new();
    let mut i = start;
    if stop < start {
        if step >= 0 {
            return v;
        }
        while i > stop {
            v.push(i);
            i = match i.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        return v;
    }
    if step <= 0 {
        return v;
    }
    while i < stop {
        v.push(i);
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    v
}

/// Sprig's `seq` (like the Unix command): `seq end` counts from 1,
/// `seq start end`, `seq start step end`; the numbers joined by spaces.
fn seq(p: &[i64]) -> String {
    let list = match *p {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end.wrapping_add(inc), inc)
        }
        [start, end] => {
            let inc = if end < start { -1 } else { 1 };
            until_step(start, end.wrapping_add(inc), inc)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return String::new();
                }
            }
            until_step(start, end.wrapping_add(inc), step)
        }
        _ => return String::new(),
    };
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Go's `math.Max` (NaN wins, +0 beats -0).
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min` (NaN wins, -0 beats +0).
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Sprig's `round value places [roundOn]`: scales by 10^places, takes the
/// ceiling when the fraction reaches `roundOn` (0.5), else the floor.
fn round(val: f64, places: i64, round_on: f64) -> f64 {
    let pow = go_pow10(places);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

/// Go's `math.Pow(10, y)` for an integer `y`, by Go's own algorithm
/// (repeated squaring of the mantissa), so that results agree bit for bit.
fn go_pow10(y: i64) -> f64 {
    if y == 0 {
        return 1.0;
    }
    let (mut a1, mut ae) = (1.0f64, 0i64);
    let (mut x1, mut xe) = (0.625f64, 4i64); // frexp(10)
    let mut i = y.unsigned_abs();
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

fn ldexp(mut f: f64, mut e: i64) -> f64 {
    while e > 1000 {
        f *= 2f64.powi(1000);
        e -= 1000;
        if f.is_infinite() {
            return f;
        }
    }
    while e < -1000 {
        f *= 2f64.powi(-1000);
        e += 1000;
        if f == 0.0 {
            return f;
        }
    }
    f * 2f64.powi(e as i32)
}

/// Sprig's `execDecimalOp`: folds `rest` into `first` in decimal.
fn decimal_op(
    first: &Value,
    rest: &[Value],
    op: fn(&Dec, &Dec) -> Result<Dec, String>,
) -> Result<Value, String> {
    let mut acc = Dec::from_f64(to_float64(first))?;
    for v in rest {
        acc = op(&acc, &Dec::from_f64(to_float64(v))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

/// An arbitrary-precision decimal: `(-1)^neg × digits × 10^exp`, digits
/// little-endian base 10 without leading (high) zeros; zero is empty.
#[derive(Clone, Debug)]
struct Dec {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Dec {
    /// shopspring's `NewFromFloat`: the shortest decimal that round-trips.
    fn from_f64(f: f64) -> Result<Dec, String> {
        if !f.is_finite() {
            let shown = if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return Err(format!("Cannot create a Decimal from {shown}"));
        }
        if f == 0.0 {
            return Ok(Dec {
                neg: false,
                digits: vec![],
                exp: 0,
            });
        }
        let s = format!("{:e}", f.abs());
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let ds: Vec<u8> = mant
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let exp = e.parse::<i64>().unwrap_or(0) - (ds.len() as i64 - 1);
        let mut d = Dec {
            neg: f < 0.0,
            digits: ds.into_iter().rev().collect(),
            exp,
        };
        d.trim();
        Ok(d)
    }

    /// The nearest float (one correct rounding, as `big.Rat.Float64`).
    fn to_f64(&self) -> f64 {
        if self.digits.is_empty() {
            return 0.0;
        }
        let ds: String = self
            .digits
            .iter()
            .rev()
            .map(|d| (b'0' + d) as char)
            .collect();
        let sign = if self.neg { "-" } else { "" };
        format!("{sign}{ds}e{}", self.exp).parse().unwrap_or(0.0)
    }

    fn trim(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            self.neg = false;
        }
    }

    /// Both magnitudes on the smaller exponent.
    fn aligned(&self, o: &Dec) -> (Vec<u8>, Vec<u8>, i64) {
        let exp = self.exp.min(o.exp);
        (
            shift(&self.digits, self.exp - exp),
            shift(&o.digits, o.exp - exp),
            exp,
        )
    }

    fn add(&self, o: &Dec) -> Result<Dec, String> {
        let (a, b, exp) = self.aligned(o);
        let mut d = if self.neg == o.neg {
            Dec {
                neg: self.neg,
                digits: mag_add(&a, &b),
                exp,
            }
        } else {
            match mag_cmp(&a, &b) {
                Ordering::Less => Dec {
                    neg: o.neg,
                    digits: mag_sub(&b, &a),
                    exp,
                },
                _ => Dec {
                    neg: self.neg,
                    digits: mag_sub(&a, &b),
                    exp,
                },
            }
        };
        d.trim();
        Ok(d)
    }

    fn sub(&self, o: &Dec) -> Result<Dec, String> {
        let mut neg = o.clone();
        neg.neg = !neg.neg && !neg.digits.is_empty();
        self.add(&neg)
    }

    fn mul(&self, o: &Dec) -> Result<Dec, String> {
        let mut d = Dec {
            neg: self.neg != o.neg,
            digits: mag_mul(&self.digits, &o.digits),
            exp: self.exp + o.exp,
        };
        d.trim();
        Ok(d)
    }

    /// shopspring's `Div`: 16 decimal places, the last rounded half away
    /// from zero.
    fn div(&self, o: &Dec) -> Result<Dec, String> {
        const PRECISION: i64 = 16;
        if o.digits.is_empty() {
            return Err("decimal division by 0".into());
        }
        let k = self.exp - o.exp + PRECISION;
        let (num, den) = if k >= 0 {
            (shift(&self.digits, k), o.digits.clone())
        } else {
            (self.digits.clone(), shift(&o.digits, -k))
        };
        let (mut q, r) = mag_divmod(&num, &den);
        if mag_cmp(&mag_add(&r, &r), &den) != Ordering::Less {
            q = mag_add(&q, &[1]);
        }
        let mut d = Dec {
            neg: self.neg != o.neg,
            digits: q,
            exp: -PRECISION,
        };
        d.trim();
        Ok(d)
    }
}

/// `digits × 10^k`.
fn shift(digits: &[u8], k: i64) -> Vec<u8> {
    if digits.is_empty() {
        return vec![];
    }
    let mut v = vec![0u8; k as usize];
    v.extend_from_slice(digits);
    v
}

fn norm(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

fn mag_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (norm(a.to_vec()), norm(b.to_vec()));
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

fn mag_add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let s = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    norm(out)
}

/// `a - b` for `a >= b`.
fn mag_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for (i, x) in a.iter().enumerate() {
        let mut d = *x as i8 - b.get(i).copied().unwrap_or(0) as i8 - borrow;
        borrow = if d < 0 { 1 } else { 0 };
        if d < 0 {
            d += 10;
        }
        out.push(d as u8);
    }
    norm(out)
}

fn mag_mul(a: &[u8], b: &[u8]) -> Vec<u8> {
    if a.is_empty() || b.is_empty() {
        return vec![];
    }
    let mut acc = vec![0u32; a.len() + b.len()];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            acc[i + j] += (*x as u32) * (*y as u32);
        }
        // keep the cells small
        let mut carry = 0;
        for cell in acc.iter_mut() {
            let v = *cell + carry;
            *cell = v % 10;
            carry = v / 10;
        }
    }
    norm(acc.into_iter().map(|d| d as u8).collect())
}

/// Long division of magnitudes: (quotient, remainder).
fn mag_divmod(num: &[u8], den: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut q = vec![0u8; num.len()];
    let mut r: Vec<u8> = vec![];
    for i in (0..num.len()).rev() {
        r.insert(0, num[i]);
        r = norm(r);
        let mut d = 0;
        while mag_cmp(&r, den) != Ordering::Less {
            r = mag_sub(&r, den);
            d += 1;
        }
        q[i] = d;
    }
    (norm(q), r)
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
    fn i(x: i64) -> Value {
        Value::Int(x)
    }
    fn fl(x: f64) -> Value {
        Value::Float(x)
    }
    fn s(x: &str) -> Value {
        Value::str(x)
    }
    fn n(x: &str) -> Value {
        Value::Number(x.into())
    }

    #[test]
    fn integer_math_through_cast() {
        // helm: add 1 2 → 3 (int64); add → 0; add json(3) 1 → 4; add json(1.5) 1 → 1; add "3" "0x10" 1.9 → 20; add "2.0" nil true → 3
        assert_eq!(run("add", &[i(1), i(2)]).unwrap(), Value::Int64(3));
        assert_eq!(out("add", &[]), "0");
        assert_eq!(out("add", &[n("3"), i(1)]), "4");
        assert_eq!(out("add", &[n("1.5"), i(1)]), "1");
        assert_eq!(out("add", &[s("3"), s("0x10"), fl(1.9)]), "20");
        assert_eq!(out("add", &[s("2.0"), Value::Nil, Value::Bool(true)]), "3");
        assert_eq!(out("add1", &[s("x")]), "1");
        assert_eq!(out("sub", &[i(5), i(7)]), "-2");
        assert_eq!(out("mul", &[i(2), i(3), i(4)]), "24");
        assert_eq!(out("mul", &[i(5)]), "5");
        assert_eq!(out("div", &[i(-7), i(2)]), "-3");
        assert_eq!(out("mod", &[i(-7), i(3)]), "-1");
        assert_eq!(run("div", &[i(1), i(0)]).unwrap_err(), DIVIDE_BY_ZERO);
        assert_eq!(run("mod", &[i(1), i(0)]).unwrap_err(), DIVIDE_BY_ZERO);
        assert_eq!(out("add", &[i(i64::MAX), i(1)]), "-9223372036854775808");
        // helm: max 1 5 3 → 5; min 4 2 8 → 2; max "7" 2.5 → 7; min json(1.5) 2 → 0
        assert_eq!(out("max", &[i(1), i(5), i(3)]), "5");
        assert_eq!(out("min", &[i(4), i(2), i(8)]), "2");
        assert_eq!(out("biggest", &[s("7"), fl(2.5)]), "7");
        assert_eq!(out("min", &[n("1.5"), i(2)]), "0");
    }

    #[test]
    fn float_math_in_decimal() {
        // helm: addf 0.1 0.2 → 0.3; subf 1 0.9 → 0.1; mulf 1.1 3 → 3.3; divf 1 3 → 0.3333333333333333
        assert_eq!(out("addf", &[fl(0.1), fl(0.2)]), "0.3");
        assert_eq!(out("addf", &[]), "0");
        assert_eq!(out("add1f", &[n("1.5")]), "2.5");
        assert_eq!(out("subf", &[i(1), fl(0.9)]), "0.1");
        assert_eq!(out("mulf", &[fl(1.1), i(3)]), "3.3");
        assert_eq!(out("mulf", &[fl(0.1), fl(0.1), fl(0.1)]), "0.001");
        assert_eq!(out("divf", &[i(1), i(3)]), "0.3333333333333333");
        assert_eq!(out("divf", &[i(2), i(3)]), "0.6666666666666667");
        assert_eq!(out("divf", &[i(1), i(3), i(3)]), "0.1111111111111111");
        assert_eq!(out("divf", &[i(10), i(4)]), "2.5");
        assert_eq!(
            run("divf", &[i(1), i(0)]).unwrap_err(),
            "decimal division by 0"
        );
        // helm: mulf 1e10 1e10 → 1e+20; divf 1e20 3 → 3.333333333333333e+19; mulf 123456789 987654321 → 1.2193263111263526e+17
        assert_eq!(out("mulf", &[fl(1e10), fl(1e10)]), "1e+20");
        assert_eq!(out("divf", &[fl(1e20), i(3)]), "3.333333333333333e+19");
        assert_eq!(
            out("mulf", &[i(123456789), i(987654321)]),
            "1.2193263111263526e+17"
        );
        assert_eq!(out("divf", &[i(1), fl(1e10)]), "1e-10");
        assert_eq!(out("add1f", &[i(-1)]), "0");
        assert_eq!(out("subf", &[fl(-0.5), fl(-0.5)]), "0");
        // helm: maxf 1.5 2 "3.5" → 3.5; minf 1.5 -2 json(1.5) → -2
        assert_eq!(out("maxf", &[fl(1.5), i(2), s("3.5")]), "3.5");
        assert_eq!(out("minf", &[fl(1.5), i(-2), n("1.5")]), "-2");
    }

    #[test]
    fn floor_ceil_round() {
        // helm: floor 1.7 → 1; ceil 1.2 → 2; floor -1.5 → -2; ceil json(1.5) → 2; floor "2.9" → 2
        assert_eq!(out("floor", &[fl(1.7)]), "1");
        assert_eq!(out("ceil", &[fl(1.2)]), "2");
        assert_eq!(out("floor", &[fl(-1.5)]), "-2");
        assert_eq!(out("ceil", &[n("1.5")]), "2");
        assert_eq!(out("floor", &[s("2.9")]), "2");
        assert_eq!(run("floor", &[i(1)]).unwrap().type_name(), "float64");
        // helm: round 3.14159 2 → 3.14; 2.5 0 → 3; -2.5 0 → -3; 1.2345 3 → 1.235; 123.456 -1 → 120;
        // 1.55 1 → 1.6; 0.285 2 → 0.28; 1.005 2 → 1; 2.4 0 0.4 → 2 (2.4-2 is 0.39999999999999991)
        let r = |v: f64, p: i64| out("round", &[fl(v), i(p)]);
        assert_eq!(r(1.23456, 2), "1.23");
        assert_eq!(r(2.5, 0), "3");
        assert_eq!(r(-2.5, 0), "-3");
        assert_eq!(r(1.2345, 3), "1.235");
        assert_eq!(r(123.456, -1), "120");
        assert_eq!(r(1.55, 1), "1.6");
        assert_eq!(r(0.285, 2), "0.28");
        assert_eq!(r(1.005, 2), "1");
        assert_eq!(r(1e20, 2), "1e+20");
        assert_eq!(out("round", &[fl(2.4), i(0), fl(0.4)]), "2");
        assert_eq!(out("round", &[n("1.5"), i(0)]), "2");
        assert_eq!(go_pow10(2), 100.0);
        assert_eq!(go_pow10(-1), 0.1);
    }

    #[test]
    fn sequences() {
        assert_eq!(out("until", &[i(3)]), "[0 1 2]");
        assert_eq!(out("until", &[i(-3)]), "[0 -1 -2]");
        assert_eq!(run("until", &[i(2)]).unwrap().type_name(), "[]int");
        assert_eq!(out("untilStep", &[i(0), i(10), i(3)]), "[0 3 6 9]");
        assert_eq!(out("untilStep", &[i(10), i(0), i(-3)]), "[10 7 4 1]");
        assert_eq!(out("untilStep", &[i(0), i(10), i(0)]), "[]");
        // helm: seq 5|0|-2|2 5|5 2|0 2 10|10 -2 0|10 2 0|(none)|1 2 3 4
        let sq = |p: &[i64]| out("seq", &p.iter().map(|x| i(*x)).collect::<Vec<_>>());
        assert_eq!(sq(&[5]), "1 2 3 4 5");
        assert_eq!(sq(&[0]), "1 0");
        assert_eq!(sq(&[-2]), "1 0 -1 -2");
        assert_eq!(sq(&[2, 5]), "2 3 4 5");
        assert_eq!(sq(&[5, 2]), "5 4 3 2");
        assert_eq!(sq(&[0, 2, 10]), "0 2 4 6 8 10");
        assert_eq!(sq(&[10, -2, 0]), "10 8 6 4 2 0");
        assert_eq!(sq(&[10, 2, 0]), "");
        assert_eq!(sq(&[]), "");
        assert_eq!(sq(&[1, 2, 3, 4]), "");
    }

    #[test]
    fn rand_int() {
        assert_eq!(out("randInt", &[i(5), i(6)]), "5");
        assert_eq!(
            run("randInt", &[i(5), i(5)]).unwrap_err(),
            "invalid argument to Intn"
        );
    }
}
