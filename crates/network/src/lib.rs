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
//! ## Where to start reading
//! [`NodeNetwork::setup_pod`], then [`linux::setup_cluster`] and
//! [`linux::attach_pod`].

pub mod ipam;
pub mod linux;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use kubelab_api::network::Cidr;

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
