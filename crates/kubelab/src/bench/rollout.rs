//! `kubelab bench rollout`: chapter 09's figures.
//!
//! * on the linux runtime (root): a Deployment of 4 behind a Service, with
//!   a readiness probe and a `preStop` sleep, rolled to a new image and
//!   back while a client pod sends requests through the ClusterIP, one
//!   after the other on new connections: requests sent and failed during
//!   each (target 0 failed);
//! * on 20 nodes of the `fake` runtime: a Deployment of 1,000 replicas
//!   rolled to a new image with the default `maxSurge`/`maxUnavailable`
//!   (25 %/25 %), against the lower bound those allow — each pod of the
//!   rollout must be created and become available, in waves of at most
//!   `maxSurge + maxUnavailable` pods, so it cannot beat creating 1,000
//!   pods from scratch (measured on the same cluster just before);
//!   and the same with `maxSurge: 100%` (one wave).
//!
//! Run it with a release build: `cargo run --release -- bench rollout`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use kubelab_client::Cluster;
use kubelab_client::rest as client;
use kubelab_kubelet::Nodes;
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

use super::lifecycle::{Load, client_pod};
use super::pods::cluster;
use super::services::wait_for;

fn deployments() -> String {
    client::path(
        client::resource("apps/v1", "Deployment"),
        Some("default"),
        None,
    )
}

/// Every replica updated and available, and no old pod left.
fn rolled_out(c: &Cluster, name: &str, replicas: i64) -> bool {
    let d = c
        .informers()
        .of("apps/v1", "Deployment")
        .get(&format!("default/{name}"));
    d.is_some_and(|d| {
        d["status"]["observedGeneration"] == d["metadata"]["generation"]
            && d["status"]["updatedReplicas"] == replicas
            && d["status"]["availableReplicas"] == replicas
            && d["status"]["replicas"] == replicas
    })
}

/// Sets the deployment's image (a new template: a rollout), as `kubectl
/// set image` does: read, change, write (again on a conflict).
async fn set_image(c: &Cluster, name: &str, image: &str) -> anyhow::Result<()> {
    let path = format!("{}/{name}", deployments());
    loop {
        let mut d = c.client().get(&path).await?;
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
        match c.client().replace(&path, &d).await {
            Err(e) if e.is_conflict() => continue,
            other => {
                other?;
                return Ok(());
            }
        }
    }
}

fn web(name: &str, replicas: i64, strategy: Value, container: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "strategy": strategy,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": 10, "containers": [container]}}}})
}

pub async fn rollout() -> anyhow::Result<()> {
    if RuntimeKind::detect() == RuntimeKind::Linux {
        let dir = tempfile::Builder::new()
            .prefix("kubelab-bench-")
            .tempdir()?;
        let c = cluster(2, RuntimeKind::Linux, dir.path()).await?;
        let result = under_load(&c).await;
        c.shutdown().await;
        result?;
    } else {
        println!("rollout under load: needs the linux runtime (root); skipped");
    }
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let c = cluster(20, RuntimeKind::Fake, dir.path()).await?;
    let result = thousand(&c).await;
    c.shutdown().await;
    result
}

// ANCHOR: under_load
/// A rollout and a rollback of 4 pods behind a Service, under load.
async fn under_load(c: &Cluster) -> anyhow::Result<()> {
    let kubelets = c.get::<Nodes>().expect("chapter 02 starts nodes").kubelets;
    let netns = client_pod(c, &kubelets).await?;
    let services = client::path(client::resource("v1", "Service"), Some("default"), None);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}});
    let svc = c.client().create(&services, &svc).await?;
    let vip: Ipv4Addr = svc["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let container = json!({"name": "web", "image": "kubelab/web:1.0",
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
        "lifecycle": {"preStop": {"sleep": {"seconds": 3}}}});
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    c.client()
        .create(&deployments(), &web("web", 4, strategy, container))
        .await?;
    wait_for("4 ready pods", 120, || rolled_out(c, "web", 4)).await?;
    // Let every node's rules catch up with the endpoints.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (what, image) in [
        ("rollout", "kubelab/web:2.0"),
        ("rollback", "kubelab/web:1.0"),
    ] {
        let load = Load::start(&netns, SocketAddr::from((vip, 80)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t = Instant::now();
        set_image(c, "web", image).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        wait_for("the rollout", 180, || rolled_out(c, "web", 4)).await?;
        let secs = t.elapsed().as_secs_f64();
        // The old pods' preStop sleeps end; requests go on meanwhile.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (sent, failed) = load.stop();
        println!(
            "{what} of 4 pods (maxSurge 1, maxUnavailable 0, readiness probe, preStop sleep 3 s) under load through the ClusterIP: {secs:.1} s; {sent} requests sent, {failed} failed (target 0)"
        );
    }
    Ok(())
}
// ANCHOR_END: under_load

/// 1,000 replicas on fake nodes: created from scratch, then rolled.
async fn thousand(c: &Cluster) -> anyhow::Result<()> {
    let container = json!({"name": "web", "image": "kubelab/web:1.0"});
    let t = Instant::now();
    c.client()
        .create(
            &deployments(),
            &web(
                "big",
                1000,
                json!({"type": "RollingUpdate"}),
                container.clone(),
            ),
        )
        .await?;
    wait_for("1,000 replicas", 600, || rolled_out(c, "big", 1000)).await?;
    let fresh = t.elapsed().as_secs_f64();
    println!(
        "1,000 replicas created from scratch on 20 fake nodes: {fresh:.1} s (the lower bound of a rollout: each pod of it is created and becomes available)"
    );
    for (strategy, label, waves, next) in [
        (
            json!({"maxSurge": "25%", "maxUnavailable": "25%"}),
            "maxSurge 25%, maxUnavailable 25%",
            2,
            "kubelab/web:2.0",
        ),
        (
            json!({"maxSurge": "100%", "maxUnavailable": 0}),
            "maxSurge 100%, maxUnavailable 0",
            1,
            "kubelab/web:1.0",
        ),
    ] {
        let path = format!("{}/big", deployments());
        let patch = json!({"spec": {"strategy": {"rollingUpdate": strategy}}});
        c.client().merge_patch(&path, &patch).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        set_image(c, "big", next).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        wait_for("the rollout of 1,000", 900, || rolled_out(c, "big", 1000)).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "rollout of 1,000 replicas ({label}; at least {waves} wave(s) of new pods): {secs:.1} s = {:.2}× the lower bound",
            secs / fresh
        );
    }
    Ok(())
}
