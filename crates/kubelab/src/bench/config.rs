//! `kubelab bench config`: chapter 04's figures, on one node of the linux
//! runtime (the process runtime without root: the files are the same).
//!
//! * update propagation — one ConfigMap, mounted as a volume by 100 pods,
//!   is patched 20 times; for every (pod, update) pair, the time from the
//!   patch until the pod's file shows the new value. kubelab's config
//!   plugin rewrites mounted volumes as soon as its informer sees the
//!   change (`ConfigPlugin::refresh`), so the target is p99 ≤ 1 s;
//!   upstream's kubelet waits for its next periodic sync of each pod
//!   (60–90 s);
//! * the cost of encryption at rest — 2,000 Secrets and 2,000 ConfigMaps
//!   with the same 1 KiB of data, created by 16 clients that alternate
//!   the two kinds, so both see the same load; the ratio of their p99s
//!   (target ≤ 1.3). The same again on a second cluster whose
//!   `EncryptionConfiguration` says `identity` tells the cipher's share
//!   from the rest of a Secret's path (its strategy, its type checks).
//!
//! Run it with a release build: `cargo run --release -- bench config`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kubelab_client::rest as client;
use kubelab_client::{Cluster, ClusterOptions};
use kubelab_kubelet::{NodeOptions, node_dir, node_name};
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

use super::pods::{cluster, pct};

const PODS: usize = 100;
const UPDATES: usize = 20;
const CONFIGMAP: &str = "bench-config";
const VOLUME: &str = "config";
const KEY: &str = "value";
/// How long one update may take to reach a pod before it counts as missed.
const CAP: Duration = Duration::from_secs(10);
/// Secrets and ConfigMaps created, each.
const CREATES: usize = 2000;
const CLIENTS: usize = 16;

pub async fn config() -> anyhow::Result<()> {
    let kind = RuntimeKind::detect();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let c = cluster(1, kind, dir.path()).await?;
    if kind != RuntimeKind::Linux {
        println!(
            "(not root: the process runtime — pods are plain processes; the mounted files are the same)"
        );
    }
    // The cluster is shut down even when a step fails: 100 containers
    // must not outlive the benchmark.
    let measured = on_the_cluster(&c, kind, dir.path()).await;
    c.shutdown().await;
    measured?;
    identity_baseline().await
}

async fn on_the_cluster(c: &Cluster, kind: RuntimeKind, dir: &Path) -> anyhow::Result<()> {
    // Creates first, on a quiet cluster; then the pods.
    let written = std::fs::read_to_string(dir.join(kubelab_config::encryption::DEFAULT_FILE))
        .unwrap_or_default();
    let provider = match written.contains("secretbox") {
        true => "secretbox (the key kubelab generates)",
        false => "kubelab's default provider",
    };
    let (cms, secrets) = creates(c).await?;
    print_creates(provider, cms, secrets);
    let files = start_pods(c, dir).await?;
    propagation(c, kind, &files).await
}

// ---- update propagation ----------------------------------------------------------

fn pod(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("cfg-{i}")},
           "spec": {"terminationGracePeriodSeconds": 0,
                    "volumes": [{"name": VOLUME, "configMap": {"name": CONFIGMAP}}],
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                                    "volumeMounts": [{"name": VOLUME, "mountPath": "/etc/bench"}]}]}})
}

/// The ConfigMap and 100 pods mounting it, all Running; the host path of
/// each pod's file. The container sees the same file through its bind
/// mount of the volume directory.
async fn start_pods(c: &Cluster, data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let client = c.client();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP},
                    "data": {KEY: "initial"}});
    let configmaps = client::path(client::resource("v1", "ConfigMap"), Some("default"), None);
    client.create(&configmaps, &cm).await?;
    let pods_path = client::path(client::resource("v1", "Pod"), Some("default"), None);
    for i in 0..PODS {
        client.create(&pods_path, &pod(i)).await?;
    }
    let pods = c.informers().of("v1", "Pod");
    let t = Instant::now();
    let uids = loop {
        let running: Vec<String> = (0..PODS)
            .filter_map(|i| pods.get(&format!("default/cfg-{i}")))
            .filter(|p| p["status"]["phase"] == "Running")
            .filter_map(|p| p["metadata"]["uid"].as_str().map(String::from))
            .collect();
        if running.len() == PODS {
            break running;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(300),
            "only {} of {PODS} pods Running after 300 s",
            running.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "{PODS} pods mounting one ConfigMap, all Running in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let pods_dir = node_dir(data_dir, &node_name(1)).join("pods");
    let files: Vec<PathBuf> = uids
        .iter()
        .map(|uid| {
            pods_dir
                .join(uid)
                .join("volumes/kubernetes.io~configmap")
                .join(VOLUME)
                .join(KEY)
        })
        .collect();
    if let Some(f) = files
        .iter()
        .find(|f| !std::fs::read(f).is_ok_and(|d| d == b"initial"))
    {
        anyhow::bail!("{} does not show the ConfigMap", f.display());
    }
    Ok(files)
}

/// Patches the ConfigMap `UPDATES` times and times each pod's file.
async fn propagation(c: &Cluster, kind: RuntimeKind, files: &[PathBuf]) -> anyhow::Result<()> {
    let path = client::path(
        client::resource("v1", "ConfigMap"),
        Some("default"),
        Some(CONFIGMAP),
    );
    let (mut all, mut first, mut last, mut missed) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for u in 1..=UPDATES {
        let value = format!("update-{u}");
        // The watcher reads files on a thread of its own, from before the
        // patch is sent: polling must not take a worker from the cluster.
        let t = Instant::now();
        let watcher = {
            let (files, want) = (files.to_vec(), value.clone().into_bytes());
            tokio::task::spawn_blocking(move || until_all_show(&files, &want, t))
        };
        c.client()
            .merge_patch(&path, &json!({"data": {KEY: value}}))
            .await?;
        let mut seen: Vec<Duration> = watcher.await?.into_iter().flatten().collect();
        missed += files.len() - seen.len();
        seen.sort();
        if let (Some(f), Some(l)) = (seen.first(), seen.last()) {
            first.push(*f);
            last.push(*l);
        }
        all.extend(seen);
    }
    for v in [&mut all, &mut first, &mut last] {
        v.sort();
    }
    anyhow::ensure!(!all.is_empty(), "no pod ever showed an update");
    println!(
        "ConfigMap update → the mounted file of all {PODS} pods ({} runtime), {UPDATES} updates, {} (pod, update) pairs: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 ≤ 1000 ms){}",
        kind.as_str(),
        all.len(),
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 1.0),
        match missed {
            0 => String::new(),
            n => format!("; {n} pairs not seen within {} s", CAP.as_secs()),
        }
    );
    println!(
        "  per update: first pod p50 {:.1} ms, last pod p50 {:.1} ms, last pod max {:.1} ms",
        pct(&first, 0.5),
        pct(&last, 0.5),
        pct(&last, 1.0)
    );
    Ok(())
}

/// For each file, how long after `start` it first read `want`; `None` if
/// not within [`CAP`]. Polls every millisecond.
fn until_all_show(files: &[PathBuf], want: &[u8], start: Instant) -> Vec<Option<Duration>> {
    let mut seen = vec![None; files.len()];
    while seen.iter().any(Option::is_none) && start.elapsed() < CAP {
        for (file, seen) in files.iter().zip(&mut seen) {
            if seen.is_none() && std::fs::read(file).is_ok_and(|d| d == want) {
                *seen = Some(start.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    seen
}

// ---- encryption's cost --------------------------------------------------------------

/// 1 KiB of data, the same in both kinds (a Secret's base64-encoded).
fn object(kind: &str, name: &str) -> Value {
    let data = "0123456789abcdef".repeat(64);
    let data = match kind {
        "Secret" => json!({"payload": base64::engine::general_purpose::STANDARD.encode(&data)}),
        _ => json!({"payload": data}),
    };
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data})
}

/// `CREATES` ConfigMaps and as many Secrets from `CLIENTS` tasks, each
/// alternating the kinds; the latencies of each kind.
async fn creates(c: &Cluster) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let per_client = CREATES / CLIENTS;
    // A few unmeasured creates first: the first writes open the store's
    // trees and fill the caches.
    create_round(c, "warm", 4).await?;
    let (mut cms, mut secrets) = create_round(c, "bench", per_client).await?;
    cms.sort();
    secrets.sort();
    Ok((cms, secrets))
}

async fn create_round(
    c: &Cluster,
    prefix: &'static str,
    per_client: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let client = c.client();
            tokio::spawn(async move {
                let (mut cms, mut secrets) = (Vec::new(), Vec::new());
                for j in 0..per_client {
                    // Half the clients start with a Secret, half with a ConfigMap.
                    let order = match (w + j) % 2 {
                        0 => ["ConfigMap", "Secret"],
                        _ => ["Secret", "ConfigMap"],
                    };
                    for kind in order {
                        let list =
                            client::path(client::resource("v1", kind), Some("default"), None);
                        let obj = object(kind, &format!("{prefix}-{w}-{j}"));
                        let t = Instant::now();
                        client.create(&list, &obj).await?;
                        match kind {
                            "Secret" => secrets.push(t.elapsed()),
                            _ => cms.push(t.elapsed()),
                        }
                    }
                }
                anyhow::Ok((cms, secrets))
            })
        })
        .collect();
    let (mut cms, mut secrets) = (Vec::new(), Vec::new());
    for t in tasks {
        let (c, s) = t.await??;
        cms.extend(c);
        secrets.extend(s);
    }
    Ok((cms, secrets))
}

fn print_creates(provider: &str, cms: Vec<Duration>, secrets: Vec<Duration>) {
    println!(
        "create, {CLIENTS} clients alternating kinds, {} of each, 1 KiB of data, Secrets stored with {provider}: ConfigMap p50 {:.2} ms, p99 {:.2} ms; Secret p50 {:.2} ms, p99 {:.2} ms; Secret p99 / ConfigMap p99 {:.2} (target ≤ 1.3)",
        cms.len(),
        pct(&cms, 0.5),
        pct(&cms, 0.99),
        pct(&secrets, 0.5),
        pct(&secrets, 0.99),
        pct(&secrets, 0.99) / pct(&cms, 0.99)
    );
}

/// The same creates on a cluster that stores Secrets in plain text
/// (`identity`): nodes of the fake runtime, since no pod runs here.
async fn identity_baseline() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let file = dir.path().join("identity.yaml");
    std::fs::write(
        &file,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n\
         resources:\n  - resources: [secrets]\n    providers:\n      - identity: {}\n",
    )?;
    let mut options = ClusterOptions::new(dir.path().join("data"));
    options.chapter = kubelab::chapters::LATEST;
    options.encryption_provider_config = Some(file);
    let mut b = kubelab::chapters::builder(options);
    b.insert(NodeOptions {
        runtime: RuntimeKind::Fake,
        backoff: None,
    });
    let c = b.start().await?;
    let measured = creates(&c).await;
    c.shutdown().await;
    let (cms, secrets) = measured?;
    print_creates("identity (a second cluster)", cms, secrets);
    Ok(())
}
