//! Lab 05's checks inside a real cluster: the PersistentVolume binder of
//! a chapter-05 cluster binds claims with your `find_best_match`.

use std::time::{Duration, Instant};

use kubelab_client::Client;
use kubelab_client::rest::{path, resource};
use serde_json::{Value, json};

fn pv(name: &str, size: &str, speed: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume",
           "metadata": {"name": name, "labels": {"speed": speed}},
           "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "manual", "hostPath": {"path": format!("/tmp/kubelab-lab05-{name}")}}})
}

fn pvc(name: &str, size: &str, selector: Option<Value>) -> Value {
    let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                    "resources": {"requests": {"storage": size}}}});
    if let Some(s) = selector {
        c["spec"]["selector"] = s;
    }
    c
}

/// The volume a claim is bound to, once it is (within 10 s).
async fn bound_volume(client: &Client, claim: &str) -> Option<String> {
    let p = path(
        resource("v1", "PersistentVolumeClaim"),
        Some("default"),
        Some(claim),
    );
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Ok(c) = client.get(&p).await
            && c["status"]["phase"] == "Bound"
        {
            return c["spec"]["volumeName"].as_str().map(String::from);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binder_uses_your_function() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_05_volume_matching::start_cluster(dir.path()).await;
    let client = cluster.client();
    let pvs = path(resource("v1", "PersistentVolume"), None, None);
    for (name, size, speed) in [
        ("big", "10Gi", "slow"),
        ("medium", "5Gi", "fast"),
        ("small", "1Gi", "slow"),
    ] {
        client.create(&pvs, &pv(name, size, speed)).await.unwrap();
    }
    let pvcs = path(
        resource("v1", "PersistentVolumeClaim"),
        Some("default"),
        None,
    );
    // 3Gi: medium (5Gi) is the smallest that fits.
    client
        .create(&pvcs, &pvc("three", "3Gi", None))
        .await
        .unwrap();
    assert_eq!(
        bound_volume(&client, "three").await.as_deref(),
        Some("medium"),
        "the smallest volume that fits"
    );
    // 500Mi: small. Then 500Mi again: small is taken, big is next.
    client
        .create(&pvcs, &pvc("first", "500Mi", None))
        .await
        .unwrap();
    assert_eq!(
        bound_volume(&client, "first").await.as_deref(),
        Some("small")
    );
    client
        .create(&pvcs, &pvc("second", "500Mi", None))
        .await
        .unwrap();
    assert_eq!(
        bound_volume(&client, "second").await.as_deref(),
        Some("big"),
        "a bound volume is not free"
    );
    let volume = client.get(&format!("{pvs}/big")).await.unwrap();
    assert_eq!(volume["spec"]["claimRef"]["name"], "second");
    assert_eq!(volume["status"]["phase"], "Bound");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_are_honoured_and_nothing_fitting_means_pending() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_05_volume_matching::start_cluster(dir.path()).await;
    let client = cluster.client();
    let pvs = path(resource("v1", "PersistentVolume"), None, None);
    for (name, size, speed) in [("slow-one", "1Gi", "slow"), ("fast-one", "2Gi", "fast")] {
        client.create(&pvs, &pv(name, size, speed)).await.unwrap();
    }
    let pvcs = path(
        resource("v1", "PersistentVolumeClaim"),
        Some("default"),
        None,
    );
    let fast = json!({"matchLabels": {"speed": "fast"}});
    client
        .create(&pvcs, &pvc("wants-fast", "100Mi", Some(fast)))
        .await
        .unwrap();
    assert_eq!(
        bound_volume(&client, "wants-fast").await.as_deref(),
        Some("fast-one")
    );
    client
        .create(&pvcs, &pvc("too-big", "50Gi", None))
        .await
        .unwrap();
    assert_eq!(
        bound_volume(&client, "too-big").await,
        None,
        "no volume fits: the claim stays Pending"
    );
    cluster.shutdown().await;
}
