//! The resource metrics pipeline: what `kubectl top` and the
//! HorizontalPodAutoscaler read.
//!
//! Upstream it is three pieces: the kubelet reads each container's cgroup
//! (through cAdvisor or the CRI) and serves `/metrics/resource`;
//! **metrics-server** scrapes every kubelet every 15 s and keeps only the
//! latest two readings; and the API server forwards the group
//! `metrics.k8s.io` to metrics-server (an aggregated API, registered with
//! an `APIService` object). Here the same pieces run in one process:
//!
//! ```text
//! every RESOLUTION:   for each node that is up, for each running container
//!                         runtime.container_stats(id)    cgroup cpu.stat, memory.current
//!                     cpu rate = Δ cpu time / Δ wall time   (nanocores)
//!                     node usage = the machine's /proc/stat and /proc/meminfo
//! GET /apis/metrics.k8s.io/v1beta1/nodes                → NodeMetricsList
//! GET /apis/metrics.k8s.io/v1beta1/namespaces/ns/pods   → PodMetricsList (labelSelector)
//! ```
//!
//! CPU is a counter, so a pod appears after its second reading: right
//! after it starts, `kubectl top` says "metrics not available yet", as
//! upstream.
//!
//! **Simplifications.** Readings every 5 s rather than 15 s, so the
//! autoscaler reacts in one reading. Every node of a kubelab cluster is
//! the same machine, so each node reports the machine's usage (as each
//! reports the machine's capacity); fake nodes report the sum of their
//! pods, which is zero.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubelab_api::registry::ResourceInfo;
use kubelab_api::selector::LabelSelector;
use kubelab_apiserver::extensions::AggregatedApi;
use kubelab_apiserver::status::ApiError;
use kubelab_client::Informer;
use kubelab_kubelet::Nodes;
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

/// How often usage is read (metrics-server's `--metric-resolution`, 15 s upstream).
pub const RESOLUTION: Duration = Duration::from_secs(5);

const GET_LIST: &[&str] = &["get", "list"];

/// The two resources of `metrics.k8s.io/v1beta1`.
pub static RESOURCES: [ResourceInfo; 2] = [
    ResourceInfo {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kind: "NodeMetrics",
        plural: "nodes",
        singular: "",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: GET_LIST,
        subresources: &[],
    },
    ResourceInfo {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kind: "PodMetrics",
        plural: "pods",
        singular: "",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: GET_LIST,
        subresources: &[],
    },
];

/// One usage figure: CPU in nanocores (billionths of a core) and memory
/// in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

impl Usage {
    fn to_json(self) -> Value {
        json!({"cpu": format!("{}n", self.cpu_nanocores), "memory": format!("{}Ki", self.memory_bytes / 1024)})
    }
}

#[derive(Debug, Clone)]
struct PodSample {
    labels: Value,
    created: Value,
    containers: Vec<(String, Usage)>,
}

#[derive(Default)]
struct State {
    /// container id → (when, cpu time so far).
    previous: HashMap<String, (Instant, u64)>,
    /// The machine's (busy, total) jiffies at the last reading.
    host_cpu: Option<(Instant, u64)>,
    timestamp: String,
    window: Duration,
    nodes: HashMap<String, (Value, Usage)>,
    pods: HashMap<String, PodSample>,
}

/// The latest readings (metrics-server's in-memory store).
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<State>>);

/// The machine's CPU time used so far, in nanoseconds, from `/proc/stat`.
fn host_cpu_nanos() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system (idle iowait) irq softirq steal: busy time, in 1/100 s.
    let busy = f.iter().take(3).sum::<u64>() + f.iter().skip(5).take(3).sum::<u64>();
    Some(busy * 10_000_000)
}

fn host_memory() -> u64 {
    let total = kubelab_kubelet::nodes::proc_kib("/proc/meminfo", "MemTotal").unwrap_or(0);
    let available = kubelab_kubelet::nodes::proc_kib("/proc/meminfo", "MemAvailable").unwrap_or(0);
    total.saturating_sub(available) * 1024
}

impl Metrics {
    /// One scrape of every node that is up.
    pub async fn scrape(&self, nodes: &Nodes, pods: &Informer, node_objects: &Informer) {
        let now = Instant::now();
        // (node, pod key, container, container id, cpu time, memory)
        let mut readings: Vec<(String, String, String, String, u64, u64)> = Vec::new();
        let mut up_nodes = Vec::new();
        for kubelet in &nodes.kubelets {
            if kubelet.is_down() {
                continue;
            }
            up_nodes.push(kubelet.clone());
            for (pod_key, _uid, container, id) in kubelet.containers() {
                if let Ok(s) = kubelet.config.runtime.container_stats(&id).await {
                    readings.push((
                        kubelet.config.node.name.clone(),
                        pod_key,
                        container,
                        id,
                        s.cpu_nanos,
                        s.memory_bytes,
                    ));
                }
            }
        }
        let host_cpu = host_cpu_nanos();
        let mut st = self.0.lock().unwrap();
        let mut previous = HashMap::new();
        let mut by_pod: HashMap<String, Vec<(String, Usage)>> = HashMap::new();
        let mut window = RESOLUTION;
        let mut by_node: HashMap<String, Usage> = HashMap::new();
        for (node, pod_key, container, id, cpu, memory) in readings {
            if let Some((at, before)) = st.previous.get(&id) {
                let dt = now.duration_since(*at);
                window = dt;
                let rate = (cpu.saturating_sub(*before) as u128 * 1_000_000_000
                    / dt.as_nanos().max(1)) as u64;
                let u = Usage {
                    cpu_nanocores: rate,
                    memory_bytes: memory,
                };
                let n = by_node.entry(node).or_default();
                n.cpu_nanocores += u.cpu_nanocores;
                n.memory_bytes += u.memory_bytes;
                by_pod.entry(pod_key).or_default().push((container, u));
            }
            previous.insert(id, (now, cpu));
        }
        st.previous = previous;
        st.pods = by_pod
            .into_iter()
            .filter_map(|(key, mut containers)| {
                let pod = pods.get(&key)?;
                containers.sort_by(|a, b| a.0.cmp(&b.0));
                Some((
                    key,
                    PodSample {
                        labels: pod["metadata"]["labels"].clone(),
                        created: pod["metadata"]["creationTimestamp"].clone(),
                        containers,
                    },
                ))
            })
            .collect();
        let host_rate = match (st.host_cpu, host_cpu) {
            (Some((at, before)), Some(cpu)) => Some(
                (cpu.saturating_sub(before) as u128 * 1_000_000_000
                    / now.duration_since(at).as_nanos().max(1)) as u64,
            ),
            _ => None,
        };
        st.host_cpu = host_cpu.map(|c| (now, c));
        let memory = host_memory();
        let mut node_usage = HashMap::new();
        for k in &up_nodes {
            let name = k.config.node.name.clone();
            let usage = if k.config.runtime.kind() == RuntimeKind::Fake {
                Some(by_node.get(&name).copied().unwrap_or_default())
            } else {
                host_rate.map(|cpu| Usage {
                    cpu_nanocores: cpu,
                    memory_bytes: memory,
                })
            };
            if let Some(u) = usage {
                // metrics-server copies the Node's labels (`kubectl top nodes -l`).
                let labels = node_objects
                    .get(&name)
                    .map(|n| n["metadata"]["labels"].clone())
                    .unwrap_or(json!({}));
                node_usage.insert(name, (labels, u));
            }
        }
        st.nodes = node_usage;
        st.timestamp = kubelab_api::meta::now();
        st.window = window;
    }

    /// Scrapes every [`RESOLUTION`] until the cluster stops.
    pub fn run(&self, nodes: Nodes, pods: Informer, node_objects: Informer) {
        let me = self.clone();
        tokio::spawn(async move {
            pods.synced().await;
            node_objects.synced().await;
            loop {
                me.scrape(&nodes, &pods, &node_objects).await;
                tokio::time::sleep(RESOLUTION).await;
            }
        });
    }

    fn window(st: &State) -> String {
        format!("{}s", st.window.as_secs_f64().round() as u64)
    }

    fn node_metrics(st: &State, name: &str, labels: &Value, usage: Usage) -> Value {
        json!({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
               "metadata": {"name": name, "labels": labels, "creationTimestamp": st.timestamp},
               "timestamp": st.timestamp, "window": Self::window(st), "usage": usage.to_json()})
    }

    fn pod_metrics(st: &State, key: &str, s: &PodSample) -> Value {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let containers: Vec<Value> = s
            .containers
            .iter()
            .map(|(n, u)| json!({"name": n, "usage": u.to_json()}))
            .collect();
        json!({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
               "metadata": {"name": name, "namespace": ns, "labels": s.labels, "creationTimestamp": s.created},
               "timestamp": st.timestamp, "window": Self::window(st), "containers": containers})
    }

    /// A pod's usage summed over its containers, if it was read (for the
    /// autoscaler in this process; kubectl goes through the API).
    pub fn pod_usage(&self, key: &str) -> Option<Usage> {
        let st = self.0.lock().unwrap();
        let s = st.pods.get(key)?;
        Some(s.containers.iter().fold(Usage::default(), |mut a, (_, u)| {
            a.cpu_nanocores += u.cpu_nanocores;
            a.memory_bytes += u.memory_bytes;
            a
        }))
    }
}

/// `metrics.k8s.io/v1beta1`, served from the latest readings.
pub struct MetricsApi(pub Metrics);

#[async_trait::async_trait]
impl AggregatedApi for MetricsApi {
    fn group(&self) -> &'static str {
        "metrics.k8s.io"
    }
    fn version(&self) -> &'static str {
        "v1beta1"
    }
    fn resources(&self) -> &'static [ResourceInfo] {
        &RESOURCES
    }

    async fn get(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Value, ApiError> {
        let selector = match label_selector.filter(|s| !s.is_empty()) {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let matches = |labels: &Value| {
            selector
                .as_ref()
                .is_none_or(|s| s.matches_object(&json!({"metadata": {"labels": labels}})))
        };
        let st = self.0.0.lock().unwrap();
        let not_found = |n: &str| ApiError::not_found("metrics.k8s.io", resource.plural, n);
        if resource.kind == "NodeMetrics" {
            if let Some(n) = name {
                let (labels, u) = st.nodes.get(n).ok_or_else(|| not_found(n))?;
                return Ok(Metrics::node_metrics(&st, n, labels, *u));
            }
            let mut names: Vec<&String> = st.nodes.keys().collect();
            names.sort();
            let items: Vec<Value> = names
                .into_iter()
                .filter(|n| matches(&st.nodes[*n].0))
                .map(|n| Metrics::node_metrics(&st, n, &st.nodes[n].0, st.nodes[n].1))
                .collect();
            return Ok(
                json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                             "metadata": {}, "items": items}),
            );
        }
        if let (Some(ns), Some(n)) = (namespace, name) {
            let key = format!("{ns}/{n}");
            let s = st.pods.get(&key).ok_or_else(|| not_found(n))?;
            return Ok(Metrics::pod_metrics(&st, &key, s));
        }
        let mut keys: Vec<&String> = st
            .pods
            .keys()
            .filter(|k| namespace.is_none_or(|ns| k.split_once('/').is_some_and(|(n, _)| n == ns)))
            .collect();
        keys.sort();
        let items: Vec<Value> = keys
            .into_iter()
            .filter(|k| matches(&st.pods[*k].labels))
            .map(|k| Metrics::pod_metrics(&st, k, &st.pods[k]))
            .collect();
        Ok(
            json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                  "metadata": {}, "items": items}),
        )
    }
}
