//! Lab 07's checks inside a real kubelet: a pod's readiness follows a TCP
//! readiness probe judged by your functions.

use std::time::{Duration, Instant};

use kubelab_client::Client;
use kubelab_client::rest::{path, resource};
use serde_json::{Value, json};

/// Waits (up to `secs`) for the pod's Ready condition to be `want`.
async fn ready_becomes(client: &Client, want: &str, secs: u64) -> bool {
    let p = path(resource("v1", "Pod"), Some("default"), Some("probed"));
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if let Ok(pod) = client.get(&p).await {
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"].clone());
            if ready == Some(Value::from(want)) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_probe_with_its_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_07_probe_results::start_cluster(dir.path()).await;
    let client = cluster.client();
    // What the probe knocks on: a port of this test (the fake runtime's
    // pods live in this process's network namespace).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probed"},
        "spec": {"containers": [{"name": "app", "image": "busybox",
            "readinessProbe": {"tcpSocket": {"host": "127.0.0.1", "port": port},
                               "periodSeconds": 1, "failureThreshold": 2, "successThreshold": 2}}]}});
    let pods = path(resource("v1", "Pod"), Some("default"), None);
    client.create(&pods, &pod).await.unwrap();

    // Two successes in a row: ready.
    assert!(
        ready_becomes(&client, "True", 20).await,
        "the pod never became ready"
    );
    // Close the port: after two failures, not ready.
    drop(listener);
    let closed = Instant::now();
    assert!(
        ready_becomes(&client, "False", 20).await,
        "the pod stayed ready with its port closed"
    );
    assert!(
        closed.elapsed() >= Duration::from_millis(900),
        "one failed attempt was enough to make the pod unready: failureThreshold is 2"
    );
    // Open it again: ready again, after two successes.
    let _again = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    assert!(
        ready_becomes(&client, "True", 20).await,
        "the pod did not become ready again"
    );
    cluster.shutdown().await;
}
