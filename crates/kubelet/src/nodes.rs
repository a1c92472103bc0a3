//! The nodes of a kubelab cluster: N kubelets in one process, each with a
//! container runtime of its own.
//!
//! Upstream a node is a machine, and its kubelet is a program started by
//! the machine's init system with flags (`--node-ip`, `--max-pods`, the
//! container runtime's socket). kubelab starts its nodes from
//! [`install`]: `kubelab up --nodes 3` is three kubelets, `kubelab-node-1`
//! to `-3`, each keeping its state under `<data>/nodes/<node>/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use kubelab_client::streams::NodeConnections;
use kubelab_client::{Cluster, ClusterBuilder, Phase};
use kubelab_runtime::{ImageStore, Runtime, RuntimeKind};

use crate::plugin::{KubeletPlugins, NodeInfo};
use crate::router::PodRouter;
use crate::{BackoffFn, Kubelet, NodeConfig};

/// How the nodes run: a slot that `kubelab up` (`--runtime`), the
/// notebooks (fake nodes), the benchmarks and lab 02 (its back-off) set.
#[derive(Clone, Copy)]
pub struct NodeOptions {
    pub runtime: RuntimeKind,
    /// Replaces the kubelet's restart back-off (lab 02).
    pub backoff: Option<BackoffFn>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            runtime: RuntimeKind::detect(),
            backoff: None,
        }
    }
}

/// The running nodes (a slot of the running cluster).
#[derive(Clone, Default)]
pub struct Nodes {
    pub kubelets: Vec<Arc<Kubelet>>,
    pub runtimes: Vec<Arc<dyn Runtime>>,
}

/// Node names: `kubelab-node-1`, `kubelab-node-2`, …
pub fn node_name(i: usize) -> String {
    format!("kubelab-node-{i}")
}

/// Where a node keeps its state: `<data>/nodes/<node>`.
pub fn node_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("nodes").join(name)
}

/// A `Field:   123 kB` line of a /proc file (`/proc/meminfo`,
/// `/proc/<pid>/status`), in KiB.
pub fn proc_kib(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// What a node offers: every CPU and all the memory of the machine (each
/// node of a kubelab cluster reports the whole machine, as kind's nodes do).
pub fn capacity() -> (u64, u64) {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as u64;
    let memory = proc_kib("/proc/meminfo", "MemTotal").map_or(8 << 30, |kib| kib * 1024);
    (cpus * 1000, memory)
}

/// The image store of a data directory, with the built-in images.
pub fn images(data_dir: &Path) -> anyhow::Result<ImageStore> {
    let store = ImageStore::open(data_dir.join("images")).context("opening the image store")?;
    store
        .ensure_builtins()
        .context("creating the built-in images")?;
    Ok(store)
}

/// Chapter 02's nodes: `options.nodes` kubelets.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    b.slot::<KubeletPlugins>();
    b.on_start(Phase::Nodes, "kubelet", |c: Cluster| async move {
        let nodes = start(&c).await?;
        c.insert(nodes.clone());
        c.on_shutdown("kubelet", nodes.shutdown());
        Ok(())
    });
}
// ANCHOR_END: install

async fn start(c: &Cluster) -> anyhow::Result<Nodes> {
    let opts = c.options().clone();
    let node_options = c.get::<NodeOptions>().unwrap_or_default();
    let plugins = c.get::<KubeletPlugins>().unwrap_or_default();
    let connections = c.get::<NodeConnections>();
    let images = images(&opts.data_dir)?;
    let client = c.client();
    let pods = c.informers().of("v1", "Pod");
    pods.synced().await;
    let router = PodRouter::start(&pods);
    let (cpu_millis, memory) = capacity();
    let mut nodes = Nodes::default();
    for (i, name) in opts.node_names() {
        let dir = node_dir(&opts.data_dir, &name);
        let kind = node_options.runtime;
        let runtime = kubelab_runtime::new(kind, dir.join("runtime"), images.clone())
            .with_context(|| format!("starting the {} runtime of {name}", kind.as_str()))?;
        let config = NodeConfig {
            node: NodeInfo {
                name: name.clone(),
                index: i,
                runtime: kind,
                dir: dir.clone(),
            },
            runtime: runtime.clone(),
            cpu_millis,
            memory,
            max_pods: 110,
            pod_dir: dir.join("pods"),
            plugins: plugins.clone(),
        };
        nodes.runtimes.push(runtime);
        let kubelet = match Kubelet::start(&client, &router, config, node_options.backoff).await {
            Ok(k) => k,
            Err(e) => {
                nodes.shutdown().await;
                anyhow::bail!("starting the kubelet of {name}: {e}");
            }
        };
        let streams = Arc::new(crate::streams::KubeletStreams(kubelet.clone()));
        if let Some(conn) = &connections {
            conn.register(&name, streams);
        } else if let Some(me) = &opts.node {
            // A node of its own: the API server is elsewhere and comes
            // over the network, with the credential this node holds.
            let token = client.bearer_token().unwrap_or_default().to_string();
            if let Err(e) = crate::server::serve(me.ip, token, streams).await {
                nodes.kubelets.push(kubelet);
                nodes.shutdown().await;
                return Err(e);
            }
        }
        nodes.kubelets.push(kubelet);
    }
    Ok(nodes)
}

impl Nodes {
    /// Stops every container and sandbox.
    pub async fn shutdown(self) {
        for k in &self.kubelets {
            k.stop();
        }
        // Let a reconcile that is already creating a container finish, so
        // the removal below sees it.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        futures::future::join_all(self.runtimes.iter().map(|rt| rt.remove_all())).await;
        // What volumes mounted on the host (a memory-backed emptyDir's
        // tmpfs) goes with the containers, as it would with a reboot.
        for k in &self.kubelets {
            unmount_under(&k.config.pod_dir);
        }
    }
}

/// Unmounts everything mounted at or below `dir` (deepest first);
/// returns how many.
pub fn unmount_under(dir: &Path) -> usize {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return 0;
    };
    // Field 5 is the mount point (spaces escaped as \040).
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
        .iter()
        .filter(|p| nix::mount::umount2(p.as_path(), nix::mount::MntFlags::MNT_DETACH).is_ok())
        .count()
}

/// `kubelab down`'s share of the nodes: kills the containers a cluster on
/// `data_dir` left running and removes their cgroups; returns the counts.
pub fn remove_leftovers(data_dir: &Path) -> (usize, usize) {
    let mut killed = 0;
    if let Ok(rd) = std::fs::read_dir(data_dir.join("nodes")) {
        for e in rd.flatten() {
            let root = e.path().join("runtime");
            killed += kubelab_runtime::linux::kill_leftovers(&root);
            unmount_under(&e.path().join("pods"));
            let _ = std::fs::remove_dir_all(root.join("containers"));
            let _ = std::fs::remove_dir_all(root.join("sandboxes"));
        }
    }
    // Empty cgroups of containers whose folders are gone (a crash). Only
    // old ones: a cgroup another cluster created a moment ago is empty too,
    // until its container's first process joins it, and removing it would
    // fail that container's start ("joining the container's cgroup").
    let mut cgroups = 0;
    for cg in kubelab_runtime::cgroup::all_kubelab_cgroups() {
        let old = std::fs::metadata(&cg)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if old && std::fs::remove_dir(&cg).is_ok() {
            cgroups += 1;
        }
    }
    (killed, cgroups)
}
