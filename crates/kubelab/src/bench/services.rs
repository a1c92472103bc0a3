//! `kubelab bench services`: chapter 03's figures, on the linux runtime
//! (root), two nodes.
//!
//! * endpoint-change propagation — a pod behind a Service is deleted; how
//!   long until its address is gone from the rules of *every* node;
//! * a Service's cost — HTTP requests (a new connection each, as `wget`
//!   makes) from a pod, straight to a pod IP and through the ClusterIP,
//!   alternating in rounds; requests/s, p50/p99 and their ratio;
//! * DNS — queries/s and p99 from a pod to `10.96.0.10`.
//!
//! Run it with a release build: `cargo run --release -- bench services`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kubelab_client::rest as client;
use kubelab_runtime::RuntimeKind;
use std::sync::Arc;

use serde_json::json;

use super::pods::{cluster, pct};
use kubelab_client::Cluster;
use kubelab_kubelet::{Nodes, node_name};

const APP: &str = "bench-web";

fn ready_ips(c: &Cluster) -> Vec<String> {
    c.informers()
        .of("v1", "Endpoints")
        .get(&format!("default/{APP}"))
        .map(|ep| {
            ep["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
                .filter_map(|a| a["ip"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn wait_for(
    what: &str,
    secs: u64,
    mut ok: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let t = Instant::now();
    while !ok() {
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// `count` sequential `GET /` on fresh connections, taking the targets in
/// turn; latencies.
fn http_round(targets: &[SocketAddr], count: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(count);
    let mut buf = Vec::with_capacity(1024);
    for i in 0..count {
        let to = targets[i % targets.len()];
        let t = Instant::now();
        let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_secs(2)) else {
            continue;
        };
        let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n");
        buf.clear();
        if s.read_to_end(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.") {
            out.push(t.elapsed());
        }
    }
    out
}

/// `count` downloads of `size` bytes, targets in turn; bytes per second.
fn bulk_round(targets: &[SocketAddr], count: usize, size: usize) -> f64 {
    let request = format!("GET /bytes/{size} HTTP/1.0\r\nHost: bench\r\n\r\n");
    let mut buf = vec![0u8; 256 * 1024];
    let (mut bytes, t) = (0usize, Instant::now());
    for i in 0..count {
        let Ok(mut s) =
            TcpStream::connect_timeout(&targets[i % targets.len()], Duration::from_secs(2))
        else {
            continue;
        };
        let _ = s.write_all(request.as_bytes());
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes += n;
        }
    }
    bytes as f64 / t.elapsed().as_secs_f64()
}

fn summary(label: &str, mut lat: Vec<Duration>, wall: Duration) -> f64 {
    lat.sort();
    let rps = lat.len() as f64 / wall.as_secs_f64();
    println!(
        "  {label:<28} {rps:>8.0} req/s   p50 {:.3} ms   p99 {:.3} ms   ({} requests)",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len()
    );
    rps
}

pub async fn services() -> anyhow::Result<()> {
    anyhow::ensure!(
        RuntimeKind::detect() == RuntimeKind::Linux,
        "bench services needs the linux runtime (run as root on Linux)"
    );
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let nodes = cluster(2, RuntimeKind::Linux, dir.path()).await?;
    let proxy = nodes
        .get::<Arc<kubelab_proxy::Proxy>>()
        .expect("the linux runtime has a proxy");
    let kubelets = nodes
        .get::<Nodes>()
        .expect("chapter 02 starts nodes")
        .kubelets;
    let c = &nodes.client();
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": APP},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": APP}},
                 "template": {"metadata": {"labels": {"app": APP}}, "spec": {
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "web", "image": "kubelab/web:1.0"}]}}}});
    c.create(
        &client::path(
            client::resource("apps/v1", "Deployment"),
            Some("default"),
            None,
        ),
        &deploy,
    )
    .await?;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": APP},
        "spec": {"selector": {"app": APP}, "ports": [{"port": 80, "targetPort": 8080}]}});
    let svc = c
        .create(
            &client::path(client::resource("v1", "Service"), Some("default"), None),
            &svc,
        )
        .await?;
    let vip: Ipv4Addr = svc["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let client_pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-client"},
        "spec": {"nodeName": node_name(1), "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}});
    c.create(
        &client::path(client::resource("v1", "Pod"), Some("default"), None),
        &client_pod,
    )
    .await?;
    wait_for("4 ready endpoints", 60, || ready_ips(&nodes).len() == 4).await?;
    let netns: PathBuf = {
        let k = kubelets[0].clone();
        let mut found = None;
        for _ in 0..500 {
            found = k.pod_netns("default/bench-client");
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        found.ok_or_else(|| anyhow::anyhow!("the client pod never started"))?
    };
    // Rules for the 4 endpoints on every node.
    let all_rules = |ip: &str| {
        (1..=2).all(|i| {
            proxy
                .applied(&node_name(i))
                .is_some_and(|r| r.contains(&format!("dnat to {ip}:")))
        })
    };
    wait_for("rules on every node", 30, || {
        ready_ips(&nodes).iter().all(|ip| all_rules(ip))
    })
    .await?;

    // 1. Endpoint-change propagation.
    let mut times = Vec::new();
    let pods_path = client::path(client::resource("v1", "Pod"), Some("default"), None);
    for _ in 0..20 {
        let ips = ready_ips(&nodes);
        let Some(victim_ip) = ips.first().cloned() else {
            break;
        };
        let victim = nodes
            .informers()
            .of("v1", "Pod")
            .list(Some("default"))
            .into_iter()
            .find(|p| p["status"]["podIP"] == victim_ip.as_str())
            .ok_or_else(|| anyhow::anyhow!("no pod has {victim_ip}"))?;
        let name = victim["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let gone = |ip: &str| {
            (1..=2).all(|i| {
                proxy
                    .applied(&node_name(i))
                    .is_some_and(|r| !r.contains(&format!("dnat to {ip}:")))
            })
        };
        let t = Instant::now();
        c.delete(&format!("{pods_path}/{name}"), &json!({})).await?;
        while !gone(&victim_ip) {
            anyhow::ensure!(
                t.elapsed() < Duration::from_secs(10),
                "{victim_ip} never left the rules"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(t.elapsed());
        wait_for("the replacement pod", 60, || {
            let ips = ready_ips(&nodes);
            ips.len() == 4 && ips.iter().all(|ip| all_rules(ip))
        })
        .await?;
    }
    times.sort();
    println!(
        "endpoint-change propagation, pod deleted → its address gone from both nodes' rules, {} deletions: p50 {:.1} ms, p99 {:.1} ms (target p99 ≤ 200 ms)",
        times.len(),
        pct(&times, 0.5),
        pct(&times, 0.99)
    );

    // 2. Pod IPs against the ClusterIP, from inside the client pod. The
    //    direct requests take the same four pods in turn, so the only
    //    difference is the Service: the DNAT (and, for the pods on the
    //    client's own node, the masquerade).
    let direct_to: Vec<SocketAddr> = ready_ips(&nodes)
        .iter()
        .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
        .map(|ip| SocketAddr::from((ip, 8080)))
        .collect();
    let service_to = vec![SocketAddr::from((vip, 80))];
    let results = kubelab_network::linux::in_netns(&netns, move || {
        http_round(&direct_to, 200); // warm up
        http_round(&service_to, 200);
        let (mut d, mut s) = (Vec::new(), Vec::new());
        let (mut dt, mut st) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..5 {
            let t = Instant::now();
            d.extend(http_round(&direct_to, 1000));
            dt += t.elapsed();
            let t = Instant::now();
            s.extend(http_round(&service_to, 1000));
            st += t.elapsed();
        }
        (d, dt, s, st)
    })?;
    println!("HTTP from a pod, a new connection per request, 5 alternating rounds of 1000:");
    let direct = summary("straight to the 4 pod IPs", results.0, results.1);
    let through = summary(&format!("through ClusterIP {vip}:80"), results.2, results.3);
    println!(
        "  ClusterIP / pod IP throughput ratio: {:.2} (target ≥ 0.9)",
        through / direct
    );

    let (direct_to, service_to): (Vec<SocketAddr>, Vec<SocketAddr>) = (
        ready_ips(&nodes)
            .iter()
            .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
            .map(|ip| SocketAddr::from((ip, 8080)))
            .collect(),
        vec![SocketAddr::from((vip, 80))],
    );
    let (d, s) = kubelab_network::linux::in_netns(&netns, move || {
        let (mut d, mut s) = (0.0, 0.0);
        for _ in 0..3 {
            d += bulk_round(&direct_to, 8, 16 << 20);
            s += bulk_round(&service_to, 8, 16 << 20);
        }
        (d / 3.0, s / 3.0)
    })?;
    println!(
        "bulk transfer from a pod, 16 MiB downloads: straight {:.0} MiB/s, through the ClusterIP {:.0} MiB/s, ratio {:.2} (target ≥ 0.9)",
        d / (1 << 20) as f64,
        s / (1 << 20) as f64,
        s / d
    );

    // 3. DNS from the pod.
    let dns = kubelab_network::linux::in_netns(
        &netns,
        || -> std::io::Result<(Vec<Duration>, Duration, usize)> {
            let sock = UdpSocket::bind("0.0.0.0:0")?;
            sock.connect((kubelab_api::network::DNS_SERVICE_IP, 53))?;
            sock.set_read_timeout(Some(Duration::from_secs(1)))?;
            let name = format!("{APP}.default.svc.cluster.local");
            let mut lat = Vec::new();
            let mut failed = 0;
            let mut buf = [0u8; 1500];
            let t = Instant::now();
            for i in 0..10_000u32 {
                let q = kubelab_dns::wire::query(i as u16, &name, kubelab_dns::wire::TYPE_A);
                let s = Instant::now();
                sock.send(&q)?;
                match sock.recv(&mut buf) {
                    Ok(n)
                        if kubelab_dns::wire::answer_addresses(&buf[..n])
                            .is_some_and(|(_, a)| !a.is_empty()) =>
                    {
                        lat.push(s.elapsed())
                    }
                    _ => failed += 1,
                }
            }
            Ok((lat, t.elapsed(), failed))
        },
    )??;
    let (mut lat, wall, failed) = dns;
    lat.sort();
    println!(
        "DNS from a pod via 10.96.0.10, 10,000 sequential A queries: {:.0} queries/s, p50 {:.3} ms, p99 {:.3} ms, {failed} unanswered",
        lat.len() as f64 / wall.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
    nodes.shutdown().await;
    Ok(())
}
