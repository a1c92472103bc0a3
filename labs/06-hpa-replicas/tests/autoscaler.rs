//! Lab 06's check inside a real cluster: chapter 06's autoscaler computes
//! with your `desired_replicas` and scales a Deployment by it.

use std::time::{Duration, Instant};

use kubelab_client::rest::{path, resource};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_deployment_is_scaled_down_to_its_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_06_hpa_replicas::start_cluster(dir.path()).await;
    let client = cluster.client();
    // Three pods on fake nodes: they use no memory at all.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "idle", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "idle"}},
            "template": {"metadata": {"labels": {"app": "idle"}}, "spec": {
                "containers": [{"name": "c", "image": "busybox",
                                "resources": {"requests": {"memory": "64Mi"}}}]}}}});
    let deployments = path(resource("apps/v1", "Deployment"), Some("default"), None);
    client.create(&deployments, &deployment).await.unwrap();
    // Aim at 32Mi per pod, and scale down at once (no stabilisation window).
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "idle", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "idle"},
            "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "memory",
                "target": {"type": "AverageValue", "averageValue": "32Mi"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}});
    let hpas = path(
        resource("autoscaling/v2", "HorizontalPodAutoscaler"),
        Some("default"),
        None,
    );
    client.create(&hpas, &hpa).await.unwrap();

    let t = Instant::now();
    let mut last = json!(null);
    while t.elapsed() < Duration::from_secs(60) {
        let d = client.get(&format!("{deployments}/idle")).await.unwrap();
        let h = client.get(&format!("{hpas}/idle")).await.unwrap();
        if d["spec"]["replicas"] == 1 {
            assert_eq!(h["status"]["desiredReplicas"], 1, "{h}");
            cluster.shutdown().await;
            return;
        }
        last = h["status"].clone();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "the Deployment still wants more than 1 replica after 60 s: 0 of 32Mi used should \
         bring it to its minimum; the autoscaler's status: {last}"
    );
}
