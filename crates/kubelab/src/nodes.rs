//! Chapter 02's share of `kubelab up`: the control-plane loops (scheduler,
//! ReplicaSet and Deployment controllers) and N nodes, each a kubelet with
//! its own container runtime.
//!
//! On the `linux` runtime each node also gets a network namespace of its
//! own, `kubelab-<cluster>-<n>`, where chapter 03 builds the pod network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use kubelab_apiserver::Running;
use kubelab_controllers::{Client, Informers};
use kubelab_kubelet::{BackoffFn, Kubelet, NodeConfig};
use kubelab_runtime::{ImageStore, Runtime, RuntimeKind};

/// What `--nodes`, `--runtime` chose.
#[derive(Clone)]
pub struct NodeOptions {
    pub count: usize,
    pub runtime: RuntimeKind,
    /// Replaces the kubelet's restart back-off (lab 02).
    pub backoff: Option<BackoffFn>,
    /// Chapter 03: the service proxy and the cluster DNS.
    pub services: bool,
}

/// The running chapter-02 components.
pub struct Nodes {
    pub client: Client,
    pub informers: Informers,
    pub kubelets: Vec<Arc<Kubelet>>,
    runtimes: Vec<Arc<dyn Runtime>>,
    netns: Vec<String>,
    /// The service proxy (chapter 03; not on the fake runtime).
    pub proxy: Option<Arc<kubelab_proxy::Proxy>>,
}

/// Node names: `kubelab-node-1`, `kubelab-node-2`, …
pub fn node_name(i: usize) -> String {
    format!("kubelab-node-{i}")
}

/// A `Field:   123 kB` line of a /proc file (`/proc/meminfo`,
/// `/proc/<pid>/status`), in KiB.
pub fn proc_kib(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The machine's memory, from /proc/meminfo.
fn memory_bytes() -> u64 {
    proc_kib("/proc/meminfo", "MemTotal").map_or(8 << 30, |kib| kib * 1024)
}

/// The image store of a data directory, with the built-in images.
pub fn images(data_dir: &Path) -> anyhow::Result<ImageStore> {
    let store = ImageStore::open(data_dir.join("images")).context("opening the image store")?;
    store
        .ensure_builtins()
        .context("creating the built-in images")?;
    Ok(store)
}

fn netns_add(name: &str) -> anyhow::Result<()> {
    if Path::new("/run/netns").join(name).exists() {
        return Ok(());
    }
    let st = std::process::Command::new("ip")
        .args(["netns", "add", name])
        .status()
        .context("running `ip netns add` (is iproute2 installed?)")?;
    anyhow::ensure!(st.success(), "ip netns add {name} failed");
    Ok(())
}

/// The prefix of this cluster's network namespaces: `kubelab-<8 hex>-`,
/// from the data directory, so that clusters side by side (tests run in
/// parallel) never touch each other's namespaces.
pub fn netns_prefix(data_dir: &Path) -> String {
    let path = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let mut h: u32 = 0x811c_9dc5;
    for b in path.to_string_lossy().bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("kubelab-{h:08x}-")
}

/// Removes the network namespaces whose names start with `prefix`.
pub fn remove_all_netns(prefix: &str) -> usize {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(prefix) {
                let _ = std::process::Command::new("ip")
                    .args(["netns", "delete", &name])
                    .status();
                n += 1;
            }
        }
    }
    n
}

/// Node `i`'s share of the pod network (chapter 03): on `linux` its own
/// namespace and bridge; on `process` the host's network (pod IP = node
/// IP = 127.0.0.1); on `fake` addresses only.
fn node_network(
    runtime: RuntimeKind,
    i: usize,
    prefix: &str,
    dir: &Path,
) -> anyhow::Result<kubelab_network::NodeNetwork> {
    use kubelab_api::network::{node_ip, node_pod_cidr};
    use kubelab_network::{Mode, NodeNetwork};
    let (mode, ip, netns) = match runtime {
        RuntimeKind::Linux => (
            Mode::Bridge,
            node_ip(i),
            Some(kubelab_network::linux::netns_path(&format!("{prefix}{i}"))),
        ),
        RuntimeKind::Process => (Mode::Host, std::net::Ipv4Addr::LOCALHOST, None),
        RuntimeKind::Fake => (Mode::AddressesOnly, node_ip(i), None),
    };
    Ok(NodeNetwork::new(
        mode,
        ip,
        node_pod_cidr(i),
        netns,
        dir.join("ipam"),
    )?)
}

/// Starts the scheduler, the controllers and `opts.count` nodes.
pub async fn start(
    running: &Running,
    data_dir: &Path,
    opts: &NodeOptions,
) -> anyhow::Result<Nodes> {
    let images = images(data_dir)?;
    let client = Client::new(running.router.clone(), Some(running.token.clone()));
    let informers = Informers::start(&client);
    informers.pods.synced().await;
    informers.nodes.synced().await;
    kubelab_controllers::start(&client, &informers);
    kubelab_scheduler::Scheduler::start(&client, &informers);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as u64;
    let router = kubelab_kubelet::router::PodRouter::start(&informers.pods);
    let mut nodes = Nodes {
        client: client.clone(),
        informers: informers.clone(),
        kubelets: Vec::new(),
        runtimes: Vec::new(),
        netns: Vec::new(),
        proxy: None,
    };
    let prefix = netns_prefix(data_dir);
    if opts.runtime == RuntimeKind::Linux {
        for i in 1..=opts.count {
            let ns = format!("{prefix}{i}");
            netns_add(&ns)?;
            nodes.netns.push(ns);
        }
        nodes.netns.push(format!("{prefix}net"));
        kubelab_network::linux::setup_cluster(&prefix, opts.count)
            .context("setting up the pod network")?;
    }
    for i in 1..=opts.count {
        let name = node_name(i);
        let dir: PathBuf = data_dir.join("nodes").join(&name);
        let runtime = kubelab_runtime::new(opts.runtime, dir.join("runtime"), images.clone())
            .with_context(|| format!("starting the {} runtime of {name}", opts.runtime.as_str()))?;
        let config = NodeConfig {
            name: name.clone(),
            runtime: runtime.clone(),
            cpu_millis: cpus * 1000,
            memory: memory_bytes(),
            max_pods: 110,
            network: Arc::new(node_network(opts.runtime, i, &prefix, &dir)?),
            services: Some(informers.services.clone()),
            cluster_dns: (opts.services && opts.runtime == RuntimeKind::Linux)
                .then_some(kubelab_api::network::DNS_SERVICE_IP),
            pod_dir: dir.join("pods"),
        };
        let kubelet = Kubelet::start(&client, &router, config, opts.backoff)
            .await
            .map_err(|e| anyhow::anyhow!("starting the kubelet of {name}: {e}"))?;
        running.nodes.register(
            &name,
            Arc::new(kubelab_kubelet::streams::KubeletStreams(kubelet.clone())),
        );
        nodes.kubelets.push(kubelet);
        nodes.runtimes.push(runtime);
    }
    nodes.proxy = start_services(&client, &informers, opts, &prefix, running.addr).await?;
    Ok(nodes)
}

/// The API server listens on the host's loopback, which pods cannot
/// reach. Each node gets a forwarder on `<node IP>:6443`, and those are the
/// endpoints of the `kubernetes` Service (upstream: the API servers'
/// own addresses), so `https://kubernetes.default.svc` works from a pod.
async fn publish_api_server(
    client: &Client,
    count: usize,
    prefix: &str,
    api: std::net::SocketAddr,
) -> anyhow::Result<()> {
    use kubelab_api::network::node_ip;
    const PORT: u16 = 6443;
    let mut addresses = Vec::new();
    for i in 1..=count {
        let netns = kubelab_network::linux::netns_path(&format!("{prefix}{i}"));
        let listen = std::net::SocketAddr::from((node_ip(i), PORT));
        kubelab_proxy::host::forward_from_netns(&netns, listen, api)
            .await
            .with_context(|| format!("forwarding {listen} to the API server"))?;
        addresses.push(serde_json::json!({"ip": node_ip(i).to_string()}));
    }
    let endpoints = kubelab_controllers::client::resource("v1", "Endpoints");
    let list = kubelab_controllers::client::path(endpoints, Some("default"), None);
    let ep = serde_json::json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{"addresses": addresses,
                     "ports": [{"name": "https", "port": PORT, "protocol": "TCP"}]}],
    });
    client.create_or_replace(&list, &ep).await?;
    Ok(())
}

/// Chapter 03's per-node services: kube-proxy and the cluster DNS.
async fn start_services(
    client: &Client,
    informers: &Informers,
    opts: &NodeOptions,
    prefix: &str,
    api: std::net::SocketAddr,
) -> anyhow::Result<Option<Arc<kubelab_proxy::Proxy>>> {
    use kubelab_api::network::{node_ip, node_pod_cidr};
    use kubelab_network::linux::netns_path;
    let proxy = match opts.runtime {
        _ if !opts.services => return Ok(None),
        RuntimeKind::Fake => return Ok(None),
        // Pods share the host's network: only the host's ports to publish.
        RuntimeKind::Process => kubelab_proxy::Proxy::start(client, informers, Vec::new(), None),
        RuntimeKind::Linux => {
            let proxy_nodes = (1..=opts.count)
                .map(|i| kubelab_proxy::ProxyNode {
                    name: node_name(i),
                    netns: Some(format!("{prefix}{i}")),
                    addresses: vec![node_ip(i), node_pod_cidr(i).nth(1)],
                    pod_cidr: node_pod_cidr(i),
                })
                .collect();
            let dial = (opts.count > 0).then(|| netns_path(&format!("{prefix}1")));
            let proxy = kubelab_proxy::Proxy::start(client, informers, proxy_nodes, dial);
            let dns_nodes: Vec<kubelab_dns::DnsNode> = (1..=opts.count)
                .map(|i| kubelab_dns::DnsNode {
                    name: node_name(i),
                    netns: netns_path(&format!("{prefix}{i}")),
                    address: node_pod_cidr(i).nth(1),
                })
                .collect();
            kubelab_dns::start(client, informers, &dns_nodes)
                .await
                .context("starting the cluster DNS")?;
            publish_api_server(client, opts.count, prefix, api).await?;
            proxy
        }
    };
    Ok(Some(proxy))
}

impl Nodes {
    /// Stops every container and sandbox and removes the node namespaces.
    pub async fn shutdown(self) {
        for k in &self.kubelets {
            k.stop();
        }
        // Let a reconcile that is already creating a container finish, so
        // the removal below sees it.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for rt in &self.runtimes {
            let _ = rt.remove_all().await;
        }
        for ns in &self.netns {
            let _ = std::process::Command::new("ip")
                .args(["netns", "delete", ns])
                .status();
        }
    }
}

/// `kubelab down`: removes what a cluster on `data_dir` left running,
/// whether or not its kubelab process is still alive.
pub fn down(data_dir: &Path) -> anyhow::Result<String> {
    let mut killed = 0;
    if let Ok(rd) = std::fs::read_dir(data_dir.join("nodes")) {
        for e in rd.flatten() {
            let root = e.path().join("runtime");
            killed += kubelab_runtime::linux::kill_leftovers(&root);
            let _ = std::fs::remove_dir_all(root.join("containers"));
            let _ = std::fs::remove_dir_all(root.join("sandboxes"));
        }
    }
    let mut cgroups = 0;
    for cg in kubelab_runtime::cgroup::all_kubelab_cgroups() {
        if std::fs::remove_dir(&cg).is_ok() {
            cgroups += 1;
        }
    }
    let netns = remove_all_netns(&netns_prefix(data_dir));
    Ok(format!(
        "kubelab down: killed {killed} containers, removed {cgroups} cgroups and {netns} network namespaces"
    ))
}
