//! Label and field selectors: how Kubernetes objects find each other.
//!
//! A Service finds its pods, a ReplicaSet counts its pods and `kubectl get
//! -l app=web` filters a list, all with the same *label selector*. It comes
//! in two spellings that mean the same thing:
//!
//! - the string form in URLs: `app=web,tier!=db,env in (prod,staging),!beta`
//! - the object form in specs: `{matchLabels: {...}, matchExpressions: [...]}`
//!
//! Both parse into a [`LabelSelector`], a list of requirements that must all
//! hold. *Field* selectors (`spec.nodeName=node-1`) work the same way but
//! look at a few fixed fields instead of labels.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// How one requirement is checked against a set of labels. The built-in is
/// [`Requirement::matches`]; lab 01 plugs the learner's own in instead.
pub type Matcher = fn(&Requirement, &BTreeMap<String, String>) -> bool;

/// A conjunction of requirements. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unable to parse requirement: {0}")]
pub struct ParseError(pub String);

impl LabelSelector {
    /// Parses the string form, as `?labelSelector=` carries it.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut requirements = Vec::new();
        for term in split_terms(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(term)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Reads a `metav1.LabelSelector` object (`matchLabels` + `matchExpressions`).
    pub fn from_object(v: &Value) -> Result<Self, ParseError> {
        let mut requirements = Vec::new();
        if let Some(map) = v.get("matchLabels").and_then(Value::as_object) {
            for (k, val) in map {
                let val = val.as_str().unwrap_or_default().to_string();
                requirements.push(Requirement::Equals(k.clone(), val));
            }
        }
        for expr in v
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = expr["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> = expr["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            requirements.push(match expr["operator"].as_str().unwrap_or_default() {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                op => {
                    return Err(ParseError(format!(
                        "{op:?} is not a valid selector operator"
                    )));
                }
            });
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(labels, Requirement::matches)
    }

    /// Matches with a given requirement checker (see [`Matcher`]).
    pub fn matches_with(&self, labels: &BTreeMap<String, String>, matcher: Matcher) -> bool {
        self.requirements.iter().all(|r| matcher(r, labels))
    }

    /// Matches an object's `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(&labels_of(obj))
    }
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            // As upstream: `!=` also matches objects without the label.
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

/// Splits on commas that are not inside `( … )`.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_requirement(term: &str) -> Result<Requirement, ParseError> {
    let bad = || ParseError(term.to_string());
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(check_key(key.trim(), term)?));
    }
    for (op, set) in [(" notin ", false), (" in ", true)] {
        if let Some((key, rest)) = term.split_once(op) {
            let rest = rest.trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            let values = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            let key = check_key(key.trim(), term)?;
            return Ok(if set {
                Requirement::In(key, values)
            } else {
                Requirement::NotIn(key, values)
            });
        }
    }
    for (op, eq) in [("!=", false), ("==", true), ("=", true)] {
        if let Some((key, value)) = term.split_once(op) {
            let key = check_key(key.trim(), term)?;
            let value = value.trim().to_string();
            return Ok(if eq {
                Requirement::Equals(key, value)
            } else {
                Requirement::NotEquals(key, value)
            });
        }
    }
    Ok(Requirement::Exists(check_key(term, term)?))
}

fn check_key(key: &str, term: &str) -> Result<String, ParseError> {
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(ParseError(term.to_string()));
    }
    Ok(key.to_string())
}

/// The string form of a `metav1.LabelSelector` object (`app=web,tier in (a,b)`),
/// as the Scale subresource and `kubectl get -o wide` show it.
pub fn to_selector_string(sel: &Value) -> String {
    let mut parts: Vec<String> = sel["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let key = e["key"].as_str().unwrap_or_default();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A field selector: `metadata.name=x,status.phase!=Running`.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector {
    /// (field path, value, equal?)
    pub terms: Vec<(String, String, bool)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut terms = Vec::new();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, eq) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, true)
            } else {
                return Err(ParseError(term.to_string()));
            };
            terms.push((field.trim().to_string(), value.trim().to_string(), eq));
        }
        Ok(FieldSelector { terms })
    }

    /// Checks the selector against an object. Upstream only allows a fixed
    /// set of fields per kind; [`FieldSelector::unsupported_field`] reports
    /// the others so the API server can refuse them as upstream does.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(field, value, eq)| {
            let actual = field_value(obj, field);
            (actual.as_deref().unwrap_or("") == value) == *eq
        })
    }

    /// The first field this kind cannot be selected on, if any.
    pub fn unsupported_field(&self, kind: &str) -> Option<&str> {
        self.terms
            .iter()
            .map(|(f, _, _)| f.as_str())
            .find(|f| !selectable_fields(kind).contains(f))
    }
}

/// The fields each kind can be selected on (upstream's field label
/// conversion functions), beyond `metadata.name` and `metadata.namespace`.
pub fn selectable_fields(kind: &str) -> Vec<&'static str> {
    let mut fields = vec!["metadata.name", "metadata.namespace"];
    fields.extend_from_slice(match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ][..],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ][..],
        "Secret" => &["type"][..],
        "Node" => &["spec.unschedulable"][..],
        "Namespace" => &["status.phase"][..],
        "ReplicaSet" | "Job" => &["status.replicas", "status.successful"][..],
        _ => &[][..],
    });
    fields
}

fn field_value(obj: &Value, field: &str) -> Option<String> {
    if field == "source" {
        return obj
            .pointer("/source/component")
            .and_then(Value::as_str)
            .map(String::from);
    }
    let pointer = format!("/{}", field.replace('.', "/"));
    match obj.pointer(&pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn string_selectors_follow_upstream_semantics() {
        let web = labels(&[("app", "web"), ("env", "prod")]);
        let db = labels(&[("app", "db")]);
        let cases = [
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("env", true, false),
            ("!env", false, true),
            ("env in (prod, staging)", true, false),
            ("env notin (prod)", false, true),
            ("app in (web,db),!beta", true, true),
            ("", true, true),
        ];
        for (sel, on_web, on_db) in cases {
            let s = LabelSelector::parse(sel).unwrap();
            assert_eq!((s.matches(&web), s.matches(&db)), (on_web, on_db), "{sel}");
        }
        assert!(LabelSelector::parse("env in prod").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn object_selectors_match_like_string_ones() {
        let s = LabelSelector::from_object(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        }))
        .unwrap();
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(
            LabelSelector::from_object(
                &json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})
            )
            .is_err()
        );
    }

    #[test]
    fn field_selectors_read_paths_and_know_their_fields() {
        let pod = json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Pending").unwrap();
        assert!(s.matches(&pod));
        assert!(
            !FieldSelector::parse("spec.nodeName=n2")
                .unwrap()
                .matches(&pod)
        );
        // An unset field compares as "".
        assert!(
            FieldSelector::parse("spec.nodeName=")
                .unwrap()
                .matches(&json!({}))
        );
        assert_eq!(s.unsupported_field("Pod"), None);
        assert_eq!(s.unsupported_field("ConfigMap"), Some("spec.nodeName"));
    }
}
