//! Sprig's conversions, defaults and reflection: `atoi`, `int`, `int64`,
//! `float64`, `toDecimal`; `default`, `empty`, `coalesce`, `all`, `any`,
//! `ternary`; `typeOf`, `typeIs`, `typeIsLike`, `kindOf`, `kindIs`,
//! `deepEqual`.
//!
//! Two helpers here are Go's reflection rules that other families share:
//! [`empty`] (Sprig's notion of "empty": zero numbers, `false`, nil, and
//! empty strings, slices and maps — a `json.Number` `0` from values.yaml is
//! a one-character *string*, so it is not empty) and [`deep_equal`]
//! (`reflect.DeepEqual`: the Go types must be identical, so `1` and
//! `int64 1` differ, as do `3` and a `json.Number` 3).

use std::rc::Rc;

use super::conv::{to_float64, to_int64};
use super::{Funcs, Ty};
use crate::template::{Value, gofmt};

pub fn register(f: &mut Funcs) {
    f.add("atoi", &[Ty::Str], |_, a| {
        Ok(Value::Int(atoi(a[0].as_str().unwrap_or(""))))
    });
    f.add("int", &[Ty::Any], |_, a| Ok(Value::Int(to_int64(&a[0]))));
    f.add("int64", &[Ty::Any], |_, a| {
        Ok(Value::Int64(to_int64(&a[0])))
    });
    f.add("float64", &[Ty::Any], |_, a| {
        Ok(Value::Float(to_float64(&a[0])))
    });
    f.add("toDecimal", &[Ty::Any], |_, a| {
        Ok(Value::Int64(to_decimal(&a[0])))
    });

    f.add_variadic("default", &[Ty::Any], Ty::Any, |_, a| {
        Ok(match a.get(1) {
            Some(given) if !empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    });
    f.add("empty", &[Ty::Any], |_, a| Ok(Value::Bool(empty(&a[0]))));
    f.add_variadic("coalesce", &[], Ty::Any, |_, a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
    });
    f.add_variadic("all", &[], Ty::Any, |_, a| {
        Ok(Value::Bool(a.iter().all(|v| !empty(v))))
    });
    f.add_variadic("any", &[], Ty::Any, |_, a| {
        Ok(Value::Bool(a.iter().any(|v| !empty(v))))
    });
    f.add("ternary", &[Ty::Any, Ty::Any, Ty::Bool], |_, a| {
        Ok(if a[2].truth() {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });

    f.add("typeOf", &[Ty::Any], |_, a| {
        Ok(Value::str(a[0].type_name()))
    });
    f.add("typeIs", &[Ty::Str, Ty::Any], |_, a| {
        Ok(Value::Bool(
            a[0].as_str() == Some(a[1].type_name().as_str()),
        ))
    });
    f.add("typeIsLike", &[Ty::Str, Ty::Any], |_, a| {
        let target = a[0].as_str().unwrap_or("");
        let t = a[1].type_name();
        Ok(Value::Bool(t == target || t == format!("*{target}")))
    });
    f.add("kindOf", &[Ty::Any], |_, a| {
        Ok(Value::str(a[0].kind_name()))
    });
    f.add("kindIs", &[Ty::Str, Ty::Any], |_, a| {
        Ok(Value::Bool(a[0].as_str() == Some(a[1].kind_name())))
    });
    f.add("deepEqual", &[Ty::Any, Ty::Any], |_, a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
}

/// Go's `strconv.Atoi`, errors ignored (Sprig's `atoi`): decimal only, an
/// optional sign, nothing else (`"3.5"`, `" 4"` and `"0x10"` are 0).
pub fn atoi(s: &str) -> i64 {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    // On overflow Go's Atoi returns the clamped value with its error, and
    // Sprig ignores the error.
    s.parse::<i64>().unwrap_or(if s.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Sprig's `toDecimal`: the `%v` text of the value read as an octal number
/// (`strconv.ParseInt(s, 8, 64)`), 0 when it is not one.
fn to_decimal(v: &Value) -> i64 {
    let s = gofmt::sprint(v);
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return 0;
    }
    i64::from_str_radix(&format!("{}{digits}", if neg { "-" } else { "" }), 8).unwrap_or_default()
}

/// Sprig's `empty`: the value is Go's zero of its kind (nil, `false`, 0,
/// 0.0) or has length zero (strings, slices, maps). Structs (`time.Time`)
/// and non-nil pointers are never empty.
pub fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) | Value::Int64(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) | Value::Number(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l, _) => l.is_empty(),
        Value::Map(m, _) => m.borrow().is_empty(),
        Value::Time(_) | Value::Object(_) => false,
    }
}

/// Go's `reflect.DeepEqual`: identical types, then equal contents
/// (element by element for slices, key by key for maps).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) | (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x, kx), Value::List(y, ky)) => {
            kx == ky && x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x, kx), Value::Map(y, ky)) => {
            if kx != ky {
                return false;
            }
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Time(x), Value::Time(y)) => x == y && x.offset() == y.offset(),
        (Value::Object(x), Value::Object(y)) => {
            Rc::ptr_eq(x, y)
                || (x.type_name() == y.type_name()
                    && x.display() == y.display()
                    && match (x.field("Original"), y.field("Original")) {
                        (Some(p), Some(q)) => deep_equal(&p, &q),
                        (None, None) => false,
                        _ => false,
                    })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::{Funcs, call};

    fn run(name: &str, args: &[Value]) -> Result<Value, String> {
        call(&Funcs::helm(), name, args)
    }
    fn s(x: &str) -> Value {
        Value::str(x)
    }
    fn n(x: &str) -> Value {
        Value::Number(x.into())
    }
    fn out(v: Result<Value, String>) -> String {
        gofmt::sprint(&v.unwrap())
    }

    #[test]
    fn numbers_convert_as_cast_does() {
        // helm: {{ atoi "42" }} {{ atoi "3.5" }} {{ atoi " 4" }} {{ atoi "+7" }} {{ atoi "-0x10" }} → 42 0 0 7 0
        let r: Vec<String> = ["42", "3.5", " 4", "+7", "-0x10", ""]
            .iter()
            .map(|x| out(run("atoi", &[s(x)])))
            .collect();
        assert_eq!(r, ["42", "0", "0", "7", "0", "0"]);
        // helm: int "0x10" "010" "10.0" "10.5" 2.9 true nil json(3) json(1.5) → 16 8 10 0 2 1 0 3 0
        let ints = [
            s("0x10"),
            s("010"),
            s("10.0"),
            s("10.5"),
            Value::Float(2.9),
            Value::Bool(true),
        ];
        let r: Vec<String> = ints
            .iter()
            .map(|x| out(run("int", std::slice::from_ref(x))))
            .collect();
        assert_eq!(r, ["16", "8", "10", "0", "2", "1"]);
        assert_eq!(run("int", &[n("3")]).unwrap(), Value::Int(3));
        assert_eq!(run("int", &[n("1.5")]).unwrap(), Value::Int(0));
        assert_eq!(
            run("int64", &[Value::Float(-3.9)]).unwrap(),
            Value::Int64(-3)
        );
        assert_eq!(run("float64", &[s("1e3")]).unwrap(), Value::Float(1000.0));
        assert_eq!(run("float64", &[s("abc")]).unwrap(), Value::Float(0.0));
        // helm: toDecimal "0777" "777" 777 "8" json(3) "-17" → 511 511 511 0 3 -15
        let r: Vec<String> = [
            s("0777"),
            s("777"),
            Value::Int(777),
            s("8"),
            n("3"),
            s("-17"),
        ]
        .iter()
        .map(|x| out(run("toDecimal", std::slice::from_ref(x))))
        .collect();
        assert_eq!(r, ["511", "511", "511", "0", "3", "-15"]);
        assert_eq!(
            run("toDecimal", &[Value::Int(1)]).unwrap().type_name(),
            "int64"
        );
    }

    #[test]
    fn default_and_empty_follow_go_zero_values() {
        let d = s("d");
        // helm: default "d" 0 → d; default "d" .Values.zero (json.Number 0) → 0
        assert_eq!(out(run("default", &[d.clone(), Value::Int(0)])), "d");
        assert_eq!(out(run("default", &[d.clone(), n("0")])), "0");
        assert_eq!(out(run("default", &[d.clone(), Value::list(vec![])])), "d");
        assert_eq!(out(run("default", &[d.clone(), Value::Bool(false)])), "d");
        assert_eq!(out(run("default", std::slice::from_ref(&d))), "d");
        assert_eq!(out(run("default", &[d.clone(), s("x"), s("y")])), "x");
        // helm: empty "" 0 json(0) false nil (list) (dict) tags 0.0 "0" now → t t f t t t t f t f f
        let cases = [
            (s(""), true),
            (Value::Int(0), true),
            (n("0"), false),
            (Value::Bool(false), true),
            (Value::Nil, true),
            (Value::list(vec![]), true),
            (Value::empty_map(), true),
            (Value::Float(0.0), true),
            (s("0"), false),
            (
                Value::Time(chrono::DateTime::UNIX_EPOCH.fixed_offset()),
                false,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(
                run("empty", std::slice::from_ref(&v)).unwrap(),
                Value::Bool(want),
                "{v:?}"
            );
        }
    }

    #[test]
    fn coalesce_all_any_ternary() {
        // helm: coalesce "" 0 nil "x" "y" → x; coalesce → <nil>
        assert_eq!(
            out(run(
                "coalesce",
                &[s(""), Value::Int(0), Value::Nil, s("x"), s("y")]
            )),
            "x"
        );
        assert!(run("coalesce", &[]).unwrap().is_nil());
        assert_eq!(run("all", &[]).unwrap(), Value::Bool(true));
        assert_eq!(run("any", &[]).unwrap(), Value::Bool(false));
        assert_eq!(
            run("all", &[Value::Int(1), s("")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            run("any", &[Value::Int(0), s("x")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            out(run("ternary", &[s("yes"), s("no"), Value::Bool(false)])),
            "no"
        );
    }

    #[test]
    fn reflection() {
        assert_eq!(out(run("typeOf", &[n("3")])), "json.Number");
        assert_eq!(out(run("kindOf", &[n("3")])), "string");
        assert_eq!(out(run("kindOf", &[Value::Nil])), "invalid");
        assert_eq!(
            run("typeIs", &[s("int"), Value::Int(1)]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("typeIs", &[s("int64"), Value::Int(1)]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            run("typeIsLike", &[s("int"), Value::Int(1)]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("kindIs", &[s("slice"), Value::list(vec![])]).unwrap(),
            Value::Bool(true)
        );
        // helm: deepEqual 1 1 / 1 (int64 1) / json(3) 3 / nil nil / tags (list "a" "b" "c") / []string vs []interface{}
        let l = |v: Vec<Value>| Value::list(v);
        let eqs = [
            (Value::Int(1), Value::Int(1), true),
            (Value::Int(1), Value::Int64(1), false),
            (n("3"), Value::Int(3), false),
            (n("3"), s("3"), false),
            (Value::Nil, Value::Nil, true),
            (l(vec![s("a"), s("b")]), l(vec![s("a"), s("b")]), true),
            (Value::str_list(vec!["a".into()]), l(vec![s("a")]), false),
        ];
        for (a, b, want) in eqs {
            assert_eq!(deep_equal(&a, &b), want, "{a:?} {b:?}");
        }
    }
}
