//! Helm's own functions.

use super::{Env, Funcs, Ty};
use crate::template::Value;
use crate::yaml;

pub fn register(f: &mut Funcs) {
    register_data(f);
}

// ---- data formats: toYaml, fromYaml, toJson, toToml … (see crate::yaml) ----

fn arg_str(a: &[Value]) -> &str {
    a.first().and_then(Value::as_str).unwrap_or("")
}

/// Go's `strings.TrimSuffix(s, "\n")`.
fn trim_nl(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
    }
    s
}

fn to_yaml(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(Value::str(
        yaml::to_yaml(&a[0]).map(trim_nl).unwrap_or_default(),
    ))
}

fn to_yaml_pretty(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(Value::str(
        yaml::to_yaml_pretty(&a[0]).map(trim_nl).unwrap_or_default(),
    ))
}

fn from_yaml(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(yaml::from_yaml(arg_str(a)))
}

fn from_yaml_array(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(yaml::from_yaml_array(arg_str(a)))
}

fn to_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(Value::str(yaml::to_json(&a[0]).unwrap_or_default()))
}

fn to_pretty_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(Value::str(yaml::to_pretty_json(&a[0]).unwrap_or_default()))
}

fn to_raw_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(Value::str(yaml::to_raw_json(&a[0]).unwrap_or_default()))
}

fn must_to_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    yaml::to_json(&a[0]).map(Value::str)
}

fn must_to_pretty_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    yaml::to_pretty_json(&a[0]).map(Value::str)
}

fn must_to_raw_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    yaml::to_raw_json(&a[0]).map(Value::str)
}

fn from_json(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(yaml::from_json(arg_str(a)))
}

fn from_json_array(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    Ok(yaml::from_json_array(arg_str(a)))
}

fn to_toml(_: &mut dyn Env, a: &[Value]) -> Result<Value, String> {
    // BurntSushi's encoder panics on a nil; the template reports the panic
    if a[0].is_nil() {
        return Err("reflect: call of reflect.Value.Type on zero Value".into());
    }
    Ok(Value::str(yaml::to_toml(&a[0]).unwrap_or_else(|e| e)))
}

fn register_data(f: &mut Funcs) {
    f.add("toYaml", &[Ty::Any], to_yaml);
    f.add("toYamlPretty", &[Ty::Any], to_yaml_pretty);
    f.add("fromYaml", &[Ty::Str], from_yaml);
    f.add("fromYamlArray", &[Ty::Str], from_yaml_array);
    f.add("toJson", &[Ty::Any], to_json);
    f.add("toPrettyJson", &[Ty::Any], to_pretty_json);
    f.add("toRawJson", &[Ty::Any], to_raw_json);
    f.add("mustToJson", &[Ty::Any], must_to_json);
    f.add("mustToPrettyJson", &[Ty::Any], must_to_pretty_json);
    f.add("mustToRawJson", &[Ty::Any], must_to_raw_json);
    f.add("fromJson", &[Ty::Str], from_json);
    f.add("fromJsonArray", &[Ty::Str], from_json_array);
    f.add("toToml", &[Ty::Any], to_toml);
    f.add("fromToml", &[Ty::Str], |_, a| {
        Ok(from_toml(a[0].as_str().unwrap_or("")))
    });
    // Sprig's: like fromJson, but an error stops the render
    f.add("mustFromJson", &[Ty::Str], |_, a| {
        crate::yaml::parse_json(a[0].as_str().unwrap_or(""), false)
    });
    // helm resolves names only with --enable-dns; without it, ""
    f.add("getHostByName", &[Ty::Str], |_, _| Ok(Value::str("")));
}

/// helm's `fromToml`: a TOML document as a dict (integers int64, floats
/// float64, dates as their text); an error becomes `{"Error": message}`.
/// **Simplification:** the error text is the `toml` crate's, not
/// BurntSushi/toml's.
fn from_toml(text: &str) -> Value {
    fn conv(v: &toml::Value) -> Value {
        match v {
            toml::Value::String(s) => Value::str(s.as_str()),
            toml::Value::Integer(i) => Value::Int64(*i),
            toml::Value::Float(f) => Value::Float(*f),
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Datetime(d) => Value::str(d.to_string()),
            toml::Value::Array(a) => Value::list(a.iter().map(conv).collect()),
            toml::Value::Table(t) => {
                Value::map(t.iter().map(|(k, v)| (k.clone(), conv(v))).collect())
            }
        }
    }
    match text.parse::<toml::Table>() {
        Ok(t) => Value::map(t.iter().map(|(k, v)| (k.clone(), conv(v))).collect()),
        Err(e) => {
            let msg = e.message().to_string();
            Value::map(std::collections::BTreeMap::from([(
                "Error".to_string(),
                Value::str(format!("toml: {msg}")),
            )]))
        }
    }
}

// ---- end of data formats ----
