//! Filters: may this pod run on this node at all?
//!
//! Each check is named after the upstream plugin that makes it, and fails
//! with the reason upstream prints (counted per reason in the
//! `FailedScheduling` message).

use std::sync::Arc;

use serde_json::Value;

use crate::{NodeTotals, Requests};

/// What the filters and scores read of a node, parsed once per version of
/// the node instead of once per pod and node (upstream's scheduler keeps
/// such a `NodeInfo` snapshot for the same reason).
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<Value>,
    pub name: String,
    pub cpu_millis: u64,
    pub memory: u64,
    pub max_pods: u64,
    pub unschedulable: bool,
    pub tainted: bool,
}

impl NodeInfo {
    pub fn of(node: &Arc<Value>) -> NodeInfo {
        let alloc = &node["status"]["allocatable"];
        NodeInfo {
            node: node.clone(),
            name: node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            cpu_millis: kubelab_api::quantity::cpu_millis(&alloc["cpu"]).unwrap_or(0),
            memory: kubelab_api::quantity::bytes(&alloc["memory"]).unwrap_or(0),
            max_pods: kubelab_api::quantity::bytes(&alloc["pods"]).unwrap_or(110),
            unschedulable: node["spec"]["unschedulable"] == true,
            tainted: node["spec"]["taints"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
        }
    }
}

/// Does the pod constrain where it runs (nodeSelector or node affinity)?
/// Checked once per pod, so unconstrained pods skip `node_affinity`.
pub fn has_node_constraints(pod: &Value) -> bool {
    pod["spec"]["nodeSelector"]
        .as_object()
        .is_some_and(|s| !s.is_empty())
        || !pod["spec"]["affinity"]["nodeAffinity"].is_null()
}

/// Runs every filter; the first that fails gives the reason.
// ANCHOR: filter
pub fn filter(
    pod: &Value,
    req: &Requests,
    node: &NodeInfo,
    used: &NodeTotals,
    constrained: bool,
) -> Result<(), String> {
    if node.unschedulable {
        node_unschedulable(pod, &node.node)?;
    }
    if constrained {
        node_affinity(pod, &node.node)?;
    }
    if node.tainted {
        taint_toleration(pod, &node.node)?;
    }
    node_ports(req, used)?;
    node_resources_fit(req, node, used)?;
    Ok(())
}
// ANCHOR_END: filter

/// `NodeUnschedulable`: `kubectl cordon` sets `spec.unschedulable`.
pub fn node_unschedulable(pod: &Value, node: &Value) -> Result<(), String> {
    if node["spec"]["unschedulable"] != true {
        return Ok(());
    }
    let taint =
        serde_json::json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"});
    if !tolerates(pod, &taint) {
        return Err("node(s) were unschedulable".into());
    }
    Ok(())
}

/// `NodeResourcesFit`: the pod's requests fit in what is left of the
/// node's `allocatable` (requests, not actual use, as upstream).
pub fn node_resources_fit(
    req: &Requests,
    node: &NodeInfo,
    used: &NodeTotals,
) -> Result<(), String> {
    let (cpu, memory, pods) = (node.cpu_millis, node.memory, node.max_pods);
    let mut missing = Vec::new();
    if used.pods + 1 > pods {
        missing.push("Too many pods");
    }
    if req.cpu_millis > 0 && used.cpu_millis + req.cpu_millis > cpu {
        missing.push("Insufficient cpu");
    }
    if req.memory > 0 && used.memory + req.memory > memory {
        missing.push("Insufficient memory");
    }
    match missing.as_slice() {
        [] => Ok(()),
        // Upstream counts each missing resource separately; one reason per
        // node keeps our message simple and still names the first one.
        [first, ..] => Err(first.to_string()),
    }
}

/// `NodePorts`: a `hostPort` can be used by one pod per node.
pub fn node_ports(req: &Requests, used: &NodeTotals) -> Result<(), String> {
    if req.host_ports.iter().any(|p| used.host_ports.contains(p)) {
        return Err("node(s) didn't have free ports for the requested pod ports".into());
    }
    Ok(())
}

/// `NodeAffinity`: `spec.nodeSelector` and
/// `requiredDuringSchedulingIgnoredDuringExecution` node affinity.
pub fn node_affinity(pod: &Value, node: &Value) -> Result<(), String> {
    let labels = &node["metadata"]["labels"];
    let refuse = || Err("node(s) didn't match Pod's node affinity/selector".to_string());
    if let Some(sel) = pod["spec"]["nodeSelector"].as_object() {
        for (k, v) in sel {
            if labels[k] != *v {
                return refuse();
            }
        }
    }
    let terms = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    if let Some(terms) = terms.as_array() {
        // Terms are ORed; the expressions inside one term are ANDed.
        let ok = terms.iter().any(|t| {
            t["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|e| expression_matches(e, labels))
                && t["matchFields"].as_array().into_iter().flatten().all(|e| {
                    e["key"] != "metadata.name"
                        || expression_matches_value(e, node["metadata"]["name"].as_str())
                })
        });
        if !ok {
            return refuse();
        }
    }
    Ok(())
}

fn expression_matches(e: &Value, labels: &Value) -> bool {
    let key = e["key"].as_str().unwrap_or_default();
    expression_matches_value(e, labels[key].as_str())
}

fn expression_matches_value(e: &Value, have: Option<&str>) -> bool {
    let values: Vec<&str> = e["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let num = |s: &str| s.parse::<i64>().ok();
    match e["operator"].as_str().unwrap_or_default() {
        "In" => have.is_some_and(|h| values.contains(&h)),
        "NotIn" => have.is_none_or(|h| !values.contains(&h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" => {
            matches!((have.and_then(num), values.first().and_then(|v| num(v))), (Some(h), Some(v)) if h > v)
        }
        "Lt" => {
            matches!((have.and_then(num), values.first().and_then(|v| num(v))), (Some(h), Some(v)) if h < v)
        }
        _ => false,
    }
}

/// `TaintToleration`: every `NoSchedule`/`NoExecute` taint of the node
/// must be tolerated by the pod.
pub fn taint_toleration(pod: &Value, node: &Value) -> Result<(), String> {
    for taint in node["spec"]["taints"].as_array().into_iter().flatten() {
        let effect = taint["effect"].as_str().unwrap_or_default();
        if effect == "PreferNoSchedule" || tolerates(pod, taint) {
            continue;
        }
        return Err(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint["key"].as_str().unwrap_or_default(),
            taint["value"].as_str().unwrap_or_default()
        ));
    }
    Ok(())
}

/// Does one of the pod's tolerations match the taint?
pub fn tolerates(pod: &Value, taint: &Value) -> bool {
    pod["spec"]["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| {
            let effect_ok = t["effect"]
                .as_str()
                .is_none_or(|e| e.is_empty() || taint["effect"] == e);
            let key = t["key"].as_str().unwrap_or_default();
            let key_ok = key.is_empty() || taint["key"] == key;
            let value_ok = match t["operator"].as_str().unwrap_or("Equal") {
                "Exists" => true,
                _ => {
                    t["value"].as_str().unwrap_or_default()
                        == taint["value"].as_str().unwrap_or_default()
                }
            };
            // An empty key with Exists tolerates everything.
            effect_ok && key_ok && value_ok && (!key.is_empty() || t["operator"] == "Exists")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> Value {
        json!({"metadata": {"name": "n1", "labels": {"disk": "ssd", "kubernetes.io/hostname": "n1"}},
               "spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]},
               "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "110"}}})
    }

    #[test]
    fn each_filter_refuses_with_upstreams_reason() {
        let n = node();
        let pod = json!({"spec": {"nodeSelector": {"disk": "hdd"}}});
        assert_eq!(
            node_affinity(&pod, &n).unwrap_err(),
            "node(s) didn't match Pod's node affinity/selector"
        );
        let pod = json!({"spec": {}});
        assert_eq!(
            taint_toleration(&pod, &n).unwrap_err(),
            "node(s) had untolerated taint {gpu: yes}"
        );
        let pod = json!({"spec": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}});
        assert!(taint_toleration(&pod, &n).is_ok());
        let req = Requests {
            cpu_millis: 1500,
            ..Default::default()
        };
        let used = NodeTotals {
            cpu_millis: 1000,
            ..Default::default()
        };
        assert_eq!(
            node_resources_fit(&req, &NodeInfo::of(&Arc::new(n.clone())), &used).unwrap_err(),
            "Insufficient cpu"
        );
        assert!(
            node_resources_fit(&req, &NodeInfo::of(&Arc::new(n)), &NodeTotals::default()).is_ok()
        );
    }

    #[test]
    fn affinity_terms_are_ored_and_expressions_anded() {
        let n = node();
        let pod = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
            {"matchExpressions": [{"key": "disk", "operator": "Exists"}, {"key": "zone", "operator": "DoesNotExist"}]}
        ]}}}}});
        assert!(node_affinity(&pod, &n).is_ok());
    }
}
