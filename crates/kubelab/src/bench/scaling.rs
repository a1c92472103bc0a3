//! `kubelab bench scaling`: chapter 06's figures.
//!
//! * a DaemonSet on 1,000 nodes of the `fake` runtime: seconds until all
//!   1,000 pods are Running and Ready;
//! * a Deployment scaled from 0 to 5,000 replicas on those nodes: pods
//!   per second until all are Ready (target ≥ 1,000);
//! * a node stopped (`kubelab node stop`'s switch) under 10 pods that
//!   tolerate `unreachable` for 5 s, with a grace period of 20 s: the
//!   time from the stop to each replacement Running elsewhere, p50;
//! * on the linux runtime (root): an autoscaler at 50 % of a 100m
//!   request; the pod starts burning CPU (a file appears in a hostPath it
//!   watches): seconds to the first scale-up (target ≤ 30 s; upstream is
//!   typically 30–90 s: metrics-server's 15 s resolution plus the
//!   autoscaler's 15 s period).
//!
//! Run it with a release build: `cargo run --release -- bench scaling`.

use std::time::{Duration, Instant};

use kubelab_client::Cluster;
use kubelab_client::rest as client;
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

use super::pods::pct;
use super::services::wait_for;

/// The grace period of the node-failure figure (upstream's default: 50 s).
const GRACE: Duration = Duration::from_secs(20);

async fn cluster(
    nodes: usize,
    runtime: RuntimeKind,
    dir: &std::path::Path,
) -> anyhow::Result<Cluster> {
    super::pods::cluster_with(nodes, runtime, dir, |b| {
        b.insert(kubelab_scaling::ScalingOptions {
            node_monitor_grace_period: GRACE,
            ..Default::default()
        });
    })
    .await
}

fn list(api_version: &str, kind: &str) -> String {
    client::path(client::resource(api_version, kind), Some("default"), None)
}

fn workload(kind: &str, name: &str, replicas: Option<u32>, spec: Value) -> Value {
    let api = "apps/v1";
    let mut o = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}});
    if let Some(r) = replicas {
        o["spec"]["replicas"] = json!(r);
    }
    o
}

fn sleeper() -> Value {
    json!({"terminationGracePeriodSeconds": 0,
           "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]})
}

fn status_of(c: &Cluster, api: &str, kind: &str, name: &str, field: &str) -> i64 {
    c.informers()
        .of(api, kind)
        .get(&format!("default/{name}"))
        .and_then(|o| o["status"][field].as_i64())
        .unwrap_or(0)
}

pub async fn scaling() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let t = Instant::now();
    let c = cluster(1000, RuntimeKind::Fake, dir.path()).await?;
    println!(
        "1,000 fake nodes started in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let result = fake_nodes(&c).await;
    c.shutdown().await;
    result?;

    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let c = cluster(3, RuntimeKind::Fake, dir.path()).await?;
    let result = node_failure(&c, dir.path()).await;
    c.shutdown().await;
    result?;

    if nix::unistd::geteuid().is_root() {
        let dir = tempfile::Builder::new()
            .prefix("kubelab-bench-")
            .tempdir()?;
        let c = cluster(1, RuntimeKind::Linux, dir.path()).await?;
        let result = autoscaling(&c).await;
        c.shutdown().await;
        result?;
    } else {
        println!("autoscaling: needs root (the linux runtime measures CPU in cgroups); skipped");
    }
    Ok(())
}

async fn fake_nodes(c: &Cluster) -> anyhow::Result<()> {
    let client = c.client();
    let sets = c.informers().of("apps/v1", "DaemonSet");
    let deployments = c.informers().of("apps/v1", "Deployment");
    sets.synced().await;
    deployments.synced().await;

    let t = Instant::now();
    client
        .create(
            &list("apps/v1", "DaemonSet"),
            &workload("DaemonSet", "agent", None, sleeper()),
        )
        .await?;
    wait_for("1,000 daemon pods Ready", 600, || {
        status_of(c, "apps/v1", "DaemonSet", "agent", "numberReady") == 1000
    })
    .await?;
    println!(
        "a DaemonSet on 1,000 fake nodes, all pods Ready: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut d = workload("Deployment", "wide", Some(0), sleeper());
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    client.create(&list("apps/v1", "Deployment"), &d).await?;
    wait_for("the Deployment seen", 60, || {
        deployments.get("default/wide").is_some()
    })
    .await?;
    let t = Instant::now();
    let scale = format!("{}/wide/scale", list("apps/v1", "Deployment"));
    let mut s = client.get(&scale).await?;
    s["spec"]["replicas"] = json!(5000);
    client.replace(&scale, &s).await?;
    wait_for("5,000 replicas Ready", 900, || {
        status_of(c, "apps/v1", "Deployment", "wide", "readyReplicas") == 5000
    })
    .await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "a Deployment scaled 0 → 5,000 on 1,000 fake nodes: {secs:.1} s = {:.0} pods/s (target ≥ 1,000)",
        5000.0 / secs
    );
    Ok(())
}

async fn node_failure(c: &Cluster, data: &std::path::Path) -> anyhow::Result<()> {
    let client = c.client();
    let pods = c.informers().of("v1", "Pod");
    pods.synced().await;
    // All ten on node 1: the others are cordoned while they start.
    let nodes = client::resource("v1", "Node");
    for n in ["kubelab-node-2", "kubelab-node-3"] {
        client
            .merge_patch(
                &client::path(nodes, None, Some(n)),
                &json!({"spec": {"unschedulable": true}}),
            )
            .await?;
    }
    let mut spec = sleeper();
    spec["tolerations"] = json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]);
    client
        .create(
            &list("apps/v1", "Deployment"),
            &workload("Deployment", "movers", Some(10), spec),
        )
        .await?;
    let running_on = |node: &str| {
        pods.list(Some("default"))
            .iter()
            .filter(|p| {
                p["spec"]["nodeName"] == node
                    && p["status"]["phase"] == "Running"
                    && !kubelab_api::meta::is_being_deleted(p)
            })
            .count()
    };
    wait_for("10 pods Running on node 1", 60, || {
        running_on("kubelab-node-1") == 10
    })
    .await?;
    for n in ["kubelab-node-2", "kubelab-node-3"] {
        client
            .merge_patch(
                &client::path(nodes, None, Some(n)),
                &json!({"spec": {"unschedulable": null}}),
            )
            .await?;
    }
    let dir = kubelab_kubelet::nodes::node_dir(data, "kubelab-node-1");
    let t = Instant::now();
    std::fs::write(dir.join(kubelab_kubelet::node::STOPPED_MARKER), "")?;
    let mut moved = Vec::new();
    while moved.len() < 10 && t.elapsed() < Duration::from_secs(120) {
        let now = running_on("kubelab-node-2") + running_on("kubelab-node-3");
        while moved.len() < now.min(10) {
            moved.push(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::ensure!(
        moved.len() == 10,
        "only {} of 10 pods moved in 120 s",
        moved.len()
    );
    println!(
        "node stopped → its 10 pods Running elsewhere (grace period {} s, tolerationSeconds 5): p50 {:.1} s, last {:.1} s",
        GRACE.as_secs(),
        pct(&moved, 0.5) / 1000.0,
        moved[9].as_secs_f64()
    );
    Ok(())
}

async fn autoscaling(c: &Cluster) -> anyhow::Result<()> {
    let client = c.client();
    let trigger = tempfile::Builder::new()
        .prefix("kubelab-bench-trigger-")
        .tempdir()?;
    let spec = json!({"terminationGracePeriodSeconds": 0,
        "volumes": [{"name": "trigger", "hostPath": {"path": trigger.path(), "type": "Directory"}}],
        "containers": [{"name": "c", "image": "busybox",
            "command": ["sh", "-c", "while [ ! -f /trigger/go ]; do sleep 0.2; done; while true; do :; done"],
            "volumeMounts": [{"name": "trigger", "mountPath": "/trigger"}],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "500m"}}}]});
    client
        .create(
            &list("apps/v1", "Deployment"),
            &workload("Deployment", "busy", Some(1), spec),
        )
        .await?;
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "busy"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
            "minReplicas": 1, "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}]}});
    client
        .create(&list("autoscaling/v2", "HorizontalPodAutoscaler"), &hpa)
        .await?;
    // The autoscaler first has to see an idle, settled pod (CPU readings
    // of a pod in its first 30 s do not count).
    let hpas = c
        .informers()
        .of("autoscaling/v2", "HorizontalPodAutoscaler");
    wait_for("a valid idle metric", 120, || {
        hpas.get("default/busy").is_some_and(|h| {
            h["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["reason"] == "ValidMetricFound")
        })
    })
    .await?;
    let t = Instant::now();
    std::fs::write(trigger.path().join("go"), "")?;
    let deployments = c.informers().of("apps/v1", "Deployment");
    wait_for("a scale-up", 120, || {
        deployments
            .get("default/busy")
            .and_then(|d| d["spec"]["replicas"].as_i64())
            .is_some_and(|r| r > 1)
    })
    .await?;
    println!(
        "autoscaler: load starts → first scale-up (linux runtime): {:.1} s (target ≤ 30 s; readings every {} s, autoscaler every {} s)",
        t.elapsed().as_secs_f64(),
        kubelab_scaling::metrics::RESOLUTION.as_secs(),
        kubelab_scaling::hpa::SYNC_PERIOD.as_secs()
    );
    Ok(())
}
