//! Chapter 06 end to end with the real kubectl, on fake nodes (no root):
//! a DaemonSet that follows nodes as they come and go; a node that goes
//! silent and comes back (`kubelab node stop|start`), with the DaemonSet's
//! status counting only the nodes that should run its pod; budgets
//! computed from the controllers' scale, unmanaged pods left out; the
//! autoscaler's TARGETS column and `kubectl top nodes -l`.
//!
//! The exercises (`chapters/06-scaling/exercises`, linux runtime) cover
//! the rest: ReplicationControllers, eviction of a dead node's pods,
//! drain with a budget, the autoscaler scaling on real CPU.

mod support;

use support::{Cluster, eventually, jsonpath};

fn fake_cluster(nodes: &str) -> Cluster {
    Cluster::start_with(&[
        "--runtime",
        "fake",
        "--nodes",
        nodes,
        "--node-monitor-grace-period",
        "15",
    ])
}

const AGENT: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox, command: [sleep, "3600"]}]
"#;

/// The nodes the set's pods are pinned to (pods being deleted left out:
/// one bound to a node without a kubelet stays Terminating, as upstream).
fn agent_pod_nodes(c: &Cluster) -> Vec<String> {
    let out = jsonpath(
        c,
        &["pods", "-l", "app=agent"],
        "{range .items[*]}{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    );
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_suffix(' '))
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn a_daemonset_follows_nodes_as_they_come_and_go() {
    let c = fake_cluster("1");
    c.apply(AGENT);
    assert!(eventually(30, || agent_pod_nodes(&c) == ["kubelab-node-1"]));
    // A new node (an object only: no kubelet behind it) gets its pod at once.
    c.apply("apiVersion: v1\nkind: Node\nmetadata: {name: extra, labels: {kubernetes.io/hostname: extra}}\n");
    assert!(
        eventually(30, || agent_pod_nodes(&c) == ["extra", "kubelab-node-1"]),
        "{:?}",
        agent_pod_nodes(&c)
    );
    // A NoExecute taint the pod does not tolerate sends it away; the
    // status counts that node neither as desired nor as current.
    c.ok(&["taint", "node", "extra", "dedicated=db:NoExecute"]);
    assert!(
        eventually(30, || agent_pod_nodes(&c) == ["kubelab-node-1"]),
        "{:?}",
        agent_pod_nodes(&c)
    );
    assert!(eventually(30, || jsonpath(
        &c,
        &["ds", "agent"],
        "{.status.desiredNumberScheduled}/{.status.currentNumberScheduled}/{.status.numberMisscheduled}"
    ) == "1/1/0"));
    // Without the taint it comes back; with the node deleted it goes.
    c.ok(&["taint", "node", "extra", "dedicated-"]);
    assert!(eventually(30, || agent_pod_nodes(&c).len() == 2));
    c.ok(&["delete", "node", "extra"]);
    assert!(eventually(30, || agent_pod_nodes(&c) == ["kubelab-node-1"]));
}

#[test]
fn a_silent_node_is_unknown_tainted_and_back_when_it_heartbeats() {
    let c = fake_cluster("2");
    c.apply(AGENT);
    assert!(eventually(30, || jsonpath(
        &c,
        &["ds", "agent"],
        "{.status.numberReady}"
    ) == "2"));
    let kubelab = env!("CARGO_BIN_EXE_kubelab");
    let stop = std::process::Command::new(kubelab)
        .args(["node", "stop", "kubelab-node-2", "--data-dir"])
        .arg(c.data_dir())
        .output()
        .unwrap();
    assert!(stop.status.success(), "{stop:?}");
    let ready = |c: &Cluster| {
        jsonpath(
            c,
            &["node", "kubelab-node-2"],
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        )
    };
    assert!(eventually(30, || ready(&c) == "Unknown"));
    assert!(eventually(10, || {
        jsonpath(&c, &["node", "kubelab-node-2"], "{.spec.taints[*].key}")
            == "node.kubernetes.io/unreachable node.kubernetes.io/unreachable"
    }));
    // The daemon pod stays (it tolerates unreachable), no longer Ready;
    // the node does not count as desired: it refuses new pods (NoSchedule).
    assert!(eventually(10, || jsonpath(
        &c,
        &["ds", "agent"],
        "{.status.desiredNumberScheduled}/{.status.numberReady}/{.status.numberMisscheduled}"
    ) == "1/1/1"));
    let start = std::process::Command::new(kubelab)
        .args(["node", "start", "kubelab-node-2", "--data-dir"])
        .arg(c.data_dir())
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    assert!(eventually(30, || ready(&c) == "True"));
    assert!(eventually(10, || jsonpath(
        &c,
        &["node", "kubelab-node-2"],
        "{.spec.taints}"
    )
    .is_empty()));
    assert!(eventually(30, || jsonpath(
        &c,
        &["ds", "agent"],
        "{.status.numberReady}"
    ) == "2"));
}

#[test]
fn budgets_count_the_controllers_scale_and_leave_unmanaged_pods_out() {
    let c = fake_cluster("1");
    c.apply(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: w, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: stray, labels: {app: web}}
spec:
  containers: [{name: w, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 25%
  selector: {matchLabels: {app: web}}
"#,
    );
    // Expected: the Deployment's 4 (not the 5 pods); 25 % of 4 rounds up
    // to 1, so 3 must stay healthy; 5 are Ready, 2 may go.
    assert!(
        eventually(30, || jsonpath(
            &c,
            &["pdb", "web"],
            "{.status.expectedPods}/{.status.desiredHealthy}/{.status.currentHealthy}/{.status.disruptionsAllowed}"
        ) == "4/3/5/2"),
        "{}",
        jsonpath(&c, &["pdb", "web"], "{.status}")
    );
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "reason=UnmanagedPods",
        "-o",
        "name",
    ]);
    assert!(!events.trim().is_empty());
    let table = c.ok(&["get", "pdb", "web"]);
    assert!(table.contains("N/A") && table.contains("25%"), "{table}");
}

#[test]
fn autoscaler_targets_and_top_nodes_by_label() {
    let c = fake_cluster("2");
    c.apply(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: idle}
spec:
  replicas: 1
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec:
      containers:
      - {name: c, image: busybox, command: [sleep, "3600"], resources: {requests: {cpu: 100m}}}
"#,
    );
    c.ok(&[
        "autoscale",
        "deployment",
        "idle",
        "--cpu-percent=50",
        "--max=3",
    ]);
    // No reading at first: upstream's `<unknown>` in the metric's place.
    let table = c.ok(&["get", "hpa", "idle"]);
    assert!(
        table.contains("Deployment/idle") && table.contains("/50%"),
        "{table}"
    );
    // Fake pods use nothing: 0 % once read.
    assert!(
        eventually(120, || c
            .ok(&["get", "hpa", "idle"])
            .contains("cpu: 0%/50%")),
        "{}",
        c.ok(&["get", "hpa", "idle", "-o", "yaml"])
    );
    // NodeMetrics carry the Node's labels: `kubectl top nodes -l` filters.
    c.ok(&["label", "node", "kubelab-node-2", "tier=edge"]);
    assert!(eventually(30, || {
        let out = c.kubectl(&["top", "nodes", "-l", "tier=edge", "--no-headers"]);
        let text = String::from_utf8_lossy(&out.stdout);
        out.status.success() && text.starts_with("kubelab-node-2") && text.lines().count() == 1
    }));
}
