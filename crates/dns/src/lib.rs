//! # kubelab-dns — names for Services and pods (chapter 03)
//!
//! A Service's IP is stable but nobody wants to type it. Every cluster
//! runs a DNS server (CoreDNS, behind the `kube-dns` Service at
//! `10.96.0.10`) that answers from the API: the kubelet writes that
//! address into each pod's `/etc/resolv.conf` with search domains, so
//! `web`, `web.shop` and `web.shop.svc.cluster.local` all work.
//!
//! | name | answer |
//! |---|---|
//! | `web.shop.svc.cluster.local` A | the Service's cluster IP; for a headless Service, the ready pods' IPs |
//! | `web-0.web.shop.svc.cluster.local` A | the pod with `hostname: web-0`, `subdomain: web` |
//! | `_http._tcp.web.shop.svc.cluster.local` SRV | port 80 at `web.shop.svc.cluster.local` (one per pod when headless) |
//! | `db.shop.svc.cluster.local` (ExternalName) | a CNAME to `spec.externalName` |
//! | `10-244-1-5.shop.pod.cluster.local` A | `10.244.1.5` |
//! | `20.0.96.10.in-addr.arpa` PTR | the Service or pod with that address |
//! | anything else under `cluster.local` | NXDOMAIN |
//!
//! The server is part of the kubelab process and answers from informer
//! caches (CoreDNS's `kubernetes` plugin does the same with client-go). It
//! listens inside each node's network namespace, on the node's bridge
//! address; the `kube-dns` Service's endpoints are those addresses, so a
//! query to `10.96.0.10` goes through the service proxy like any other.
//!
//! **Simplification.** Names outside `cluster.local` get REFUSED: kubelab
//! does not forward to an upstream resolver (CoreDNS's `forward` plugin).
//!
//! ## Where to start reading
//! [`Resolver::resolve`], then [`wire`] for the bytes.

pub mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use kubelab_api::network::{CLUSTER_DOMAIN, DNS_SERVICE_IP};
use kubelab_client::informer::Informer;
use kubelab_client::{Client, Cluster, ClusterBuilder, InformerFactory, Phase, rest as client};
use kubelab_network::{ClusterNetwork, Mode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wire::{Data, Record};

/// How long clients may cache an answer (CoreDNS's default is 5 s too).
pub const TTL: u32 = 5;

/// Answers from the API's current state.
#[derive(Clone)]
pub struct Resolver {
    services: Informer,
    slices: Informer,
}

fn slice_endpoints<'a>(slices: &'a [Arc<Value>], ns: &str, svc: &str) -> Vec<&'a Value> {
    slices
        .iter()
        .filter(|s| {
            s["metadata"]["namespace"] == ns
                && s["metadata"]["labels"]["kubernetes.io/service-name"] == svc
        })
        .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
        .filter(|e| e["conditions"]["ready"] != false)
        .collect()
}

fn first_ip(e: &Value) -> Option<Ipv4Addr> {
    e["addresses"][0].as_str()?.parse().ok()
}

/// `10.244.1.5` → `10-244-1-5`, the name of an address in DNS.
fn dashed(ip: Ipv4Addr) -> String {
    ip.to_string().replace('.', "-")
}

impl Resolver {
    pub fn new(informers: &InformerFactory) -> Resolver {
        Resolver {
            services: informers.of("v1", "Service"),
            slices: informers.of("discovery.k8s.io/v1", "EndpointSlice"),
        }
    }

    // ANCHOR: resolve
    /// The answer to `name` (lower case, no final dot) of type `qtype`:
    /// a response code and records.
    pub fn resolve(&self, name: &str, qtype: u16) -> (u8, Vec<Record>) {
        let record = |n: &str, data: Data| Record {
            name: n.to_string(),
            ttl: TTL,
            data,
        };
        if let Some(rev) = name.strip_suffix(".in-addr.arpa") {
            return self.reverse(name, rev);
        }
        let Some(rest) = name.strip_suffix(&format!(".{CLUSTER_DOMAIN}")) else {
            return (wire::REFUSED, vec![]); // not ours, and we do not forward
        };
        let labels: Vec<&str> = rest.split('.').collect();
        let wants = |t: u16| qtype == t || qtype == wire::TYPE_ANY;
        // <a-b-c-d>.<namespace>.pod
        if let [dashed_ip, _ns, "pod"] = labels[..] {
            return match dashed_ip.replace('-', ".").parse::<Ipv4Addr>() {
                Ok(ip) if wants(wire::TYPE_A) => (wire::NOERROR, vec![record(name, Data::A(ip))]),
                Ok(_) => (wire::NOERROR, vec![]),
                Err(_) => (wire::NXDOMAIN, vec![]),
            };
        }
        let (port_proto, host, svc, ns) = match labels[..] {
            [svc, ns, "svc"] => (None, None, svc, ns),
            [host, svc, ns, "svc"] => (None, Some(host), svc, ns),
            [port, proto, svc, ns, "svc"] if port.starts_with('_') && proto.starts_with('_') => {
                (Some((&port[1..], &proto[1..])), None, svc, ns)
            }
            _ => return (wire::NXDOMAIN, vec![]),
        };
        let Some(service) = self.services.get(&format!("{ns}/{svc}")) else {
            return (wire::NXDOMAIN, vec![]);
        };
        let spec = &service["spec"];
        let slices = self.slices.list(Some(ns));
        let endpoints = slice_endpoints(&slices, ns, svc);
        let svc_name = format!("{svc}.{ns}.svc.{CLUSTER_DOMAIN}");
        let headless = spec["clusterIP"] == "None";
        // One pod of a headless Service, by its hostname (or dashed IP).
        if let Some(host) = host {
            let hit = endpoints.iter().find(|e| {
                e["hostname"] == host || first_ip(e).is_some_and(|ip| dashed(ip) == host)
            });
            return match hit.and_then(|e| first_ip(e)) {
                Some(ip) if headless && wants(wire::TYPE_A) => {
                    (wire::NOERROR, vec![record(name, Data::A(ip))])
                }
                Some(_) if headless => (wire::NOERROR, vec![]),
                _ => (wire::NXDOMAIN, vec![]),
            };
        }
        if let Some((port, proto)) = port_proto {
            let Some(p) = spec["ports"].as_array().into_iter().flatten().find(|p| {
                p["name"] == port
                    && p["protocol"]
                        .as_str()
                        .unwrap_or("TCP")
                        .eq_ignore_ascii_case(proto)
            }) else {
                return (wire::NXDOMAIN, vec![]);
            };
            if !wants(wire::TYPE_SRV) {
                return (wire::NOERROR, vec![]);
            }
            let srv = |port: u16, target: String| Data::Srv {
                priority: 0,
                weight: 100,
                port,
                target,
            };
            let records = if headless {
                endpoints
                    .iter()
                    .filter_map(|e| {
                        let host = e["hostname"]
                            .as_str()
                            .map(String::from)
                            .or_else(|| first_ip(e).map(dashed))?;
                        let port = slices
                            .iter()
                            .flat_map(|s| s["ports"].as_array().into_iter().flatten())
                            .find(|sp| sp["name"] == p["name"])
                            .and_then(|sp| sp["port"].as_u64())?;
                        Some(record(name, srv(port as u16, format!("{host}.{svc_name}"))))
                    })
                    .collect()
            } else {
                vec![record(
                    name,
                    srv(p["port"].as_u64().unwrap_or(0) as u16, svc_name.clone()),
                )]
            };
            return (wire::NOERROR, records);
        }
        // The Service itself.
        if spec["type"] == "ExternalName" {
            let target = spec["externalName"].as_str().unwrap_or_default();
            return (
                wire::NOERROR,
                vec![record(name, Data::Cname(target.to_string()))],
            );
        }
        if !wants(wire::TYPE_A) {
            return (wire::NOERROR, vec![]); // the name exists; no record of that type
        }
        let ips: Vec<Ipv4Addr> = if headless {
            endpoints.iter().filter_map(|e| first_ip(e)).collect()
        } else {
            spec["clusterIP"]
                .as_str()
                .and_then(|ip| ip.parse().ok())
                .into_iter()
                .collect()
        };
        (
            wire::NOERROR,
            ips.into_iter()
                .map(|ip| record(name, Data::A(ip)))
                .collect(),
        )
    }
    // ANCHOR_END: resolve

    /// `d.c.b.a.in-addr.arpa` → the name of the Service or pod at a.b.c.d.
    fn reverse(&self, name: &str, rev: &str) -> (u8, Vec<Record>) {
        let mut parts: Vec<&str> = rev.split('.').collect();
        parts.reverse();
        let Ok(ip) = parts.join(".").parse::<Ipv4Addr>() else {
            return (wire::NXDOMAIN, vec![]);
        };
        let ptr = |target: String| {
            (
                wire::NOERROR,
                vec![Record {
                    name: name.into(),
                    ttl: TTL,
                    data: Data::Ptr(target),
                }],
            )
        };
        for s in self.services.list(None) {
            if s["spec"]["clusterIP"] == ip.to_string().as_str() {
                let m = &s["metadata"];
                return ptr(format!(
                    "{}.{}.svc.{CLUSTER_DOMAIN}",
                    m["name"].as_str().unwrap_or_default(),
                    m["namespace"].as_str().unwrap_or_default()
                ));
            }
        }
        for s in self.slices.list(None) {
            for e in s["endpoints"].as_array().into_iter().flatten() {
                if first_ip(e) == Some(ip) {
                    let ns = s["metadata"]["namespace"].as_str().unwrap_or_default();
                    return ptr(format!("{}.{ns}.pod.{CLUSTER_DOMAIN}", dashed(ip)));
                }
            }
        }
        (wire::NXDOMAIN, vec![])
    }

    /// One query in, one answer out.
    pub fn answer(&self, msg: &[u8]) -> Vec<u8> {
        match wire::parse_query(msg) {
            Ok(q) if q.qclass != 1 && q.qclass != 255 => wire::response(&q, wire::NOTIMP, &[]),
            Ok(q) => {
                let (rcode, records) = self.resolve(&q.name, q.qtype);
                wire::response(&q, rcode, &records)
            }
            Err(id) => wire::format_error(id.unwrap_or(0)),
        }
    }
}

/// Chapter 03's cluster DNS: a server in each node's network namespace,
/// behind the `kube-dns` Service (CoreDNS's place upstream).
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    b.on_start(Phase::NodeAgents, "cluster-dns", |c: Cluster| async move {
        // Pods reach a DNS server only where they have a network of their
        // own: the node namespaces of the linux runtime.
        let Some(net) = c.get::<ClusterNetwork>().filter(|n| n.mode == Mode::Bridge) else {
            return Ok(());
        };
        let nodes: Vec<DnsNode> = net
            .nodes
            .iter()
            .filter_map(|n| {
                Some(DnsNode {
                    name: n.name.clone(),
                    netns: kubelab_network::linux::netns_path(n.netns.as_deref()?),
                    address: n.pod_cidr.nth(1),
                })
            })
            .collect();
        start(&c.client(), &c.informers(), &nodes)
            .await
            .map_err(|e| anyhow::anyhow!("starting the cluster DNS: {e}"))
    });
}
// ANCHOR_END: install

/// Where one node's DNS server listens: its bridge address, in its namespace.
#[derive(Debug, Clone)]
pub struct DnsNode {
    pub name: String,
    pub netns: PathBuf,
    pub address: Ipv4Addr,
}

/// Serves DNS on port 53 of each node's address (UDP and TCP), and
/// creates the `kube-dns` Service in `kube-system` with those addresses as
/// its endpoints.
pub async fn start(
    client: &Client,
    informers: &InformerFactory,
    nodes: &[DnsNode],
) -> std::io::Result<()> {
    let resolver = Resolver::new(informers);
    for n in nodes {
        let addr = SocketAddr::from((n.address, 53));
        let (udp, tcp) = kubelab_network::linux::in_netns(&n.netns, move || {
            let udp = std::net::UdpSocket::bind(addr)?;
            let tcp = std::net::TcpListener::bind(addr)?;
            udp.set_nonblocking(true)?;
            tcp.set_nonblocking(true)?;
            Ok::<_, std::io::Error>((udp, tcp))
        })
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        tokio::spawn(serve_udp(
            tokio::net::UdpSocket::from_std(udp)?,
            resolver.clone(),
        ));
        tokio::spawn(serve_tcp(
            tokio::net::TcpListener::from_std(tcp)?,
            resolver.clone(),
        ));
    }
    publish_service(client, nodes)
        .await
        .map_err(|e| std::io::Error::other(format!("creating the kube-dns Service: {}", e.message)))
}

async fn serve_udp(socket: tokio::net::UdpSocket, resolver: Resolver) {
    let mut buf = vec![0u8; 4096];
    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
        let mut reply = resolver.answer(&buf[..n]);
        if reply.len() > 512 {
            // Too big for classic UDP: truncate, the client retries over TCP.
            reply.truncate(12);
            reply[2] |= 0x02;
            reply[6..12].fill(0);
        }
        let _ = socket.send_to(&reply, from).await;
    }
}

async fn serve_tcp(listener: tokio::net::TcpListener, resolver: Resolver) {
    while let Ok((mut conn, _)) = listener.accept().await {
        let resolver = resolver.clone();
        tokio::spawn(async move {
            // Each message is prefixed by its length on two bytes.
            while let Ok(len) = conn.read_u16().await {
                let mut msg = vec![0u8; len as usize];
                if conn.read_exact(&mut msg).await.is_err() {
                    return;
                }
                let reply = resolver.answer(&msg);
                if conn.write_u16(reply.len() as u16).await.is_err()
                    || conn.write_all(&reply).await.is_err()
                {
                    return;
                }
            }
        });
    }
}

/// The `kube-dns` Service (at the well-known 10.96.0.10) and its Endpoints.
async fn publish_service(client: &Client, nodes: &[DnsNode]) -> Result<(), client::ApiError> {
    let svc_path = client::path(client::resource("v1", "Service"), Some("kube-system"), None);
    let labels = json!({"k8s-app": "kube-dns", "kubernetes.io/name": "KubelabDNS"});
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "spec": {"clusterIP": DNS_SERVICE_IP.to_string(), "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    });
    match client.create(&svc_path, &svc).await {
        Err(e) if !e.is_already_exists() => return Err(e),
        _ => {}
    }
    let ep_list = client::path(
        client::resource("v1", "Endpoints"),
        Some("kube-system"),
        None,
    );
    // Nodes started by other processes (`kubelab node` on other hosts)
    // list their servers too: keep theirs, replace ours, and write with
    // the resourceVersion read, so that two nodes starting at once do not
    // drop each other.
    let ours: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    client::retry_on_conflict(|| async {
        let current = match client.get(&format!("{ep_list}/kube-dns")).await {
            Ok(ep) => Some(ep),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let mut addresses: Vec<Value> = current
            .as_ref()
            .and_then(|ep| ep["subsets"][0]["addresses"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !ours.contains(&a["nodeName"].as_str().unwrap_or_default()))
            .collect();
        addresses.extend(
            nodes
                .iter()
                .map(|n| json!({"ip": n.address.to_string(), "nodeName": n.name})),
        );
        let mut ep = json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "subsets": [{"addresses": addresses, "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}],
        });
        match current {
            Some(cur) => {
                ep["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"].clone();
                client.replace(&format!("{ep_list}/kube-dns"), &ep).await
            }
            // Created meanwhile by another node: AlreadyExists is a 409
            // too, so the loop reads again.
            None => client.create(&ep_list, &ep).await,
        }
    })
    .await?;
    Ok(())
}
