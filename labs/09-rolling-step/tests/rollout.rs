//! Lab 09's check inside a real cluster: chapter 09's Deployment
//! controller steps a rollout with your `rolling_step`, and every state
//! it passes through must respect maxSurge and maxUnavailable.

use std::time::{Duration, Instant};

use kubelab_client::rest::{path, resource};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_stays_within_its_bounds_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_09_rolling_step::start_cluster(dir.path()).await;
    let client = cluster.client();
    let deployment = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            // minReadySeconds holds each step for a second: on the fake
            // runtime a whole rollout could otherwise pass between two
            // looks at the ReplicaSets below, and the surge go unseen.
            "spec": {"replicas": 6, "minReadySeconds": 1, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{"name": "web", "image": image}]}}}})
    };
    let deployments = path(resource("apps/v1", "Deployment"), Some("default"), None);
    let replicasets = path(resource("apps/v1", "ReplicaSet"), Some("default"), None);
    client
        .create(&deployments, &deployment("kubelab/web:1.0"))
        .await
        .unwrap();
    let done = |d: &Value| {
        d["status"]["updatedReplicas"] == 6
            && d["status"]["availableReplicas"] == 6
            && d["status"]["replicas"] == 6
            && d["status"]["observedGeneration"] == d["metadata"]["generation"]
    };
    let wait_done = || async {
        let t = Instant::now();
        loop {
            let d = client.get(&format!("{deployments}/web")).await.unwrap();
            if done(&d) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no rollout in 60 s: {}",
                d["status"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    wait_done().await;

    // Roll to a new image and watch every ReplicaSet size on the way.
    let mut d = client.get(&format!("{deployments}/web")).await.unwrap();
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("kubelab/web:2.0");
    client
        .replace(&format!("{deployments}/web"), &d)
        .await
        .unwrap();
    let t = Instant::now();
    let mut largest_total = 0;
    loop {
        let list = client.get(&replicasets).await.unwrap();
        let total: i64 = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(0))
            .sum();
        largest_total = largest_total.max(total);
        assert!(
            total <= 8,
            "{total} pods wanted at once: replicas 6 + maxSurge 2 allows 8"
        );
        let d = client.get(&format!("{deployments}/web")).await.unwrap();
        if done(&d) && total == 6 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the rollout did not finish in 60 s: {}",
            d["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        largest_total > 6,
        "the rollout never surged: did the new ReplicaSet grow?"
    );
    let list = client.get(&replicasets).await.unwrap();
    let mut sizes: Vec<(String, i64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            (
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    sizes.sort();
    assert_eq!(
        sizes,
        [
            ("kubelab/web:1.0".to_string(), 0),
            ("kubelab/web:2.0".to_string(), 6)
        ],
        "the old ReplicaSet empties, the new one has every replica"
    );
    cluster.shutdown().await;
}
