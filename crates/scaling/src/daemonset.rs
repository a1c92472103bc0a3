//! The DaemonSet controller: one pod on every node that should run one.
//!
//! A DaemonSet has no `replicas`: the nodes are the count. Log shippers,
//! node exporters, kube-proxy itself upstream: each node needs exactly one.
//!
//! ```text
//! reconcile(ds):
//!     for each node:
//!         (run, keep) = should_run(template, node)      nodeSelector, affinity, taints
//!         pods = the set's pods on that node
//!         run  and no pod         → create one, pinned to the node by affinity
//!         keep and failed pods    → delete them (to be recreated)
//!         keep and 2+ pods        → delete all but the oldest
//!         not keep and pods       → delete them (labels changed, NoExecute taint)
//!     write status (desired, current, ready, up-to-date, available, misscheduled)
//! ```
//!
//! As upstream since 1.12, the controller does not put pods on nodes
//! itself: it gives each pod a required node affinity on the node's name
//! (`matchFields: metadata.name In [node]`) and the default scheduler
//! binds it, so resources and ports are still checked. And as upstream,
//! every daemon pod tolerates what would otherwise evict it from a sick
//! node ([`daemon_tolerations`]): a node's agents should stay on it.
//!
//! **Simplification (chapters 06–08).** A changed pod template does not
//! roll out to the existing pods: new pods use the new template, and
//! `UP-TO-DATE` counts who has it. Chapter 09 plugs rolling updates and
//! ControllerRevisions in through [`DaemonSetUpdates`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kubelab_api::selector::LabelSelector;
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{
    Action, Error, EventRecorder, InformerFactory, Plug, Reconciler, WorkQueue, controller_uid,
};
use kubelab_controllers::replicaset::{
    Expectations, owner_keys_for_pod, set_controller, template_pod_metadata,
};

/// The tolerations every daemon pod gets (upstream's
/// `AddOrUpdateDaemonPodTolerations`): it stays on a node that is not
/// ready or unreachable, and it is placed on nodes under pressure or
/// cordoned.
pub fn daemon_tolerations(pod_spec: &Value) -> Vec<Value> {
    let mut t = vec![
        json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}),
    ];
    if pod_spec["hostNetwork"] == true {
        t.push(json!({"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}));
    }
    t
}

/// The pod spec a daemon pod for `node` gets: the template's, plus the
/// daemon tolerations, plus a required affinity to that one node (which
/// replaces the template's required node affinity: the controller has
/// checked it already).
pub fn pod_spec_for_node(template_spec: &Value, node: &str) -> Value {
    let mut spec = template_spec.clone();
    let mut tolerations: Vec<Value> = spec["tolerations"].as_array().cloned().unwrap_or_default();
    for t in daemon_tolerations(template_spec) {
        if !tolerations
            .iter()
            .any(|have| have["key"] == t["key"] && have["effect"] == t["effect"])
        {
            tolerations.push(t);
        }
    }
    spec["tolerations"] = json!(tolerations);
    if !spec["affinity"].is_object() {
        spec["affinity"] = json!({});
    }
    if !spec["affinity"]["nodeAffinity"].is_object() {
        spec["affinity"]["nodeAffinity"] = json!({});
    }
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    });
    spec
}

/// Should the set run a pod on this node, and may a pod already there stay?
///
/// Upstream's `NodeShouldRunDaemonPod`: the node must match the template's
/// `nodeSelector` and required node affinity, and its taints must be
/// tolerated (the daemon tolerations included). An untolerated
/// `NoSchedule` taint only keeps new pods away; an untolerated `NoExecute`
/// one sends the existing pod away too.
// ANCHOR: should_run
pub fn should_run(template_spec: &Value, node: &Value) -> (bool, bool) {
    let mut pod = json!({"spec": template_spec.clone()});
    pod["spec"]["tolerations"] = json!(
        template_spec["tolerations"]
            .as_array()
            .into_iter()
            .flatten()
            .cloned()
            .chain(daemon_tolerations(template_spec))
            .collect::<Vec<_>>()
    );
    if kubelab_scheduler::filters::node_affinity(&pod, node).is_err() {
        return (false, false);
    }
    let mut run = true;
    let mut keep = true;
    for taint in node["spec"]["taints"].as_array().into_iter().flatten() {
        if kubelab_scheduler::filters::tolerates(&pod, taint) {
            continue;
        }
        match taint["effect"].as_str() {
            Some("NoSchedule") => run = false,
            Some("NoExecute") => (run, keep) = (false, false),
            _ => {}
        }
    }
    (run, keep)
}
// ANCHOR_END: should_run

/// The node a daemon pod is for: its `nodeName` once bound, before that
/// the name in its node affinity (upstream's `GetTargetNodeName`).
pub fn target_node(pod: &Value) -> Option<String> {
    if let Some(n) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"]
        .as_array()?
        .iter()
        .flat_map(|t| t["matchFields"].as_array().into_iter().flatten())
        .find(|f| f["key"] == "metadata.name" && f["operator"] == "In")
        .and_then(|f| f["values"][0].as_str())
        .map(String::from)
}

// ANCHOR: updates
/// What chapter 09 plugs in: revisions and rolling updates.
#[async_trait::async_trait]
pub trait DaemonSetUpdates: Send + Sync + 'static {
    /// Records the set's template as a ControllerRevision, every pass.
    async fn record(&self, ds: &Value, pods: &[Arc<Value>]) -> Result<(), Error>;
    /// Whether a node may run an old and a new pod side by side
    /// (`maxSurge` > 0).
    fn surges(&self, ds: &Value) -> bool;
    /// Outdated pods to delete and nodes to start a new pod on now.
    fn roll(&self, ds: &Value, hash: &str, nodes: &[NodePods]) -> Roll;
}

/// A node as a rolling update sees it: should it run a pod, and the
/// set's pods on it (oldest first).
pub struct NodePods {
    pub node: String,
    pub should_run: bool,
    pub pods: Vec<Arc<Value>>,
}

#[derive(Default)]
pub struct Roll {
    pub delete: Vec<Arc<Value>>,
    pub create_on: Vec<String>,
}

/// The builder slot chapter 09 fills.
pub type DaemonSetRollout = Plug<dyn DaemonSetUpdates>;
// ANCHOR_END: updates

pub struct DaemonSetController {
    client: Client,
    sets: Informer,
    pods: Informer,
    nodes: Informer,
    expectations: Expectations,
    events: EventRecorder,
    updates: Option<Arc<dyn DaemonSetUpdates>>,
}

impl DaemonSetController {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        updates: Option<Arc<dyn DaemonSetUpdates>>,
    ) -> Arc<DaemonSetController> {
        let client = client.named("kube-controller-manager/daemonset-controller");
        let c = Arc::new(DaemonSetController {
            events: EventRecorder::new(&client, "daemonset-controller", None),
            client,
            sets: informers.of("apps/v1", "DaemonSet"),
            pods: informers.of("v1", "Pod"),
            nodes: informers.of("v1", "Node"),
            expectations: Expectations::default(),
            updates,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.sets, &queue, |ch| vec![key_of(ch.object())]);
        let me = c.clone();
        kubelab_client::feed(&c.pods, &queue, move |ch| me.keys_for_pod(ch));
        // A node that comes, goes or changes what decides placement
        // (labels, taints) concerns every set.
        let me = c.clone();
        kubelab_client::feed(&c.nodes, &queue, move |ch| {
            let placement =
                |n: &Value| (n["metadata"]["labels"].clone(), n["spec"]["taints"].clone());
            match ch {
                Change::Modified { old, new } if placement(old) == placement(new) => vec![],
                _ => me.sets.list(None).iter().map(|s| key_of(s)).collect(),
            }
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![c.sets.clone(), c.pods.clone(), c.nodes.clone()],
        ));
        c
    }

    fn keys_for_pod(&self, change: &Change) -> Vec<String> {
        owner_keys_for_pod(
            change,
            "DaemonSet",
            &self.expectations,
            &self.sets,
            selector_of,
        )
    }
}

fn selector_of(ds: &Value) -> Option<LabelSelector> {
    LabelSelector::from_object(&ds["spec"]["selector"]).ok()
}

#[async_trait::async_trait]
impl Reconciler for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(ds) = self.sets.get(key) else {
            return Ok(Action::Done); // deleted: the garbage collector removes its pods
        };
        let Some(selector) = selector_of(&ds) else {
            return Ok(Action::Done);
        };
        let deleting = kubelab_api::meta::is_being_deleted(&ds);
        // Asked before the pods are read (see chapter 02's ReplicaSets).
        let may_act = self.expectations.satisfied(key) && !deleting;
        let by_node = self.pods_by_node(&ds, &selector).await?;
        if let Some(u) = &self.updates
            && !deleting
        {
            let pods: Vec<Arc<Value>> = by_node.values().flatten().cloned().collect();
            u.record(&ds, &pods).await?;
        }
        let plan = plan(
            &ds,
            &self.nodes.list(None),
            by_node,
            self.updates.as_deref(),
        );
        if may_act && (!plan.create.is_empty() || !plan.delete.is_empty()) {
            self.expectations
                .expect(key, plan.create.len() as i64, plan.delete.len() as i64);
            self.create_pods(key, &ds, &plan.create).await;
            self.delete_pods(key, &ds, &plan.delete).await?;
        }
        if !deleting {
            self.write_status(&ds, plan.status).await?;
        }
        // Pods become available `minReadySeconds` after turning ready.
        if plan.waiting_for_available {
            return Ok(Action::RequeueAfter(Duration::from_secs(1)));
        }
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}

/// What one pass decides: pods to create (a node each), pods to delete,
/// and the status that describes it.
struct Plan {
    create: Vec<String>,
    delete: Vec<Arc<Value>>,
    status: Value,
    waiting_for_available: bool,
}

// ANCHOR: plan
/// Node by node: `should_run` says whether a pod belongs there, and the
/// pods found there say what to do about it.
fn plan(
    ds: &Value,
    nodes: &[Arc<Value>],
    mut by_node: BTreeMap<String, Vec<Arc<Value>>>,
    updates: Option<&dyn DaemonSetUpdates>,
) -> Plan {
    let template = &ds["spec"]["template"];
    let hash = kubelab_controllers::deployment::pod_template_hash(template);
    let surges = updates.is_some_and(|u| u.surges(ds));
    let mut rolling: Vec<NodePods> = Vec::new();
    let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let mut create: Vec<String> = Vec::new();
    let mut delete: Vec<Arc<Value>> = Vec::new();
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for node in nodes {
        let node_name = node["metadata"]["name"].as_str().unwrap_or_default();
        let (run, keep) = should_run(&template["spec"], node);
        let pods = by_node.remove(node_name).unwrap_or_default();
        desired += run as i64;
        if !keep {
            misscheduled += !pods.is_empty() as i64;
            delete.extend(pods);
            continue;
        }
        // Failed pods go, to be recreated; of several, the oldest stays.
        let (failed, mut alive): (Vec<_>, Vec<_>) = pods
            .into_iter()
            .partition(|p| p["status"]["phase"] == "Failed");
        delete.extend(failed);
        // Oldest first; on a tie (same second) by name, so every pass
        // picks the same pod (upstream's podByCreationTimestampAndPhase).
        alive.sort_by_key(|p| {
            (
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(String::from),
                p["metadata"]["name"].as_str().map(String::from),
            )
        });
        if surges {
            // An old and a new pod may share a node during a surge.
            delete.extend(extra_during_surge(&mut alive, &hash, min_ready));
        } else if alive.len() > 1 {
            delete.extend(alive.drain(1..));
        }
        match alive.first() {
            None if run => create.push(node_name.to_string()),
            None => {}
            // Upstream counts ready, available and up-to-date pods only on
            // the nodes that should run one.
            Some(_) if !run => misscheduled += 1,
            Some(p) => {
                rolling.push(NodePods {
                    node: node_name.to_string(),
                    should_run: run,
                    pods: alive.clone(),
                });
                current += 1;
                ready += kubelab_api::pod::is_ready(p) as i64;
                available += kubelab_api::pod::is_available(p, min_ready) as i64;
                updated +=
                    (p["metadata"]["labels"]["controller-revision-hash"] == hash.as_str()) as i64;
            }
        }
    }
    // Pods for nodes that no longer exist.
    delete.extend(by_node.into_values().flatten());
    // Chapter 09: outdated pods replaced, as fast as the strategy allows.
    if let Some(u) = updates {
        let roll = u.roll(ds, &hash, &rolling);
        delete.extend(roll.delete);
        create.extend(roll.create_on);
    }
    let mut status = json!({
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "numberAvailable": available,
        "numberUnavailable": (desired - available).max(0),
        "updatedNumberScheduled": updated,
        "observedGeneration": ds["metadata"]["generation"],
    });
    kubelab_api::meta::omit_zeros(
        &mut status,
        &[
            "numberAvailable",
            "numberUnavailable",
            "updatedNumberScheduled",
        ],
    );
    Plan {
        create,
        delete,
        status,
        waiting_for_available: min_ready > 0 && available < ready,
    }
}
// ANCHOR_END: plan

/// Upstream's `podsShouldBeOnNode` with surge: the oldest new and the
/// oldest old pod may stay together while the new one is not available
/// and the old one is ready; every other pod goes.
fn extra_during_surge(alive: &mut Vec<Arc<Value>>, hash: &str, min_ready: i64) -> Vec<Arc<Value>> {
    let is_new = |p: &Value| p["metadata"]["labels"]["controller-revision-hash"] == hash;
    let newest = alive.iter().position(|p| is_new(p));
    let oldest_old = alive.iter().position(|p| !is_new(p));
    let mut keep: Vec<usize> = newest.into_iter().chain(oldest_old).collect();
    if let (Some(n), Some(o)) = (newest, oldest_old)
        && (!kubelab_api::pod::is_ready(&alive[o])
            || kubelab_api::pod::is_available(&alive[n], min_ready))
    {
        keep.retain(|i| *i != o);
    }
    keep.sort();
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for (i, p) in alive.drain(..).enumerate() {
        if keep.contains(&i) {
            kept.push(p);
        } else {
            gone.push(p);
        }
    }
    *alive = kept;
    gone
}

impl DaemonSetController {
    /// The set's pods by the node they are for: owned ones, orphans that
    /// match adopted, owned ones that no longer match released.
    async fn pods_by_node(
        &self,
        ds: &Value,
        selector: &LabelSelector,
    ) -> Result<BTreeMap<String, Vec<Arc<Value>>>, Error> {
        let ns = ds["metadata"]["namespace"].as_str().unwrap_or("default");
        let uid = ds["metadata"]["uid"].as_str().unwrap_or_default();
        let deleting = kubelab_api::meta::is_being_deleted(ds);
        let mut by_node: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
        for pod in self.pods.list(Some(ns)) {
            let matches = !selector.is_empty() && selector.matches_object(&pod);
            let mine = match controller_uid(&pod) {
                Some(u) if u == uid => {
                    if !matches && !deleting {
                        set_controller(&self.client, &pod, None).await?;
                    }
                    matches
                }
                None if matches && !deleting && !kubelab_api::meta::is_being_deleted(&pod) => {
                    set_controller(&self.client, &pod, Some(ds)).await?;
                    true
                }
                _ => false,
            };
            if mine
                && !kubelab_api::meta::is_being_deleted(&pod)
                && let Some(node) = target_node(&pod)
            {
                by_node.entry(node).or_default().push(pod);
            }
        }
        Ok(by_node)
    }

    /// One pod per node in `nodes`, created side by side: a DaemonSet on
    /// a thousand nodes wants a thousand pods at once (upstream: batches
    /// of growing size).
    async fn create_pods(&self, key: &str, ds: &Value, nodes: &[String]) {
        let ns = ds["metadata"]["namespace"].as_str().unwrap_or("default");
        let name = ds["metadata"]["name"].as_str().unwrap_or_default();
        let template = &ds["spec"]["template"];
        let list = client::path(client::resource("v1", "Pod"), Some(ns), None);
        let mut metadata = template_pod_metadata(ds);
        metadata["generateName"] = json!(format!("{name}-"));
        metadata["labels"]["controller-revision-hash"] =
            json!(kubelab_controllers::deployment::pod_template_hash(template));
        metadata["labels"]["pod-template-generation"] = json!(
            ds["metadata"]["generation"]
                .as_i64()
                .unwrap_or(1)
                .to_string()
        );
        let results: Vec<Result<Value, client::ApiError>> = futures::stream::iter(nodes.to_vec())
            .map(|node| {
                let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                    "spec": pod_spec_for_node(&template["spec"], &node)});
                let (list, client) = (list.clone(), self.client.clone());
                async move { client.create(&list, &pod).await }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut failed = 0;
        for r in results {
            match r {
                Ok(p) => self.events.normal(
                    ds,
                    "SuccessfulCreate",
                    format!(
                        "Created pod: {}",
                        p["metadata"]["name"].as_str().unwrap_or_default()
                    ),
                ),
                Err(e) => {
                    failed += 1;
                    self.events.warning(
                        ds,
                        "FailedCreate",
                        format!("Error creating: {}", e.message),
                    );
                }
            }
        }
        self.expectations.lower(key, failed, 0);
    }

    async fn delete_pods(&self, key: &str, ds: &Value, pods: &[Arc<Value>]) -> Result<(), Error> {
        for pod in pods {
            let pname = pod["metadata"]["name"].as_str().unwrap_or_default();
            match self
                .client
                .delete(&client::object_path(pod), &json!({}))
                .await
            {
                Ok(_) => {
                    self.events
                        .normal(ds, "SuccessfulDelete", format!("Deleted pod: {pname}"))
                }
                Err(e) => {
                    self.expectations.lower(key, 0, 1);
                    if !e.is_not_found() {
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(())
    }

    async fn write_status(&self, ds: &Value, status: Value) -> Result<(), Error> {
        if ds["status"] == status {
            return Ok(());
        }
        let mut updated = ds.clone();
        updated["status"] = status;
        let path = format!("{}/status", client::object_path(ds));
        match self.client.replace(&path, &updated).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() || e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": "n1", "labels": labels}, "spec": {"taints": taints}})
    }

    #[test]
    fn placement_follows_selectors_and_taints() {
        let spec = json!({"nodeSelector": {"disk": "ssd"}});
        assert_eq!(
            should_run(&spec, &node(json!({"disk": "ssd"}), json!(null))),
            (true, true)
        );
        assert_eq!(
            should_run(&spec, &node(json!({"disk": "hdd"}), json!(null))),
            (false, false)
        );
        // NoSchedule keeps new pods away, NoExecute sends existing ones away.
        let any = json!({});
        let t = |effect: &str| json!([{"key": "gpu", "value": "yes", "effect": effect}]);
        assert_eq!(
            should_run(&any, &node(json!({}), t("NoSchedule"))),
            (false, true)
        );
        assert_eq!(
            should_run(&any, &node(json!({}), t("NoExecute"))),
            (false, false)
        );
        // Daemon pods tolerate cordoned and unreachable nodes.
        let cordoned = json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                              {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]);
        assert_eq!(should_run(&any, &node(json!({}), cordoned)), (true, true));
    }

    #[test]
    fn daemon_pods_are_pinned_by_affinity_not_by_node_name() {
        let spec = pod_spec_for_node(&json!({"containers": []}), "kubelab-node-2");
        assert!(spec["nodeName"].is_null());
        let pod = json!({"spec": spec});
        assert_eq!(target_node(&pod).as_deref(), Some("kubelab-node-2"));
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 6);
    }
}
