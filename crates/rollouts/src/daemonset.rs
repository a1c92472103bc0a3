//! DaemonSet rolling updates: node by node, `maxUnavailable` or `maxSurge`
//! at a time (plugged into chapter 06's controller as
//! [`kubelab_scaling::daemonset::DaemonSetUpdates`]).
//!
//! A DaemonSet cannot surge the way a Deployment does — there is one pod
//! per node — so it has two modes (upstream's daemon/update.go):
//!
//! * `maxSurge: 0` (the default): delete up to `maxUnavailable` outdated
//!   pods (1 by default); the controller then starts new ones on those
//!   nodes. Outdated pods that are not available anyway go at once.
//! * `maxSurge > 0` (then `maxUnavailable` must be 0): start a new pod next
//!   to the old one on up to `maxSurge` nodes; the old one goes when the
//!   new one is available. The node never goes without its agent.
//!
//! `OnDelete`: nothing is replaced until someone deletes the old pod.

use std::sync::Arc;

use serde_json::Value;

use kubelab_client::Error;
use kubelab_scaling::daemonset::{DaemonSetUpdates, NodePods, Roll};

use crate::history::History;

pub const HASH_LABEL: &str = "controller-revision-hash";

pub struct DaemonSetRollouts {
    pub history: History,
}

/// `(maxSurge, maxUnavailable)` resolved against the number of nodes that
/// should run a pod, rounding up (upstream's `updatedDesiredNodeCounts`).
pub fn budgets(ds: &Value, desired: i64) -> (i64, i64) {
    let ru = &ds["spec"]["updateStrategy"]["rollingUpdate"];
    let surge = kubelab_api::intstr::scaled_or(&ru["maxSurge"], "0", desired, true);
    let mut unavailable = kubelab_api::intstr::scaled_or(&ru["maxUnavailable"], "1", desired, true);
    if desired > 0 && surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn is_new(p: &Value, hash: &str) -> bool {
    p["metadata"]["labels"][HASH_LABEL] == hash
}

fn min_ready(ds: &Value) -> i64 {
    ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0)
}

#[async_trait::async_trait]
impl DaemonSetUpdates for DaemonSetRollouts {
    async fn record(&self, ds: &Value, pods: &[Arc<Value>]) -> Result<(), Error> {
        let name = ds["metadata"]["name"].as_str().unwrap_or_default();
        let hash = kubelab_controllers::deployment::pod_template_hash(&ds["spec"]["template"]);
        let live: Vec<String> = pods
            .iter()
            .filter_map(|p| p["metadata"]["labels"][HASH_LABEL].as_str())
            .map(|h| format!("{name}-{h}"))
            .collect();
        self.history.record(ds, &hash, HASH_LABEL, &live).await?;
        Ok(())
    }

    fn surges(&self, ds: &Value) -> bool {
        ds["spec"]["updateStrategy"]["type"] != "OnDelete" && budgets(ds, 1).0 > 0
    }

    fn roll(&self, ds: &Value, hash: &str, nodes: &[NodePods]) -> Roll {
        roll(ds, hash, nodes)
    }
}

// ANCHOR: roll
/// Outdated pods to delete and nodes to start new pods on, this pass.
pub fn roll(ds: &Value, hash: &str, nodes: &[NodePods]) -> Roll {
    let mut roll = Roll::default();
    if ds["spec"]["updateStrategy"]["type"] == "OnDelete" {
        return roll;
    }
    let desired = nodes.iter().filter(|n| n.should_run).count() as i64;
    let (max_surge, max_unavailable) = budgets(ds, desired);
    let available = |p: &Value| kubelab_api::pod::is_available(p, min_ready(ds));
    if max_surge == 0 {
        // Replace in place: at most maxUnavailable nodes without an
        // available pod at any time.
        let mut unavailable = 0;
        let mut candidates = Vec::new();
        for n in nodes.iter().filter(|n| n.should_run) {
            let old: Vec<&Arc<Value>> = n.pods.iter().filter(|p| !is_new(p, hash)).collect();
            let new: Vec<&Arc<Value>> = n.pods.iter().filter(|p| is_new(p, hash)).collect();
            match (old.first(), new.first()) {
                (Some(_), Some(_)) | (None, None) => unavailable += 1,
                (None, Some(p)) if !available(p) => unavailable += 1,
                (None, Some(_)) => {}
                (Some(p), None) if !available(p) => {
                    roll.delete.push((*p).clone()); // broken anyway: free
                    unavailable += 1;
                }
                (Some(p), None) => candidates.push((*p).clone()),
            }
        }
        let room = (max_unavailable - unavailable).clamp(0, candidates.len() as i64);
        roll.delete
            .extend(candidates.into_iter().take(room as usize));
    } else {
        // Surge: a new pod beside the old one, on at most maxSurge
        // nodes at once; the old one goes once the new one is available.
        let mut surging = 0;
        let mut candidates = Vec::new();
        for n in nodes.iter().filter(|n| n.should_run) {
            let old = n.pods.iter().find(|p| !is_new(p, hash));
            let new = n.pods.iter().find(|p| is_new(p, hash));
            match (old, new) {
                (Some(o), None) if !available(o) => roll.create_on.push(n.node.clone()),
                (Some(_), None) => candidates.push(n.node.clone()),
                (Some(o), Some(p)) if available(p) => roll.delete.push(o.clone()),
                (Some(_), Some(_)) => surging += 1,
                _ => {}
            }
        }
        let room = (max_surge - surging).clamp(0, candidates.len() as i64);
        roll.create_on
            .extend(candidates.into_iter().take(room as usize));
    }
    roll
}
// ANCHOR_END: roll

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Value> {
        Arc::new(
            json!({"metadata": {"name": name, "labels": {HASH_LABEL: hash}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready",
                "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}),
        )
    }

    fn node(name: &str, pods: Vec<Arc<Value>>) -> NodePods {
        NodePods {
            node: name.into(),
            should_run: true,
            pods,
        }
    }

    #[test]
    fn without_surge_one_node_at_a_time_and_broken_pods_for_free() {
        let ds = json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}});
        let nodes = vec![
            node("a", vec![pod("a1", "old", true)]),
            node("b", vec![pod("b1", "old", true)]),
            node("c", vec![pod("c1", "old", false)]),
        ];
        let roll = roll(&ds, "new", &nodes);
        let names: Vec<&str> = roll
            .delete
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap())
            .collect();
        // c1 is not available: it goes, and uses up the one unavailable slot.
        assert_eq!(names, ["c1"]);
        assert!(roll.create_on.is_empty());
    }

    #[test]
    fn with_surge_new_pods_start_beside_old_ones() {
        let ds = json!({"spec": {"updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}});
        let nodes = vec![
            node("a", vec![pod("a1", "old", true), pod("a2", "new", true)]),
            node("b", vec![pod("b1", "old", true)]),
            node("c", vec![pod("c1", "old", true)]),
        ];
        let roll = roll(&ds, "new", &nodes);
        assert_eq!(roll.delete[0]["metadata"]["name"], "a1", "a2 is available");
        assert_eq!(roll.create_on, ["b"], "one node at a time");
    }
}
