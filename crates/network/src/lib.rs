//! # kubelab-network — every pod gets an IP (chapter 03)
//!
//! Kubernetes asks three things of a pod network, and leaves the how to a
//! network plugin (CNI): every pod has its own IP; every pod reaches every
//! other pod, on any node, without NAT; and a node's agents reach its pods.
//! kubelab's plugin:
//!
//! 1. **Pod ranges.** Node *n* owns `10.244.n.0/24` (`spec.podCIDR`), cut
//!    from the cluster range `10.244.0.0/16` ([`kubelab_api::network`]).
//! 2. **IPAM.** Each node hands out the addresses of its range, recorded on
//!    disk so none is given twice, even across restarts ([`ipam`]).
//! 3. **Wiring** (linux runtime). A bridge per node namespace, a veth pair
//!    per pod, and routes between the nodes ([`linux`]).
//!
//! The kubelet calls [`NodeNetwork::setup_pod`] right after it creates a
//! pod's sandbox, and writes the address into `status.podIP` — the CNI
//! `ADD` call of a real kubelet, in one function.
//!
//! On the `process` runtime pods share the host's network, so their IP is
//! the node's (`127.0.0.1`), as for upstream's `hostNetwork` pods. On the
//! `fake` runtime addresses are handed out but nothing is wired.
//!
//! The chapter plugs in through [`install`]: a kubelet plugin ([`pod`])
//! that gives each pod its address, `/etc/hosts`, `resolv.conf` and the
//! Service variables; the node networks, set up before the kubelets start;
//! and Service addresses, allocated by the API server as an addition to
//! the Service strategy ([`allocator`]).
//!
//! ## Where to start reading
//! [`install`], then [`NodeNetwork::setup_pod`], [`linux::setup_cluster`]
//! and [`linux::attach_pod`].

pub mod allocator;
pub mod ipam;
pub mod linux;
pub mod pod;
pub mod routes;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubelab_api::network::{Cidr, node_ip, node_pod_cidr};
use kubelab_apiserver::strategy::Strategies;
use kubelab_client::{Cluster, ClusterBuilder, Phase};
use kubelab_kubelet::{KubeletPlugins, NodeOptions};
use kubelab_runtime::RuntimeKind;

/// One node's place in the pod network, for the node agents (proxy, DNS).
#[derive(Debug, Clone)]
pub struct NetworkNode {
    pub name: String,
    /// Its network namespace (`ip netns` name) in bridge mode.
    pub netns: Option<String>,
    /// Its address (`InternalIP`).
    pub node_ip: Ipv4Addr,
    /// Its pod range; the first address is its bridge (the pods' gateway).
    pub pod_cidr: Cidr,
}

/// The cluster's pod network once it is set up (a slot of the running
/// cluster that chapter 03's node agents read).
#[derive(Debug, Clone)]
pub struct ClusterNetwork {
    pub mode: Mode,
    /// `kubelab-<8 hex>-`: the prefix of this cluster's namespaces.
    pub prefix: String,
    pub nodes: Vec<NetworkNode>,
}

/// Chapter 03's pod network.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    // The API server gives Services their addresses.
    b.slot::<Strategies>()
        .register("", "Service", allocator::ServiceAllocator::default());
    // Each kubelet gives its pods theirs.
    let plugin = Arc::new(pod::PodNetwork::default());
    b.slot::<KubeletPlugins>().add(plugin.clone());
    // The node networks exist before the kubelets start.
    b.on_start(
        Phase::NodeSetup,
        "pod-network",
        move |c: Cluster| async move { set_up_nodes(&c, &plugin) },
    );
}
// ANCHOR_END: install

/// How pods connect on each runtime.
pub fn mode_of(runtime: RuntimeKind) -> Mode {
    match runtime {
        RuntimeKind::Linux => Mode::Bridge,
        RuntimeKind::Process => Mode::Host,
        RuntimeKind::Fake => Mode::AddressesOnly,
    }
}

/// Creates each node's network (its namespace and bridge on `linux`) and
/// hands it to the plugin.
fn set_up_nodes(c: &Cluster, plugin: &pod::PodNetwork) -> anyhow::Result<()> {
    let opts = c.options().clone();
    let runtime = c.get::<NodeOptions>().unwrap_or_default().runtime;
    let mode = mode_of(runtime);
    let prefix = linux::netns_prefix(&opts.data_dir);
    match (&opts.node, mode) {
        // `kubelab node` on a host of its own: the host's network is the
        // node's, and the routes to the other nodes follow the Node objects.
        (Some(me), Mode::Bridge) => {
            let ns = format!("{prefix}{}", me.index);
            linux::netns_attach_self(&ns)?;
            let p = prefix.clone();
            c.on_shutdown("pod-network", async move {
                linux::remove_all_netns(&p);
            });
            linux::setup_host_node(&ns, me.index).map_err(|e| anyhow::anyhow!("{e}"))?;
            routes::start(&c.informers(), ns, me.name.clone(), me.index, me.ip);
        }
        (None, Mode::Bridge) => {
            for i in 1..=opts.nodes {
                linux::netns_add(&format!("{prefix}{i}"))?;
            }
            let p = prefix.clone();
            c.on_shutdown("pod-network", async move {
                linux::remove_all_netns(&p);
            });
            linux::setup_cluster(&prefix, opts.nodes).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        _ => {}
    }
    let mut nodes = Vec::new();
    for (i, name) in opts.node_names() {
        // A node of its own has the address it was given; numbered nodes
        // share the host's (process runtime) or have one by number.
        let ip = match (&opts.node, mode) {
            (Some(me), _) => me.ip,
            (None, Mode::Host) => Ipv4Addr::LOCALHOST,
            (None, _) => node_ip(i),
        };
        let netns = (mode == Mode::Bridge).then(|| format!("{prefix}{i}"));
        let dir = kubelab_kubelet::node_dir(&opts.data_dir, &name);
        let network = NodeNetwork::new(
            mode,
            ip,
            node_pod_cidr(i),
            netns.as_deref().map(linux::netns_path),
            dir.join("ipam"),
        )?;
        plugin
            .nodes
            .lock()
            .unwrap()
            .insert(name.clone(), Arc::new(network));
        nodes.push(NetworkNode {
            name,
            netns,
            node_ip: ip,
            pod_cidr: node_pod_cidr(i),
        });
    }
    *plugin.services.lock().unwrap() = Some(c.informers().of("v1", "Service"));
    c.insert(ClusterNetwork {
        mode,
        prefix,
        nodes,
    });
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String),
    #[error("setting up the pod network: {0}")]
    Setup(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// How pods on a node are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bridge + veth per pod in the node's network namespace.
    Bridge,
    /// Pods share the host's network (process runtime): pod IP = node IP.
    Host,
    /// Addresses only, nothing wired (fake runtime).
    AddressesOnly,
}

/// One node's share of the pod network.
#[derive(Debug, Clone)]
pub struct NodeNetwork {
    pub mode: Mode,
    /// The node's address (`InternalIP`).
    pub node_ip: Ipv4Addr,
    /// `spec.podCIDR`.
    pub pod_cidr: Cidr,
    /// The node's network namespace (bridge mode).
    pub netns: Option<PathBuf>,
    ipam: ipam::Ipam,
}

impl NodeNetwork {
    pub fn new(
        mode: Mode,
        node_ip: Ipv4Addr,
        pod_cidr: Cidr,
        netns: Option<PathBuf>,
        state_dir: PathBuf,
    ) -> Result<NodeNetwork> {
        let ipam = match mode {
            Mode::AddressesOnly => ipam::Ipam::in_memory(pod_cidr),
            _ => ipam::Ipam::open(state_dir, pod_cidr)?,
        };
        Ok(NodeNetwork {
            mode,
            node_ip,
            pod_cidr,
            netns,
            ipam,
        })
    }

    // ANCHOR: setup_pod
    /// Gives the sandbox `sandbox_id` (whose network namespace is
    /// `pod_netns`) an address and connects it; returns the address.
    pub async fn setup_pod(&self, sandbox_id: &str, pod_netns: Option<&Path>) -> Result<Ipv4Addr> {
        if self.mode == Mode::Host {
            return Ok(self.node_ip);
        }
        let ip = self.ipam.allocate(sandbox_id)?;
        if self.mode == Mode::AddressesOnly {
            return Ok(ip);
        }
        let (Some(node_ns), Some(pod_ns)) = (self.netns.clone(), pod_netns.map(Path::to_path_buf))
        else {
            self.ipam.release(sandbox_id);
            return Err(Error::Setup("the sandbox has no network namespace".into()));
        };
        // The node end of the veth: `kv` + 8 hex digits of the sandbox id
        // (interface names have at most 15 characters).
        let host_if = format!("kv{}", &sandbox_id[..8.min(sandbox_id.len())]);
        let (prefix, gateway) = (self.pod_cidr.prefix, self.ipam.gateway());
        let attached = tokio::task::spawn_blocking(move || {
            linux::attach_pod(&node_ns, &pod_ns, &host_if, ip, prefix, gateway)
        })
        .await
        .map_err(|e| Error::Io(e.to_string()))?;
        if let Err(e) = attached {
            self.ipam.release(sandbox_id);
            return Err(e);
        }
        Ok(ip)
    }
    // ANCHOR_END: setup_pod

    /// The address a sandbox holds (after a restart of kubelab).
    pub fn pod_ip(&self, sandbox_id: &str) -> Option<Ipv4Addr> {
        match self.mode {
            Mode::Host => Some(self.node_ip),
            _ => self.ipam.lookup(sandbox_id),
        }
    }

    /// CNI `DEL`: the address goes back. The veth needs no removal: it
    /// dies with the pod's network namespace.
    pub fn teardown_pod(&self, sandbox_id: &str) {
        self.ipam.release(sandbox_id);
    }

    /// Addresses held by sandboxes that no longer exist go back.
    pub fn release_all_but(&self, live: &[String]) {
        for (_, owner) in self.ipam.records() {
            if !live.contains(&owner) {
                self.ipam.release(&owner);
            }
        }
    }
}
