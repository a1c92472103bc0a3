//! Sprig's dict functions: `dict`, `get`, `set`, `unset`, `hasKey`,
//! `pluck`, `dig`, `keys`, `values`, `pick`, `omit`, `merge`,
//! `mergeOverwrite` (and their `must*` twins), `deepCopy`.
//!
//! Dicts are Go maps, shared by reference: `set`, `unset` and the merges
//! change the dict they are given and return it, so `$_ := set $d "k" 1`
//! is how templates mutate. `keys` and `values` walk a Go map, whose order
//! is random in Go; here it is key order (templates sort with `sortAlpha`).
//!
//! The merges are `mergo.Merge` and `mergo.MergeWithOverwrite` on
//! `map[string]interface {}`, with mergo's rules:
//! - a nested map present on both sides is merged recursively, in place;
//! - `merge` (destination wins) fills a key only when the destination
//!   lacks it or holds an empty value (`0`, `""`, `false`, nil, empty
//!   list or map); a nil source value is skipped;
//! - `mergeOverwrite` (source wins) takes every source value, empty ones
//!   and nil included — except that an empty source map merged into a
//!   destination map changes nothing;
//! - a map taken from the source is not copied: both dicts share it.

use std::collections::BTreeMap;

use super::conversion::empty;
use super::{Funcs, Ty};
use crate::funcs::conv::strval;
use crate::template::{Map, MapKind, Value};

pub fn register(f: &mut Funcs) {
    f.add_variadic("dict", &[], Ty::Any, |_, a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let v = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
            m.insert(strval(&pair[0]), v);
        }
        Ok(Value::map(m))
    });
    f.add("get", &[Ty::Map, Ty::Str], |_, a| {
        Ok(a[0].get(key(&a[1])).unwrap_or_else(|| Value::str("")))
    });
    f.add("set", &[Ty::Map, Ty::Str, Ty::Any], |_, a| {
        let Some(m) = map_of(&a[0]) else {
            // Go panics writing to a nil map; the template reports it.
            return Err("assignment to entry in nil map".into());
        };
        m.borrow_mut().insert(key(&a[1]).to_string(), a[2].clone());
        Ok(a[0].clone())
    });
    f.add("unset", &[Ty::Map, Ty::Str], |_, a| {
        if let Some(m) = map_of(&a[0]) {
            m.borrow_mut().remove(key(&a[1]));
        }
        Ok(a[0].clone())
    });
    f.add("hasKey", &[Ty::Map, Ty::Str], |_, a| {
        Ok(Value::Bool(
            map_of(&a[0]).is_some_and(|m| m.borrow().contains_key(key(&a[1]))),
        ))
    });
    f.add_variadic("pluck", &[Ty::Str], Ty::Map, |_, a| {
        let k = key(&a[0]);
        Ok(Value::list(
            a[1..].iter().filter_map(|d| d.get(k)).collect(),
        ))
    });
    f.add_variadic("keys", &[], Ty::Map, |_, a| {
        let mut ks = Vec::new();
        for m in a.iter().filter_map(map_of) {
            ks.extend(m.borrow().keys().cloned());
        }
        Ok(Value::str_list(ks))
    });
    f.add("values", &[Ty::Map], |_, a| {
        Ok(Value::list(map_of(&a[0]).map_or_else(Vec::new, |m| {
            m.borrow().values().cloned().collect()
        })))
    });
    f.add_variadic("pick", &[Ty::Map], Ty::Str, |_, a| {
        let Some(src) = map_of(&a[0]) else {
            return Ok(Value::map(BTreeMap::new()));
        };
        let src = src.borrow();
        let picked = a[1..]
            .iter()
            .filter_map(|k| src.get(key(k)).map(|v| (key(k).to_string(), v.clone())))
            .collect();
        Ok(Value::map(picked))
    });
    f.add_variadic("omit", &[Ty::Map], Ty::Str, |_, a| {
        let Some(src) = map_of(&a[0]) else {
            return Ok(Value::map(BTreeMap::new()));
        };
        let src = src.borrow();
        let omit: Vec<&str> = a[1..].iter().map(key).collect();
        let kept = src
            .iter()
            .filter(|(k, _)| !omit.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Value::map(kept))
    });
    f.add_variadic("dig", &[], Ty::Any, |_, a| dig(a));
    for name in ["merge", "mustMerge"] {
        f.add_variadic(name, &[Ty::Map], Ty::Map, |_, a| Ok(merge_all(a, false)));
    }
    for name in ["mergeOverwrite", "mustMergeOverwrite"] {
        f.add_variadic(name, &[Ty::Map], Ty::Map, |_, a| Ok(merge_all(a, true)));
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        f.add(name, &[Ty::Any], |_, a| {
            if a[0].is_nil() {
                return Err("reflect: call of reflect.Value.Type on zero Value".into());
            }
            Ok(a[0].deep_clone())
        });
    }
}

/// A `Ty::Str` argument's text.
fn key(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A `Ty::Map` argument's map (the executor has checked the type), or
/// `None` for Go's nil map, which reads as empty.
fn map_of(v: &Value) -> Option<&Map> {
    match v {
        Value::Map(m, _) => Some(m),
        _ => None,
    }
}

/// Sprig's `merge`/`mergeOverwrite` of `a[1..]` into `a[0]`. A nil
/// destination is mergo's: a new map once a non-nil source comes, which
/// is returned (the caller's nil stays nil); nil sources are skipped.
fn merge_all(a: &[Value], overwrite: bool) -> Value {
    let mut dst = a[0].clone();
    for src in a[1..].iter().filter_map(map_of) {
        if map_of(&dst).is_none() {
            dst = Value::map(BTreeMap::new());
        }
        if let Some(d) = map_of(&dst) {
            merge_into(d, src, overwrite);
        }
    }
    dst
}

/// The Go type in a failed type assertion ("interface {} is nil, not …").
fn asserted(v: &Value) -> String {
    if v.is_nil() {
        "nil".into()
    } else {
        v.type_name()
    }
}

/// Sprig's `dig key... default dict`: type assertions as Go does them, so
/// a key that is not a string or a path through a non-map fails.
fn dig(ps: &[Value]) -> Result<Value, String> {
    if ps.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    let not_map = |v: &Value| {
        format!(
            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
            asserted(v)
        )
    };
    let last = &ps[ps.len() - 1];
    let mut dict = match last {
        Value::Map(m, MapKind::Any) => m.clone(),
        other => return Err(not_map(other)),
    };
    let def = &ps[ps.len() - 2];
    let mut keys = Vec::new();
    for k in &ps[..ps.len() - 2] {
        match k {
            Value::String(s) => keys.push(s.clone()),
            other => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not string",
                    asserted(other)
                ));
            }
        }
    }
    for (i, k) in keys.iter().enumerate() {
        let step = match dict.borrow().get(&**k) {
            Some(v) => v.clone(),
            None => return Ok(def.clone()),
        };
        if i == keys.len() - 1 {
            return Ok(step);
        }
        dict = match &step {
            Value::Map(m, MapKind::Any) => m.clone(),
            other => return Err(not_map(other)),
        };
    }
    unreachable!("dig has at least one key")
}

/// mergo's deep merge of `src` into `dst` (see the module notes).
pub fn merge_into(dst: &Map, src: &Map, overwrite: bool) {
    // A snapshot, so that merging a map into itself does not hold a borrow
    // while writing.
    let entries: Vec<(String, Value)> = src
        .borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, sv) in entries {
        let dv = dst.borrow().get(&k).cloned();
        match (&sv, &dv) {
            (Value::Nil, _) => {
                if overwrite {
                    dst.borrow_mut().insert(k, Value::Nil);
                }
                continue;
            }
            (Value::Map(sm, _), Some(Value::Map(dm, _))) if !std::rc::Rc::ptr_eq(sm, dm) => {
                merge_into(dm, sm, overwrite);
            }
            _ => {}
        }
        if let Some(d) = &dv
            && !empty(d)
        {
            if matches!(sv, Value::List(..)) {
                if overwrite {
                    dst.borrow_mut().insert(k, sv);
                }
                continue;
            }
            if matches!((&sv, d), (Value::Map(..), Value::Map(..))) {
                continue;
            }
        }
        if overwrite || dv.as_ref().is_none_or(empty) {
            dst.borrow_mut().insert(k, sv);
        }
    }
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
    fn dict(kv: &[(&str, Value)]) -> Value {
        Value::map(kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn dict_keys_through_strval() {
        // helm: dict "a" 1 "b" "x" → map[a:1 b:x]; dict "a" → map[a:]; dict 1 2 nil 3 true 4 → map[1:2 <nil>:3 true:4]
        assert_eq!(out("dict", &[s("a"), i(1), s("b"), s("x")]), "map[a:1 b:x]");
        assert_eq!(out("dict", &[s("a")]), "map[a:]");
        let d = out(
            "dict",
            &[i(1), i(2), Value::Nil, i(3), Value::Bool(true), i(4)],
        );
        assert_eq!(d, "map[1:2 <nil>:3 true:4]");
        assert_eq!(out("dict", &[s("a"), i(1), s("a"), i(2)]), "map[a:2]");
    }

    #[test]
    fn get_set_unset_haskey_mutate_in_place() {
        let d = dict(&[("a", i(1))]);
        assert_eq!(out("get", &[d.clone(), s("a")]), "1");
        let missing = run("get", &[d.clone(), s("zz")]).unwrap();
        assert_eq!(
            (missing.type_name(), gofmt::sprint(&missing)),
            ("string".into(), "".into())
        );
        run("set", &[d.clone(), s("b"), i(2)]).unwrap();
        assert_eq!(gofmt::sprint(&d), "map[a:1 b:2]");
        assert_eq!(out("unset", &[d.clone(), s("a")]), "map[b:2]");
        assert_eq!(gofmt::sprint(&d), "map[b:2]");
        assert_eq!(out("hasKey", &[d.clone(), s("b")]), "true");
        assert_eq!(out("hasKey", &[dict(&[("n", Value::Nil)]), s("n")]), "true");
    }

    #[test]
    fn pluck_keys_values_pick_omit() {
        let (a1, b2, a3) = (
            dict(&[("a", i(1))]),
            dict(&[("b", i(2))]),
            dict(&[("a", i(3))]),
        );
        assert_eq!(out("pluck", &[s("a"), a1, b2, a3]), "[1 3]");
        assert_eq!(
            run("pluck", &[s("z")]).unwrap().type_name(),
            "[]interface {}"
        );
        let k = run(
            "keys",
            &[
                dict(&[("b", i(1)), ("a", i(2))]),
                dict(&[("c", i(3)), ("a", i(4))]),
            ],
        );
        let k = k.unwrap();
        assert_eq!(k.type_name(), "[]string");
        let mut ks: Vec<String> = match &k {
            Value::List(l, _) => l.iter().map(gofmt::sprint).collect(),
            _ => unreachable!(),
        };
        ks.sort();
        assert_eq!(ks, ["a", "a", "b", "c"]);
        let labels = dict(&[("app", s("web")), ("tier", s("front"))]);
        assert_eq!(
            out("pick", &[labels.clone(), s("app"), s("nope")]),
            "map[app:web]"
        );
        assert_eq!(
            out("omit", &[labels.clone(), s("app"), s("nope")]),
            "map[tier:front]"
        );
        assert_eq!(out("omit", &[labels]), "map[app:web tier:front]");
    }

    #[test]
    fn dig_walks_and_fails_as_go_asserts() {
        let nested = dict(&[("a", dict(&[("b", dict(&[("c", s("deep"))]))]))]);
        let dg = |ks: &[&str]| {
            let mut args: Vec<Value> = ks.iter().map(|k| s(k)).collect();
            args.push(s("def"));
            args.push(nested.clone());
            run("dig", &args)
        };
        assert_eq!(gofmt::sprint(&dg(&["a", "b", "c"]).unwrap()), "deep");
        assert_eq!(gofmt::sprint(&dg(&["a", "x"]).unwrap()), "def");
        assert_eq!(gofmt::sprint(&dg(&["a", "b"]).unwrap()), "map[c:deep]");
        assert_eq!(
            dg(&["a", "b", "c", "d"]).unwrap_err(),
            "interface conversion: interface {} is string, not map[string]interface {}"
        );
        assert_eq!(
            run("dig", &[s("a"), nested.clone()]).unwrap_err(),
            "dig needs at least three arguments"
        );
        assert_eq!(
            run("dig", &[i(1), s("def"), nested]).unwrap_err(),
            "interface conversion: interface {} is int, not string"
        );
        assert_eq!(
            run("dig", &[s("a"), s("def"), Value::list(vec![i(1)])]).unwrap_err(),
            "interface conversion: interface {} is []interface {}, not map[string]interface {}"
        );
    }

    #[test]
    fn merge_follows_mergo() {
        // helm: merge of these two printed
        // map[a:1 b:3 e:filled f:true l:[1] n:map[x:1 y:map[p:1 q:2] z:3] nil:set z:5], dst changed in place
        let d = dict(&[
            ("a", i(1)),
            ("n", dict(&[("x", i(1)), ("y", dict(&[("p", i(1))]))])),
            ("l", Value::list(vec![i(1)])),
            ("e", s("")),
            ("z", i(0)),
            ("f", Value::Bool(false)),
            ("nil", Value::Nil),
        ]);
        let src = dict(&[
            ("a", i(2)),
            ("b", i(3)),
            (
                "n",
                dict(&[("x", i(2)), ("z", i(3)), ("y", dict(&[("q", i(2))]))]),
            ),
            ("l", Value::list(vec![i(2), i(3)])),
            ("e", s("filled")),
            ("z", i(5)),
            ("f", Value::Bool(true)),
            ("nil", s("set")),
        ]);
        let want = "map[a:1 b:3 e:filled f:true l:[1] n:map[x:1 y:map[p:1 q:2] z:3] nil:set z:5]";
        assert_eq!(out("merge", &[d.clone(), src]), want);
        assert_eq!(gofmt::sprint(&d), want);
        // helm: merge (dict "a" 1 "b" 2) (dict "a" nil "c" nil) → map[a:1 b:2]
        let r = out(
            "merge",
            &[
                dict(&[("a", i(1)), ("b", i(2))]),
                dict(&[("a", Value::Nil), ("c", Value::Nil)]),
            ],
        );
        assert_eq!(r, "map[a:1 b:2]");
        // helm: merge (dict "s" "str" "m" (dict "k" 1)) (dict "s" (dict "k" 1) "m" "scalar") → map[m:map[k:1] s:str]
        let r = out(
            "merge",
            &[
                dict(&[("s", s("str")), ("m", dict(&[("k", i(1))]))]),
                dict(&[("s", dict(&[("k", i(1))])), ("m", s("scalar"))]),
            ],
        );
        assert_eq!(r, "map[m:map[k:1] s:str]");
        // helm: merge (dict "l" (list)) (dict "l" (list 1)) → map[l:[1]]
        let r = out(
            "merge",
            &[
                dict(&[("l", Value::list(vec![]))]),
                dict(&[("l", Value::list(vec![i(1)]))]),
            ],
        );
        assert_eq!(r, "map[l:[1]]");
        // merged maps are shared, not copied (helm: set on the result changed $inner)
        let inner = dict(&[("k", i(1))]);
        let r = run(
            "merge",
            &[Value::empty_map(), dict(&[("m", inner.clone())])],
        )
        .unwrap();
        run("set", &[r.get("m").unwrap(), s("k"), i(2)]).unwrap();
        assert_eq!(gofmt::sprint(&inner), "map[k:2]");
        // merging a dict into itself does not deadlock the RefCell
        let same = dict(&[("a", i(1))]);
        assert_eq!(out("merge", &[same.clone(), same]), "map[a:1]");
    }

    #[test]
    fn merge_overwrite_takes_source_values() {
        // helm: map[a:2 b:3 e:filled f:false l:[2 3] m:scalar n:map[x:2 y:map[p:1 q:2] z:3] s:map[k:1] z:0]
        let d = dict(&[
            ("a", i(1)),
            ("n", dict(&[("x", i(1)), ("y", dict(&[("p", i(1))]))])),
            ("l", Value::list(vec![i(1)])),
            ("e", s("")),
            ("z", i(7)),
            ("f", Value::Bool(true)),
            ("s", s("str")),
            ("m", dict(&[("k", i(1))])),
        ]);
        let src = dict(&[
            ("a", i(2)),
            ("b", i(3)),
            (
                "n",
                dict(&[("x", i(2)), ("z", i(3)), ("y", dict(&[("q", i(2))]))]),
            ),
            ("l", Value::list(vec![i(2), i(3)])),
            ("e", s("filled")),
            ("z", i(0)),
            ("f", Value::Bool(false)),
            ("s", dict(&[("k", i(1))])),
            ("m", s("scalar")),
        ]);
        let want = "map[a:2 b:3 e:filled f:false l:[2 3] m:scalar n:map[x:2 y:map[p:1 q:2] z:3] s:map[k:1] z:0]";
        assert_eq!(out("mergeOverwrite", &[d, src]), want);
        // helm: mergeOverwrite (dict "a" 1 "b" 2) (dict "a" nil) → map[a:<nil> b:2]
        let r = out(
            "mergeOverwrite",
            &[
                dict(&[("a", i(1)), ("b", i(2))]),
                dict(&[("a", Value::Nil)]),
            ],
        );
        assert_eq!(r, "map[a:<nil> b:2]");
        // helm: mergeOverwrite (dict "l" (list 1)) (dict "l" (list)) → map[l:[]]
        let r = out(
            "mergeOverwrite",
            &[
                dict(&[("l", Value::list(vec![i(1)]))]),
                dict(&[("l", Value::list(vec![]))]),
            ],
        );
        assert_eq!(r, "map[l:[]]");
        // helm: mergeOverwrite (dict "m" (dict "a" 1)) (dict "m" (dict)) → map[m:map[a:1]]
        let r = out(
            "mergeOverwrite",
            &[
                dict(&[("m", dict(&[("a", i(1))]))]),
                dict(&[("m", Value::empty_map())]),
            ],
        );
        assert_eq!(r, "map[m:map[a:1]]");
    }

    #[test]
    fn deep_copy() {
        let d = dict(&[("a", dict(&[("b", i(1)), ("n", Value::Number("3".into()))]))]);
        let c = run("deepCopy", std::slice::from_ref(&d)).unwrap();
        run("set", &[c.get("a").unwrap(), s("b"), i(2)]).unwrap();
        assert_eq!(gofmt::sprint(&d), "map[a:map[b:1 n:3]]");
        assert_eq!(gofmt::sprint(&c), "map[a:map[b:2 n:3]]");
        assert_eq!(
            c.get("a").unwrap().get("n").unwrap().type_name(),
            "json.Number"
        );
        assert_eq!(
            run("mustDeepCopy", &[Value::Nil]).unwrap_err(),
            "reflect: call of reflect.Value.Type on zero Value"
        );
    }
}
