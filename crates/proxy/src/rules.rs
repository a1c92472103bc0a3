//! From Services and EndpointSlices to an nftables ruleset: the heart of
//! kube-proxy's `nftables` mode, as text you can read with
//! `ip netns exec <node> nft list table ip kubelab`.
//!
//! For each Service port with ready endpoints:
//! ```text
//! chain services {
//!   ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/16 meta mark set 0x4000
//!   ip daddr 10.96.0.20 tcp dport 80 jump svc_3            # ClusterIP
//!   ip daddr { 172.18.0.2, 10.244.1.1 } tcp dport 30080 meta mark set 0x4000 jump svc_3   # NodePort
//! }
//! chain svc_3 { numgen random mod 2 vmap { 0 : jump ep_3_0, 1 : jump ep_3_1 } }
//! chain ep_3_0 { ip saddr 10.244.1.0/24 meta mark set 0x4000 ; dnat to 10.244.1.2:8080 }  # a local pod
//! chain ep_3_1 { dnat to 10.244.2.2:8080 }                                           # on another node
//! chain postrouting { meta mark & 0x4000 == 0x4000 masquerade }
//! ```
//! * DNAT rewrites the destination of the *first* packet; conntrack
//!   rewrites the rest of the connection, both ways.
//! * The mark asks for masquerading (source NAT to the node) when the
//!   reply would otherwise not come back through this node: traffic from
//!   outside the pod network, node ports, and a client on the same node
//!   as the endpoint — including a pod reaching itself through its own
//!   Service ("hairpin"). Pods of one node share a bridge: without the
//!   source rewrite, the endpoint would answer the client directly over
//!   the bridge, past the conntrack entry that must undo the DNAT, and the
//!   client would drop a reply from an address it never called.
//! * `sessionAffinity: ClientIP` hashes the client address instead of
//!   drawing at random, so a client keeps its endpoint (kubelab's
//!   simplification: upstream remembers the choice for `timeoutSeconds`).
//! * A Service port without ready endpoints is rejected at once
//!   (`connection refused`), never silently dropped.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::Ipv4Addr;

use kubelab_api::network::{CLUSTER_CIDR, Cidr};
use serde_json::Value;

/// The mark that asks for masquerading (kube-proxy's is 0x4000 too).
pub const MASQ_MARK: &str = "0x4000";

/// One Service port as the proxy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePort {
    /// `namespace/name:port-name`, for comments.
    pub id: String,
    pub cluster_ip: Option<Ipv4Addr>,
    pub port: u16,
    pub node_port: Option<u16>,
    pub protocol: String,
    pub affinity: bool,
    /// Ready endpoints: address and target port.
    pub endpoints: Vec<(Ipv4Addr, u16)>,
}

/// Which endpoints serve one Service port (lab 03 writes one).
pub type EndpointsFn =
    fn(slices: &[&Value], port_name: &str, protocol: &str) -> Vec<(Ipv4Addr, u16)>;

// ANCHOR: ready_endpoints
/// The addresses and ports that may get traffic for the Service port
/// named `port_name` (`""` when unnamed) with `protocol`, from the
/// Service's EndpointSlices:
/// * the slice's port of that name and protocol gives the target port
///   (a slice without it serves nothing for this port);
/// * only endpoints whose `conditions.ready` is not `false` — a missing
///   condition counts as ready, as upstream says;
/// * sorted and without duplicates, so the rules come out the same for
///   the same state.
pub fn ready_endpoints(slices: &[&Value], port_name: &str, protocol: &str) -> Vec<(Ipv4Addr, u16)> {
    let mut endpoints = Vec::new();
    for slice in slices {
        let Some(target) = slice["ports"].as_array().into_iter().flatten().find(|sp| {
            sp["name"].as_str().unwrap_or_default() == port_name
                && sp["protocol"].as_str().unwrap_or("TCP") == protocol
        }) else {
            continue;
        };
        let Some(tp) = target["port"].as_u64() else {
            continue;
        };
        for e in slice["endpoints"].as_array().into_iter().flatten() {
            if e["conditions"]["ready"] == false {
                continue;
            }
            for a in e["addresses"].as_array().into_iter().flatten() {
                if let Some(ip) = a.as_str().and_then(|a| a.parse().ok()) {
                    endpoints.push((ip, tp as u16));
                }
            }
        }
    }
    endpoints.sort();
    endpoints.dedup();
    endpoints
}
// ANCHOR_END: ready_endpoints

/// The ports of every Service, with their ready endpoints.
pub fn service_ports(
    services: &[std::sync::Arc<Value>],
    slices: &[std::sync::Arc<Value>],
) -> Vec<ServicePort> {
    service_ports_with(ready_endpoints, services, slices)
}

/// [`service_ports`] with another way to choose endpoints (lab 03).
pub fn service_ports_with(
    choose: EndpointsFn,
    services: &[std::sync::Arc<Value>],
    slices: &[std::sync::Arc<Value>],
) -> Vec<ServicePort> {
    let mut by_service: HashMap<(String, String), Vec<&Value>> = HashMap::new();
    for s in slices {
        let m = &s["metadata"];
        if let Some(svc) = m["labels"]["kubernetes.io/service-name"].as_str() {
            let ns = m["namespace"].as_str().unwrap_or_default().to_string();
            by_service.entry((ns, svc.to_string())).or_default().push(s);
        }
    }
    let mut out = Vec::new();
    for svc in services {
        let (m, spec) = (&svc["metadata"], &svc["spec"]);
        if spec["type"] == "ExternalName" {
            continue;
        }
        let cluster_ip = spec["clusterIP"].as_str().and_then(|ip| ip.parse().ok());
        let ns = m["namespace"].as_str().unwrap_or_default().to_string();
        let name = m["name"].as_str().unwrap_or_default().to_string();
        let slices: Vec<&Value> = by_service
            .get(&(ns.clone(), name.clone()))
            .cloned()
            .unwrap_or_default();
        for p in spec["ports"].as_array().into_iter().flatten() {
            let port_name = p["name"].as_str().unwrap_or_default();
            let protocol = p["protocol"].as_str().unwrap_or("TCP").to_string();
            let endpoints = choose(&slices, port_name, &protocol);
            out.push(ServicePort {
                id: format!("{ns}/{name}:{port_name}"),
                cluster_ip,
                port: p["port"].as_u64().unwrap_or(0) as u16,
                node_port: p["nodePort"].as_u64().map(|n| n as u16),
                protocol: protocol.to_lowercase(),
                affinity: spec["sessionAffinity"] == "ClientIP",
                endpoints,
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

// ANCHOR: render
/// The whole `kubelab` table for one node, replaced in one transaction
/// (`nft -f` applies a file atomically: no moment without rules).
/// `local` are the node's own addresses, where node ports answer;
/// `local_pods` its pod range.
pub fn render(ports: &[ServicePort], local: &[Ipv4Addr], local_pods: Cidr) -> String {
    let mut chains = String::new();
    let mut services = String::new();
    let mut rejects = String::new();
    let locals = local
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    for (i, sp) in ports.iter().enumerate() {
        let proto = &sp.protocol;
        let _ = writeln!(services, "    # {}", sp.id);
        if sp.endpoints.is_empty() {
            // No ready endpoint: refuse at once (filter chains may reject,
            // nat chains may not). A TCP reset is not rate-limited as ICMP
            // errors are, so every attempt is refused straight away.
            let how = if proto == "tcp" {
                "reject with tcp reset"
            } else {
                "reject"
            };
            if let Some(ip) = sp.cluster_ip {
                let _ = writeln!(rejects, "    ip daddr {ip} {proto} dport {} {how}", sp.port);
            }
            if let Some(np) = sp.node_port {
                let _ = writeln!(
                    rejects,
                    "    ip daddr {{ {locals} }} {proto} dport {np} {how}"
                );
            }
            continue;
        }
        if let Some(ip) = sp.cluster_ip {
            let _ = writeln!(
                services,
                "    ip daddr {ip} {proto} dport {} ip saddr != {CLUSTER_CIDR} meta mark set {MASQ_MARK}",
                sp.port
            );
            let _ = writeln!(
                services,
                "    ip daddr {ip} {proto} dport {} jump svc_{i}",
                sp.port
            );
        }
        if let Some(np) = sp.node_port {
            let _ = writeln!(
                services,
                "    ip daddr {{ {locals} }} {proto} dport {np} meta mark set {MASQ_MARK} jump svc_{i}"
            );
        }
        let n = sp.endpoints.len();
        let choose = if sp.affinity {
            "jhash ip saddr mod"
        } else {
            "numgen random mod"
        };
        let targets: Vec<String> = (0..n).map(|j| format!("{j} : jump ep_{i}_{j}")).collect();
        let _ = writeln!(
            chains,
            "  chain svc_{i} {{\n    {choose} {n} vmap {{ {} }}\n  }}",
            targets.join(", ")
        );
        for (j, (ip, port)) in sp.endpoints.iter().enumerate() {
            let same_node = if local_pods.contains(*ip) {
                format!("    ip saddr {local_pods} meta mark set {MASQ_MARK}\n")
            } else {
                String::new()
            };
            let _ = writeln!(
                chains,
                "  chain ep_{i}_{j} {{\n{same_node}    meta l4proto {proto} dnat to {ip}:{port}\n  }}"
            );
        }
    }
    format!(
        "table ip kubelab {{\n\
         \x20 chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n    jump services\n  }}\n\
         \x20 chain output {{\n    type nat hook output priority -100; policy accept;\n    jump services\n  }}\n\
         \x20 chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    meta mark & {MASQ_MARK} == {MASQ_MARK} masquerade\n  }}\n\
         \x20 chain services {{\n{services}  }}\n\
         \x20 chain no_endpoints {{\n{rejects}  }}\n\
         \x20 chain filter_forward {{\n    type filter hook forward priority -10; policy accept;\n    jump no_endpoints\n  }}\n\
         \x20 chain filter_output {{\n    type filter hook output priority -10; policy accept;\n    jump no_endpoints\n  }}\n\
         \x20 chain filter_input {{\n    type filter hook input priority -10; policy accept;\n    jump no_endpoints\n  }}\n\
         {chains}}}\n"
    )
}
// ANCHOR_END: render

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn fixtures() -> Vec<ServicePort> {
        let svc = Arc::new(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "sessionAffinity": "None",
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}}));
        let empty = Arc::new(json!({
            "metadata": {"name": "nobody", "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.30", "ports": [{"port": 80, "protocol": "TCP"}]}}));
        let slice = Arc::new(json!({
            "metadata": {"namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.244.1.2"], "conditions": {"ready": true}},
                {"addresses": ["10.244.2.2"], "conditions": {"ready": true}},
                {"addresses": ["10.244.2.3"], "conditions": {"ready": false}}]}));
        service_ports(&[svc, empty], &[slice])
    }

    #[test]
    fn only_ready_endpoints_are_chosen() {
        let ports = fixtures();
        assert_eq!(ports.len(), 2);
        let web = ports.iter().find(|p| p.id == "default/web:").unwrap();
        assert_eq!(
            web.endpoints,
            vec![
                ("10.244.1.2".parse().unwrap(), 8080),
                ("10.244.2.2".parse().unwrap(), 8080)
            ]
        );
    }

    #[test]
    fn rules_dnat_balance_and_reject() {
        let rules = render(
            &fixtures(),
            &["172.18.0.2".parse().unwrap()],
            "10.244.1.0/24".parse().unwrap(),
        );
        assert!(
            rules.contains("ip daddr 10.96.0.20 tcp dport 80 jump svc_1"),
            "{rules}"
        );
        assert!(
            rules.contains("numgen random mod 2 vmap { 0 : jump ep_1_0, 1 : jump ep_1_1 }"),
            "{rules}"
        );
        assert!(rules.contains("dnat to 10.244.2.2:8080"), "{rules}");
        // The endpoint on this node masquerades clients of this node.
        assert!(rules.contains("chain ep_1_0 {\n    ip saddr 10.244.1.0/24 meta mark set 0x4000\n    meta l4proto tcp dnat to 10.244.1.2:8080"), "{rules}");
        assert!(
            rules.contains("chain ep_1_1 {\n    meta l4proto tcp dnat to 10.244.2.2:8080"),
            "{rules}"
        );
        assert!(
            !rules.contains("10.244.2.3"),
            "a not-ready endpoint gets no traffic"
        );
        assert!(
            rules.contains(
                "ip daddr { 172.18.0.2 } tcp dport 30080 meta mark set 0x4000 jump svc_1"
            ),
            "{rules}"
        );
        assert!(
            rules.contains("ip daddr 10.96.0.30 tcp dport 80 reject with tcp reset"),
            "{rules}"
        );
    }
}
