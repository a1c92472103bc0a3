//! `kubelab bench volumes`: chapter 05's figures, on one node of the
//! linux runtime (the process runtime without root).
//!
//! * claim created → Bound by dynamic provisioning: 100 claims of an
//!   `Immediate` class backed by the local-path provisioner, one at a
//!   time; each is timed from its create to the moment a watch sees it
//!   `Bound` (the binder annotates it, the provisioner makes a directory
//!   and a PersistentVolume, the binder binds the two: four writes);
//! * what a new claim adds to a pod's start: 50 pods that each come with a
//!   new claim of the default class (`WaitForFirstConsumer`: the scheduler
//!   waits in PreBind until the claim is provisioned and bound), and 50
//!   pods without a volume, interleaved; the ratio of their p99s.
//!
//! Run it with a release build: `cargo run --release -- bench volumes`.

use std::time::{Duration, Instant};

use kubelab_client::rest as client;
use kubelab_client::{Cluster, Informer};
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

use super::pods::{cluster, pct};

const CLAIMS: usize = 100;
const PODS: usize = 50;

fn claim(name: &str, class: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                    "resources": {"requests": {"storage": "10Mi"}}}})
}

fn pod(name: &str, claim: Option<&str>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}});
    if let Some(c) = claim {
        p["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": c}}]);
        p["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "data", "mountPath": "/data"}]);
    }
    p
}

async fn until(
    informer: &Informer,
    key: &str,
    t: Instant,
    f: impl Fn(&Value) -> bool,
) -> anyhow::Result<Duration> {
    loop {
        if informer.get(key).is_some_and(|o| f(&o)) {
            return Ok(t.elapsed());
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(30),
            "{key} not ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn volumes() -> anyhow::Result<()> {
    let kind = RuntimeKind::detect();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let c = cluster(1, kind, dir.path()).await?;
    if kind != RuntimeKind::Linux {
        println!("(not root: the process runtime — pods are plain processes)");
    }
    // Shut down even when a step fails: no container outlives the benchmark.
    let measured = measure(&c, kind).await;
    c.shutdown().await;
    measured
}

async fn measure(c: &Cluster, kind: RuntimeKind) -> anyhow::Result<()> {
    let client = c.client();
    let claims_path = client::path(
        client::resource("v1", "PersistentVolumeClaim"),
        Some("default"),
        None,
    );
    let pods_path = client::path(client::resource("v1", "Pod"), Some("default"), None);
    let classes = client::path(
        client::resource("storage.k8s.io/v1", "StorageClass"),
        None,
        None,
    );
    let mut immediate = kubelab_volumes::standard_class();
    immediate["metadata"] = json!({"name": "bench-immediate"});
    immediate["volumeBindingMode"] = json!("Immediate");
    client.create(&classes, &immediate).await?;
    let claims = c.informers().of("v1", "PersistentVolumeClaim");
    let pods = c.informers().of("v1", "Pod");
    claims.synced().await;

    // 1. Claim → Bound.
    let mut bound = Vec::new();
    for i in 0..CLAIMS {
        let name = format!("bound-{i}");
        let t = Instant::now();
        client
            .create(&claims_path, &claim(&name, "bench-immediate"))
            .await?;
        bound.push(
            until(&claims, &format!("default/{name}"), t, |o| {
                o["status"]["phase"] == "Bound"
            })
            .await?,
        );
    }
    bound.sort();
    println!(
        "claim created → Bound by the local-path provisioner, {CLAIMS} claims one at a time: p50 {:.1} ms, p99 {:.1} ms",
        pct(&bound, 0.5),
        pct(&bound, 0.99)
    );

    // 2. Pods with a new claim (WaitForFirstConsumer) against pods without.
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for i in 0..PODS {
        let t = Instant::now();
        let name = format!("plain-{i}");
        client.create(&pods_path, &pod(&name, None)).await?;
        without.push(
            until(&pods, &format!("default/{name}"), t, |o| {
                o["status"]["phase"] == "Running"
            })
            .await?,
        );

        let name = format!("claimed-{i}");
        let t = Instant::now();
        client
            .create(&claims_path, &claim(&name, "standard"))
            .await?;
        client.create(&pods_path, &pod(&name, Some(&name))).await?;
        with.push(
            until(&pods, &format!("default/{name}"), t, |o| {
                o["status"]["phase"] == "Running"
            })
            .await?,
        );
    }
    with.sort();
    without.sort();
    println!(
        "pod start, create → Running ({} runtime), {PODS} pods each: with a new claim p50 {:.1} ms, p99 {:.1} ms; without a volume p50 {:.1} ms, p99 {:.1} ms; p99 ratio {:.2}",
        kind.as_str(),
        pct(&with, 0.5),
        pct(&with, 0.99),
        pct(&without, 0.5),
        pct(&without, 0.99),
        pct(&with, 0.99) / pct(&without, 0.99)
    );
    Ok(())
}
