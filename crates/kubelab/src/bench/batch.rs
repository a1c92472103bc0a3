//! `kubelab bench batch`: chapter 08's figures.
//!
//! * a Job of 10,000 completions, parallelism 500, on 100 nodes of the
//!   `fake` runtime (its pods run `true`, which ends at once there):
//!   completions per second from the create to the Complete condition;
//! * a StatefulSet of 100 OrderedReady pods on fake nodes: seconds until
//!   all are Ready (one at a time: each waits for the one before);
//! * CronJob lateness: 100 CronJobs on `* * * * *`, two minutes: the time
//!   from each scheduled minute to the Job's creation as a watch sees it,
//!   p50 and p99 (upstream: the controller's 10 s resync at worst);
//! * on the linux runtime (root), a 3-replica StatefulSet with a claim
//!   per pod (chapter 05's provisioner): seconds to all Ready.
//!
//! Run it with a release build: `cargo run --release -- bench batch`.

use std::time::{Duration, Instant};

use kubelab_client::Cluster;
use kubelab_client::rest as client;
use kubelab_runtime::RuntimeKind;
use serde_json::{Value, json};

use super::pods::{cluster, pct};
use super::services::wait_for;

fn list(api_version: &str, kind: &str) -> String {
    client::path(client::resource(api_version, kind), Some("default"), None)
}

fn job(name: &str, completions: u32, parallelism: u32) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"completions": completions, "parallelism": parallelism, "template": {"spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}})
}

fn stateful_set(name: &str, replicas: u32, claims: bool) -> Value {
    let mut s = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"serviceName": name, "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}});
    if claims {
        s["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "data", "mountPath": "/data"}]);
        s["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]);
    }
    s
}

/// How long `f` took to hold ([`wait_for`]'s polling), or `None` after
/// `secs` seconds.
async fn until(secs: u64, f: impl FnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    wait_for("", secs, f).await.ok().map(|_| t.elapsed())
}

fn ready_replicas(c: &Cluster, name: &str) -> i64 {
    c.informers()
        .of("apps/v1", "StatefulSet")
        .get(&format!("default/{name}"))
        .and_then(|s| s["status"]["readyReplicas"].as_i64())
        .unwrap_or(0)
}

pub async fn batch() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let c = cluster(100, RuntimeKind::Fake, dir.path()).await?;
    let result = fake_nodes(&c).await;
    c.shutdown().await;
    result?;
    if nix::unistd::geteuid().is_root() {
        let dir = tempfile::Builder::new()
            .prefix("kubelab-bench-")
            .tempdir()?;
        let c = cluster(1, RuntimeKind::Linux, dir.path()).await?;
        let result = linux_stateful_set(&c).await;
        c.shutdown().await;
        result?;
    } else {
        println!("statefulset (linux runtime): skipped, needs root");
    }
    Ok(())
}

async fn fake_nodes(c: &Cluster) -> anyhow::Result<()> {
    let jobs = c.informers().of("batch/v1", "Job");
    jobs.synced().await;

    // 1. Throughput of the Job controller (and everything under it).
    let (completions, parallelism) = (10_000, 500);
    let t = Instant::now();
    c.client()
        .create(
            &list("batch/v1", "Job"),
            &job("many", completions, parallelism),
        )
        .await?;
    let done = until(600, || {
        jobs.get("default/many")
            .is_some_and(|j| kubelab_batch::job::is_finished(&j))
    })
    .await;
    let succeeded = jobs
        .get("default/many")
        .and_then(|j| j["status"]["succeeded"].as_i64())
        .unwrap_or(0);
    // Exactly once: the status against the pods that really succeeded.
    let pods_succeeded = c
        .informers()
        .of("v1", "Pod")
        .list(Some("default"))
        .iter()
        .filter(|p| {
            p["metadata"]["labels"]["job-name"] == "many" && p["status"]["phase"] == "Succeeded"
        })
        .count();
    match done {
        Some(d) => println!(
            "job: {completions} completions, parallelism {parallelism}, on 100 fake nodes: {:.1} s = {:.0} completions/s (status.succeeded {succeeded}, pods Succeeded {pods_succeeded})",
            d.as_secs_f64(),
            completions as f64 / d.as_secs_f64()
        ),
        None => println!(
            "job: only {succeeded} of {completions} completions after {:.0} s",
            t.elapsed().as_secs_f64()
        ),
    }
    let opts = json!({"propagationPolicy": "Background"});
    c.client()
        .delete(&format!("{}/many", list("batch/v1", "Job")), &opts)
        .await?;

    // 2. A StatefulSet of 100, one at a time.
    c.client()
        .create(
            &list("apps/v1", "StatefulSet"),
            &stateful_set("ordered", 100, false),
        )
        .await?;
    match until(300, || ready_replicas(c, "ordered") == 100).await {
        Some(d) => println!(
            "statefulset: 100 OrderedReady pods on fake nodes all Ready in {:.1} s ({:.0} ms per pod, in turn)",
            d.as_secs_f64(),
            d.as_secs_f64() * 10.0
        ),
        None => println!(
            "statefulset: only {} of 100 Ready after 300 s",
            ready_replicas(c, "ordered")
        ),
    }

    // 3. CronJob lateness over two scheduled minutes.
    let mut events = jobs.subscribe();
    for i in 0..100 {
        let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": format!("tick-{i}")},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}});
        c.client().create(&list("batch/v1", "CronJob"), &cj).await?;
    }
    let mut late = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    while late.len() < 200 {
        let Ok(Some(change)) = tokio::time::timeout_at(deadline, events.recv()).await else {
            break;
        };
        let seen = chrono::Utc::now();
        if let kubelab_client::Change::Added(j) = change {
            let at = j["metadata"]["annotations"][kubelab_batch::cronjob::SCHEDULED_ANNOTATION]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            if let Some(at) = at {
                late.push(
                    (seen - at.with_timezone(&chrono::Utc))
                        .to_std()
                        .unwrap_or_default(),
                );
            }
        }
    }
    late.sort();
    if late.is_empty() {
        println!("cronjob lateness: no scheduled Job seen in 150 s");
    } else {
        println!(
            "cronjob lateness (scheduled minute → Job seen by a watch), {} runs of 100 CronJobs: p50 {:.0} ms, p99 {:.0} ms (target p99 ≤ 1000 ms)",
            late.len(),
            pct(&late, 0.50),
            pct(&late, 0.99)
        );
    }
    Ok(())
}

async fn linux_stateful_set(c: &Cluster) -> anyhow::Result<()> {
    c.informers().of("apps/v1", "StatefulSet").synced().await;
    c.client()
        .create(
            &list("apps/v1", "StatefulSet"),
            &stateful_set("db", 3, true),
        )
        .await?;
    match until(120, || ready_replicas(c, "db") == 3).await {
        Some(d) => println!(
            "statefulset: 3 pods, each with a new claim, on the linux runtime: all Ready in {:.2} s",
            d.as_secs_f64()
        ),
        None => println!(
            "statefulset (linux runtime): only {} of 3 Ready after 120 s",
            ready_replicas(c, "db")
        ),
    }
    Ok(())
}
