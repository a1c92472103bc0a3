//! `values.schema.json`: a chart may describe its values with JSON Schema;
//! helm checks the final values of every chart against its schema before
//! rendering, and refuses with one line per violation:
//!
//! ```text
//! values don't meet the specifications of the schema(s) in the following chart(s):
//! web:
//! - replicaCount: Invalid type. Expected: integer, given: string
//! ```
//!
//! The keywords charts use (draft-07): type, required, properties,
//! additionalProperties, items, enum, const, minimum/maximum (and the
//! exclusive forms), multipleOf, minLength/maxLength, pattern,
//! minItems/maxItems, uniqueItems, and allOf/anyOf/oneOf/not. Messages are
//! worded as helm's validator words them.
//!
//! **Simplification:** helm reports the violations of different properties
//! in Go's random map order; here they come in key order. `$ref` is not
//! followed.

use serde_json::Value as J;

use crate::chart::Chart;
use crate::template::Value;

/// Validates `values` of `chart` and of its subcharts (each against its own
/// schema, with its own section of the values). `Err` is helm's message.
pub fn validate(chart: &Chart, values: &Value) -> Result<(), String> {
    let mut report = String::new();
    collect(chart, &values.to_json(), &mut report)?;
    if report.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
        ))
    }
}

/// helm's `ValidateAgainstSingleSchema`: `values` against one schema
/// (the text of a values.schema.json); `Err` holds one `- violation` line
/// per problem, each ending in a newline.
pub fn validate_single(schema: &str, values: &Value) -> Result<(), String> {
    let schema: J = serde_json::from_str(schema).map_err(|e| e.to_string())?;
    let mut errors = vec![];
    check(&schema, &values.to_json(), "(root)", &mut errors);
    if errors.is_empty() {
        return Ok(());
    }
    Err(errors.iter().map(|e| format!("- {e}\n")).collect())
}

fn collect(chart: &Chart, values: &J, report: &mut String) -> Result<(), String> {
    if let Some(text) = &chart.schema {
        let schema: J = serde_json::from_str(text)
            .map_err(|e| format!("{}: invalid schema: {e}", chart.name()))?;
        let mut errors = vec![];
        check(&schema, values, "(root)", &mut errors);
        if !errors.is_empty() {
            report.push_str(&format!("{}:\n", chart.name()));
            for e in errors {
                report.push_str(&format!("- {e}\n"));
            }
        }
    }
    for dep in &chart.dependencies {
        let sub = values
            .get(dep.name())
            .cloned()
            .unwrap_or(J::Object(Default::default()));
        collect(dep, &sub, report)?;
    }
    Ok(())
}

fn child(path: &str, key: &str) -> String {
    if path == "(root)" {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The JSON Schema type of a value (`integer` for whole numbers).
fn type_of(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(n) => {
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &J) -> bool {
    let have = type_of(v);
    have == want || (want == "number" && have == "integer")
}

/// Go's `%v` of a schema number.
fn num(n: &J) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => crate::template::gofmt::format_float(f, 'g', None),
        None => n.to_string(),
    }
}

fn check(schema: &J, v: &J, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    if let Some(t) = s.get("type") {
        let ok = match t {
            J::String(t) => type_matches(t, v),
            J::Array(ts) => ts
                .iter()
                .filter_map(|t| t.as_str())
                .any(|t| type_matches(t, v)),
            _ => true,
        };
        if !ok {
            let expected = match t {
                J::Array(ts) => ts
                    .iter()
                    .filter_map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                t => t.as_str().unwrap_or("").to_string(),
            };
            errors.push(format!(
                "{path}: Invalid type. Expected: {expected}, given: {}",
                type_of(v)
            ));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(|e| e.as_array())
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        errors.push(format!(
            "{path}: {path} must be one of the following: {}",
            list.join(", ")
        ));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{path}: {path} does not match: {c}"));
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(subs) = s.get(key).and_then(|a| a.as_array()) {
            let passing = subs
                .iter()
                .filter(|sub| {
                    let mut e = vec![];
                    check(sub, v, path, &mut e);
                    e.is_empty()
                })
                .count();
            match key {
                "allOf" if passing < subs.len() => {
                    for sub in subs {
                        check(sub, v, path, errors);
                    }
                }
                "anyOf" if passing == 0 => {
                    errors.push(format!("{path}: Must validate at least one schema (anyOf)"))
                }
                "oneOf" if passing != 1 => errors.push(format!(
                    "{path}: Must validate one and only one schema (oneOf)"
                )),
                _ => {}
            }
        }
    }
    if let Some(not) = s.get("not") {
        let mut e = vec![];
        check(not, v, path, &mut e);
        if e.is_empty() {
            errors.push(format!("{path}: Must not validate the schema (not)"));
        }
    }
    match v {
        J::Object(o) => {
            if let Some(req) = s.get("required").and_then(|r| r.as_array()) {
                for r in req.iter().filter_map(|r| r.as_str()) {
                    if !o.contains_key(r) {
                        errors.push(format!("{path}: {r} is required"));
                    }
                }
            }
            let props = s.get("properties").and_then(|p| p.as_object());
            if s.get("additionalProperties") == Some(&J::Bool(false)) {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                for k in keys {
                    if !props.is_some_and(|p| p.contains_key(k)) {
                        errors.push(format!("{path}: Additional property {k} is not allowed"));
                    }
                }
            }
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for k in keys {
                if let Some(sub) = props.and_then(|p| p.get(k)) {
                    check(sub, &o[k], &child(path, k), errors);
                } else if let Some(extra @ J::Object(_)) = s.get("additionalProperties") {
                    check(extra, &o[k], &child(path, k), errors);
                }
            }
        }
        J::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &child(path, &i.to_string()), errors);
                }
            }
            if let Some(min) = s.get("minItems").and_then(|m| m.as_u64())
                && (items.len() as u64) < min
            {
                errors.push(format!("{path}: Array must have at least {min} items"));
            }
            if let Some(max) = s.get("maxItems").and_then(|m| m.as_u64())
                && items.len() as u64 > max
            {
                errors.push(format!("{path}: Array must have at most {max} items"));
            }
            if s.get("uniqueItems") == Some(&J::Bool(true)) {
                'outer: for i in 0..items.len() {
                    for j in i + 1..items.len() {
                        if items[i] == items[j] {
                            errors.push(format!("{path}: array items[{i},{j}] must be unique"));
                            break 'outer;
                        }
                    }
                }
            }
        }
        J::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if let Some(m) = s.get("multipleOf").and_then(|m| m.as_f64())
                && m != 0.0
                && (f / m).fract() != 0.0
            {
                errors.push(format!(
                    "{path}: Must be a multiple of {}",
                    num(&s["multipleOf"])
                ));
            }
            let bound = |k: &str| s.get(k).filter(|b| b.is_number());
            if let Some(b) = bound("minimum")
                && f < b.as_f64().unwrap()
            {
                errors.push(format!(
                    "{path}: Must be greater than or equal to {}",
                    num(b)
                ));
            }
            if let Some(b) = bound("exclusiveMinimum")
                && f <= b.as_f64().unwrap()
            {
                errors.push(format!("{path}: Must be greater than {}", num(b)));
            }
            if let Some(b) = bound("maximum")
                && f > b.as_f64().unwrap()
            {
                errors.push(format!("{path}: Must be less than or equal to {}", num(b)));
            }
            if let Some(b) = bound("exclusiveMaximum")
                && f >= b.as_f64().unwrap()
            {
                errors.push(format!("{path}: Must be less than {}", num(b)));
            }
        }
        J::String(text) => {
            let len = text.chars().count() as u64;
            if let Some(min) = s.get("minLength").and_then(|m| m.as_u64())
                && len < min
            {
                errors.push(format!(
                    "{path}: String length must be greater than or equal to {min}"
                ));
            }
            if let Some(max) = s.get("maxLength").and_then(|m| m.as_u64())
                && len > max
            {
                errors.push(format!(
                    "{path}: String length must be less than or equal to {max}"
                ));
            }
            if let Some(p) = s.get("pattern").and_then(|p| p.as_str())
                && regex::Regex::new(p).is_ok_and(|re| !re.is_match(text))
            {
                errors.push(format!("{path}: Does not match pattern '{p}'"));
            }
        }
        _ => {}
    }
}
