//! `kubelab bench lifecycle`: chapter 07's figures, on the linux runtime
//! (root).
//!
//! * probe cost — 100 pods with an HTTP readiness probe every second, then
//!   100 with an exec probe: the CPU the kubelab process spends per 1,000
//!   probes (utime + stime of the process and its reaped children, from
//!   `/proc/self/stat`, minus the same pods without probes);
//! * readiness → endpoints — a pod starts failing its readiness probe
//!   (`periodSeconds: 1`, `failureThreshold: 1`): how long until its
//!   address is gone from the Service's rules on every node;
//! * zero-downtime deletion — pods behind a Service deleted one by one
//!   while a client in a pod sends requests through the ClusterIP; with a
//!   readiness probe and a `preStop` sleep, how many requests fail.
//!
//! Run it with a release build: `cargo run --release -- bench lifecycle`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kubelab_client::Cluster;
use kubelab_client::rest as client;
use kubelab_kubelet::{Nodes, node_name};
use kubelab_lifecycle::prober::Prober;
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

use super::pods::{cluster, pct};
use super::services::wait_for;

fn pods_path() -> String {
    client::path(client::resource("v1", "Pod"), Some("default"), None)
}

/// CPU seconds of this process and its reaped children.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14..=17 (utime, stime, cutime, cstime); `rest` starts at field 3.
    let ticks: f64 = f.get(11..15).map_or(0.0, |s| s.iter().sum());
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// How many pods labelled `bench: label` pass `test`.
fn pods_where(c: &Cluster, label: &str, test: impl Fn(&Value) -> bool) -> usize {
    c.informers()
        .of("v1", "Pod")
        .list(Some("default"))
        .iter()
        .filter(|p| p["metadata"]["labels"]["bench"] == label && test(p))
        .count()
}

fn ready_pods(c: &Cluster, label: &str) -> usize {
    pods_where(c, label, kubelab_api::pod::is_ready)
}

fn count_pods(c: &Cluster, label: &str) -> usize {
    pods_where(c, label, |_| true)
}

fn running_pods(c: &Cluster, label: &str) -> usize {
    pods_where(c, label, |p| {
        p["status"]["containerStatuses"][0]["state"]["running"].is_object()
    })
}

/// 100 web pods labelled `label`, with `probe` as readiness probe (or
/// none), all running (and ready, if `ready`).
async fn hundred_pods(
    c: &Cluster,
    label: &str,
    probe: Option<Value>,
    ready: bool,
) -> anyhow::Result<()> {
    let client = c.client();
    for i in 0..100 {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{label}-{i}"), "labels": {"bench": label}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "web", "image": "kubelab/web:1.0"}]}});
        if let Some(p) = &probe {
            pod["spec"]["containers"][0]["readinessProbe"] = p.clone();
        }
        client.create(&pods_path(), &pod).await?;
    }
    wait_for(&format!("100 running {label} pods"), 300, || {
        running_pods(c, label) == 100 && (!ready || ready_pods(c, label) == 100)
    })
    .await
}

async fn delete_pods(c: &Cluster, label: &str) -> anyhow::Result<()> {
    let client = c.client();
    for i in 0..100 {
        let _ = client
            .delete(&format!("{}/{label}-{i}", pods_path()), &json!({}))
            .await;
    }
    wait_for(&format!("{label} pods gone"), 120, || {
        count_pods(c, label) == 0
    })
    .await
}

/// CPU seconds and probes run over `window`.
async fn measure(prober: &Prober, window: Duration) -> (f64, u64) {
    let (cpu, runs) = (cpu_seconds(), prober.counts().runs);
    tokio::time::sleep(window).await;
    (cpu_seconds() - cpu, prober.counts().runs - runs)
}

async fn probe_cost(c: &Cluster, prober: &Prober) -> anyhow::Result<()> {
    let window = Duration::from_secs(20);
    hundred_pods(c, "plain", None, true).await?;
    let (base, _) = measure(prober, window).await;
    delete_pods(c, "plain").await?;
    println!(
        "probe cost, 100 pods, one node, a {}-s window each (CPU of the whole kubelab process, minus the same pods without probes: {:.2} CPU-s):",
        window.as_secs(),
        base
    );
    let mut per = Vec::new();
    for (label, probe) in [
        (
            "http",
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}),
        ),
        (
            "exec",
            json!({"exec": {"command": ["true"]}, "periodSeconds": 1}),
        ),
    ] {
        // Exec probes may not keep up (then some pods never get ready):
        // measure what runs.
        hundred_pods(c, label, Some(probe), label == "http").await?;
        let failed = prober.counts().failures;
        let (cpu, runs) = measure(prober, window).await;
        let failed = prober.counts().failures - failed;
        let cost = (cpu - base).max(0.0) / runs.max(1) as f64 * 1000.0;
        println!(
            "  {label:<5} readiness probes: {runs} probes ({:.0}/s of the 100/s asked, {failed} failed), {cost:.2} CPU-s per 1,000 probes ({:.2} ms each), {:.2} CPU-s/s",
            runs as f64 / window.as_secs_f64(),
            cost,
            (cpu - base) / window.as_secs_f64()
        );
        per.push(cost);
        delete_pods(c, label).await?;
    }
    if let [http, exec] = per[..] {
        println!(
            "  an exec probe costs {:.1}× an HTTP probe",
            exec / http.max(1e-9)
        );
    }
    Ok(())
}

/// The addresses in the rules of every node (`dnat to IP:`).
fn in_rules(proxy: &kubelab_proxy::Proxy, nodes: usize, ip: &str) -> (bool, bool) {
    let hits: Vec<bool> = (1..=nodes)
        .map(|i| {
            proxy
                .applied(&node_name(i))
                .is_some_and(|r| r.contains(&format!("dnat to {ip}:")))
        })
        .collect();
    (hits.iter().all(|h| *h), hits.iter().any(|h| *h))
}

/// One HTTP request on a new connection, as `wget` makes.
fn http(to: SocketAddr, request: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(request).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}

pub(crate) async fn client_pod(
    c: &Cluster,
    kubelets: &[Arc<kubelab_kubelet::Kubelet>],
) -> anyhow::Result<PathBuf> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-client"},
        "spec": {"nodeName": node_name(1), "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}});
    c.client().create(&pods_path(), &pod).await?;
    for _ in 0..1000 {
        if let Some(ns) = kubelets[0].pod_netns("default/bench-client") {
            return Ok(ns);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the client pod never started")
}

pub async fn lifecycle() -> anyhow::Result<()> {
    anyhow::ensure!(
        RuntimeKind::detect() == RuntimeKind::Linux,
        "bench lifecycle needs the linux runtime (run as root on Linux)"
    );
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let c = cluster(2, RuntimeKind::Linux, dir.path()).await?;
    // Whatever happens, the cluster is shut down: its containers, network
    // namespaces and cgroups go with it.
    let result = measure_all(&c).await;
    c.shutdown().await;
    result
}

async fn measure_all(c: &Cluster) -> anyhow::Result<()> {
    let prober = c
        .get::<Arc<Prober>>()
        .ok_or_else(|| anyhow::anyhow!("chapter 07 is not installed"))?;
    let proxy = c
        .get::<Arc<kubelab_proxy::Proxy>>()
        .expect("the linux runtime has a proxy");
    let kubelets = c.get::<Nodes>().expect("chapter 02 starts nodes").kubelets;

    // 1. What probes cost (all pods on node 1, where the client is not).
    probe_cost(c, &prober).await?;

    // 2. Readiness failing → the address leaves every node's rules.
    let client = c.client();
    let netns = client_pod(c, &kubelets).await?;
    let svc = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"bench": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
    };
    let services = client::path(client::resource("v1", "Service"), Some("default"), None);
    client.create(&services, &svc("flaky")).await?;
    for i in 0..4 {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("flaky-{i}"), "labels": {"bench": "flaky"}},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "random", "image": "kubelab/random:1.0",
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}}]}});
        client.create(&pods_path(), &pod).await?;
    }
    wait_for("4 ready flaky pods", 120, || ready_pods(c, "flaky") == 4).await?;
    let ips: Vec<String> = c
        .informers()
        .of("v1", "Pod")
        .list(Some("default"))
        .iter()
        .filter(|p| p["metadata"]["labels"]["bench"] == "flaky")
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect();
    wait_for("rules for 4 pods", 30, || {
        ips.iter().all(|ip| in_rules(&proxy, 2, ip).0)
    })
    .await?;
    let mut times = Vec::new();
    for round in 0..20 {
        let ip = ips[round % ips.len()].clone();
        let to = SocketAddr::from((ip.parse::<Ipv4Addr>()?, 8080));
        let t = Instant::now();
        let ok = kubelab_network::linux::in_netns(&netns, move || {
            http(to, b"POST /fail HTTP/1.0\r\nHost: bench\r\n\r\n")
        })?;
        anyhow::ensure!(ok, "POST /fail to {ip} failed");
        while in_rules(&proxy, 2, &ip).1 {
            anyhow::ensure!(
                t.elapsed() < Duration::from_secs(20),
                "{ip} never left the rules"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(t.elapsed());
        kubelab_network::linux::in_netns(&netns, move || {
            http(to, b"POST /recover HTTP/1.0\r\nHost: bench\r\n\r\n")
        })?;
        let ip2 = ip.clone();
        wait_for("the pod back in the rules", 30, || {
            in_rules(&proxy, 2, &ip2).0
        })
        .await?;
    }
    times.sort();
    println!(
        "readiness failing → address gone from both nodes' rules (periodSeconds 1, failureThreshold 1), {} rounds: p50 {:.0} ms, p99 {:.0} ms (target p99 ≤ 1500 ms)",
        times.len(),
        pct(&times, 0.5),
        pct(&times, 0.99)
    );

    // 3. Pods deleted one by one under load: without, then with, readiness
    //    and a preStop sleep.
    for graceful in [false, true] {
        let (secs, sent, failed) = deletions_under_load(c, &netns, graceful).await?;
        let how = match graceful {
            true => "with a readiness probe and a preStop sleep of 3 s",
            false => "without probes or hooks",
        };
        println!(
            "4 pods behind a Service deleted one by one under load, {how}: {sent} requests through the ClusterIP in {secs:.1} s, {failed} failed{}",
            if graceful { " (target 0)" } else { "" }
        );
    }
    Ok(())
}

/// Deletes the 4 pods of a Deployment one by one (each replaced and ready
/// before the next) while a client in `netns` sends requests through the
/// Service: seconds, requests sent, requests failed.
async fn deletions_under_load(
    c: &Cluster,
    netns: &std::path::Path,
    graceful: bool,
) -> anyhow::Result<(f64, u64, u64)> {
    let client = c.client();
    let name = if graceful { "steady" } else { "abrupt" };
    let services = client::path(client::resource("v1", "Service"), Some("default"), None);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"bench": name}, "ports": [{"port": 80, "targetPort": 8080}]}});
    client.create(&services, &svc).await?;
    let mut container = json!({"name": "web", "image": "kubelab/web:1.0"});
    if graceful {
        container["readinessProbe"] =
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1});
        container["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 3}}});
    }
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"bench": name}},
                 "template": {"metadata": {"labels": {"bench": name}}, "spec": {
                     "terminationGracePeriodSeconds": 10, "containers": [container]}}}});
    client
        .create(
            &client::path(
                client::resource("apps/v1", "Deployment"),
                Some("default"),
                None,
            ),
            &deploy,
        )
        .await?;
    wait_for("4 ready pods", 120, || ready_pods(c, name) == 4).await?;
    let key = format!("default/{name}");
    let mut vip = None;
    wait_for("the Service's address", 30, || {
        vip = c.informers().of("v1", "Service").get(&key).and_then(|s| {
            s["spec"]["clusterIP"]
                .as_str()
                .and_then(|i| i.parse::<Ipv4Addr>().ok())
        });
        vip.is_some()
    })
    .await?;
    let vip = vip.unwrap_or(Ipv4Addr::LOCALHOST);
    // Let the rules of every node catch up with the 4 new endpoints.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let load = Load::start(netns, SocketAddr::from((vip, 80)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = Instant::now();
    for _ in 0..4 {
        let victim = c
            .informers()
            .of("v1", "Pod")
            .list(Some("default"))
            .into_iter()
            .find(|p| {
                p["metadata"]["labels"]["bench"] == name
                    && !kubelab_api::meta::is_being_deleted(p)
                    && kubelab_api::pod::is_ready(p)
            })
            .ok_or_else(|| anyhow::anyhow!("no ready {name} pod"))?;
        let pod = victim["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        client
            .delete(&format!("{}/{pod}", pods_path()), &json!({}))
            .await?;
        // The deleted one is gone and its replacement is ready.
        let pod_key = format!("default/{pod}");
        wait_for("the replacement", 120, || {
            c.informers().of("v1", "Pod").get(&pod_key).is_none()
                && ready_pods(c, name) == 4
                && count_pods(c, name) == 4
        })
        .await?;
    }
    let secs = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sent, failed) = load.stop();
    Ok((secs, sent, failed))
}

/// HTTP requests one after the other, each on a new connection, from
/// inside a pod's network namespace, until stopped: how many were sent
/// and how many failed.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Load {
    pub(crate) fn start(netns: &std::path::Path, to: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let thread = {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            let netns = netns.to_path_buf();
            std::thread::spawn(move || {
                let _ = kubelab_network::linux::in_netns(&netns, move || {
                    while !stop.load(Ordering::Relaxed) {
                        sent.fetch_add(1, Ordering::Relaxed);
                        if !http(to, b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n") {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            })
        };
        Load {
            stop,
            sent,
            failed,
            thread,
        }
    }

    /// Stops the requests: `(sent, failed)`.
    pub(crate) fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
