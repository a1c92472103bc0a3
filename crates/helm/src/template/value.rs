//! The values a template works with, modelled on the Go types that helm's
//! templates really see.
//!
//! Go's `text/template` is dynamically typed through reflection, and the
//! *Go type* of a value shows through in output and errors: `typeOf 3` is
//! `int`, `typeOf (add 1 2)` is `int64`, a number read from `values.yaml`
//! is a `json.Number` (helm 3.18 decodes values with `UseNumber`, so
//! `1000000` prints as written), and `eq 1 .Values.n` fails with
//! "incompatible types for comparison". So [`Value`] keeps the Go type, not
//! only the data.
//!
//! Maps are shared and mutable, as Go maps are: Sprig's `set` on a dict
//! changes it for everyone who holds it (`$_ := set .Values "x" 1` is a
//! real idiom). Lists are immutable (`append` returns a new list).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use chrono::{DateTime, FixedOffset};

/// A Go map with string keys. Go templates walk maps in key order, which a
/// `BTreeMap` gives for free.
pub type Map = Rc<RefCell<BTreeMap<String, Value>>>;

/// The element type of a slice, for `typeOf` and for functions that take
/// `[]string` (Go's `[]interface {}` is not assignable to `[]string`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `[]interface {}`
    Any,
    /// `[]string`
    Str,
    /// `[]int`
    Int,
}

/// The value type of a map: `map[string]interface {}` or, from Sprig's
/// `split`, `map[string]string`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    Any,
    Str,
    /// helm's `chartutil.Values` (a chart's `.Values`, `.Template`): a
    /// named map type — assignable where a map is expected, but Sprig's
    /// `dig` refuses it, and `typeOf` names it.
    Values,
}

/// An object with fields and methods, like `.Files`, `.Capabilities` or
/// `.Release` (Go structs and pointers to structs).
pub trait Object {
    /// The Go type, as `typeOf` prints it (`*chart.Metadata`).
    fn type_name(&self) -> String;
    /// A field or a method without arguments. `None`: no such field.
    fn field(&self, name: &str) -> Option<Value>;
    /// A method with arguments; `None`: no such method.
    fn method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    /// Does it have a method of this name (methods take arguments)?
    fn has_method(&self, _name: &str) -> bool {
        false
    }
    /// The parameters of that method, for Go's count and type checks.
    fn method_params(&self, _name: &str) -> &'static [crate::funcs::Ty] {
        &[crate::funcs::Ty::Any]
    }
    /// Go's truth: a struct or pointer is true; a map or slice type (like
    /// `.Files` or `.Capabilities.APIVersions`) is true when not empty.
    fn truth(&self) -> bool {
        true
    }
    /// How `{{ . }}` prints it (Go's `%v` of the struct).
    fn display(&self) -> String {
        format!("{{{}}}", self.type_name())
    }
    /// The object as plain data, for `toYaml`/`toJson` (Go's JSON encoding
    /// of the struct).
    fn to_data(&self) -> Value {
        Value::Nil
    }
}

/// A template value with its Go type.
#[derive(Clone, Default)]
pub enum Value {
    /// An untyped nil: a missing map key, `nil`, an empty interface.
    #[default]
    Nil,
    Bool(bool),
    /// Go's `int` (number literals, `len`, `atoi`, `int`).
    Int(i64),
    /// Go's `int64` (Sprig's arithmetic, `--set` numbers, `int64`).
    Int64(i64),
    /// Go's `float64`.
    Float(f64),
    String(Rc<str>),
    /// `encoding/json`'s `Number`: a number from values.yaml or JSON, kept
    /// as its text. Its Go kind is string.
    Number(Rc<str>),
    /// `[]byte` (`.Files.GetBytes`).
    Bytes(Rc<[u8]>),
    List(Rc<Vec<Value>>, ListKind),
    Map(Map, MapKind),
    /// `time.Time`.
    Time(DateTime<FixedOffset>),
    Object(Rc<dyn Object>),
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::String(s.into())
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items), ListKind::Any)
    }

    pub fn str_list(items: Vec<String>) -> Value {
        Value::List(
            Rc::new(items.into_iter().map(Value::str).collect()),
            ListKind::Str,
        )
    }

    pub fn map(m: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(m)), MapKind::Any)
    }

    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// Go's type name, as Sprig's `typeOf` prints it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Number(_) => "json.Number".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(_, ListKind::Any) => "[]interface {}".into(),
            Value::List(_, ListKind::Str) => "[]string".into(),
            Value::List(_, ListKind::Int) => "[]int".into(),
            Value::Map(_, MapKind::Any) => "map[string]interface {}".into(),
            Value::Map(_, MapKind::Str) => "map[string]string".into(),
            Value::Map(_, MapKind::Values) => "chartutil.Values".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's reflect kind, as Sprig's `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) | Value::Number(_) => "string",
            Value::Bytes(_) | Value::List(..) => "slice",
            Value::Map(..) => "map",
            Value::Time(_) => "struct",
            Value::Object(_) => "ptr",
        }
    }

    /// Go's truth (`if`, `and`, `or`, `not`): false, 0, nil, and empty
    /// strings, slices and maps are false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) | Value::Number(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m, _) => !m.borrow().is_empty(),
            Value::Time(_) => true,
            Value::Object(o) => o.truth(),
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The text of a string-kinded value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Number(s) => Some(s),
            _ => None,
        }
    }

    /// Map lookup (`None` when not a map).
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Map(m, _) => m.borrow().get(key).cloned(),
            _ => None,
        }
    }

    /// Converts JSON (numbers become `json.Number`, as helm decodes values).
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.to_string().into()),
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON, as Go's `encoding/json` would marshal it (used by
    /// `toJson`, `toYaml` and release storage).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) | Value::Int64(i) => J::from(*i),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    J::from(*f as i64)
                } else {
                    serde_json::Number::from_f64(*f).map_or(J::Null, J::Number)
                }
            }
            Value::String(s) => J::String(s.to_string()),
            Value::Number(s) => s
                .parse::<serde_json::Number>()
                .map_or_else(|_| J::String(s.to_string()), J::Number),
            Value::Bytes(b) => {
                use base64::Engine;
                J::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::List(l, _) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m, _) => J::Object(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Time(t) => J::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            Value::Object(o) => o.to_data().to_json(),
        }
    }

    /// A deep copy (maps are shared otherwise).
    pub fn deep_clone(&self) -> Value {
        match self {
            Value::Map(m, k) => Value::Map(
                Rc::new(RefCell::new(
                    m.borrow()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.deep_clone()))
                        .collect(),
                )),
                *k,
            ),
            Value::List(l, k) => {
                Value::List(Rc::new(l.iter().map(Value::deep_clone).collect()), *k)
            }
            v => v.clone(),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.type_name(), super::gofmt::sprint(self))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Map(a, _), Value::Map(b, _)) => *a.borrow() == *b.borrow(),
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            _ => self.to_json() == other.to_json() && self.type_name() == other.type_name(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
