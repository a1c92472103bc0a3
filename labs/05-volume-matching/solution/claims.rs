//! The reference solution of lab 05 (`kubelab lab check 05 --solution`).

use kubelab_api::quantity;
use kubelab_api::selector::LabelSelector;
use serde_json::Value;

fn text<'a>(v: &'a Value, default: &'a str) -> &'a str {
    v.as_str().unwrap_or(default)
}

fn bytes(v: &Value) -> f64 {
    quantity::of(v).unwrap_or(0.0)
}

fn free_for(volume: &Value, claim: &Value) -> bool {
    let r = &volume["spec"]["claimRef"];
    let m = &claim["metadata"];
    !volume["metadata"]["deletionTimestamp"].is_string()
        && (r.is_null()
            || (r["name"] == m["name"]
                && r["namespace"] == m["namespace"]
                && (r["uid"].is_null() || r["uid"] == m["uid"])))
}

pub fn find_best_match<'a>(claim: &Value, volumes: &[&'a Value]) -> Option<&'a Value> {
    let spec = &claim["spec"];
    let selector = match &spec["selector"] {
        Value::Null => None,
        s => Some(LabelSelector::from_object(s).ok()?),
    };
    let named = text(&spec["volumeName"], "");
    let wanted = bytes(&spec["resources"]["requests"]["storage"]);
    let fits = |v: &&Value| {
        let vs = &v["spec"];
        let offered = vs["accessModes"].as_array();
        (named.is_empty() || v["metadata"]["name"] == named)
            && free_for(v, claim)
            && text(&vs["storageClassName"], "") == text(&spec["storageClassName"], "")
            && text(&vs["volumeMode"], "Filesystem") == text(&spec["volumeMode"], "Filesystem")
            && spec["accessModes"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|m| offered.is_some_and(|o| o.contains(m)))
            && bytes(&vs["capacity"]["storage"]) >= wanted
            && selector.as_ref().is_none_or(|s| s.matches_object(v))
    };
    volumes.iter().copied().filter(fits).min_by(|a, b| {
        bytes(&a["spec"]["capacity"]["storage"])
            .total_cmp(&bytes(&b["spec"]["capacity"]["storage"]))
            .then_with(|| text(&a["metadata"]["name"], "").cmp(text(&b["metadata"]["name"], "")))
    })
}
