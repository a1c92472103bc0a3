//! Sprig's list functions: `list`/`tuple`, `first`, `rest`, `last`,
//! `initial`, `append`/`push`, `prepend`, `concat`, `reverse`, `uniq`,
//! `without`, `has`, `compact`, `slice` (which replaces Go's builtin),
//! `chunk`, and their `must*` twins.
//!
//! Sprig takes lists as `interface {}` and reflects on them, so any slice
//! works (`[]string` from `splitList`, `[]int` from `until`); the results
//! are `[]interface {}` except `slice`, which keeps the slice's type. A
//! value that is not a slice is an error naming its Go kind ("Cannot find
//! first on type string"); nil is worse: Sprig asks `reflect.TypeOf(nil)`
//! for its kind, which is a nil-pointer panic that Go's template package
//! turns into an error. `must*` twins fail with the same messages (the
//! plain ones panic with the error they would have returned).
//!
//! Equality (`uniq`, `without`, `has`) is `reflect.DeepEqual`: `2` and a
//! `json.Number` 2 from values.yaml are different.

use std::rc::Rc;

use super::conv::{list_items, to_int64};
use super::conversion::{deep_equal, empty};
use super::{Funcs, Ty};
use crate::template::{ListKind, Value};

/// Go's message for `reflect.TypeOf(nil).Kind()`.
pub const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

pub fn register(f: &mut Funcs) {
    f.add_variadic("list", &[], Ty::Any, |_, a| Ok(Value::list(a.to_vec())));
    f.add_variadic("tuple", &[], Ty::Any, |_, a| Ok(Value::list(a.to_vec())));
    for name in ["first", "mustFirst"] {
        f.add(name, &[Ty::Any], |_, a| {
            Ok(items(&a[0], "Cannot find first on type")?
                .first()
                .cloned()
                .unwrap_or_default())
        });
    }
    for name in ["last", "mustLast"] {
        f.add(name, &[Ty::Any], |_, a| {
            Ok(items(&a[0], "Cannot find last on type")?
                .last()
                .cloned()
                .unwrap_or_default())
        });
    }
    for name in ["rest", "mustRest"] {
        f.add(name, &[Ty::Any], |_, a| {
            let l = items(&a[0], "Cannot find rest on type")?;
            Ok(Value::list(l.get(1..).unwrap_or_default().to_vec()))
        });
    }
    for name in ["initial", "mustInitial"] {
        f.add(name, &[Ty::Any], |_, a| {
            let l = items(&a[0], "Cannot find initial on type")?;
            Ok(Value::list(l[..l.len().saturating_sub(1)].to_vec()))
        });
    }
    for name in ["append", "push", "mustAppend", "mustPush"] {
        f.add(name, &[Ty::Any, Ty::Any], |_, a| {
            let mut l = items(&a[0], "Cannot push on type")?;
            l.push(a[1].clone());
            Ok(Value::list(l))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        f.add(name, &[Ty::Any, Ty::Any], |_, a| {
            let mut l = items(&a[0], "Cannot prepend on type")?;
            l.insert(0, a[1].clone());
            Ok(Value::list(l))
        });
    }
    f.add_variadic("concat", &[], Ty::Any, |_, a| {
        let mut res = Vec::new();
        for l in a {
            match l {
                Value::Nil => return Err(NIL_DEREF.into()),
                _ => match list_items(l) {
                    Some(items) => res.extend(items),
                    None => return Err(format!("Cannot concat type {} as list", l.kind_name())),
                },
            }
        }
        Ok(Value::list(res))
    });
    for name in ["reverse", "mustReverse"] {
        f.add(name, &[Ty::Any], |_, a| {
            let mut l = items(&a[0], "Cannot find reverse on type")?;
            l.reverse();
            Ok(Value::list(l))
        });
    }
    for name in ["uniq", "mustUniq"] {
        f.add(name, &[Ty::Any], |_, a| {
            let mut dest: Vec<Value> = Vec::new();
            for item in items(&a[0], "Cannot find uniq on type")? {
                if !dest.iter().any(|d| deep_equal(&item, d)) {
                    dest.push(item);
                }
            }
            Ok(Value::list(dest))
        });
    }
    for name in ["without", "mustWithout"] {
        f.add_variadic(name, &[Ty::Any], Ty::Any, |_, a| {
            let omit = &a[1..];
            let l = items(&a[0], "Cannot find without on type")?;
            Ok(Value::list(
                l.into_iter()
                    .filter(|i| !omit.iter().any(|o| deep_equal(i, o)))
                    .collect(),
            ))
        });
    }
    for name in ["has", "mustHas"] {
        f.add(name, &[Ty::Any, Ty::Any], |_, a| {
            if a[1].is_nil() {
                return Ok(Value::Bool(false));
            }
            let l = items(&a[1], "Cannot find has on type")?;
            Ok(Value::Bool(l.iter().any(|i| deep_equal(&a[0], i))))
        });
    }
    for name in ["compact", "mustCompact"] {
        f.add(name, &[Ty::Any], |_, a| {
            let l = items(&a[0], "Cannot compact on type")?;
            Ok(Value::list(l.into_iter().filter(|i| !empty(i)).collect()))
        });
    }
    for name in ["slice", "mustSlice"] {
        f.add_variadic(name, &[Ty::Any], Ty::Any, |_, a| slice(&a[0], &a[1..]));
    }
    for name in ["chunk", "mustChunk"] {
        f.add(name, &[Ty::Int, Ty::Any], |_, a| {
            chunk(to_int64(&a[0]), &a[1])
        });
    }
}

/// The items of a slice argument, or Sprig's error ("`what` `kind`").
fn items(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    if v.is_nil() {
        return Err(NIL_DEREF.into());
    }
    list_items(v).ok_or_else(|| format!("{what} {}", v.kind_name()))
}

/// Sprig's `slice list [start [end]]`: indices through cast's `ToInt`, the
/// result of the list's own type; an empty list gives nil.
fn slice(list: &Value, idx: &[Value]) -> Result<Value, String> {
    if list.is_nil() {
        return Err(NIL_DEREF.into());
    }
    let len = match list {
        Value::List(l, _) => l.len(),
        Value::Bytes(b) => b.len(),
        other => {
            return Err(format!(
                "list should be type of slice or array but {}",
                other.kind_name()
            ));
        }
    };
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = idx.first().map_or(0, to_int64);
    let end = if idx.len() < 2 {
        len as i64
    } else {
        to_int64(&idx[1])
    };
    if start < 0 || end < start || end > len as i64 {
        return Err("reflect.Value.Slice: slice index out of bounds".into());
    }
    let (start, end) = (start as usize, end as usize);
    Ok(match list {
        Value::List(l, k) => Value::List(Rc::new(l[start..end].to_vec()), *k),
        Value::Bytes(b) => Value::Bytes(b[start..end].into()),
        _ => unreachable!(),
    })
}

/// Go's float-to-int conversion on amd64: out of range (and NaN) is the
/// smallest int64.
fn go_f2i(f: f64) -> i64 {
    if f.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Sprig's `chunk size list`, with its float arithmetic (a size of 0 or
/// below ends in Go's "makeslice: len out of range" panic).
fn chunk(size: i64, list: &Value) -> Result<Value, String> {
    let l = items(list, "Cannot chunk type")?;
    let bad = || "runtime error: makeslice: len out of range".to_string();
    let (n, sz) = (l.len() as i64, size as f64);
    let cs = go_f2i(((n - 1) as f64 / sz).floor() + 1.0);
    if cs < 0 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for i in 0..cs {
        let mut clen = size;
        if i == cs - 1 {
            clen = go_f2i((n as f64 % sz).floor());
            if clen == 0 {
                clen = size;
            }
        }
        if clen < 0 {
            return Err(bad());
        }
        let start = (i * size) as usize;
        let part = l.get(start..start + clen as usize).ok_or_else(|| {
            format!(
                "runtime error: index out of range [{}] with length {n}",
                start + clen as usize - 1
            )
        })?;
        out.push(Value::list(part.to_vec()));
    }
    // Go's type is [][]interface {}; the value model has no such slice
    // kind, so the outer list is []interface {}.
    Ok(Value::List(Rc::new(out), ListKind::Any))
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
    fn s(x: &str) -> Value {
        Value::str(x)
    }
    fn n(x: &str) -> Value {
        Value::Number(x.into())
    }
    fn l(v: Vec<Value>) -> Value {
        Value::list(v)
    }
    fn strs(v: &[&str]) -> Value {
        Value::str_list(v.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn first_rest_last_initial() {
        let l123 = l(vec![i(1), i(2), i(3)]);
        assert_eq!(out("first", std::slice::from_ref(&l123)), "1");
        assert_eq!(out("last", std::slice::from_ref(&l123)), "3");
        assert_eq!(out("rest", std::slice::from_ref(&l123)), "[2 3]");
        assert_eq!(out("initial", std::slice::from_ref(&l123)), "[1 2]");
        // helm: first (list) is nil (typeOf → <nil>); rest (list) is [] of []interface {}
        assert!(run("first", &[l(vec![])]).unwrap().is_nil());
        assert_eq!(
            run("rest", &[strs(&["a", "b"])]).unwrap().type_name(),
            "[]interface {}"
        );
        assert_eq!(
            run("first", &[s("abc")]).unwrap_err(),
            "Cannot find first on type string"
        );
        assert_eq!(
            run("mustFirst", &[i(3)]).unwrap_err(),
            "Cannot find first on type int"
        );
        let m = Value::empty_map();
        assert_eq!(
            run("first", &[m]).unwrap_err(),
            "Cannot find first on type map"
        );
        assert_eq!(run("first", &[Value::Nil]).unwrap_err(), NIL_DEREF);
    }

    #[test]
    fn append_prepend_concat() {
        assert_eq!(out("append", &[l(vec![i(1), i(2)]), i(3)]), "[1 2 3]");
        assert_eq!(
            run("push", &[strs(&["a"]), s("c")]).unwrap().type_name(),
            "[]interface {}"
        );
        assert_eq!(out("append", &[l(vec![]), Value::Nil]), "[<nil>]");
        assert_eq!(
            run("append", &[i(3), i(1)]).unwrap_err(),
            "Cannot push on type int"
        );
        assert_eq!(run("append", &[Value::Nil, i(1)]).unwrap_err(), NIL_DEREF);
        assert_eq!(out("prepend", &[l(vec![i(1), i(2)]), i(0)]), "[0 1 2]");
        assert_eq!(
            run("prepend", &[s("ab"), i(0)]).unwrap_err(),
            "Cannot prepend on type string"
        );
        // helm: concat (list 1 2) (list 3) .Values.tags (splitList "," "x,y") → [1 2 3 a b c x y]
        let c = out(
            "concat",
            &[
                l(vec![i(1), i(2)]),
                l(vec![i(3)]),
                l(vec![s("a"), s("b"), s("c")]),
                strs(&["x", "y"]),
            ],
        );
        assert_eq!(c, "[1 2 3 a b c x y]");
        assert_eq!(
            run("concat", &[l(vec![i(1)]), i(2)]).unwrap_err(),
            "Cannot concat type int as list"
        );
        assert_eq!(
            run("concat", &[l(vec![i(1)]), Value::Nil]).unwrap_err(),
            NIL_DEREF
        );
    }

    #[test]
    fn uniq_without_has_use_deep_equal() {
        // helm: uniq (list 1 2 2 "2" 1 nil nil) → [1 2 2 <nil>]; uniq (list 1 (int64 1) 1.0) → [1 1 1]
        let u = out(
            "uniq",
            &[l(vec![
                i(1),
                i(2),
                i(2),
                s("2"),
                i(1),
                Value::Nil,
                Value::Nil,
            ])],
        );
        assert_eq!(u, "[1 2 2 <nil>]");
        assert_eq!(
            out("uniq", &[l(vec![i(1), Value::Int64(1), Value::Float(1.0)])]),
            "[1 1 1]"
        );
        assert_eq!(
            out("uniq", &[l(vec![n("1"), n("2"), n("2"), n("3")])]),
            "[1 2 3]"
        );
        // helm: without (list 1 2 3 2) 2 → [1 3]; without .Values.nums 2 → [1 2 2 3]
        assert_eq!(
            out("without", &[l(vec![i(1), i(2), i(3), i(2)]), i(2)]),
            "[1 3]"
        );
        assert_eq!(out("without", &[l(vec![n("1"), n("2")]), i(2)]), "[1 2]");
        assert_eq!(
            out("without", &[l(vec![i(1), i(2), i(3)]), i(1), i(3)]),
            "[2]"
        );
        // helm: has 2 (list 1 2) → true; has 2 .Values.nums → false; has 1 nil → false; has nil (list nil) → true
        assert_eq!(out("has", &[i(2), l(vec![i(1), i(2)])]), "true");
        assert_eq!(out("has", &[i(2), l(vec![n("1"), n("2")])]), "false");
        assert_eq!(out("has", &[i(1), Value::Nil]), "false");
        assert_eq!(out("has", &[Value::Nil, l(vec![Value::Nil])]), "true");
        assert_eq!(
            run("has", &[s("a"), s("abc")]).unwrap_err(),
            "Cannot find has on type string"
        );
    }

    #[test]
    fn compact_reverse() {
        // helm: compact (list 1 0 "" nil false "a" (list) (dict) .Values.zero) → [1 a 0]
        let c = l(vec![
            i(1),
            i(0),
            s(""),
            Value::Nil,
            Value::Bool(false),
            s("a"),
            l(vec![]),
            Value::empty_map(),
            n("0"),
        ]);
        assert_eq!(out("compact", &[c]), "[1 a 0]");
        assert_eq!(out("reverse", &[l(vec![i(1), i(2), i(3)])]), "[3 2 1]");
        assert_eq!(
            run("reverse", &[s("abc")]).unwrap_err(),
            "Cannot find reverse on type string"
        );
    }

    #[test]
    fn slice_keeps_type_and_checks_bounds() {
        let l4 = l(vec![i(1), i(2), i(3), i(4)]);
        assert_eq!(out("slice", &[l4.clone(), i(1), i(3)]), "[2 3]");
        assert_eq!(out("slice", &[l4.clone(), i(1)]), "[2 3 4]");
        assert_eq!(out("slice", std::slice::from_ref(&l4)), "[1 2 3 4]");
        // helm: slice (list 1 2 3) "1" .Values.replicas → [2 3]
        assert_eq!(
            out("slice", &[l(vec![i(1), i(2), i(3)]), s("1"), n("3")]),
            "[2 3]"
        );
        assert_eq!(
            run("slice", &[strs(&["a", "b"]), i(1)])
                .unwrap()
                .type_name(),
            "[]string"
        );
        assert!(run("slice", &[l(vec![]), i(0)]).unwrap().is_nil());
        let oob = "reflect.Value.Slice: slice index out of bounds";
        assert_eq!(
            run("slice", &[l(vec![i(1), i(2)]), i(1), i(5)]).unwrap_err(),
            oob
        );
        assert_eq!(
            run("slice", &[l(vec![i(1), i(2)]), i(2), i(1)]).unwrap_err(),
            oob
        );
        assert_eq!(
            run("slice", &[s("abc"), i(1)]).unwrap_err(),
            "list should be type of slice or array but string"
        );
    }

    #[test]
    fn chunk_as_sprig_computes_it() {
        let l5 = l((1..=5).map(i).collect());
        assert_eq!(out("chunk", &[i(2), l5]), "[[1 2] [3 4] [5]]");
        assert_eq!(out("chunk", &[i(2), l(vec![])]), "[]");
        assert_eq!(
            out("chunk", &[i(3), l(vec![s("a"), s("b"), s("c")])]),
            "[[a b c]]"
        );
        let bad = "runtime error: makeslice: len out of range";
        assert_eq!(run("chunk", &[i(0), l(vec![i(1), i(2)])]).unwrap_err(), bad);
        assert_eq!(run("chunk", &[i(-1), l(vec![i(1)])]).unwrap_err(), bad);
        assert_eq!(out("chunk", &[i(-1), l(vec![i(1), i(2)])]), "[]");
    }
}
