//! Service IPs and node ports (chapter 03), as an addition to the
//! Service strategy ([`ServiceAllocator`]).
//!
//! Upstream, the API server — not a controller — gives a Service its
//! `clusterIP` from `--service-cluster-ip-range` and its node ports from
//! `--service-node-port-range`, while it stores the object, so the client
//! gets them back in the create response. kubelab does the same here:
//!
//! * a requested address or port must be in range and free, or the
//!   request fails with upstream's words (`provided IP is already
//!   allocated`, `provided port is already allocated`);
//! * a missing one is picked at random among the free ones; cluster IPs
//!   prefer the upper part of the range, leaving the lower addresses for
//!   those asked for by value (upstream's "static band");
//! * an update that leaves the allocated values out keeps them, as
//!   `kubectl apply` of a manifest without `clusterIP` expects.
//!
//! **Simplification.** Upstream keeps allocation bitmaps in etcd (and, since
//! 1.31, `IPAddress` objects). kubelab computes what is taken from the
//! stored Services themselves, under one lock that serialises Service writes
//! in this API server — correct for kubelab's single API server, not for
//! several.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use kubelab_api::network::{DNS_SERVICE_IP, KUBERNETES_SERVICE_IP, NODE_PORT_RANGE, SERVICE_CIDR};
use kubelab_api::validation::Cause;
use rand::Rng;
use serde_json::{Value, json};

use kubelab_api::meta;
use kubelab_apiserver::objects::{ListOptions, Objects};
use kubelab_apiserver::status::ApiError;
use kubelab_apiserver::strategy::{Guard, Strategy};

/// What other Services hold.
#[derive(Default)]
pub struct Taken {
    pub ips: HashSet<Ipv4Addr>,
    pub node_ports: HashSet<u16>,
}

impl Taken {
    /// From every stored Service except the one being written.
    pub fn from_services<'a>(
        services: impl Iterator<Item = &'a Value>,
        except: (&str, &str),
    ) -> Taken {
        let mut t = Taken::default();
        for s in services {
            let m = &s["metadata"];
            if m["namespace"] == except.0 && m["name"] == except.1 {
                continue;
            }
            if let Some(ip) = s["spec"]["clusterIP"].as_str().and_then(|i| i.parse().ok()) {
                t.ips.insert(ip);
            }
            for p in s["spec"]["ports"].as_array().into_iter().flatten() {
                if let Some(np) = p["nodePort"].as_u64() {
                    t.node_ports.insert(np as u16);
                }
            }
        }
        t
    }
}

fn has_node_ports(spec: &Value) -> bool {
    matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer"))
        && spec["allocateLoadBalancerNodePorts"] != false
}

fn unset(v: &Value) -> bool {
    v.is_null() || v == ""
}

/// Before validation of an update: what the client left out keeps the
/// values the server allocated (upstream's `patchAllocatedValues`), and
/// node ports go away when the type no longer has them.
pub fn keep_allocated(old: &Value, new: &mut Value) {
    let (os, ns) = (&old["spec"], &mut new["spec"]);
    if !ns.is_object() {
        return;
    }
    let external = ns["type"] == "ExternalName";
    if unset(&ns["clusterIP"]) && !external && !unset(&os["clusterIP"]) {
        ns["clusterIP"] = os["clusterIP"].clone();
        if unset(&ns["clusterIPs"]) {
            ns["clusterIPs"] = os["clusterIPs"].clone();
        }
    }
    let keep_ports = has_node_ports(ns);
    let old_ports = os["ports"].as_array().cloned().unwrap_or_default();
    for p in ns["ports"].as_array_mut().into_iter().flatten() {
        if !keep_ports {
            p.as_object_mut().map(|p| p.remove("nodePort"));
            continue;
        }
        if unset(&p["nodePort"])
            && let Some(o) = old_ports
                .iter()
                .find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"])
            && !unset(&o["nodePort"])
        {
            p["nodePort"] = o["nodePort"].clone();
        }
    }
}

/// Fills in `clusterIP(s)`, IP family fields and node ports, checking the
/// requested ones. `creating` is false for updates, where an unchanged
/// value is the Service's own and therefore not "taken".
pub fn allocate(obj: &mut Value, taken: &Taken, name: &str) -> Result<(), ApiError> {
    let spec = &mut obj["spec"];
    let mut causes = Vec::new();
    let mut rng = rand::rng();
    if spec["type"] == "ExternalName" {
        // An ExternalName Service is only a DNS alias: no address, no ports.
        if let Some(s) = spec.as_object_mut() {
            s.remove("clusterIP");
            s.remove("clusterIPs");
        }
    } else if spec["clusterIP"] == "None" {
        spec["clusterIPs"] = json!(["None"]);
    } else {
        let ip = match spec["clusterIP"].as_str().filter(|s| !s.is_empty()) {
            Some(requested) => match requested.parse::<Ipv4Addr>() {
                Err(_) => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs[0]",
                        &json!(requested),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    ));
                    None
                }
                Ok(ip) if !SERVICE_CIDR.contains(ip) => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        &format!(
                            "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"
                        ),
                    ));
                    None
                }
                Ok(ip) if taken.ips.contains(&ip) => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        &format!("failed to allocate IP {ip}: provided IP is already allocated"),
                    ));
                    None
                }
                Ok(ip) => Some(ip),
            },
            None => {
                // Random, in the upper band first; the network address, the
                // broadcast address and the well-known ones are never handed out.
                let size = SERVICE_CIDR.size();
                let band = (size / 16).clamp(16, 256);
                let free = |ip: &Ipv4Addr| {
                    !taken.ips.contains(ip) && *ip != KUBERNETES_SERVICE_IP && *ip != DNS_SERVICE_IP
                };
                let pick = (0..64)
                    .map(|_| SERVICE_CIDR.nth(rng.random_range(band..size - 1)))
                    .find(free)
                    .or_else(|| (1..size - 1).map(|i| SERVICE_CIDR.nth(i)).find(free));
                if pick.is_none() {
                    return Err(ApiError::internal(format!(
                        "failed to allocate a serviceIP: range is full ({SERVICE_CIDR})"
                    )));
                }
                pick
            }
        };
        if let Some(ip) = ip {
            spec["clusterIP"] = json!(ip.to_string());
            spec["clusterIPs"] = json!([ip.to_string()]);
        }
    }
    if spec["type"] != "ExternalName" {
        spec["ipFamilies"] = json!(["IPv4"]);
        if unset(&spec["ipFamilyPolicy"]) {
            spec["ipFamilyPolicy"] = json!("SingleStack");
        }
    }
    let with_ports = has_node_ports(spec);
    let mut mine = HashSet::new();
    let ty = spec["type"].clone();
    for (i, p) in spec["ports"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .enumerate()
    {
        match p["nodePort"].as_u64() {
            Some(np) if !with_ports => causes.push(Cause::invalid(
                &format!("spec.ports[{i}].nodePort"),
                &json!(np),
                &format!(
                    "may not be used when `type` is '{}'",
                    ty.as_str().unwrap_or("ClusterIP")
                ),
            )),
            Some(np) => {
                let np = np as u16;
                if NODE_PORT_RANGE.contains(&np)
                    && (taken.node_ports.contains(&np) || !mine.insert(np))
                {
                    causes.push(Cause::invalid(
                        &format!("spec.ports[{i}].nodePort"),
                        &json!(np),
                        "provided port is already allocated",
                    ));
                }
            }
            None if with_ports => {
                let (lo, hi) = (*NODE_PORT_RANGE.start(), *NODE_PORT_RANGE.end());
                let free = |n: &u16| !taken.node_ports.contains(n) && !mine.contains(n);
                let pick = (0..64)
                    .map(|_| rng.random_range(lo..=hi))
                    .find(free)
                    .or_else(|| (lo..=hi).find(free));
                let Some(np) = pick else {
                    return Err(ApiError::internal(format!(
                        "failed to allocate a nodePort: range is full ({lo}-{hi})"
                    )));
                };
                mine.insert(np);
                p["nodePort"] = json!(np);
            }
            None => {}
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid("", "Service", name, &causes));
    }
    Ok(())
}

/// Chapter 03's addition to the Service strategy of chapter 01: keep what
/// was allocated across updates, and allocate what is missing.
///
/// Without chapter 03 a Service is stored as it was sent: the API server
/// of chapter 01 knows what a Service *is*, not where addresses come from.
#[derive(Default)]
pub struct ServiceAllocator {
    /// Serialises Service writes, so two never get the same address.
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

#[async_trait::async_trait]
impl Strategy for ServiceAllocator {
    fn prepare_for_update(&self, old: &Value, obj: &mut Value) {
        keep_allocated(old, obj);
    }

    // ANCHOR: allocate_strategy
    async fn allocate(
        &self,
        objects: &Objects,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> Result<Option<Guard>, ApiError> {
        // Held until the Service is stored: nobody else takes its address meanwhile.
        let guard = self.lock.clone().lock_owned().await;
        let services = kubelab_api::registry::by_kind("v1", "Service").expect("a built-in kind");
        let all = objects
            .list(services, None, &ListOptions::default())
            .await?;
        let (ns, name) = (
            meta::namespace(obj).to_string(),
            meta::name(obj).to_string(),
        );
        let taken = Taken::from_services(all.items.iter(), (&ns, &name));
        allocate(obj, &taken, &name)?;
        Ok(Some(Box::new(guard)))
    }
    // ANCHOR_END: allocate_strategy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn allocates_a_free_ip_and_node_ports() {
        let mut taken = Taken::default();
        taken.node_ports.insert(30080);
        let mut s = svc(
            json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]}),
        );
        allocate(&mut s, &taken, "web").unwrap();
        let ip: Ipv4Addr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(SERVICE_CIDR.contains(ip) && ip != KUBERNETES_SERVICE_IP && ip != DNS_SERVICE_IP);
        assert_eq!(s["spec"]["clusterIPs"], json!([ip.to_string()]));
        let (a, b) = (
            s["spec"]["ports"][0]["nodePort"].as_u64().unwrap(),
            s["spec"]["ports"][1]["nodePort"].as_u64().unwrap(),
        );
        assert!(a != b && a != 30080 && NODE_PORT_RANGE.contains(&(a as u16)));
    }

    #[test]
    fn refuses_taken_or_foreign_values() {
        let mut taken = Taken::default();
        taken.ips.insert("10.96.5.5".parse().unwrap());
        taken.node_ports.insert(30080);
        let mut s = svc(
            json!({"type": "NodePort", "clusterIP": "10.96.5.5", "ports": [{"port": 80, "nodePort": 30080}]}),
        );
        let e = allocate(&mut s, &taken, "web").unwrap_err();
        assert_eq!(e.code.as_u16(), 422);
        assert!(
            e.message.contains("provided IP is already allocated"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains(
                "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
            ),
            "{}",
            e.message
        );
        let mut s = svc(json!({"clusterIP": "192.168.1.1", "ports": [{"port": 80}]}));
        let e = allocate(&mut s, &taken, "web").unwrap_err();
        assert!(
            e.message.contains("The range of valid IPs is 10.96.0.0/12"),
            "{}",
            e.message
        );
        let mut s = svc(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30001}]}));
        assert!(allocate(&mut s, &taken, "web").is_err());
    }

    #[test]
    fn an_update_keeps_what_was_allocated() {
        let old = svc(
            json!({"type": "NodePort", "clusterIP": "10.96.7.7", "clusterIPs": ["10.96.7.7"], "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000}]}),
        );
        let mut new = svc(json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}));
        keep_allocated(&old, &mut new);
        assert_eq!(new["spec"]["clusterIP"], "10.96.7.7");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 31000);
        let mut back = svc(
            json!({"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000}]}),
        );
        keep_allocated(&old, &mut back);
        assert!(back["spec"]["ports"][0].get("nodePort").is_none());
    }
}
