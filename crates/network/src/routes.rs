//! Routes between hosts: each node's pod range via that node's address.
//!
//! When every node lives in one kubelab process, the routes are written
//! once, at start, from the node numbers ([`crate::linux::setup_cluster`]).
//! A node on a host of its own (`kubelab node`) does not know the others
//! in advance: it learns them from the Node objects, whose `spec.podCIDR`
//! says which range a node owns and whose `InternalIP` address says where
//! it is. This controller keeps one route per other node —
//! `10.244.3.0/24 via 172.18.0.4` — in step with them. It is flannel's
//! `host-gw` backend (and Calico's without BGP): plain routing, no
//! encapsulation. That needs the other node on one of our links; when a
//! router lies in between (`ip route get` says `via`), the packets are
//! wrapped instead: a VXLAN device (`kubelab.vx`) sends them in UDP to the
//! node, which unwraps them — flannel's `vxlan` backend.
//!
//! It is level-triggered like every controller here: on any change to a
//! Node, and every ten seconds anyway, it compares the routes it wants with
//! the ones it made and fixes the difference.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use kubelab_client::InformerFactory;
use serde_json::Value;

use crate::linux;

// ANCHOR: wanted
/// What each other node's range should be routed via, from the Node objects.
pub fn wanted(nodes: &[std::sync::Arc<Value>], me: &str) -> HashMap<String, Ipv4Addr> {
    let mut out = HashMap::new();
    for n in nodes {
        if n["metadata"]["name"] == me {
            continue;
        }
        let cidr = n["spec"]["podCIDR"].as_str();
        let ip = n["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == "InternalIP")
            .and_then(|a| a["address"].as_str()?.parse().ok());
        if let (Some(cidr), Some(ip)) = (cidr, ip) {
            out.insert(cidr.to_string(), ip);
        }
    }
    out
}
// ANCHOR_END: wanted

/// How packets reach another node's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// A plain route via the node: it is on one of our links.
    HostGw,
    /// Wrapped in UDP to the node: a router lies in between.
    Vxlan,
}

/// Keeps the routes in the node namespace `ns` in step with the Nodes.
/// `me` is this node's name, `index` its share of the pod network and
/// `ip` its address (the overlay's outer source).
pub fn start(informers: &InformerFactory, ns: String, me: String, index: usize, ip: Ipv4Addr) {
    let nodes = informers.of("v1", "Node");
    tokio::spawn(async move {
        nodes.synced().await;
        let mut changes = nodes.subscribe();
        let mut made: HashMap<String, (Ipv4Addr, Backend)> = HashMap::new();
        let mut overlay = false;
        loop {
            let want = wanted(&nodes.list(None), &me);
            for (cidr, via) in &want {
                if made.get(cidr).is_some_and(|(v, _)| v == via) {
                    continue;
                }
                let backend = if linux::on_link(&ns, *via) {
                    Backend::HostGw
                } else {
                    Backend::Vxlan
                };
                let peer = cidr_index(cidr);
                let done = match (backend, peer) {
                    (Backend::HostGw, _) => linux::route_pod_range(&ns, cidr, Some(*via)),
                    (Backend::Vxlan, Some(peer)) => {
                        if !overlay {
                            overlay = linux::vxlan_up(&ns, index, ip)
                                .inspect_err(|e| tracing::warn!("vxlan: {e}"))
                                .is_ok();
                        }
                        linux::vxlan_peer(&ns, cidr, peer, Some(*via))
                    }
                    (Backend::Vxlan, None) => continue,
                };
                match done {
                    Ok(()) => {
                        tracing::info!(%cidr, %via, ?backend, "route to a node's pods");
                        made.insert(cidr.clone(), (*via, backend));
                    }
                    Err(e) => tracing::warn!(%cidr, "route: {e}"),
                }
            }
            let gone: Vec<String> = made
                .keys()
                .filter(|c| !want.contains_key(*c))
                .cloned()
                .collect();
            for cidr in gone {
                match (made.remove(&cidr), cidr_index(&cidr)) {
                    (Some((_, Backend::Vxlan)), Some(peer)) => {
                        let _ = linux::vxlan_peer(&ns, &cidr, peer, None);
                    }
                    _ => {
                        let _ = linux::route_pod_range(&ns, &cidr, None);
                    }
                }
            }
            tokio::select! {
                c = changes.recv() => if c.is_none() { return },
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            }
        }
    });
}

/// The node index of a range `10.244.<index>.0/24`.
fn cidr_index(cidr: &str) -> Option<usize> {
    cidr.split('.').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn every_other_node_with_a_range_and_an_address_gets_a_route() {
        let node = |name: &str, cidr: Option<&str>, ip: &str| {
            let mut n = json!({"metadata": {"name": name},
                "status": {"addresses": [{"type": "Hostname", "address": name},
                                         {"type": "InternalIP", "address": ip}]}});
            if let Some(c) = cidr {
                n["spec"]["podCIDR"] = json!(c);
            }
            Arc::new(n)
        };
        let nodes = vec![
            node("a", Some("10.244.1.0/24"), "172.18.0.2"),
            node("b", Some("10.244.2.0/24"), "172.18.0.3"),
            node("c", None, "172.18.0.4"), // no range yet
        ];
        let want = wanted(&nodes, "a");
        assert_eq!(want.len(), 1);
        assert_eq!(want["10.244.2.0/24"], Ipv4Addr::new(172, 18, 0, 3));
    }
}
