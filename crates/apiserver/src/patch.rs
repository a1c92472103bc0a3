//! PATCH: four ways to describe a change.
//!
//! | Content-Type                             | semantics                       | who sends it |
//! |------------------------------------------|---------------------------------|--------------|
//! | `application/json-patch+json`            | RFC 6902 operations             | `rollout undo`, `patch --type=json` |
//! | `application/merge-patch+json`           | RFC 7396: objects merge, lists are replaced, `null` deletes | `label`, `annotate`, `scale` |
//! | `application/strategic-merge-patch+json` | like merge patch, but some lists merge *by key* | `apply`, `set image`, `edit`, `patch` |
//! | `application/apply-patch+yaml`           | server-side apply               | `apply --server-side` |
//!
//! The interesting one is **strategic merge patch**. With a plain merge
//! patch, `{"spec":{"containers":[{"name":"web","image":"v2"}]}}` would
//! *replace* the whole containers list; with a strategic one, containers
//! are matched by their `name` and only `web`'s image changes. Which lists
//! merge and by which key is part of the API's schema (`patchMergeKey`
//! tags in upstream's Go types); [`merge_key`] holds that table. A patch
//! can also carry directives: `$patch: delete|replace`,
//! `$setElementOrder/<list>`, `$retainKeys`, `$deleteFromPrimitiveList/<list>`.

use serde_json::{Map, Value};

use crate::status::ApiError;

pub use kubelab_api::strategic::merge_key;

/// Primitive lists that merge as sets (`patchStrategy: merge` on a []string).
fn is_merging_primitive_list(path: &[&str]) -> bool {
    matches!(path.last(), Some(&"finalizers"))
}

/// Applies a strategic merge patch to `original`.
pub fn strategic_merge(original: &Value, patch: &Value) -> Result<Value, ApiError> {
    let mut out = original.clone();
    let mut path = Vec::new();
    merge_value(&mut out, patch, &mut path)?;
    Ok(out)
}

fn merge_value(target: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<(), ApiError> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    // $retainKeys: every key not listed is cleared (used by strategy.type switches).
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        target
            .as_object_mut()
            .unwrap()
            .retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k == "$retainKeys" || k == "$patch" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let Some(Value::Array(items)) = target.get_mut(list) {
                let remove = v.as_array().cloned().unwrap_or_default();
                items.retain(|i| !remove.contains(i));
            }
            continue;
        }
        let t = target.as_object_mut().unwrap();
        if v.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let slot = t.entry(k.clone()).or_insert(Value::Null);
        match v {
            Value::Object(_) => merge_value(slot, v, path)?,
            Value::Array(items) => {
                if let Some(key) = merge_key(&segments) {
                    let order = p
                        .get(&format!("$setElementOrder/{k}"))
                        .and_then(Value::as_array);
                    merge_list(slot, items, key, order, path)?;
                } else if is_merging_primitive_list(&segments) {
                    let mut merged = slot.as_array().cloned().unwrap_or_default();
                    for i in items {
                        if !merged.contains(i) {
                            merged.push(i.clone());
                        }
                    }
                    *slot = Value::Array(merged);
                } else {
                    *slot = v.clone();
                }
            }
            _ => *slot = v.clone(),
        }
        path.pop();
    }
    // An explicit `$setElementOrder` for a list the patch did not touch still reorders it.
    for (k, order) in p {
        if let Some(list) = k.strip_prefix("$setElementOrder/")
            && !p.contains_key(list)
        {
            path.push(list.to_string());
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            if let (Some(key), Some(slot)) = (merge_key(&segments), target.get_mut(list)) {
                merge_list(slot, &[], key, order.as_array(), path)?;
            }
            path.pop();
        }
    }
    Ok(())
}

fn merge_list(
    target: &mut Value,
    patch: &[Value],
    key: &str,
    order: Option<&Vec<Value>>,
    path: &mut Vec<String>,
) -> Result<(), ApiError> {
    let mut items = target.as_array().cloned().unwrap_or_default();
    for p in patch {
        let directive = p.get("$patch").and_then(Value::as_str);
        let Some(id) = p.get(key) else {
            if directive == Some("replace") {
                // `[{"$patch": "replace"}, …]`: the rest of the patch list is the new list.
                items = patch
                    .iter()
                    .filter(|i| i.get("$patch").is_none())
                    .cloned()
                    .collect();
                break;
            }
            return Err(ApiError::bad_request(format!(
                "map: {p} does not contain declared merge key: {key}"
            )));
        };
        let pos = items.iter().position(|i| i.get(key) == Some(id));
        match (directive, pos) {
            (Some("delete"), Some(i)) => {
                items.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => merge_value(&mut items[i], p, path)?,
            (_, None) => {
                let mut fresh = Value::Object(Map::new());
                merge_value(&mut fresh, p, path)?;
                items.push(fresh);
            }
        }
    }
    if let Some(order) = order {
        // Items named in the order come first, in that order; the rest keep theirs.
        let ids: Vec<&Value> = order.iter().filter_map(|o| o.get(key)).collect();
        items.sort_by_key(|i| {
            i.get(key)
                .and_then(|id| ids.iter().position(|o| *o == id))
                .unwrap_or(usize::MAX)
        });
    }
    *target = Value::Array(items);
    Ok(())
}

/// Applies a patch of the given content type to `original`.
pub fn apply(content_type: &str, original: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let parse_json = |b: &[u8]| -> Result<Value, ApiError> {
        serde_json::from_slice(b)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
    };
    match content_type {
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding json patch: {e}")))?;
            let mut out = original.clone();
            json_patch::patch(&mut out, &ops).map_err(|e| {
                ApiError::new_unprocessable(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            Ok(out)
        }
        "application/merge-patch+json" => {
            let p = parse_json(body)?;
            let mut out = original.clone();
            json_patch::merge(&mut out, &p);
            Ok(out)
        }
        "application/strategic-merge-patch+json" => strategic_merge(original, &parse_json(body)?),
        "application/apply-patch+yaml" => {
            // Simplified server-side apply (see the book): the applied
            // configuration is merged into the live object with the same
            // list keys as a strategic merge patch. Upstream additionally
            // tracks which manager owns each field (managedFields) and
            // reports conflicts; kubelab does not yet.
            let applied: Value = serde_yaml::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            strategic_merge(original, &applied)
        }
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

impl ApiError {
    fn new_unprocessable(message: String) -> ApiError {
        ApiError {
            code: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            reason: "Invalid",
            message,
            details: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "log", "image": "log:1"}
        ]}}}})
    }

    #[test]
    fn containers_merge_by_name() {
        let out = strategic_merge(&deployment(), &json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}})).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "web:2");
        assert_eq!(cs[0]["env"][1]["value"], "2", "untouched fields stay");
        // A plain merge patch would have replaced the list:
        let merged = apply(
            "application/merge-patch+json",
            &deployment(),
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"web"}]}}}}"#,
        )
        .unwrap();
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn directives_delete_replace_and_order() {
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "log"}, {"name": "web"}],
            "containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]
        }}}});
        let out = strategic_merge(&deployment(), &p).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["name"], "log");
        assert_eq!(cs[1]["env"], json!([{"name": "B", "value": "2"}]));
        let out = strategic_merge(&deployment(), &json!({"spec": {"replicas": null}})).unwrap();
        assert!(out["spec"].get("replicas").is_none());
        let out = strategic_merge(&json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})).unwrap();
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn service_ports_merge_by_port_and_finalizers_as_a_set() {
        let svc = json!({"metadata": {"finalizers": ["a"]}, "spec": {"ports": [{"port": 80, "name": "http"}]}});
        let out = strategic_merge(&svc, &json!({"metadata": {"finalizers": ["b", "a"]}, "spec": {"ports": [{"port": 443, "name": "https"}]}})).unwrap();
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        let e = strategic_merge(&svc, &json!({"spec": {"ports": [{"name": "x"}]}})).unwrap_err();
        assert_eq!(e.code.as_u16(), 400);
    }

    #[test]
    fn json_patch_errors_are_422() {
        let e = apply(
            "application/json-patch+json",
            &json!({}),
            br#"[{"op":"remove","path":"/nope"}]"#,
        )
        .unwrap_err();
        assert_eq!(e.code.as_u16(), 422);
        let e = apply("text/plain", &json!({}), b"").unwrap_err();
        assert_eq!(e.code.as_u16(), 415);
    }
}
