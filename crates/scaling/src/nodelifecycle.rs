//! When a node dies: the node lifecycle controller, taint-based eviction,
//! and the tolerations every pod gets to survive a short outage.
//!
//! Nothing tells the control plane that a machine lost power. It notices
//! the silence: each kubelet renews a Lease every 10 s (chapter 02), and
//!
//! ```text
//! node lifecycle controller, per node:
//!     last heartbeat = newest of Lease renewTime and Ready's lastHeartbeatTime
//!     older than --node-monitor-grace-period (upstream: 50 s)?
//!         → conditions Ready, MemoryPressure, DiskPressure, PIDPressure: Unknown
//!           (NodeStatusUnknown, "Kubelet stopped posting node status.")
//!         → its pods: Ready=False (so Services stop sending them traffic)
//!     taints follow Ready:  Unknown → node.kubernetes.io/unreachable  NoSchedule + NoExecute
//!                           False   → node.kubernetes.io/not-ready    NoSchedule + NoExecute
//!                           True    → neither
//!
//! taint eviction controller, per pod on a node with NoExecute taints:
//!     a taint it does not tolerate          → delete it now
//!     all tolerated, some for N seconds     → delete it N s after it was first seen so (the least N)
//!     all tolerated forever                 → leave it
//! ```
//!
//! And who tolerates what? Every pod that says nothing gets
//! `not-ready` and `unreachable` for 300 s from the API server
//! ([`DefaultTolerationSeconds`], an admission plugin upstream). So by
//! default a dead node's pods are deleted five minutes after the taint —
//! and their ReplicaSets create replacements elsewhere. A pod that must
//! move faster says `tolerationSeconds: 5`. DaemonSet pods tolerate both
//! taints forever: they belong to their node.
//!
//! The deleted pods of a dead node stay `Terminating` (their kubelet
//! cannot confirm anything) until the node comes back, as upstream.
//!
//! **Simplifications.** No zones: upstream rate-limits the tainting per
//! zone and stops evicting when a whole zone looks dead (a network
//! partition is likelier than every machine dying). The controller looks
//! at a node when its Lease or Node changes and at its deadline, instead
//! of polling every 5 s (`--node-monitor-period`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kubelab_apiserver::strategy::Strategy;
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue};

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

/// Upstream's `--node-monitor-grace-period` default (50 s since 1.32).
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(50);
/// The least grace period `kubelab up` accepts: more than one Lease
/// renewal (10 s) and some, or a healthy node flaps between renewals.
pub const MIN_GRACE_PERIOD: Duration = Duration::from_secs(15);
/// Upstream's `--default-not-ready-toleration-seconds` and
/// `--default-unreachable-toleration-seconds`.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// A condition of the node's status.
fn condition<'a>(node: &'a Value, ty: &str) -> Option<&'a Value> {
    kubelab_api::meta::condition(&node["status"]["conditions"], ty)
}

// ---- the node lifecycle controller -----------------------------------------

pub struct NodeLifecycleController {
    client: Client,
    nodes: Informer,
    leases: Informer,
    pods: Informer,
    grace: Duration,
    events: EventRecorder,
}

impl NodeLifecycleController {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        grace: Duration,
    ) -> Arc<NodeLifecycleController> {
        let client = client.named("kube-controller-manager/node-lifecycle-controller");
        let c = Arc::new(NodeLifecycleController {
            events: EventRecorder::new(&client, "node-controller", None),
            client,
            nodes: informers.of("v1", "Node"),
            leases: informers.of("coordination.k8s.io/v1", "Lease"),
            pods: informers.of("v1", "Pod"),
            grace,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.nodes, &queue, |ch| vec![key_of(ch.object())]);
        kubelab_client::feed(&c.leases, &queue, |ch| {
            let l = ch.object();
            match l["metadata"]["namespace"].as_str() {
                Some("kube-node-lease") => vec![
                    l["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ],
                _ => vec![],
            }
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![c.nodes.clone(), c.leases.clone(), c.pods.clone()],
        ));
        c
    }

    /// The newest sign of life: the Lease's renewTime or the kubelet's
    /// last Ready heartbeat.
    fn last_heartbeat(&self, node: &Value) -> Option<DateTime<Utc>> {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let lease = self
            .leases
            .get(&format!("kube-node-lease/{name}"))
            .and_then(|l| kubelab_api::meta::time_of(&l["spec"]["renewTime"]));
        let ready = condition(node, "Ready")
            .and_then(|c| kubelab_api::meta::time_of(&c["lastHeartbeatTime"]));
        lease.max(ready)
    }

    /// Ready (and the pressure conditions) Unknown: the kubelet went silent.
    async fn mark_unknown(&self, node: &Value) -> Result<(), Error> {
        let now = kubelab_api::meta::now();
        let mut n = node.clone();
        let mut conditions = n["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for ty in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
            match conditions.iter_mut().find(|c| c["type"] == ty) {
                Some(c) if c["status"] == "Unknown" => {}
                Some(c) => {
                    c["status"] = json!("Unknown");
                    c["reason"] = json!("NodeStatusUnknown");
                    c["message"] = json!("Kubelet stopped posting node status.");
                    c["lastTransitionTime"] = json!(now);
                }
                None => conditions.push(json!({"type": ty, "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated", "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": node["metadata"]["creationTimestamp"], "lastTransitionTime": now})),
            }
        }
        n["status"]["conditions"] = json!(conditions);
        let path = format!("{}/status", client::object_path(node));
        self.client.replace(&path, &n).await?;
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        self.events.normal(
            node,
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady"),
        );
        // Its pods are no longer Ready: Services stop sending them traffic.
        for pod in self.pods.list(None) {
            if pod["spec"]["nodeName"].as_str() != Some(name) || kubelab_api::pod::is_terminal(&pod)
            {
                continue;
            }
            let mut p = (*pod).clone();
            let Some(conds) = p["status"]["conditions"].as_array_mut() else {
                continue;
            };
            let Some(ready) = conds.iter_mut().find(|c| c["type"] == "Ready") else {
                continue;
            };
            if ready["status"] == "False" {
                continue;
            }
            ready["status"] = json!("False");
            ready["lastTransitionTime"] = json!(now);
            let path = format!("{}/status", client::object_path(&pod));
            match self.client.replace(&path, &p).await {
                Ok(_) => self
                    .events
                    .warning(&pod, "NodeNotReady", "Node is not ready"),
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Keeps the lifecycle taints in step with the Ready condition.
    async fn sync_taints(&self, node: &Value) -> Result<(), Error> {
        let ready = condition(node, "Ready").map(|c| c["status"].as_str().unwrap_or_default());
        let wanted: Option<&str> = match ready {
            Some("Unknown") => Some(UNREACHABLE),
            Some("False") => Some(NOT_READY),
            _ => None,
        };
        let taints: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ours = |t: &Value| t["key"] == UNREACHABLE || t["key"] == NOT_READY;
        let mut next: Vec<Value> = taints.iter().filter(|t| !ours(t)).cloned().collect();
        if let Some(key) = wanted {
            let now = kubelab_api::meta::now();
            for effect in ["NoSchedule", "NoExecute"] {
                // Keep the time a taint was first added.
                let kept = taints
                    .iter()
                    .find(|t| t["key"] == key && t["effect"] == effect)
                    .cloned();
                next.push(
                    kept.unwrap_or_else(|| json!({"key": key, "effect": effect, "timeAdded": now})),
                );
            }
        }
        if next == taints {
            return Ok(());
        }
        let patch = json!({"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                           "spec": {"taints": if next.is_empty() { Value::Null } else { json!(next) }}});
        match self
            .client
            .merge_patch(&client::object_path(node), &patch)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Reconciler for NodeLifecycleController {
    fn name(&self) -> &'static str {
        "node-lifecycle-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(node) = self.nodes.get(key) else {
            return Ok(Action::Done);
        };
        let ready = condition(&node, "Ready").map(|c| c["status"].clone());
        let Some(last) = self.last_heartbeat(&node) else {
            return Ok(Action::Done); // never registered: nothing to judge yet
        };
        let silent = (Utc::now() - last).to_std().unwrap_or_default();
        if silent > self.grace {
            if ready.as_ref().is_some_and(|r| r != "Unknown") {
                self.mark_unknown(&node).await?;
                return Ok(Action::Done); // the update comes back through the informer
            }
            self.sync_taints(&node).await?;
            return Ok(Action::Done);
        }
        self.sync_taints(&node).await?;
        // Look again when the grace period would run out.
        Ok(Action::RequeueAfter(
            self.grace - silent + Duration::from_millis(100),
        ))
    }
    // ANCHOR_END: reconcile
}

// ---- taint-based eviction -------------------------------------------------

pub struct TaintEvictionController {
    client: Client,
    nodes: Informer,
    pods: Informer,
    /// pod key → (its uid, when we first saw it on a NoExecute-tainted
    /// node): upstream counts tolerationSeconds from there.
    since: Mutex<HashMap<String, (String, Instant)>>,
    events: EventRecorder,
}

fn no_execute_taints(node: &Value) -> Vec<Value> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["effect"] == "NoExecute")
        .cloned()
        .collect()
}

/// How long may the pod stay on a node with these NoExecute taints?
/// `Some(ZERO)`: not at all; `None`: forever; else the least
/// `tolerationSeconds` of the tolerations that match.
pub fn toleration_time(pod: &Value, taints: &[Value]) -> Option<Duration> {
    let mut least: Option<Duration> = None;
    for taint in taints {
        let matching: Vec<&Value> = pod["spec"]["tolerations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                kubelab_scheduler::filters::tolerates(&json!({"spec": {"tolerations": [t]}}), taint)
            })
            .collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        for t in matching {
            if let Some(s) = t["tolerationSeconds"].as_i64() {
                let d = Duration::from_secs(s.max(0) as u64);
                least = Some(least.map_or(d, |l| l.min(d)));
            }
        }
    }
    least
}

impl TaintEvictionController {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<TaintEvictionController> {
        let client = client.named("kube-controller-manager/taint-eviction-controller");
        let c = Arc::new(TaintEvictionController {
            events: EventRecorder::new(&client, "taint-eviction-controller", None),
            client,
            nodes: informers.of("v1", "Node"),
            pods: informers.of("v1", "Pod"),
            since: Mutex::default(),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.pods, &queue, |ch| vec![key_of(ch.object())]);
        let me = c.clone();
        kubelab_client::feed(&c.nodes, &queue, move |ch| match ch {
            Change::Modified { old, new } if no_execute_taints(old) != no_execute_taints(new) => {
                let name = new["metadata"]["name"].as_str().unwrap_or_default();
                me.pods
                    .list(None)
                    .iter()
                    .filter(|p| p["spec"]["nodeName"].as_str() == Some(name))
                    .map(|p| key_of(p))
                    .collect()
            }
            _ => vec![],
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![c.nodes.clone(), c.pods.clone()],
        ));
        c
    }

    async fn evict(&self, pod: &Value) -> Result<(), Error> {
        let (ns, name) = (
            pod["metadata"]["namespace"].as_str().unwrap_or_default(),
            pod["metadata"]["name"].as_str().unwrap_or_default(),
        );
        self.events.normal(
            pod,
            "TaintManagerEviction",
            format!("Marking for deletion Pod {ns}/{name}"),
        );
        let mut p = pod.clone();
        let mut conditions = p["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        conditions.retain(|c| c["type"] != "DisruptionTarget");
        conditions.push(json!({"type": "DisruptionTarget", "status": "True",
            "reason": "DeletionByTaintManager", "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": kubelab_api::meta::now()}));
        p["status"]["conditions"] = json!(conditions);
        let path = client::object_path(pod);
        match self.client.replace(&format!("{path}/status"), &p).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        match self.client.delete(&path, &json!({})).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Reconciler for TaintEvictionController {
    fn name(&self) -> &'static str {
        "taint-eviction-controller"
    }

    // ANCHOR: evict
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let pod = self.pods.get(key);
        let uid = pod.as_ref().map(|p| {
            p["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        });
        let node = pod
            .as_ref()
            .and_then(|p| p["spec"]["nodeName"].as_str())
            .and_then(|n| self.nodes.get(n));
        let taints = node.as_deref().map(no_execute_taints).unwrap_or_default();
        let (Some(pod), Some(uid)) = (pod, uid) else {
            self.since.lock().unwrap().remove(key); // deleted: forget it
            return Ok(Action::Done);
        };
        let gone = kubelab_api::meta::is_being_deleted(&pod) || kubelab_api::pod::is_terminal(&pod);
        let stay = if taints.is_empty() || gone {
            None
        } else {
            toleration_time(&pod, &taints)
        };
        let Some(stay) = stay else {
            // Untainted, or tolerated forever: cancel what was planned.
            if self.since.lock().unwrap().remove(key).is_some() && !gone {
                let (ns, name) = split_key(key);
                self.events.normal(
                    &pod,
                    "TaintManagerEviction",
                    format!(
                        "Cancelling deletion of Pod {}/{name}",
                        ns.unwrap_or_default()
                    ),
                );
            }
            return Ok(Action::Done);
        };
        let since = {
            let mut all = self.since.lock().unwrap();
            let entry = all
                .entry(key.to_string())
                .or_insert_with(|| (uid.clone(), Instant::now()));
            if entry.0 != uid {
                *entry = (uid.clone(), Instant::now()); // a new pod of that name
            }
            entry.1
        };
        let elapsed = since.elapsed();
        if elapsed < stay {
            return Ok(Action::RequeueAfter(stay - elapsed));
        }
        self.evict(&pod).await?;
        self.since.lock().unwrap().remove(key);
        Ok(Action::Done)
    }
    // ANCHOR_END: evict
}

// ---- DefaultTolerationSeconds ----------------------------------------------

/// The admission plugin `DefaultTolerationSeconds`, as a layer of the Pod
/// strategy: a new pod that does not tolerate `not-ready` or
/// `unreachable` (NoExecute) gets a 300-second toleration for each.
pub struct DefaultTolerationSeconds;

impl Strategy for DefaultTolerationSeconds {
    fn prepare_for_create(&self, pod: &mut Value) {
        let tolerations: Vec<Value> = pod["spec"]["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let tolerates = |key: &str| {
            tolerations.iter().any(|t| {
                let k = t["key"].as_str().unwrap_or_default();
                let e = t["effect"].as_str().unwrap_or_default();
                (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
            })
        };
        let mut add = Vec::new();
        for key in [NOT_READY, UNREACHABLE] {
            if !tolerates(key) {
                add.push(
                    json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}),
                );
            }
        }
        if !add.is_empty() && pod["spec"].is_object() {
            let mut all = tolerations.clone();
            all.extend(add);
            pod["spec"]["tolerations"] = json!(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_toleration_decides_and_an_untolerated_taint_evicts_now() {
        let taint = json!({"key": UNREACHABLE, "effect": "NoExecute"});
        let mut pod = json!({"spec": {}});
        DefaultTolerationSeconds.prepare_for_create(&mut pod);
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(
            toleration_time(&pod, std::slice::from_ref(&taint)),
            Some(Duration::from_secs(300))
        );
        let quick = json!({"spec": {"tolerations": [
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}});
        let mut quick2 = quick.clone();
        DefaultTolerationSeconds.prepare_for_create(&mut quick2);
        assert_eq!(
            quick2["spec"]["tolerations"].as_array().unwrap().len(),
            2,
            "only not-ready added"
        );
        assert_eq!(
            toleration_time(&quick2, std::slice::from_ref(&taint)),
            Some(Duration::from_secs(5))
        );
        let other = json!({"key": "gpu", "effect": "NoExecute"});
        assert_eq!(
            toleration_time(&quick2, &[taint.clone(), other]),
            Some(Duration::ZERO)
        );
        let forever = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert_eq!(toleration_time(&forever, &[taint]), None);
    }
}
