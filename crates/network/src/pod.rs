//! Chapter 03's kubelet plugin: what the pod network adds to every pod.
//!
//! Upstream these are three pieces of the kubelet and one of CNI:
//! * the network plugin's `ADD` and `DEL` (an address, wired up; then
//!   released) — [`NodeNetwork::setup_pod`] and [`NodeNetwork::teardown_pod`];
//! * `/etc/hosts`, which the kubelet writes for every pod that does not use
//!   the host's network ([`etc_hosts`]);
//! * `/etc/resolv.conf` from `--cluster-dns` and the pod's `dnsPolicy`
//!   ([`resolv_conf`]);
//! * the `<NAME>_SERVICE_HOST` / `_PORT` variables of the Services of the
//!   pod's namespace ([`service_env`]).
//!
//! All of it reaches pods through the kubelet's plugin points
//! ([`kubelab_kubelet::plugin`]); with `--chapter 2` none of it exists and
//! a pod has only its loopback interface.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use kubelab_client::Informer;
use kubelab_kubelet::plugin::{KubeletPlugin, NodeInfo, Sandbox};
use kubelab_runtime::Mount;
use serde_json::{Value, json};

use crate::{Mode, NodeNetwork};

/// The pod network of every node of this process.
#[derive(Default)]
pub struct PodNetwork {
    /// By node name, filled when the nodes are set up.
    pub(crate) nodes: Mutex<HashMap<String, Arc<NodeNetwork>>>,
    /// Services, for the variables (set when the nodes are set up).
    pub(crate) services: Mutex<Option<Informer>>,
}

impl PodNetwork {
    /// A node's share of the network.
    pub fn node(&self, name: &str) -> Option<Arc<NodeNetwork>> {
        self.nodes.lock().unwrap().get(name).cloned()
    }
}

#[async_trait::async_trait]
impl KubeletPlugin for PodNetwork {
    fn name(&self) -> &'static str {
        "pod-network"
    }

    /// The node's address and its pod range (upstream: the node IPAM
    /// controller sets `spec.podCIDR`, the kubelet reports its addresses).
    fn node(&self, node: &NodeInfo, obj: &mut Value) {
        let Some(net) = self.node(&node.name) else {
            return;
        };
        let cidr = net.pod_cidr.to_string();
        obj["spec"]["podCIDR"] = json!(cidr);
        obj["spec"]["podCIDRs"] = json!([cidr]);
        for a in obj["status"]["addresses"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if a["type"] == "InternalIP" {
                a["address"] = json!(net.node_ip.to_string());
            }
        }
    }

    fn readopt(&self, node: &NodeInfo, live: &[String]) {
        if let Some(net) = self.node(&node.name) {
            net.release_all_but(live);
        }
    }

    async fn sandbox_created(
        &self,
        node: &NodeInfo,
        pod: &Value,
        sandbox: &Sandbox<'_>,
    ) -> Result<(), String> {
        let net = self
            .node(&node.name)
            .ok_or_else(|| format!("node {} has no pod network", node.name))?;
        let ip = net
            .setup_pod(sandbox.id, sandbox.netns)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(dir) = sandbox.dir {
            let write = |file: &str, text: String| {
                std::fs::write(dir.join(file), text).map_err(|e| format!("writing {file}: {e}"))
            };
            write("etc-hosts", etc_hosts(pod, Some(ip)))?;
            // Pods reach the cluster DNS where the cluster has one: in the
            // node namespaces of the linux runtime.
            if net.mode == Mode::Bridge {
                write(
                    "resolv.conf",
                    resolv_conf(pod, kubelab_api::network::DNS_SERVICE_IP),
                )?;
            }
        }
        Ok(())
    }

    fn sandbox_removed(&self, node: &NodeInfo, sandbox_id: &str) {
        if let Some(net) = self.node(&node.name) {
            net.teardown_pod(sandbox_id);
        }
    }

    fn container_env(&self, _node: &NodeInfo, pod: &Value, _c: &Value) -> Vec<(String, String)> {
        match &*self.services.lock().unwrap() {
            Some(services) => service_env(pod, &services.list(None)),
            None => Vec::new(),
        }
    }

    fn container_mounts(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _c: &Value,
        pod_dir: &Path,
    ) -> Vec<Mount> {
        ["etc-hosts", "resolv.conf"]
            .into_iter()
            .zip(["/etc/hosts", "/etc/resolv.conf"])
            .filter(|(file, _)| pod_dir.join(file).exists())
            .map(|(file, dest)| Mount {
                source: pod_dir.join(file),
                destination: dest.into(),
                read_only: false,
            })
            .collect()
    }

    fn pod_status(&self, node: &NodeInfo, sandbox: Option<&str>, status: &mut Value) {
        let Some(net) = self.node(&node.name) else {
            return;
        };
        let host = net.node_ip.to_string();
        status["hostIP"] = json!(host);
        status["hostIPs"] = json!([{"ip": host}]);
        if let Some(ip) = sandbox.and_then(|s| net.pod_ip(s)) {
            status["podIP"] = json!(ip.to_string());
            status["podIPs"] = json!([{"ip": ip.to_string()}]);
        }
    }
}

/// The pod's `/etc/hosts`, as the kubelet writes it: localhost, and the
/// pod's own name at its IP (with its DNS name when it sets `subdomain`).
pub fn etc_hosts(pod: &Value, ip: Option<std::net::Ipv4Addr>) -> String {
    let m = &pod["metadata"];
    let hostname = kubelab_kubelet::spec::hostname(pod);
    let ip = ip.map_or("127.0.1.1".to_string(), |i| i.to_string());
    let names = match pod["spec"]["subdomain"].as_str().filter(|s| !s.is_empty()) {
        Some(sub) => format!(
            "{hostname}.{sub}.{}.svc.{}\t{hostname}",
            m["namespace"].as_str().unwrap_or("default"),
            kubelab_api::network::CLUSTER_DOMAIN
        ),
        None => hostname.to_string(),
    };
    format!(
        "# Kubernetes-managed hosts file (kubelab).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{names}\n"
    )
}

// ANCHOR: resolv_conf
/// The pod's `/etc/resolv.conf` for `dnsPolicy: ClusterFirst` (the
/// default): the cluster DNS server, and search domains so that `web`,
/// `web.other-ns` and `web.other-ns.svc` all resolve. `ndots:5` makes a
/// name with fewer than five dots try the search domains first.
/// `dnsPolicy: None` takes everything from `dnsConfig`, which otherwise
/// adds to these.
pub fn resolv_conf(pod: &Value, dns: std::net::Ipv4Addr) -> String {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let domain = kubelab_api::network::CLUSTER_DOMAIN;
    let config = &pod["spec"]["dnsConfig"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let (mut servers, mut search, mut options) = if pod["spec"]["dnsPolicy"] == "None" {
        (vec![], vec![], vec![])
    } else {
        (
            vec![dns.to_string()],
            vec![
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.to_string(),
            ],
            vec!["ndots:5".to_string()],
        )
    };
    servers.extend(strings(&config["nameservers"]));
    search.extend(strings(&config["searches"]));
    for o in config["options"].as_array().into_iter().flatten() {
        let name = o["name"].as_str().unwrap_or_default();
        options.retain(|x| x.split(':').next() != Some(name));
        options.push(match o["value"].as_str() {
            Some(v) => format!("{name}:{v}"),
            None => name.to_string(),
        });
    }
    let mut out = String::new();
    if !search.is_empty() {
        out += &format!("search {}\n", search.join(" "));
    }
    for s in servers {
        out += &format!("nameserver {s}\n");
    }
    if !options.is_empty() {
        out += &format!("options {}\n", options.join(" "));
    }
    out
}
// ANCHOR_END: resolv_conf

// ANCHOR: service_env
/// The variables a container gets for each Service of its namespace, as
/// upstream (and Docker links before it) names them, for `web` on
/// 10.96.0.20 port 80:
/// `WEB_SERVICE_HOST=10.96.0.20`, `WEB_SERVICE_PORT=80`,
/// `WEB_PORT=tcp://10.96.0.20:80`, `WEB_PORT_80_TCP=tcp://10.96.0.20:80`,
/// `WEB_PORT_80_TCP_PROTO=tcp`, `…_PORT=80`, `…_ADDR=10.96.0.20`, and
/// `WEB_SERVICE_PORT_<NAME>` for named ports. The `kubernetes` Service of
/// `default` is always included; `enableServiceLinks: false` leaves out
/// the others. Only Services that existed when the container started
/// count — the reason DNS names are the better way to find a Service.
pub fn service_env(pod: &Value, services: &[std::sync::Arc<Value>]) -> Vec<(String, String)> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let links = pod["spec"]["enableServiceLinks"] != false;
    let mut chosen: Vec<&Value> = services
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| {
            let (sns, name) = (&s["metadata"]["namespace"], &s["metadata"]["name"]);
            let master = sns == "default" && name == "kubernetes";
            (links && sns == ns) || master
        })
        .filter(|s| {
            s["spec"]["clusterIP"]
                .as_str()
                .is_some_and(|ip| !ip.is_empty() && ip != "None")
        })
        .collect();
    chosen.sort_by_key(|s| {
        s["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    chosen.dedup_by_key(|s| s["metadata"]["name"].clone());
    let mut out = Vec::new();
    for s in chosen {
        let name = s["metadata"]["name"].as_str().unwrap_or_default();
        let n = name.to_uppercase().replace('-', "_");
        let ip = s["spec"]["clusterIP"].as_str().unwrap_or_default();
        let ports = s["spec"]["ports"].as_array().map_or(&[][..], Vec::as_slice);
        let Some(first) = ports.first() else { continue };
        out.push((format!("{n}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{n}_SERVICE_PORT"), first["port"].to_string()));
        for p in ports {
            if let Some(pn) = p["name"].as_str().filter(|s| !s.is_empty()) {
                out.push((
                    format!("{n}_SERVICE_PORT_{}", pn.to_uppercase().replace('-', "_")),
                    p["port"].to_string(),
                ));
            }
        }
        let proto = |p: &Value| p["protocol"].as_str().unwrap_or("TCP").to_string();
        out.push((
            format!("{n}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), first["port"]),
        ));
        for p in ports {
            let (pr, port) = (proto(p), &p["port"]);
            let prefix = format!("{n}_PORT_{port}_{pr}");
            out.push((
                prefix.clone(),
                format!("{}://{ip}:{port}", pr.to_lowercase()),
            ));
            out.push((format!("{prefix}_PROTO"), pr.to_lowercase()));
            out.push((format!("{prefix}_PORT"), port.to_string()));
            out.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    out
}
// ANCHOR_END: service_env
