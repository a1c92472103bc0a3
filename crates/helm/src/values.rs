//! Helm's values: reading values files, merging `-f` files and `--set`
//! flags, and coalescing the user's values with a chart's defaults.
//!
//! - [`read_values`]: a values file (YAML 1.1 → JSON → numbers as
//!   `json.Number`; see [`crate::yaml::parse_values`]).
//! - [`merge_maps`]: how `-f a.yaml -f b.yaml` combine: later wins, maps
//!   merge deeply, anything else is replaced (a `null` is kept as a value).
//! - [`merge_values`]: the CLI order: `-f` files, then `--set-json`,
//!   `--set`, `--set-string`, `--set-file`, `--set-literal`.
//! - [`coalesce`]: `chartutil.CoalesceValues`: the user's values over the
//!   chart's defaults, deep for maps; a `null` from the user *deletes* the
//!   default; a subchart gets its section (under its name or alias) with
//!   the parent's `global` copied in.

use std::collections::BTreeMap;

use crate::strvals::{self, Mode};
use crate::template::Value;

/// A chart as far as values go: its name (or alias), its defaults and its
/// subcharts.
#[derive(Clone, Debug, Default)]
pub struct ChartValues {
    pub name: String,
    pub values: Value,
    pub deps: Vec<ChartValues>,
}

/// `chartutil.ReadValues`: an empty file is an empty map.
pub fn read_values(text: &str) -> Result<Value, String> {
    crate::yaml::parse_values(text)
}

fn entries(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Map(m, _) => m.borrow().clone(),
        _ => BTreeMap::new(),
    }
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(..))
}

/// helm's `mergeMaps(a, b)`: `b` over `a`, recursively for maps.
pub fn merge_maps(a: &Value, b: &Value) -> Value {
    let mut out = entries(a);
    for (k, v) in entries(b) {
        if let Value::Map(..) = v
            && let Some(existing @ Value::Map(..)) = out.get(&k)
        {
            let merged = merge_maps(existing, &v);
            out.insert(k, merged);
            continue;
        }
        out.insert(k, v.deep_clone());
    }
    Value::map(out)
}

/// The values flags of one helm command.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Contents of the `-f` files, in order (already read).
    pub files: Vec<String>,
    pub json: Vec<String>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_file: Vec<String>,
    pub set_literal: Vec<String>,
}

// ANCHOR: merge_values
/// helm's `values.Options.MergeValues`. Errors are helm's CLI texts.
pub fn merge_values(o: &Options, file_names: &[String]) -> Result<Value, String> {
    let mut base = Value::empty_map();
    for (i, text) in o.files.iter().enumerate() {
        let name = file_names.get(i).map_or("values", String::as_str);
        let cur =
            crate::yaml::parse_values(text).map_err(|e| format!("failed to parse {name}: {e}"))?;
        base = merge_maps(&base, &cur);
    }
    let groups: [(&Vec<String>, Mode); 5] = [
        (&o.json, Mode::SetJson),
        (&o.set, Mode::Set),
        (&o.set_string, Mode::SetString),
        (&o.set_file, Mode::SetFile),
        (&o.set_literal, Mode::SetLiteral),
    ];
    for (args, mode) in groups {
        for a in args {
            strvals::parse_into(a, &mut base, mode).map_err(|e| strvals::cli_error(mode, a, &e))?;
        }
    }
    Ok(base)
}
// ANCHOR_END: merge_values

/// `chartutil.CoalesceValues(chart, user)`: the values the templates see
/// (before `.Values` gets wrapped with Release, Chart …).
pub fn coalesce(chart: &ChartValues, user: &Value) -> Value {
    let v = user.deep_clone();
    let v = if is_table(&v) { v } else { Value::empty_map() };
    coalesce_chart(chart, &v);
    v
}

fn coalesce_chart(chart: &ChartValues, v: &Value) {
    coalesce_values(chart, v);
    coalesce_deps(chart, v);
}

fn coalesce_values(chart: &ChartValues, v: &Value) {
    let Value::Map(vm, _) = v else { return };
    for (key, default) in entries(&chart.values) {
        let cur = vm.borrow().get(&key).cloned();
        match cur {
            Some(Value::Nil) => {
                vm.borrow_mut().remove(&key);
            }
            Some(dest @ Value::Map(..)) => {
                if is_table(&default) {
                    coalesce_tables(&dest, &default);
                }
            }
            Some(_) => {}
            None => {
                vm.borrow_mut().insert(key, default.deep_clone());
            }
        }
    }
}

/// `coalesceTablesFullKey(dst, src)`: `src` fills what `dst` lacks; a nil
/// in `dst` removes the key.
fn coalesce_tables(dst: &Value, src: &Value) {
    let Value::Map(dm, _) = dst else { return };
    for (key, val) in entries(src) {
        let dv = dm.borrow().get(&key).cloned();
        match dv {
            Some(Value::Nil) => {
                dm.borrow_mut().remove(&key);
            }
            None => {
                dm.borrow_mut().insert(key, val.deep_clone());
            }
            Some(d @ Value::Map(..)) => {
                if is_table(&val) {
                    coalesce_tables(&d, &val);
                }
            }
            Some(_) => {}
        }
    }
}

fn coalesce_deps(chart: &ChartValues, v: &Value) {
    let Value::Map(vm, _) = v else { return };
    for sub in &chart.deps {
        let cur = vm.borrow().get(&sub.name).cloned();
        let section = match cur {
            Some(s @ Value::Map(..)) => s,
            _ => {
                let s = Value::empty_map();
                vm.borrow_mut().insert(sub.name.clone(), s.clone());
                s
            }
        };
        coalesce_globals(&section, v);
        coalesce_chart(sub, &section);
    }
}

/// Copies the parent's `global` into a subchart's section; the parent
/// wins, maps merge.
fn coalesce_globals(dest: &Value, src: &Value) {
    let (Value::Map(dm, _), Value::Map(sm, _)) = (dest, src) else {
        return;
    };
    let dg = match dm.borrow().get("global") {
        Some(g @ Value::Map(..)) => g.deep_clone(),
        _ => Value::empty_map(),
    };
    let sg = match sm.borrow().get("global") {
        Some(g @ Value::Map(..)) => g.clone(),
        _ => Value::empty_map(),
    };
    let Value::Map(dgm, _) = &dg else { return };
    for (key, val) in entries(&sg) {
        if is_table(&val) {
            let merged = val.deep_clone();
            if let Some(dv @ Value::Map(..)) = dgm.borrow().get(&key).cloned() {
                coalesce_tables(&merged, &dv);
            }
            dgm.borrow_mut().insert(key, merged);
        } else {
            dgm.borrow_mut().insert(key, val.deep_clone());
        }
    }
    dm.borrow_mut().insert("global".into(), dg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{parse_values, to_json};

    fn v(y: &str) -> Value {
        parse_values(y).unwrap()
    }

    #[test]
    fn user_values_over_defaults() {
        let chart = ChartValues {
            name: "c".into(),
            values: v("a: 1\nb: {x: 1, w: 2}\nc: keep\nd: gone\nsub: {p: 1}\nglobal: {g: 1}\n"),
            deps: vec![ChartValues {
                name: "sub".into(),
                values: v("p: 0\nq: 2\nglobal: {g: 0, h: 3}\n"),
                deps: vec![],
            }],
        };
        let out = coalesce(&chart, &v("a: 2\nb: {w: 3, z: 4}\nd: null\n"));
        assert_eq!(
            to_json(&out).unwrap(),
            r#"{"a":2,"b":{"w":3,"x":1,"z":4},"c":"keep","global":{"g":1},"sub":{"global":{"g":1,"h":3},"p":1,"q":2}}"#
        );
    }

    #[test]
    fn merge_files_later_wins() {
        let m = merge_maps(
            &v("a: {b: 1, c: 2}\nl: [1]\n"),
            &v("a: {c: 3}\nl: [2]\nnn: null\n"),
        );
        assert_eq!(
            to_json(&m).unwrap(),
            r#"{"a":{"b":1,"c":3},"l":[2],"nn":null}"#
        );
    }

    #[test]
    fn flags_in_helm_order() {
        let o = Options {
            files: vec!["a: 1\nb: 1\n".into()],
            set: vec!["b=2,c=x".into()],
            set_string: vec!["c=3".into()],
            ..Default::default()
        };
        assert_eq!(
            to_json(&merge_values(&o, &[]).unwrap()).unwrap(),
            r#"{"a":1,"b":2,"c":"3"}"#
        );
    }
}
