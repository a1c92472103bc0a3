//! How helm reads YAML into a Go struct (`chart.Metadata` from Chart.yaml,
//! the `apiVersion`/`kind`/`metadata` stub `helm lint` reads from each
//! rendered manifest): sigs.k8s.io/yaml turns the YAML into JSON, then
//! `encoding/json` decodes the JSON into the struct. Two things of that
//! road show in helm's output, and this module does both:
//!
//! - sigs.k8s.io/yaml looks at the target field's type while it converts:
//!   a YAML scalar bound for a `string` field becomes a string — an
//!   integer in decimal, a float as float32 `%g` (`1.0` → `"1"`,
//!   `1e40` → `"+Inf"`), a bool as `true`/`false`. So `version: 1.0` is
//!   the version `"1"`, not an error;
//! - anything else of the wrong JSON type is an `encoding/json` error,
//!   worded as Go words it (the first one wins, decoding goes on):
//!   `json: cannot unmarshal string into Go struct field
//!   Metadata.deprecated of type bool`. Go names the innermost struct
//!   being decoded and the whole path of JSON field names to the value.
//!
//! JSON keys match field names exactly or, failing that, ignoring case,
//! as `encoding/json` matches them; keys no field takes are ignored by Go
//! but kept here (kubelab keeps Chart.yaml as JSON).

use serde_json::Value as J;

/// A Go type a YAML value is decoded into.
pub enum GoType {
    String,
    Bool,
    /// `interface {}`: anything goes, nothing is converted.
    Any,
    /// `[]T`; the text is Go's name for the slice type.
    Slice(&'static GoType, &'static str),
    /// `*T`: decoded as `T` (`encoding/json` allocates and fills it).
    Ptr(&'static GoType),
    /// `map[string]string`.
    StringMap,
    Struct(&'static Struct),
}

/// A Go struct: its qualified name (`chart.Metadata`), its bare name
/// (`Metadata`, how errors name the struct being decoded) and its fields
/// by JSON name.
pub struct Struct {
    pub qualified: &'static str,
    pub name: &'static str,
    pub fields: &'static [(&'static str, GoType)],
}

impl Struct {
    /// The JSON names of the struct's fields, in declaration order.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|(n, _)| *n)
    }
}

impl GoType {
    /// The struct this type is, if it is one.
    pub fn as_struct(&self) -> Option<&'static Struct> {
        match self {
            GoType::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// Go's `reflect.Type.String()` of the type.
    fn go_name(&self) -> String {
        match self {
            GoType::String => "string".into(),
            GoType::Bool => "bool".into(),
            GoType::Any => "interface {}".into(),
            GoType::Slice(_, name) => name.to_string(),
            GoType::Ptr(t) => format!("*{}", t.go_name()),
            GoType::StringMap => "map[string]string".into(),
            GoType::Struct(s) => s.qualified.into(),
        }
    }
}

/// The JSON type word `encoding/json` uses in its errors.
fn json_word(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "bool",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

/// Where in the struct tree the decoder is: the innermost struct's bare
/// name and the JSON field names from the top.
#[derive(Clone, Default)]
struct Ctx {
    name: &'static str,
    fields: Vec<String>,
}

impl Ctx {
    fn error(&self, v: &J, ty: &str) -> String {
        if self.fields.is_empty() {
            format!(
                "json: cannot unmarshal {} into Go value of type {ty}",
                json_word(v)
            )
        } else {
            format!(
                "json: cannot unmarshal {} into Go struct field {}.{} of type {ty}",
                json_word(v),
                self.name,
                self.fields.join(".")
            )
        }
    }
}

/// Decodes `v` (from [`crate::yaml::to_json_doc`]) into `ty`: the value
/// with sigs.k8s.io/yaml's string conversions applied, and the first
/// `encoding/json` error, if any (without sigs.k8s.io/yaml's prefix
/// `error unmarshaling JSON: while decoding JSON: `).
pub fn decode(v: &J, ty: &GoType) -> (J, Option<String>) {
    let mut err = None;
    let out = dec(v, ty, &Ctx::default(), &mut err);
    (out, err)
}

/// The error sigs.k8s.io/yaml returns for a failed decode.
pub fn yaml_error(json_err: &str) -> String {
    format!("error unmarshaling JSON: while decoding JSON: {json_err}")
}

fn dec(v: &J, ty: &GoType, ctx: &Ctx, err: &mut Option<String>) -> J {
    let mut fail = |t: &GoType| {
        if err.is_none() {
            *err = Some(ctx.error(v, &t.go_name()));
        }
        J::Null
    };
    // null leaves any Go value at its zero value
    if v.is_null() {
        return J::Null;
    }
    match ty {
        GoType::Any => v.clone(),
        GoType::String => match v {
            J::String(_) => v.clone(),
            J::Bool(b) => J::String(b.to_string()),
            J::Number(n) => J::String(match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.to_string(),
                (_, Some(u)) => u.to_string(),
                _ => crate::yaml::float32_g(n.as_f64().unwrap_or(0.0)),
            }),
            _ => fail(ty),
        },
        GoType::Bool => match v {
            J::Bool(_) => v.clone(),
            _ => fail(ty),
        },
        GoType::Ptr(t) => dec(v, t, ctx, err),
        GoType::Slice(elem, _) => match v {
            J::Array(items) => J::Array(items.iter().map(|i| dec(i, elem, ctx, err)).collect()),
            _ => fail(ty),
        },
        GoType::StringMap => match v {
            J::Object(m) => J::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), dec(x, &GoType::String, ctx, err)))
                    .collect(),
            ),
            _ => fail(ty),
        },
        GoType::Struct(s) => match v {
            J::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, x) in m {
                    let field = s
                        .fields
                        .iter()
                        .find(|(n, _)| n == k)
                        .or_else(|| s.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)));
                    match field {
                        // Go fills the field whatever the key's case: the
                        // value goes under the field's own name, the last
                        // non-null one winning
                        Some((n, t)) => {
                            let mut inner = Ctx {
                                name: s.name,
                                fields: ctx.fields.clone(),
                            };
                            inner.fields.push(n.to_string());
                            let val = dec(x, t, &inner, err);
                            if !(val.is_null() && out.contains_key(*n)) {
                                out.insert(n.to_string(), val);
                            }
                        }
                        None => {
                            out.insert(k.clone(), x.clone());
                        }
                    }
                }
                J::Object(out)
            }
            _ => fail(ty),
        },
    }
}

/// A field of a decoded struct: what Go's decoder leaves in the field
/// named `name` — keys match it ignoring case, they come in sorted order,
/// and the last non-null one wins.
pub fn field<'a>(obj: &'a J, name: &str) -> Option<&'a J> {
    obj.as_object()?
        .iter()
        .filter(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null())
        .map(|(_, v)| v)
        .next_back()
}

/// [`field`] as a string ("" if absent, null or not a string).
pub fn string_field(obj: &J, name: &str) -> String {
    field(obj, name)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

// ---- the structs helm decodes ------------------------------------------------

static MAINTAINER: Struct = Struct {
    qualified: "chart.Maintainer",
    name: "Maintainer",
    fields: &[
        ("name", GoType::String),
        ("email", GoType::String),
        ("url", GoType::String),
    ],
};

pub static DEPENDENCY: Struct = Struct {
    qualified: "chart.Dependency",
    name: "Dependency",
    fields: &[
        ("name", GoType::String),
        ("version", GoType::String),
        ("repository", GoType::String),
        ("condition", GoType::String),
        ("tags", GoType::Slice(&GoType::String, "[]string")),
        ("enabled", GoType::Bool),
        (
            "import-values",
            GoType::Slice(&GoType::Any, "[]interface {}"),
        ),
        ("alias", GoType::String),
    ],
};

/// helm's `chart.Metadata`: what Chart.yaml is read into.
pub static METADATA: GoType = GoType::Struct(&Struct {
    qualified: "chart.Metadata",
    name: "Metadata",
    fields: &[
        ("name", GoType::String),
        ("home", GoType::String),
        ("sources", GoType::Slice(&GoType::String, "[]string")),
        ("version", GoType::String),
        ("description", GoType::String),
        ("keywords", GoType::Slice(&GoType::String, "[]string")),
        (
            "maintainers",
            GoType::Slice(
                &GoType::Ptr(&GoType::Struct(&MAINTAINER)),
                "[]*chart.Maintainer",
            ),
        ),
        ("icon", GoType::String),
        ("apiVersion", GoType::String),
        ("condition", GoType::String),
        ("tags", GoType::String),
        ("appVersion", GoType::String),
        ("deprecated", GoType::Bool),
        ("annotations", GoType::StringMap),
        ("kubeVersion", GoType::String),
        (
            "dependencies",
            GoType::Slice(
                &GoType::Ptr(&GoType::Struct(&DEPENDENCY)),
                "[]*chart.Dependency",
            ),
        ),
        ("type", GoType::String),
    ],
});

/// The stub `helm lint` decodes every rendered manifest into
/// (`rules.K8sYamlStruct`): only apiVersion, kind and metadata's name and
/// namespace — but a wrong type anywhere in those is an error.
pub static K8S_YAML_STRUCT: GoType = GoType::Struct(&Struct {
    qualified: "rules.K8sYamlStruct",
    name: "K8sYamlStruct",
    fields: &[
        ("apiVersion", GoType::String),
        ("Kind", GoType::String),
        (
            "Metadata",
            GoType::Struct(&Struct {
                qualified: "rules.k8sYamlMetadata",
                name: "k8sYamlMetadata",
                fields: &[("Namespace", GoType::String), ("Name", GoType::String)],
            }),
        ),
    ],
});

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(y: &str) -> (J, Option<String>) {
        decode(&crate::yaml::to_json_doc(y).unwrap(), &METADATA)
    }

    #[test]
    fn scalars_bound_for_strings_become_strings() {
        let (m, e) = meta("version: 1.0\nappVersion: 1.10\nicon: 1e40\nname: true\n");
        assert_eq!(e, None);
        assert_eq!(m["version"], "1");
        assert_eq!(m["appVersion"], "1.1");
        assert_eq!(m["icon"], "+Inf");
        assert_eq!(m["name"], "true");
    }

    #[test]
    fn wrong_types_are_go_errors() {
        let (_, e) = meta("deprecated: \"yes\"\n");
        assert_eq!(
            e.unwrap(),
            "json: cannot unmarshal string into Go struct field Metadata.deprecated of type bool"
        );
        let (_, e) = meta("maintainers:\n- name: [a]\n");
        assert_eq!(
            e.unwrap(),
            "json: cannot unmarshal array into Go struct field Maintainer.maintainers.name of type string"
        );
        let (_, e) = decode(&J::String("x".into()), &K8S_YAML_STRUCT);
        assert_eq!(
            e.unwrap(),
            "json: cannot unmarshal string into Go value of type rules.K8sYamlStruct"
        );
    }

    #[test]
    fn keys_match_ignoring_case() {
        let (m, e) = decode(
            &crate::yaml::to_json_doc("KIND: Service\nmetadata:\n  NAME: 9\n").unwrap(),
            &K8S_YAML_STRUCT,
        );
        assert_eq!(e, None);
        assert_eq!(string_field(&m, "kind"), "Service");
        assert_eq!(string_field(field(&m, "metadata").unwrap(), "name"), "9");
    }
}
