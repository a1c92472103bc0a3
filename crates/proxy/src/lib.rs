//! # kubelab-proxy — Services that work (chapter 03)
//!
//! A Service is only an object in the API: a name, a virtual IP and ports.
//! What makes `curl 10.96.0.20` reach a pod is **kube-proxy**, running on
//! every node: it watches Services and EndpointSlices and programs the
//! node's packet filter so that a connection to a Service address is
//! rewritten (DNAT) to one of its ready endpoints. No process sits in the
//! data path; the kernel does it, connection by connection.
//!
//! kubelab's proxy, in the same controller pattern as everything else:
//! * [`rules`] turns Services + EndpointSlices into an nftables table
//!   (kube-proxy's `nftables` mode) applied in each node's network
//!   namespace with `nft -f`;
//! * [`host`] publishes node ports and load balancers on the host's
//!   `127.0.0.1` with a userspace proxy (kube-proxy's first mode), also
//!   what the `process` runtime uses, where pods share the host network.
//!
//! What the proxy reads, the endpoints controller ([`endpoints`]) writes:
//! for each Service, the ready pods its selector picks, as Endpoints and
//! an EndpointSlice. Both arrive with this chapter ([`install`]).
//!
//! ## Where to start reading
//! [`rules::render`], then [`Proxy::reconcile`](Proxy#method.reconcile),
//! then [`endpoints::EndpointsController::reconcile`].

pub mod endpoints;
pub mod host;
pub mod rules;

use kubelab_client::{Cluster, ClusterBuilder, Phase};
use kubelab_network::{ClusterNetwork, Mode};

/// Chapter 03's endpoints controller and service proxy.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    b.controller("endpoint-controller", |client, informers| {
        endpoints::EndpointsController::start(client, informers);
    });
    b.on_start(Phase::NodeAgents, "kube-proxy", |c: Cluster| async move {
        if let Some(proxy) = start_for_nodes(&c).await? {
            c.insert(proxy);
        }
        Ok(())
    });
}
// ANCHOR_END: install

/// One proxy for every node of the pod network: rules in each node's
/// namespace (linux), host ports only (process), nothing (fake).
async fn start_for_nodes(c: &Cluster) -> anyhow::Result<Option<Arc<Proxy>>> {
    let Some(net) = c.get::<ClusterNetwork>() else {
        return Ok(None);
    };
    let (client, informers) = (c.client(), c.informers());
    match net.mode {
        Mode::AddressesOnly => Ok(None),
        // Pods share the host's network: only the host's ports to publish.
        Mode::Host => Ok(Some(Proxy::start(&client, &informers, Vec::new(), None))),
        Mode::Bridge => {
            let nodes = net
                .nodes
                .iter()
                .map(|n| ProxyNode {
                    name: n.name.clone(),
                    netns: n.netns.clone(),
                    addresses: vec![n.node_ip, n.pod_cidr.nth(1)],
                    pod_cidr: n.pod_cidr,
                })
                .collect();
            let dial = net
                .nodes
                .first()
                .and_then(|n| n.netns.as_deref())
                .map(kubelab_network::linux::netns_path);
            let proxy = Proxy::start(&client, &informers, nodes, dial);
            if let Some(api) = c.get::<kubelab_apiserver::ApiServer>() {
                publish_api_server(&client, &net, api.addr).await?;
            }
            Ok(Some(proxy))
        }
    }
}

/// The API server listens on the host's loopback, which pods cannot
/// reach. Each node gets a forwarder on `<node IP>:6443`, and those are the
/// endpoints of the `kubernetes` Service (upstream: the API servers'
/// own addresses), so `https://kubernetes.default.svc` works from a pod.
async fn publish_api_server(
    client: &Client,
    net: &ClusterNetwork,
    api: std::net::SocketAddr,
) -> anyhow::Result<()> {
    use anyhow::Context;
    const PORT: u16 = 6443;
    let mut addresses = Vec::new();
    for n in &net.nodes {
        let Some(ns) = &n.netns else { continue };
        let netns = kubelab_network::linux::netns_path(ns);
        let listen = std::net::SocketAddr::from((n.node_ip, PORT));
        host::forward_from_netns(&netns, listen, api)
            .await
            .with_context(|| format!("forwarding {listen} to the API server"))?;
        addresses.push(std::net::IpAddr::V4(n.node_ip));
    }
    kubelab_apiserver::publish_kubernetes_endpoints(client, &addresses, PORT).await?;
    Ok(())
}

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use kubelab_client::informer::Informer;
use kubelab_client::{
    Action, Client, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue, rest as client,
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// A node whose packet filter the proxy programs.
#[derive(Debug, Clone)]
pub struct ProxyNode {
    pub name: String,
    /// Its network namespace (`ip netns` name); `None` when pods share the
    /// host's network (no rules to write there).
    pub netns: Option<String>,
    /// Its own addresses, where node ports answer.
    pub addresses: Vec<Ipv4Addr>,
    /// Its pod range.
    pub pod_cidr: kubelab_api::network::Cidr,
}

/// The key of the host's loopback ports in the work queue.
const HOST: &str = "@host";

pub struct Proxy {
    client: Client,
    services: Informer,
    slices: Informer,
    nodes: Vec<ProxyNode>,
    host: Arc<host::HostPorts>,
    events: EventRecorder,
    /// The ruleset last applied in each node (what `nft list` would show).
    applied: Mutex<HashMap<String, String>>,
}

impl Proxy {
    /// Starts programming `nodes`; host ports dial from `dial_netns`.
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        nodes: Vec<ProxyNode>,
        dial_netns: Option<std::path::PathBuf>,
    ) -> Arc<Proxy> {
        let client = client.named("kube-proxy");
        let p = Arc::new(Proxy {
            events: EventRecorder::new(&client, "kube-proxy", None),
            client,
            services: informers.of("v1", "Service"),
            slices: informers.of("discovery.k8s.io/v1", "EndpointSlice"),
            nodes,
            host: Arc::new(host::HostPorts::new(dial_netns)),
            applied: Mutex::default(),
        });
        // Any change may change every node's rules: queue them all (the
        // queue folds a burst of changes into one reconcile per node).
        let queue = WorkQueue::new();
        let mut keys: Vec<String> = p.nodes.iter().map(|n| n.name.clone()).collect();
        keys.push(HOST.into());
        let k = keys.clone();
        kubelab_client::feed(&p.services, &queue, move |_| k.clone());
        kubelab_client::feed(&p.slices, &queue, move |_| keys.clone());
        tokio::spawn(kubelab_client::run(p.clone(), queue, 4));
        p
    }

    /// The rules last applied in `node`.
    pub fn applied(&self, node: &str) -> Option<String> {
        self.applied.lock().unwrap().get(node).cloned()
    }

    fn ports(&self) -> Vec<rules::ServicePort> {
        rules::service_ports(&self.services.list(None), &self.slices.list(None))
    }

    /// `nft -f -` inside the node's namespace, the ruleset on stdin.
    async fn apply(netns: &str, ruleset: &str) -> Result<(), Error> {
        let script = format!("table ip kubelab\ndelete table ip kubelab\n{ruleset}");
        let mut child = tokio::process::Command::new("ip")
            .args(["netns", "exec", netns, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .await?;
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            return Err(format!(
                "nft in {netns}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(())
    }

    /// Node ports and load balancers on the host's loopback, and the
    /// load balancers' status.
    async fn sync_host(&self) -> Result<(), Error> {
        let mut keep = Vec::new();
        let ports = self.ports();
        for svc in self.services.list(None) {
            let (ty, m) = (
                svc["spec"]["type"].as_str().unwrap_or_default(),
                &svc["metadata"],
            );
            if ty != "NodePort" && ty != "LoadBalancer" {
                continue;
            }
            let mut published_all = true;
            for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
                let id = format!(
                    "{}/{}:{}",
                    m["namespace"].as_str().unwrap_or_default(),
                    m["name"].as_str().unwrap_or_default(),
                    p["name"].as_str().unwrap_or_default()
                );
                let backends = ports
                    .iter()
                    .find(|sp| sp.id == id)
                    .map(|sp| sp.endpoints.clone())
                    .unwrap_or_default();
                let mut host_ports = Vec::new();
                if let Some(np) = p["nodePort"].as_u64() {
                    host_ports.push((np as u16, "NodePort"));
                }
                if ty == "LoadBalancer"
                    && let Some(port) = p["port"].as_u64()
                {
                    host_ports.push((port as u16, "LoadBalancer"));
                }
                for (hp, what) in host_ports {
                    match self.host.publish(hp, &id, backends.clone()).await {
                        Ok(()) => keep.push(hp),
                        Err(e) => {
                            published_all &= what != "LoadBalancer";
                            let reason = if what == "LoadBalancer" {
                                "SyncLoadBalancerFailed"
                            } else {
                                "NodePortNotPublished"
                            };
                            self.events.warning(
                                &svc,
                                reason,
                                format!(
                                    "Error publishing {what} port {hp} on the host's 127.0.0.1: {e}"
                                ),
                            );
                        }
                    }
                }
            }
            if ty == "LoadBalancer" && published_all {
                let want = json!({"ingress": [{"ip": "127.0.0.1"}]});
                if svc["status"]["loadBalancer"] != want {
                    let mut s: Value = (*svc).clone();
                    s["status"]["loadBalancer"] = want;
                    let path = format!("{}/status", client::object_path(&s));
                    self.client.replace(&path, &s).await?;
                    self.events.normal(
                        &svc,
                        "EnsuredLoadBalancer",
                        "Ensured load balancer on 127.0.0.1",
                    );
                }
            }
        }
        self.host.retain(&keep);
        Ok(())
    }
}

#[async_trait::async_trait]
impl Reconciler for Proxy {
    fn name(&self) -> &'static str {
        "kube-proxy"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        if key == HOST {
            self.sync_host().await?;
            return Ok(Action::Done);
        }
        let Some(node) = self.nodes.iter().find(|n| n.name == key) else {
            return Ok(Action::Done);
        };
        let Some(netns) = &node.netns else {
            return Ok(Action::Done);
        };
        let ruleset = rules::render(&self.ports(), &node.addresses, node.pod_cidr);
        if self.applied(key).as_deref() == Some(ruleset.as_str()) {
            return Ok(Action::Done);
        }
        Self::apply(netns, &ruleset).await?;
        self.applied
            .lock()
            .unwrap()
            .insert(key.to_string(), ruleset);
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}
