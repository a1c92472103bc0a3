//! `kubelab bench pods`: chapter 02's figures.
//!
//! * pod start latency — create → `Running` as a watch sees it, one pod at
//!   a time, 100 pods, on the linux runtime (process runtime without root);
//! * density — 10,000 pods on 1,000 nodes of the `fake` runtime: pods/s
//!   from the first create to the last `Running`, and peak memory;
//! * `kubelab up` to the first Ready node.
//!
//! Upstream's SLO for comparison: pod startup p99 ≤ 5 s (excluding image
//! pulls). Run it with a release build: `cargo run --release -- bench pods`.

use std::time::{Duration, Instant};

use kubelab_client::rest as client;
use kubelab_client::{Cluster, ClusterOptions};
use kubelab_kubelet::NodeOptions;
use kubelab_runtime::RuntimeKind;
use serde_json::json;

pub(crate) fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn peak_rss_mib() -> f64 {
    kubelab_kubelet::nodes::proc_kib("/proc/self/status", "VmHWM").unwrap_or(0) as f64 / 1024.0
}

/// A cluster of every chapter, as `kubelab up` builds it, on `dir`.
pub(crate) async fn cluster(
    nodes: usize,
    runtime: RuntimeKind,
    dir: &std::path::Path,
) -> anyhow::Result<Cluster> {
    cluster_with(nodes, runtime, dir, |_| {}).await
}

/// [`cluster`], with more settings put in the builder's slots first.
pub(crate) async fn cluster_with(
    nodes: usize,
    runtime: RuntimeKind,
    dir: &std::path::Path,
    configure: impl FnOnce(&mut kubelab_client::ClusterBuilder),
) -> anyhow::Result<Cluster> {
    let mut options = ClusterOptions::new(dir);
    options.nodes = nodes;
    options.chapter = kubelab::chapters::LATEST;
    let mut b = kubelab::chapters::builder(options);
    b.insert(NodeOptions {
        runtime,
        backoff: None,
    });
    configure(&mut b);
    b.start().await
}

fn pod(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "yes"}},
           "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}})
}

pub async fn pods(density_only: bool) -> anyhow::Result<()> {
    let pods_path = client::path(client::resource("v1", "Pod"), Some("default"), None);
    if !density_only {
        startup_and_latency(&pods_path).await?;
    }
    density(&pods_path, None).await.map(drop)
}

/// Time to the first Ready node, then pod start latency on the real runtime.
async fn startup_and_latency(pods_path: &str) -> anyhow::Result<()> {
    // 1. kubelab up → first Ready node.
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let kind = RuntimeKind::detect();
    let t = Instant::now();
    let nodes = cluster(1, kind, dir.path()).await?;
    let up = t.elapsed();
    println!(
        "kubelab up → first Ready node ({} runtime): {:.0} ms (target ≤ 1000 ms)",
        kind.as_str(),
        up.as_secs_f64() * 1000.0
    );

    // 2. Pod start latency, one at a time.
    let pods = nodes.informers().of("v1", "Pod");
    let mut lat = Vec::new();
    for i in 0..100 {
        let name = format!("lat-{i}");
        let t = Instant::now();
        nodes
            .client()
            .create(pods_path, &pod(&name))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = format!("default/{name}");
        loop {
            if pods
                .get(&key)
                .is_some_and(|p| p["status"]["phase"] == "Running")
            {
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("{name} did not start within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "pod start latency, create → Running seen by a watch, 100 pods ({} runtime): p50 {:.1} ms, p99 {:.1} ms (targets 100 / 500 ms; upstream SLO p99 ≤ 5 s)",
        kind.as_str(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
    nodes.shutdown().await;

    Ok(())
}

/// 10,000 pods on 1,000 nodes of the fake runtime; the state in `store`
/// (an etcd cluster) if given, else in the embedded store. Returns pods/s.
pub(crate) async fn density(pods_path: &str, store: Option<&str>) -> anyhow::Result<f64> {
    let (node_count, pod_count) = (1000, 10_000);
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let t = Instant::now();
    let store = store.map(str::to_string);
    let nodes = cluster_with(node_count, RuntimeKind::Fake, dir.path(), |b| {
        b.options_mut().store = store
    })
    .await?;
    println!(
        "{node_count} fake nodes registered in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Count Running pods from the informer's stream of changes: scanning
    // 10,000 cached pods every few milliseconds would itself cost the
    // cluster a few per cent of its CPU.
    let mut changes = nodes.informers().of("v1", "Pod").subscribe();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (n, path) = (nodes.clone(), pods_path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < pod_count {
                let _ = n
                    .client()
                    .create(&path, &pod(&format!("density-{i}")))
                    .await;
                i += 32;
            }
        }));
    }
    let mut running_pods = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut created = None;
    while running_pods.len() < pod_count {
        if created.is_none() && tasks.iter().all(|t| t.is_finished()) {
            created = Some(t.elapsed());
        }
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Some(change)) => {
                let pod = change.object();
                if pod["status"]["phase"] == "Running" {
                    running_pods.insert(
                        pod["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
            }
            _ => {
                println!(
                    "density: only {} of {pod_count} Running after 600 s",
                    running_pods.len()
                );
                break;
            }
        }
    }
    let created = created.unwrap_or_else(|| t.elapsed());
    let all = t.elapsed();
    println!(
        "density: {pod_count} pods on {node_count} fake nodes: created in {:.1} s, all Running in {:.1} s = {:.0} pods/s (target ≥ 1000); peak RSS {:.0} MiB (target ≤ 1024)",
        created.as_secs_f64(),
        all.as_secs_f64(),
        pod_count as f64 / all.as_secs_f64(),
        peak_rss_mib()
    );
    drop(nodes);
    Ok(pod_count as f64 / all.as_secs_f64())
}
