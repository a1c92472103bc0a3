//! Object metadata: what the API server itself writes into `metadata`.
//!
//! On create the server assigns `uid`, `creationTimestamp`, `generation: 1`
//! and — when you gave `generateName: web-` instead of a name — a name with
//! five random characters (`web-x7k2p`). On every write it sets
//! `resourceVersion` (the store revision). `generation` only moves when the
//! *spec* changes: that is how a controller tells "someone asked for
//! something new" (generation > status.observedGeneration) from "someone
//! updated the status".

use rand::Rng;
use serde_json::{Value, json};

/// The alphabet upstream uses for generated suffixes: no vowels (no words),
/// no confusable characters.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` + 5 random characters.
pub fn generate_name(base: &str) -> String {
    let mut rng = rand::rng();
    // Upstream truncates the base so the whole name stays a valid length.
    let base: String = base.chars().take(58).collect();
    let suffix: String = (0..5)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect();
    format!("{base}{suffix}")
}

pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// RFC 3339 in UTC with seconds, as `metav1.Time` serialises.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 with microseconds, as `metav1.MicroTime` serialises (events, leases).
pub fn now_micro() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata`, created if missing.
pub fn metadata_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().unwrap()
}

/// The "interesting" part of an object for generation bumps: everything but
/// `metadata` and `status` (for most kinds that is `spec`; for ConfigMaps
/// it is `data`).
pub fn desired_state(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

/// The owner reference marked `controller: true`, if any.
pub fn controller_of(obj: &Value) -> Option<&Value> {
    owner_references(obj)
        .iter()
        .find(|r| r["controller"] == true)
}

pub fn owner_references(obj: &Value) -> &[Value] {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(String::from))
        .collect()
}

pub fn is_being_deleted(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// An RFC 3339 time field (`startTime`, `lastTransitionTime`, a Lease's
/// `renewTime`) as UTC; `None` if absent or unparsable.
pub fn time_of(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The condition of `type_` in a `status.conditions` list, if present.
pub fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
}

/// `lastTransitionTime` for a condition about to be written with
/// `status`: kept from `conditions` if that condition already had this
/// status, else `now` — a condition's time moves only when it flips.
pub fn transition_time(conditions: &Value, type_: &str, status: &str, now: &str) -> Value {
    condition(conditions, type_)
        .filter(|c| c["status"] == status)
        .map(|c| c["lastTransitionTime"].clone())
        .unwrap_or_else(|| Value::String(now.to_string()))
}

/// Drops the `fields` of `status` that are 0: upstream's Go types mark
/// most counters `omitempty`, so a Deployment with no ready replica has
/// no `readyReplicas` at all (`kubectl get -o custom-columns` prints
/// `<none>`, and a `jsonpath=…=0` wait does not match).
pub fn omit_zeros(status: &mut Value, fields: &[&str]) {
    if let Some(m) = status.as_object_mut() {
        for f in fields {
            if m.get(*f).and_then(Value::as_i64) == Some(0) {
                m.remove(*f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_have_a_five_character_suffix() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert!(n[4..].bytes().all(|c| ALPHANUMS.contains(&c)));
        assert_eq!(generate_name(&"x".repeat(100)).len(), 63);
    }

    #[test]
    fn desired_state_ignores_metadata_and_status() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}, "status": {"x": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"replicas": 1}, "status": {"x": 2}});
        assert_eq!(desired_state(&a), desired_state(&b));
    }
}
