//! The pod network on the `linux` runtime.
//!
//! ```text
//!  netns kubelab-<c>-net            (the cluster's "switch")
//!   └─ bridge kubelab0
//!        ├─ kn1 ══ veth ══ eth0 172.18.0.2 ┐ netns kubelab-<c>-1 (node 1)
//!        │                  cbr0 10.244.1.1├─ veth ══ eth0 10.244.1.2 (a pod's netns)
//!        │                                 └─ veth ══ eth0 10.244.1.3
//!        └─ kn2 ══ veth ══ eth0 172.18.0.3 ┐ netns kubelab-<c>-2 (node 2)
//!                           cbr0 10.244.2.1└─ …
//! node 1: 10.244.2.0/24 via 172.18.0.3      node 2: 10.244.1.0/24 via 172.18.0.2
//! ```
//! Each node namespace is a router: its pods hang off its bridge `cbr0`,
//! and a route per other node sends their pod range to that node's
//! address — what a "host-gw" network plugin (flannel's, or kubenet with
//! cloud routes) does. Nothing is created in the host's namespace.
//!
//! The one-time node setup runs `ip` commands (easy to read and to retype
//! by hand); the per-pod work, on every pod start, talks netlink directly
//! through `rtnetlink`.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use futures::TryStreamExt;
use kubelab_api::network::{NODE_NETWORK, SERVICE_CIDR, node_ip, node_pod_cidr};
use rtnetlink::{LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::{Error, Result};

/// The bridge in each node namespace that its pods' veths join.
pub const NODE_BRIDGE: &str = "cbr0";
/// The bridge in the cluster namespace that joins the nodes.
pub const CLUSTER_BRIDGE: &str = "kubelab0";

pub fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

/// Runs `f` on a fresh thread that has joined the network namespace at
/// `path`. Sockets opened there stay in that namespace for their whole
/// life, wherever they are used later — this is how kubelab listens and
/// connects inside node and pod namespaces without leaving its own.
pub fn in_netns<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let ns =
        std::fs::File::open(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::Io(format!("setns: {e}")))?;
        Ok(f())
    })
    .join()
    .map_err(|_| Error::Io("network namespace thread panicked".into()))?
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::Io(format!("running ip: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // Setting up again after a restart finds things already there.
        if !err.contains("File exists") && !err.contains("Address already assigned") {
            return Err(Error::Setup(format!(
                "ip {}: {}",
                args.join(" "),
                err.trim()
            )));
        }
    }
    Ok(())
}

/// Writes a sysctl inside a node namespace (`ip netns exec` gives the
/// command a /proc/sys/net of that namespace).
fn sysctl(netns: &str, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let st = Command::new("ip")
        .args(["netns", "exec", netns, "sh", "-c"])
        .arg(format!("[ ! -e {path} ] || echo {value} > {path}"))
        .status()
        .map_err(|e| Error::Io(format!("sysctl {key}: {e}")))?;
    if st.success() {
        Ok(())
    } else {
        Err(Error::Setup(format!(
            "sysctl {key}={value} in {netns} failed"
        )))
    }
}

/// Joins the node namespaces `<prefix>1 … <prefix>n` (they exist) into one
/// cluster network. Idempotent: after a restart it finds everything there.
// ANCHOR: setup_cluster
pub fn setup_cluster(prefix: &str, nodes: usize) -> Result<()> {
    let switch = format!("{prefix}net");
    if !netns_path(&switch).exists() {
        ip(&["netns", "add", &switch])?;
    }
    ip(&[
        "-n",
        &switch,
        "link",
        "add",
        CLUSTER_BRIDGE,
        "type",
        "bridge",
    ])?;
    ip(&["-n", &switch, "link", "set", CLUSTER_BRIDGE, "up"])?;
    for i in 1..=nodes {
        let ns = format!("{prefix}{i}");
        let port = format!("kn{i}");
        let addr = format!("{}/{}", node_ip(i), NODE_NETWORK.prefix);
        ip(&[
            "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ])?;
        ip(&[
            "-n",
            &switch,
            "link",
            "set",
            &port,
            "master",
            CLUSTER_BRIDGE,
            "up",
        ])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        node_bridge(&ns, i)?;
        for j in (1..=nodes).filter(|j| *j != i) {
            let via = node_ip(j).to_string();
            ip(&[
                "-n",
                &ns,
                "route",
                "add",
                &node_pod_cidr(j).to_string(),
                "via",
                &via,
            ])?;
        }
    }
    Ok(())
}
// ANCHOR_END: setup_cluster

/// A node's own part of the pod network, in its namespace `ns`: the
/// bridge `cbr0` that its pods plug into, holding the first address of its
/// pod range (the pods' gateway), and the forwarding it needs as a router.
fn node_bridge(ns: &str, i: usize) -> Result<()> {
    let pods = node_pod_cidr(i);
    let gw = format!("{}/{}", pods.nth(1), pods.prefix);
    ip(&["-n", ns, "link", "add", NODE_BRIDGE, "type", "bridge"])?;
    // A bridge takes the lowest MAC address of its ports unless given
    // one: when that pod goes, the gateway's address would change under
    // the other pods' ARP caches and cut them off for a minute.
    let mac = format!("02:6b:0a:f4:{:02x}:01", i % 256);
    ip(&["-n", ns, "link", "set", NODE_BRIDGE, "address", &mac])?;
    ip(&["-n", ns, "addr", "add", &gw, "dev", NODE_BRIDGE])?;
    ip(&["-n", ns, "link", "set", NODE_BRIDGE, "up"])?;
    // VIPs are not on any interface: the route lets the node itself send
    // to them (its nat OUTPUT chain rewrites them to a pod).
    ip(&[
        "-n",
        ns,
        "route",
        "add",
        &SERVICE_CIDR.to_string(),
        "dev",
        NODE_BRIDGE,
    ])?;
    // A router forwards; and bridged pod traffic must not run through
    // the nat table a second time (br_netfilter), or a pod calling its
    // own Service through the VIP ("hairpin") breaks.
    sysctl(ns, "net.ipv4.ip_forward", "1")?;
    sysctl(ns, "net.bridge.bridge-nf-call-iptables", "0")?;
    Ok(())
}

/// `kubelab node` on a host of its own: the host's network namespace,
/// named `ns`, is the node's; its address and links are the host's. Adds
/// the node bridge, and masquerades what pods send outside the pod network
/// (to the API server's host, say), which has no route back to pod ranges
/// — flannel's `--ip-masq`. Routes to the other nodes' ranges come from
/// [`crate::routes`].
pub fn setup_host_node(ns: &str, i: usize) -> Result<()> {
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    node_bridge(ns, i)?;
    let cluster = kubelab_api::network::CLUSTER_CIDR;
    let ruleset = format!(
        "table ip kubelab-podnet {{}}\nflush table ip kubelab-podnet\n\
         table ip kubelab-podnet {{\n  chain postrouting {{\n    \
         type nat hook postrouting priority srcnat + 1; policy accept;\n    \
         ip saddr {cluster} ip daddr != {cluster} oifname != \"{NODE_BRIDGE}\" masquerade\n  }}\n}}\n"
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Io(format!("running nft: {e}")))?;
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(ruleset.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(Error::Setup(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Routes `cidr` (another node's pod range) in `ns` via that node's
/// address; `None` removes the route.
pub fn route_pod_range(ns: &str, cidr: &str, via: Option<Ipv4Addr>) -> Result<()> {
    match via {
        Some(via) => ip(&["-n", ns, "route", "replace", cidr, "via", &via.to_string()]),
        None => ip(&["-n", ns, "route", "del", cidr]),
    }
}

/// The overlay device of a node whose peers are not on its link (flannel
/// names its own `flannel.1`).
pub const VXLAN_DEVICE: &str = "kubelab.vx";
/// VXLAN's network identifier and UDP port (Linux's and flannel's 8472).
const VXLAN_ID: &str = "1";
const VXLAN_PORT: &str = "8472";

/// A node's overlay address and MAC, from its index: every node can work
/// out every other's without asking (flannel publishes them as a Node
/// annotation instead).
fn vtep(index: usize) -> (Ipv4Addr, String) {
    let range = node_pod_cidr(index);
    (range.nth(0), format!("02:6b:76:78:{:02x}:00", index % 256))
}

/// Whether `addr` is on one of `ns`'s links (no router in between): then a
/// plain route via it works (host-gw); else packets must be wrapped (VXLAN).
pub fn on_link(ns: &str, addr: Ipv4Addr) -> bool {
    Command::new("ip")
        .args(["-n", ns, "route", "get", &addr.to_string()])
        .output()
        .map(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).contains(" via "))
        .unwrap_or(false)
}

/// Creates this node's VXLAN device (once): packets for other nodes' pod
/// ranges are wrapped in UDP to port 8472 of the node, which unwraps them.
pub fn vxlan_up(ns: &str, index: usize, local: Ipv4Addr) -> Result<()> {
    let (addr, mac) = vtep(index);
    ip(&[
        "-n",
        ns,
        "link",
        "add",
        VXLAN_DEVICE,
        "type",
        "vxlan",
        "id",
        VXLAN_ID,
        "local",
        &local.to_string(),
        "dstport",
        VXLAN_PORT,
        "nolearning",
    ])?;
    // 50 bytes of outer headers: the device's MTU leaves room for them.
    ip(&[
        "-n",
        ns,
        "link",
        "set",
        VXLAN_DEVICE,
        "address",
        &mac,
        "mtu",
        "1450",
    ])?;
    ip(&[
        "-n",
        ns,
        "addr",
        "add",
        &format!("{addr}/32"),
        "dev",
        VXLAN_DEVICE,
    ])?;
    ip(&["-n", ns, "link", "set", VXLAN_DEVICE, "up"])
}

/// Routes node `index`'s pod range `cidr` through the overlay to the node
/// at `node_ip` (`None` removes it): a route via the peer's overlay
/// address, its MAC for that address, and where to send frames for that
/// MAC — what flannel's vxlan backend writes.
pub fn vxlan_peer(ns: &str, cidr: &str, index: usize, node_ip: Option<Ipv4Addr>) -> Result<()> {
    let (addr, mac) = vtep(index);
    let (addr, dev) = (addr.to_string(), VXLAN_DEVICE);
    match node_ip {
        Some(node_ip) => {
            ip(&[
                "-n",
                ns,
                "neigh",
                "replace",
                &addr,
                "lladdr",
                &mac,
                "dev",
                dev,
                "nud",
                "permanent",
            ])?;
            let st = Command::new("bridge")
                .args([
                    "-n",
                    ns,
                    "fdb",
                    "replace",
                    &mac,
                    "dev",
                    dev,
                    "dst",
                    &node_ip.to_string(),
                ])
                .status()?;
            if !st.success() {
                return Err(Error::Setup(format!(
                    "bridge fdb replace {mac} dst {node_ip} failed"
                )));
            }
            ip(&[
                "-n", ns, "route", "replace", cidr, "via", &addr, "dev", dev, "onlink",
            ])
        }
        None => {
            let _ = ip(&["-n", ns, "route", "del", cidr]);
            let _ = Command::new("bridge")
                .args(["-n", ns, "fdb", "del", &mac, "dev", dev])
                .status();
            let _ = ip(&["-n", ns, "neigh", "del", &addr, "dev", dev]);
            Ok(())
        }
    }
}

/// Names this process's own network namespace `name` in /run/netns (as
/// `ip netns attach` does), so that the code which reaches node namespaces
/// by name reaches it too.
pub fn netns_attach_self(name: &str) -> std::io::Result<()> {
    if Path::new("/run/netns").join(name).exists() {
        // A name left by an earlier run may point elsewhere.
        let _ = Command::new("ip").args(["netns", "delete", name]).status();
    }
    let st = Command::new("ip")
        .args(["netns", "attach", name, &std::process::id().to_string()])
        .status()?;
    if !st.success() {
        return Err(std::io::Error::other(format!(
            "ip netns attach {name} failed"
        )));
    }
    Ok(())
}

/// Connects a pod's network namespace to its node: a veth pair whose
/// node end joins `cbr0` and whose pod end becomes `eth0` with `ip`, and a
/// default route through the node's bridge address.
pub fn attach_pod(
    node_ns: &Path,
    pod_ns: &Path,
    host_if: &str,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<()> {
    let peer = format!("{host_if}p");
    let pod_ns_file =
        std::fs::File::open(pod_ns).map_err(|e| Error::Io(format!("{}: {e}", pod_ns.display())))?;
    let (host_if, peer2) = (host_if.to_string(), peer.clone());
    // 1. In the node's namespace: create the pair, plug one end into the
    //    bridge, send the other into the pod's namespace.
    in_netns(node_ns, move || {
        netlink(async move |h| {
            h.link()
                .add(LinkVeth::new(&host_if, &peer2).build())
                .execute()
                .await?;
            let host = index(&h, &host_if).await?;
            let bridge = index(&h, NODE_BRIDGE).await?;
            h.link()
                .set(
                    LinkUnspec::new_with_index(host)
                        .controller(bridge)
                        .up()
                        .build(),
                )
                .execute()
                .await?;
            let p = index(&h, &peer2).await?;
            h.link()
                .set(
                    LinkUnspec::new_with_index(p)
                        .setns_by_fd(pod_ns_file.as_raw_fd())
                        .build(),
                )
                .execute()
                .await?;
            Ok(())
        })
    })??;
    // 2. In the pod's namespace: name it eth0, address it, route through the node.
    in_netns(pod_ns, move || {
        netlink(async move |h| {
            let lo = index(&h, "lo").await?;
            h.link()
                .set(LinkUnspec::new_with_index(lo).up().build())
                .execute()
                .await?;
            let p = index(&h, &peer).await?;
            h.link()
                .set(LinkUnspec::new_with_index(p).name("eth0").up().build())
                .execute()
                .await?;
            h.address().add(p, IpAddr::V4(ip), prefix).execute().await?;
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gateway)
                .output_interface(p)
                .build();
            h.route().add(route).execute().await?;
            Ok(())
        })
    })??;
    Ok(())
}

/// Runs netlink requests on a small runtime of the current thread, with a
/// connection opened here (so in this thread's network namespace).
fn netlink<F>(f: F) -> Result<()>
where
    F: AsyncFnOnce(rtnetlink::Handle) -> std::result::Result<(), rtnetlink::Error>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(e.to_string()))?;
    rt.block_on(async move {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| Error::Io(e.to_string()))?;
        tokio::spawn(conn);
        f(handle)
            .await
            .map_err(|e| Error::Setup(format!("netlink: {e}")))
    })
}

async fn index(h: &rtnetlink::Handle, name: &str) -> std::result::Result<u32, rtnetlink::Error> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await? {
        Some(l) => Ok(l.header.index),
        None => Err(rtnetlink::Error::RequestFailed),
    }
}

/// Creates the network namespace `name` (`ip netns add`) unless it exists.
pub fn netns_add(name: &str) -> std::io::Result<()> {
    if Path::new("/run/netns").join(name).exists() {
        return Ok(());
    }
    let st = Command::new("ip")
        .args(["netns", "add", name])
        .status()
        .map_err(|e| {
            std::io::Error::other(format!(
                "running `ip netns add` (is iproute2 installed?): {e}"
            ))
        })?;
    if !st.success() {
        return Err(std::io::Error::other(format!("ip netns add {name} failed")));
    }
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
                let _ = Command::new("ip").args(["netns", "delete", &name]).status();
                n += 1;
            }
        }
    }
    n
}
