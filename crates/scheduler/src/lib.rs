//! # kubelab-scheduler — which node runs this pod? (chapter 02)
//!
//! A pod is created without a node (`spec.nodeName` empty). The scheduler
//! watches for such pods and, one at a time:
//!
//! 1. **filters** the nodes: can this node run the pod at all? (enough
//!    CPU and memory left for its *requests*, labels matching its
//!    `nodeSelector` and required node affinity, every taint tolerated,
//!    its host ports free, the node not cordoned);
//! 2. **scores** the nodes that pass: prefer the least loaded, and spread
//!    pods of the same ReplicaSet over different nodes;
//! 3. **binds** the pod to the best node by creating a `Binding`
//!    (`POST pods/<name>/binding`), which sets `spec.nodeName`. The
//!    kubelet of that node sees the pod and starts it.
//!
//! If no node passes, the pod stays Pending with a `PodScheduled=False`
//! condition and a `FailedScheduling` event that counts why each node was
//! refused: `0/3 nodes are available: 3 Insufficient cpu.` — the message
//! upstream writes.
//!
//! Upstream's scheduler is a framework of plugins at these extension
//! points; kubelab's filters and scores are plain functions in
//! [`filters`] and [`score`], with the same names as upstream's plugins.
//!
//! ## Where to start reading
//! [`Scheduler::reconcile`], then [`filters::filter`] and [`score::score`].

pub mod filters;
pub mod score;

/// A filter that a later chapter adds to the built-in ones (upstream: a
/// plugin at the scheduling framework's Filter extension point), e.g. a
/// volume that only one node can reach.
pub trait FilterPlugin: Send + Sync + 'static {
    /// Upstream's plugin name, e.g. `VolumeBinding`.
    fn name(&self) -> &'static str;
    /// `Err(reason)` refuses the node; the reason is counted in the
    /// `FailedScheduling` message as the built-in filters' are.
    fn filter(&self, pod: &Value, node: &Value) -> Result<(), String>;
    /// Once per pod, before any node is looked at (upstream's PreFilter):
    /// `Err(message)` makes every node unsuitable for the same reason, e.g.
    /// `pod has unbound immediate PersistentVolumeClaims`.
    fn pre_filter(&self, _pod: &Value) -> Result<(), String> {
        Ok(())
    }
}

/// Runs after a node is chosen and before the pod is bound to it
/// (upstream's PreBind extension point): e.g. provision the pod's volumes
/// on that node and wait until they are bound. `Err` sends the pod back
/// to the queue.
#[async_trait::async_trait]
pub trait PreBindPlugin: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn pre_bind(&self, pod: &Value, node: &str) -> Result<(), String>;
}

/// The plugins the installed chapters add (a slot of the cluster builder).
#[derive(Default, Clone)]
pub struct SchedulerPlugins {
    pub filters: Vec<Arc<dyn FilterPlugin>>,
    pub pre_binds: Vec<Arc<dyn PreBindPlugin>>,
    /// A plugin notifies this (`notify_one`) when something its filters
    /// read changed (a claim was bound): pods found unschedulable are tried again at once,
    /// as upstream's queue moves them back on cluster events.
    pub retry: Arc<tokio::sync::Notify>,
}

/// Chapter 02's scheduler (kube-scheduler), with the filters later
/// chapters put in the [`SchedulerPlugins`] slot.
// ANCHOR: install
pub fn install(b: &mut kubelab_client::ClusterBuilder) {
    b.slot::<SchedulerPlugins>();
    b.on_start(
        kubelab_client::Phase::ControlPlane,
        "kube-scheduler",
        |c: kubelab_client::Cluster| async move {
            let plugins = c.get::<SchedulerPlugins>().unwrap_or_default();
            Scheduler::start_with(&c.client(), &c.informers(), plugins);
            Ok(())
        },
    );
}
// ANCHOR_END: install

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubelab_client::informer::{Change, Informer, key_of};
use kubelab_client::{
    Action, Client, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue, rest as client,
};
use serde_json::{Value, json};

/// The name pods ask for in `spec.schedulerName` (or leave empty).
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// What one pod takes from a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requests {
    pub cpu_millis: u64,
    pub memory: u64,
    pub host_ports: Vec<(String, u16)>,
    /// The pod's controller (for spreading).
    pub owner: Option<String>,
}

impl Requests {
    /// The sum of the containers' `resources.requests` (upstream also
    /// takes the max with init containers; they run one at a time).
    pub fn of(pod: &Value) -> Requests {
        let mut r = Requests::default();
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for c in &containers {
            let req = &c["resources"]["requests"];
            r.cpu_millis += kubelab_api::quantity::cpu_millis(&req["cpu"]).unwrap_or(0);
            r.memory += kubelab_api::quantity::bytes(&req["memory"]).unwrap_or(0);
            for p in c["ports"].as_array().into_iter().flatten() {
                if let Some(hp) = p["hostPort"].as_u64().filter(|p| *p > 0) {
                    let proto = p["protocol"].as_str().unwrap_or("TCP").to_string();
                    r.host_ports.push((proto, hp as u16));
                }
            }
        }
        for c in pod["spec"]["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let req = &c["resources"]["requests"];
            r.cpu_millis = r
                .cpu_millis
                .max(kubelab_api::quantity::cpu_millis(&req["cpu"]).unwrap_or(0));
            r.memory = r
                .memory
                .max(kubelab_api::quantity::bytes(&req["memory"]).unwrap_or(0));
        }
        r.owner = kubelab_client::controller_uid(pod).map(String::from);
        r
    }
}

/// What is already placed on each node: kept up to date from the pod
/// informer, plus pods we bound but have not seen come back yet
/// ("assumed", in upstream's words), so two pods in quick succession do
/// not both take the last free CPU.
#[derive(Default)]
pub struct NodeUsage {
    by_pod: HashMap<String, (String, Requests)>,
    pub by_node: HashMap<String, NodeTotals>,
}

#[derive(Debug, Default, Clone)]
pub struct NodeTotals {
    pub cpu_millis: u64,
    pub memory: u64,
    pub pods: u64,
    pub host_ports: HashSet<(String, u16)>,
    pub owners: HashMap<String, u64>,
}

impl NodeUsage {
    fn remove(&mut self, pod_key: &str) {
        if let Some((node, r)) = self.by_pod.remove(pod_key)
            && let Some(t) = self.by_node.get_mut(&node)
        {
            t.cpu_millis -= r.cpu_millis;
            t.memory -= r.memory;
            t.pods -= 1;
            for p in &r.host_ports {
                t.host_ports.remove(p);
            }
            if let Some(o) = &r.owner
                && let Some(n) = t.owners.get_mut(o)
            {
                *n -= 1;
            }
        }
    }

    fn add(&mut self, pod_key: &str, node: &str, r: Requests) {
        self.remove(pod_key);
        let t = self.by_node.entry(node.to_string()).or_default();
        t.cpu_millis += r.cpu_millis;
        t.memory += r.memory;
        t.pods += 1;
        t.host_ports.extend(r.host_ports.iter().cloned());
        if let Some(o) = &r.owner {
            *t.owners.entry(o.clone()).or_default() += 1;
        }
        self.by_pod
            .insert(pod_key.to_string(), (node.to_string(), r));
    }

    /// Track a pod as the informer reports it.
    fn observe(&mut self, pod: &Value, deleted: bool) {
        let key = key_of(pod);
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        if deleted || node.is_empty() || kubelab_api::pod::is_terminal(pod) {
            // An unbound pod may still be "assumed" by us: keep that.
            if deleted || !node.is_empty() {
                self.remove(&key);
            }
            return;
        }
        self.add(&key, node, Requests::of(pod));
    }
}

pub struct Scheduler {
    client: Client,
    pods: Informer,
    nodes: Informer,
    usage: Mutex<NodeUsage>,
    events: EventRecorder,
    /// Pods that did not fit anywhere: tried again when the cluster changes.
    unschedulable: Mutex<HashSet<String>>,
    /// Where the next search for nodes begins.
    next_start: AtomicUsize,
    /// Parsed nodes, by the address of the informer's copy (a changed node
    /// is a new copy, so a stale entry is never found).
    infos: Mutex<HashMap<usize, Arc<filters::NodeInfo>>>,
    queue: WorkQueue,
    /// Filters added by later chapters.
    plugins: SchedulerPlugins,
}

fn wants_scheduling(pod: &Value) -> bool {
    pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
        && pod["spec"]["schedulerName"]
            .as_str()
            .is_none_or(|s| s == SCHEDULER_NAME)
        && !kubelab_api::meta::is_being_deleted(pod)
        && !kubelab_api::pod::is_terminal(pod)
}

impl Scheduler {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<Scheduler> {
        Scheduler::start_with(client, informers, SchedulerPlugins::default())
    }

    /// [`start`](Self::start), with the filters of later chapters.
    pub fn start_with(
        client: &Client,
        informers: &InformerFactory,
        plugins: SchedulerPlugins,
    ) -> Arc<Scheduler> {
        let client = client.named("kube-scheduler");
        let s = Arc::new(Scheduler {
            events: EventRecorder::new(&client, SCHEDULER_NAME, None),
            client,
            pods: informers.of("v1", "Pod"),
            nodes: informers.of("v1", "Node"),
            usage: Mutex::default(),
            unschedulable: Mutex::default(),
            next_start: AtomicUsize::new(0),
            infos: Mutex::default(),
            queue: WorkQueue::new(),
            plugins,
        });
        let me = s.clone();
        feed_pods(&s.pods, &s.queue, me);
        let me = s.clone();
        kubelab_client::feed(&s.nodes, &s.queue, move |_| me.retry_unschedulable());
        let me = s.clone();
        tokio::spawn(async move {
            loop {
                me.plugins.retry.notified().await;
                for key in me.retry_unschedulable() {
                    me.queue.add(&key);
                }
            }
        });
        tokio::spawn(kubelab_client::run(s.clone(), s.queue.clone(), 16));
        s
    }

    fn retry_unschedulable(&self) -> Vec<String> {
        self.unschedulable.lock().unwrap().drain().collect()
    }
}

/// Pod changes update the usage table and queue pods that need a node;
/// a pod that leaves a node may make room for one that did not fit.
fn feed_pods(pods: &Informer, queue: &WorkQueue, s: Arc<Scheduler>) {
    kubelab_client::feed(pods, queue, move |change| {
        let pod = change.object();
        let deleted = matches!(change, Change::Deleted(_));
        s.usage.lock().unwrap().observe(pod, deleted);
        let freed = deleted || kubelab_api::pod::is_terminal(pod);
        let mut keys = if freed {
            s.retry_unschedulable()
        } else {
            Vec::new()
        };
        if !deleted && wants_scheduling(pod) {
            keys.push(key_of(pod));
        }
        keys
    });
}

#[async_trait::async_trait]
impl Reconciler for Scheduler {
    fn name(&self) -> &'static str {
        SCHEDULER_NAME
    }

    // ANCHOR: schedule
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(pod) = self.pods.get(key) else {
            return Ok(Action::Done);
        };
        if !wants_scheduling(&pod) {
            return Ok(Action::Done);
        }
        let requests = Requests::of(&pod);

        // The scheduling cycle: filter, score and assume, one pod at a
        // time (the usage table must not change under a decision). The
        // binding that follows runs concurrently for many pods, as
        // upstream's "binding cycle" does: it is an API write, and waiting
        // for each one in turn would cap scheduling at one write's latency.
        let decision = {
            let mut usage = self.usage.lock().unwrap();
            if usage.by_pod.contains_key(key) {
                return Ok(Action::Done); // assumed already; its binding is in flight
            }
            let nodes = self.nodes.list(None);
            // 1. Filter: nodes the pod could run on, and why the others
            //    can't. In a big cluster, stop once enough are found
            //    (upstream's `percentageOfNodesToScore`), starting where
            //    the last pod stopped so that every node gets its turn.
            let wanted = nodes_to_find(nodes.len());
            let start = self.next_start.load(Ordering::Relaxed);
            let empty = NodeTotals::default();
            let constrained = filters::has_node_constraints(&pod);
            let pre_filter = self
                .plugins
                .filters
                .iter()
                .try_for_each(|p| p.pre_filter(&pod));
            let mut infos = self.infos.lock().unwrap();
            if infos.len() > 2 * nodes.len() + 16 {
                infos.clear(); // old versions of nodes, gone from the informer
            }
            let mut feasible = Vec::new();
            let mut refusals: HashMap<String, usize> = HashMap::new();
            let mut examined = 0;
            for k in 0..nodes.len() {
                // Parsed only when looked at: most nodes of a big cluster are not.
                let info = node_info(&mut infos, &nodes[(start + k) % nodes.len()]);
                examined += 1;
                let used = usage.by_node.get(&info.name).unwrap_or(&empty);
                let verdict =
                    filters::filter(&pod, &requests, &info, used, constrained).and_then(|()| {
                        self.plugins
                            .filters
                            .iter()
                            .try_for_each(|p| p.filter(&pod, &info.node))
                    });
                match verdict {
                    Ok(()) => feasible.push((info, used)),
                    Err(reason) => *refusals.entry(reason).or_default() += 1,
                }
                if feasible.len() >= wanted {
                    break;
                }
            }
            self.next_start
                .store((start + examined) % nodes.len().max(1), Ordering::Relaxed);
            if let Err(reason) = pre_filter {
                Err(format!("0/{} nodes are available: {reason}.", nodes.len()))
            } else if feasible.is_empty() {
                Err(fit_error(nodes.len(), &refusals))
            } else {
                // 2. Score: the best node wins; ties are broken at random.
                let node = {
                    let candidates: Vec<_> =
                        feasible.iter().map(|(i, u)| (i.as_ref(), *u)).collect();
                    score::pick(&pod, &requests, &candidates).name.clone()
                };
                drop(feasible);
                // 3. Assume: count the pod on the node before the API says so.
                usage.add(key, &node, requests);
                Ok(node)
            }
        };
        let node = match decision {
            Ok(node) => node,
            Err(message) => {
                self.unschedulable.lock().unwrap().insert(key.to_string());
                self.report_unschedulable(&pod, &message).await;
                // Also look again now and then, as upstream flushes its
                // unschedulable queue periodically.
                return Ok(Action::RequeueAfter(Duration::from_secs(10)));
            }
        };

        // 4. PreBind: later chapters' work before the binding (volumes).
        for p in &self.plugins.pre_binds {
            if let Err(e) = p.pre_bind(&pod, &node).await {
                self.usage.lock().unwrap().remove(key);
                let message = format!("running PreBind plugin \"{}\": {e}", p.name());
                self.events.warning(&pod, "FailedScheduling", message);
                return Ok(Action::RequeueAfter(Duration::from_secs(1)));
            }
        }
        // 5. Bind.
        let (ns, name) = kubelab_client::informer::split_key(key);
        let binding = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": ns},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        let path = format!(
            "{}/binding",
            client::path(client::resource("v1", "Pod"), ns, Some(name))
        );
        match self.client.create(&path, &binding).await {
            Ok(_) => {
                self.events.normal(
                    &pod,
                    "Scheduled",
                    format!("Successfully assigned {key} to {node}"),
                );
                Ok(Action::Done)
            }
            Err(e) => {
                self.usage.lock().unwrap().remove(key);
                if e.is_not_found() || e.is_conflict() {
                    return Ok(Action::Done); // deleted, or bound by someone else
                }
                Err(e.into())
            }
        }
    }
    // ANCHOR_END: schedule
}

/// The parsed view of a node, from the cache if that version of it was
/// parsed before. The cache is keyed by the address of the informer's copy
/// (a changed node is a new copy, so a stale entry is never found); the
/// entry holds its copy, so the address cannot be reused meanwhile.
fn node_info(
    cache: &mut HashMap<usize, Arc<filters::NodeInfo>>,
    node: &Arc<Value>,
) -> Arc<filters::NodeInfo> {
    let key = Arc::as_ptr(node) as usize;
    match cache.get(&key) {
        Some(info) if Arc::ptr_eq(&info.node, node) => info.clone(),
        _ => {
            let info = Arc::new(filters::NodeInfo::of(node));
            cache.insert(key, info.clone());
            info
        }
    }
}

/// How many feasible nodes to look for before scoring: all of them in a
/// small cluster; in a big one, upstream's adaptive share — 50 % minus 1 %
/// per 125 nodes, at least 5 % and at least 100 nodes.
pub fn nodes_to_find(nodes: usize) -> usize {
    if nodes <= 100 {
        return nodes.max(1);
    }
    let percent = 50usize.saturating_sub(nodes / 125).max(5);
    (nodes * percent / 100).max(100)
}

/// Upstream's wording: `0/3 nodes are available: 1 node(s) didn't match
/// Pod's node affinity/selector, 2 Insufficient cpu.` (reasons sorted).
pub fn fit_error(nodes: usize, refusals: &HashMap<String, usize>) -> String {
    let mut reasons: Vec<String> = refusals.iter().map(|(r, n)| format!("{n} {r}")).collect();
    reasons.sort();
    if reasons.is_empty() {
        return format!("0/{nodes} nodes are available: no nodes available to schedule pods.");
    }
    format!("0/{nodes} nodes are available: {}.", reasons.join(", "))
}

impl Scheduler {
    async fn report_unschedulable(&self, pod: &Value, message: &str) {
        self.events.warning(pod, "FailedScheduling", message);
        let current = pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "PodScheduled")
            .cloned();
        if current
            .as_ref()
            .is_some_and(|c| c["status"] == "False" && c["message"] == message)
        {
            return;
        }
        let now = kubelab_api::meta::now();
        let mut updated = pod.clone();
        let mut conditions: Vec<Value> = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conditions.push(json!({
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastProbeTime": null, "lastTransitionTime": now,
        }));
        updated["status"]["conditions"] = json!(conditions);
        updated["status"]["phase"] = json!("Pending");
        let path = format!("{}/status", client::object_path(pod));
        let _ = self.client.replace(&path, &updated).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_clusters_are_searched_only_in_part() {
        assert_eq!(nodes_to_find(3), 3);
        assert_eq!(nodes_to_find(100), 100);
        assert_eq!(nodes_to_find(1000), 420); // 50 % - 8 % of 1000
        assert_eq!(nodes_to_find(5000), 500); // 10 %
        assert_eq!(nodes_to_find(10_000), 500); // at least 5 %
        assert_eq!(nodes_to_find(150), 100); // at least 100 nodes
    }

    #[test]
    fn fit_errors_are_worded_as_upstream() {
        let mut r = HashMap::new();
        r.insert("Insufficient cpu".to_string(), 3);
        assert_eq!(
            fit_error(3, &r),
            "0/3 nodes are available: 3 Insufficient cpu."
        );
        r.insert(
            "node(s) didn't match Pod's node affinity/selector".to_string(),
            1,
        );
        assert_eq!(
            fit_error(4, &r),
            "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 3 Insufficient cpu."
        );
    }

    #[test]
    fn usage_follows_pods_and_frees_on_delete() {
        let mut u = NodeUsage::default();
        let pod = json!({"metadata": {"name": "a", "namespace": "default"}, "spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "250m"}}}]}});
        u.observe(&pod, false);
        u.observe(&pod, false);
        assert_eq!(u.by_node["n1"].cpu_millis, 250);
        assert_eq!(u.by_node["n1"].pods, 1);
        u.observe(&pod, true);
        assert_eq!(u.by_node["n1"].cpu_millis, 0);
    }
}
