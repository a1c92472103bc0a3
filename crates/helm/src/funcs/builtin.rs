//! Go's builtin template functions (`text/template/funcs.go`): comparison
//! with Go's kind rules, `len`, `index`, `not`, the `print` family and the
//! escapers. `and` and `or` also live here, but the executor short-circuits
//! them before they are called (Go 1.18+).

use super::{Env, Funcs, Ty};
use crate::template::Value;
use crate::template::gofmt;

pub fn register(f: &mut Funcs) {
    f.add_variadic("and", &[Ty::Any], Ty::Any, |_, a| {
        Ok(a.iter()
            .find(|v| !v.truth())
            .unwrap_or(&a[a.len() - 1])
            .clone())
    });
    f.add_variadic("or", &[Ty::Any], Ty::Any, |_, a| {
        Ok(a.iter()
            .find(|v| v.truth())
            .unwrap_or(&a[a.len() - 1])
            .clone())
    });
    f.add("not", &[Ty::Any], |_, a| Ok(Value::Bool(!a[0].truth())));
    f.add("len", &[Ty::Any], |_, a| len(&a[0]).map(Value::Int));
    f.add_variadic("index", &[Ty::Any], Ty::Any, |_, a| index(&a[0], &a[1..]));
    f.add_variadic("print", &[], Ty::Any, |_, a| {
        Ok(Value::str(gofmt::sprint_all(a)))
    });
    f.add_variadic("println", &[], Ty::Any, |_, a| {
        Ok(Value::str(gofmt::sprintln_all(a)))
    });
    f.add_variadic("printf", &[Ty::Str], Ty::Any, |_, a| {
        Ok(Value::str(gofmt::sprintf(
            a[0].as_str().unwrap_or(""),
            &a[1..],
        )))
    });
    f.add_variadic("eq", &[Ty::Any], Ty::Any, |_, a| {
        eq(&a[0], &a[1..]).map(Value::Bool)
    });
    f.add("ne", &[Ty::Any, Ty::Any], |_, a| {
        eq(&a[0], &a[1..2]).map(|b| Value::Bool(!b))
    });
    f.add("lt", &[Ty::Any, Ty::Any], |_, a| {
        lt(&a[0], &a[1]).map(Value::Bool)
    });
    f.add("le", &[Ty::Any, Ty::Any], |_, a| {
        le(&a[0], &a[1]).map(Value::Bool)
    });
    f.add("gt", &[Ty::Any, Ty::Any], |_, a| {
        le(&a[0], &a[1]).map(|b| Value::Bool(!b))
    });
    f.add("ge", &[Ty::Any, Ty::Any], |_, a| {
        lt(&a[0], &a[1]).map(|b| Value::Bool(!b))
    });
    f.add_variadic("html", &[], Ty::Any, |_, a| {
        Ok(Value::str(html_escape(&eval_args(a))))
    });
    f.add_variadic("js", &[], Ty::Any, |_, a| {
        Ok(Value::str(js_escape(&eval_args(a))))
    });
    f.add_variadic("urlquery", &[], Ty::Any, |_, a| {
        Ok(Value::str(query_escape(&eval_args(a))))
    });
    // Go's `call` takes a function value. Helm's data (YAML values, the
    // chart, the release) holds none, so every call fails, worded as Go's;
    // the executor words the error, which names the callee's expression.
    f.add_variadic("call", &[Ty::Any], Ty::Any, |_, a| {
        Err(call_error("", &a[0]))
    });
    f.add_variadic("slice", &[Ty::Any], Ty::Any, |_, a| {
        go_slice(&a[0], &a[1..])
    });
    let _: Option<&dyn Env> = None;
}

/// Why Go's `call` refuses `fn`, named `callee` (the argument as written).
pub fn call_error(callee: &str, fn_: &Value) -> String {
    if fn_.is_nil() {
        "call of nil".to_string()
    } else {
        format!("non-function {callee} of type {}", fn_.type_name())
    }
}

/// Go's `evalArgs`: one string argument as it is, else `fmt.Sprint`, with
/// a nil printed as text/template prints a missing value: `<no value>`.
fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.to_string();
    }
    let printable: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nil() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    gofmt::sprint_all(&printable)
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) | Value::Number(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq arg1 arg2...`: true if arg1 equals any of the others.
pub fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for b in others {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            if !a.is_nil() && !b.is_nil() {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => x == y,
                _ if k1 == Kind::Str => a.as_str() == b.as_str(),
                (Value::Nil, Value::Nil) => true,
                (Value::Map(..), _)
                | (_, Value::Map(..))
                | (Value::List(..), _)
                | (_, Value::List(..)) => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        gofmt::sprint(b),
                        b.type_name()
                    ));
                }
                _ => a == b,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if matches!(k1, Kind::Invalid | Kind::Other) || matches!(k2, Kind::Invalid | Kind::Other) {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => x < y,
        _ if k1 == Kind::Str => a.as_str() < b.as_str(),
        _ => return Err("invalid type for comparison".into()),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(lt(a, b)? || eq(a, std::slice::from_ref(b))?)
}

fn len(v: &Value) -> Result<i64, String> {
    Ok(match v {
        Value::Nil => return Err("len of nil pointer".into()),
        Value::String(s) | Value::Number(s) => s.len() as i64,
        Value::Bytes(b) => b.len() as i64,
        Value::List(l, _) => l.len() as i64,
        Value::Map(m, _) => m.borrow().len() as i64,
        // a Go map or slice type with methods (helm's `.Files`)
        Value::Object(o) if matches!(o.to_data(), Value::Map(..) | Value::List(..)) => {
            return len(&o.to_data());
        }
        other => return Err(format!("len of type {}", other.type_name())),
    })
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(x) | Value::Int64(x) => *x,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as usize >= cap {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

/// Go's `index item i j ...`.
pub fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    let mut cur = item.clone();
    for i in indexes {
        cur = match &cur {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l, _) => l[index_arg(i, l.len())?].clone(),
            Value::Bytes(b) => Value::Int(b[index_arg(i, b.len())?] as i64),
            Value::String(s) | Value::Number(s) => {
                Value::Int(s.as_bytes()[index_arg(i, s.len())?] as i64)
            }
            Value::Map(m, _) => {
                let key = match i {
                    Value::String(k) => k.to_string(),
                    Value::Nil => return Err("value is nil; should be of type string".into()),
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                m.borrow().get(&key).cloned().unwrap_or(Value::Nil)
            }
            // a Go map or slice type with methods (helm's `.Files`)
            Value::Object(o) if matches!(o.to_data(), Value::Map(..) | Value::List(..)) => {
                index(&o.to_data(), std::slice::from_ref(i))?
            }
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(cur)
}

/// Go's builtin `slice` (Sprig replaces it in helm; kept for plain Go).
fn go_slice(item: &Value, idx: &[Value]) -> Result<Value, String> {
    let items = match item {
        Value::List(l, k) => (l.clone(), *k),
        Value::String(s) => {
            let n: Vec<usize> = idx
                .iter()
                .map(|i| index_arg(i, s.len() + 1))
                .collect::<Result<_, _>>()?;
            let from = n.first().copied().unwrap_or(0);
            let to = n.get(1).copied().unwrap_or(s.len());
            return Ok(Value::str(&s[from..to]));
        }
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let len = items.0.len();
    let n: Vec<usize> = idx
        .iter()
        .map(|i| index_arg(i, len + 1))
        .collect::<Result<_, _>>()?;
    let from = n.first().copied().unwrap_or(0);
    let to = n.get(1).copied().unwrap_or(len);
    if from > to {
        return Err(format!("invalid slice index: {from} > {to}"));
    }
    Ok(Value::List(
        std::rc::Rc::new(items.0[from..to].to_vec()),
        items.1,
    ))
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
