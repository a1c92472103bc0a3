//! The chapters plug in: `kubelab up --chapter N` runs what chapters
//! 1..=N install and nothing of a later chapter. The same Deployment and
//! Service on a chapter-02 and on a chapter-03 cluster: on the first the
//! pods run but nothing of chapter 03 exists (no pod IPs, no endpoints, no
//! cluster IP, no Service variables, no node network namespaces); on the
//! second all of it does. And a pod that reads a ConfigMap: it waits on a
//! chapter-03 cluster (nothing resolves the reference) and runs on a
//! chapter-04 one. And a pod with a claim: it waits on a chapter-04
//! cluster (no volume plugin, no StorageClass, no ServiceAccounts) and
//! runs, with its token mounted, on a chapter-05 one. And a DaemonSet,
//! default tolerations and `kubectl top`: none on chapter 05, all on 06.
//! And a new template: chapter 08 replaces every pod at once and keeps no
//! history; chapter 09 rolls, numbers revisions and keeps
//! ControllerRevisions.

mod support;

use support::{Cluster, eventually, jsonpath};

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: plug}
spec:
  replicas: 2
  selector: {matchLabels: {app: plug}}
  template:
    metadata: {labels: {app: plug}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: busybox
        command: [sleep, '3600']
---
apiVersion: v1
kind: Service
metadata: {name: plug}
spec:
  selector: {app: plug}
  ports: [{port: 80}]
";

/// Starts a one-node cluster of `chapter`, applies [`APP`] and waits until
/// both pods run.
fn running(chapter: &str) -> Cluster {
    let c = Cluster::start_with(&["--chapter", chapter, "--nodes", "1"]);
    c.apply(APP);
    assert!(
        eventually(60, || jsonpath(
            &c,
            &["pods", "-l", "app=plug"],
            "{.items[*].status.phase}"
        ) == "Running Running"),
        "the pods of chapter {chapter} did not run: {}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
    c
}

/// The network namespaces of this cluster (chapter 03 creates them).
fn netns_of(c: &Cluster) -> Vec<String> {
    let prefix = kubelab_network::linux::netns_prefix(&c.data_dir());
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn env_of_first_pod(c: &Cluster) -> String {
    let pod = jsonpath(c, &["pods", "-l", "app=plug"], "{.items[0].metadata.name}");
    // Seen once in a full run under load: "the container is not running"
    // right after the pod was Running. Try again for a while, and show the
    // pod (restarts, last state) if it never answers.
    let mut out = c.kubectl(&["exec", &pod, "--", "env"]);
    for _ in 0..20 {
        if out.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        out = c.kubectl(&["exec", &pod, "--", "env"]);
    }
    assert!(
        out.status.success(),
        "exec failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.ok(&["get", "pod", &pod, "-o", "yaml"])
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn chapter_2_runs_pods_and_nothing_of_chapter_3() {
    let c = running("2");
    // Give a (wrongly) running endpoints controller time to act.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let ep = c.kubectl(&["get", "endpoints", "plug"]);
    assert!(
        !ep.status.success() && String::from_utf8_lossy(&ep.stderr).contains("NotFound"),
        "no endpoints controller runs in chapter 2: {}",
        String::from_utf8_lossy(&ep.stdout)
    );
    assert_eq!(
        c.ok(&["get", "endpointslices", "-A", "-o", "name"]),
        "",
        "no EndpointSlices in chapter 2"
    );
    assert_eq!(
        jsonpath(&c, &["pods", "-l", "app=plug"], "{.items[*].status.podIP}"),
        "",
        "pods have no IP without chapter 03's network"
    );
    assert_eq!(jsonpath(&c, &["svc", "plug"], "{.spec.clusterIP}"), "");
    assert_eq!(
        jsonpath(&c, &["nodes"], "{.items[0].spec.podCIDR}"),
        "",
        "no node gets a pod range"
    );
    let env = env_of_first_pod(&c);
    assert!(
        !env.contains("PLUG_SERVICE_HOST") && !env.contains("KUBERNETES_SERVICE_HOST"),
        "no Service variables in chapter 2: {env}"
    );
    assert_eq!(
        netns_of(&c),
        Vec::<String>::new(),
        "no node network namespaces"
    );
}

#[test]
fn chapter_3_adds_addresses_endpoints_and_service_variables() {
    let c = running("3");
    assert!(
        eventually(30, || jsonpath(
            &c,
            &["endpoints", "plug"],
            "{.subsets[*].addresses[*].ip}"
        )
        .split_whitespace()
        .count()
            == 2),
        "the endpoints controller lists both pods: {}",
        c.ok(&["get", "endpoints", "plug", "-o", "yaml"])
    );
    let ips = jsonpath(&c, &["pods", "-l", "app=plug"], "{.items[*].status.podIP}");
    assert_eq!(
        ips.split_whitespace().count(),
        2,
        "both pods have an IP: {ips}"
    );
    let vip = jsonpath(&c, &["svc", "plug"], "{.spec.clusterIP}");
    assert!(
        vip.starts_with("10.9") || vip.starts_with("10.1"),
        "a cluster IP: {vip:?}"
    );
    let env = env_of_first_pod(&c);
    assert!(
        env.contains(&format!("PLUG_SERVICE_HOST={vip}")),
        "the Service variables: {env}"
    );
    if support::is_root() {
        assert!(
            !jsonpath(&c, &["nodes"], "{.items[0].spec.podCIDR}").is_empty(),
            "the node has a pod range"
        );
        assert_eq!(
            netns_of(&c).len(),
            2,
            "the node's namespace and the cluster's"
        );
    }
}

const CONFIGURED: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: teal}
---
apiVersion: v1
kind: Pod
metadata: {name: configured}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox
    command: [sleep, '3600']
    env: [{name: COLOR, valueFrom: {configMapKeyRef: {name: settings, key: color}}}]
";

#[test]
fn chapter_3_cannot_configure_pods_and_chapter_4_can() {
    let waiting = |c: &Cluster| {
        jsonpath(
            c,
            &["pod", "configured"],
            "{.status.containerStatuses[0].state.waiting.message}",
        )
    };
    let three = Cluster::start_with(&["--chapter", "3", "--nodes", "1"]);
    three.apply(CONFIGURED);
    assert!(
        eventually(30, || waiting(&three).contains(
            "no installed chapter resolves valueFrom.configMapKeyRef"
        )),
        "chapter 3 has no config plugin: {}",
        waiting(&three)
    );
    assert!(
        !three.data_dir().join("encryption-config.yaml").exists(),
        "no encryption at rest before chapter 4"
    );
    let four = Cluster::start_with(&["--chapter", "4", "--nodes", "1"]);
    four.apply(CONFIGURED);
    assert!(eventually(30, || jsonpath(
        &four,
        &["pod", "configured"],
        "{.status.phase}"
    ) == "Running"));
    assert!(four.data_dir().join("encryption-config.yaml").exists());
}

const CLAIMED: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
  storageClassName: standard
---
apiVersion: v1
kind: Pod
metadata: {name: claimed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: [sleep, '3600'], volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
";

#[test]
fn chapter_4_cannot_mount_claims_and_chapter_5_can() {
    let four = Cluster::start_with(&["--chapter", "4", "--nodes", "1"]);
    four.apply(CLAIMED);
    let events = |c: &Cluster| {
        c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=claimed",
        ])
    };
    assert!(
        eventually(30, || events(&four).contains(
            "no volume plugin matched: no installed chapter mounts persistentVolumeClaim volumes"
        )),
        "chapter 4 has no volume plugin: {}",
        events(&four)
    );
    assert!(
        four.ok(&["get", "sc"]).is_empty(),
        "no StorageClass before chapter 5"
    );
    assert_eq!(
        jsonpath(&four, &["pvc", "data"], "{.status.phase}"),
        "Pending",
        "nothing binds claims"
    );
    assert_eq!(jsonpath(&four, &["pvc", "data"], "{.spec.volumeName}"), "");
    assert!(
        !four.kubectl(&["get", "sa", "default"]).status.success(),
        "no ServiceAccounts"
    );
    assert_eq!(
        jsonpath(&four, &["pod", "claimed"], "{.spec.serviceAccountName}"),
        ""
    );
    let five = Cluster::start_with(&["--chapter", "5", "--nodes", "1"]);
    five.apply(CLAIMED);
    assert!(eventually(30, || jsonpath(
        &five,
        &["pod", "claimed"],
        "{.status.phase}"
    ) == "Running"));
    assert_eq!(
        jsonpath(&five, &["pvc", "data"], "{.status.phase}"),
        "Bound"
    );
    assert!(
        jsonpath(&five, &["pod", "claimed"], "{.spec.volumes[1].name}")
            .starts_with("kube-api-access-")
    );
}

const AGENT: &str = "apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox, command: [sleep, '3600']}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  containers: [{name: a, image: busybox, command: [sleep, '3600']}]
";

#[test]
fn chapter_5_runs_no_daemons_nor_metrics_and_chapter_6_does() {
    let args = |chapter| ["--chapter", chapter, "--nodes", "1", "--runtime", "fake"];
    let five = Cluster::start_with(&args("5"));
    five.apply(AGENT);
    assert!(eventually(30, || jsonpath(
        &five,
        &["pod", "plain"],
        "{.status.phase}"
    ) == "Running"));
    assert!(
        five.ok(&["get", "pods", "-l", "app=agent", "-o", "name"])
            .is_empty(),
        "no DaemonSet controller before chapter 6"
    );
    assert_eq!(
        jsonpath(&five, &["pod", "plain"], "{.spec.tolerations}"),
        "",
        "no default tolerations before chapter 6"
    );
    let top = five.fails(&["top", "nodes"]);
    assert!(top.contains("Metrics API not available"), "{top}");

    let six = Cluster::start_with(&args("6"));
    six.apply(AGENT);
    assert!(eventually(30, || jsonpath(
        &six,
        &["ds", "agent"],
        "{.status.numberReady}"
    ) == "1"));
    assert_eq!(
        jsonpath(
            &six,
            &["pod", "plain"],
            "{.spec.tolerations[*].tolerationSeconds}"
        ),
        "300 300"
    );
    assert!(
        eventually(30, || six
            .kubectl(&["top", "nodes", "--no-headers"])
            .status
            .success()),
        "kubectl top nodes once the metrics have two readings"
    );
}

const ROLL: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: roll}
spec:
  replicas: 4
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: roll}}
  template:
    metadata: {labels: {app: roll}}
    spec:
      containers: [{name: a, image: kubelab/web:1.0}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: roll-agent}
spec:
  selector: {matchLabels: {app: roll-agent}}
  template:
    metadata: {labels: {app: roll-agent}}
    spec:
      containers: [{name: a, image: kubelab/ticker:1.0}]
";

/// How the new ReplicaSet grew while `deploy/roll` moved to a new image:
/// its `ScalingReplicaSet` events, as sizes (`0→1`, `1→2` …).
fn new_replicaset_steps(c: &Cluster) -> Vec<String> {
    c.ok(&["rollout", "status", "deploy/roll", "--timeout=60s"]);
    let first = jsonpath(c, &["rs", "-l", "app=roll"], "{.items[0].metadata.name}");
    c.ok(&["set", "image", "deploy/roll", "a=kubelab/web:2.0"]);
    c.ok(&["rollout", "status", "deploy/roll", "--timeout=60s"]);
    let messages = jsonpath(
        c,
        &["events", "--field-selector", "reason=ScalingReplicaSet"],
        "{range .items[*]}{.message}{\"\\n\"}{end}",
    );
    let mut steps: Vec<String> = messages
        .lines()
        .filter(|m| m.starts_with("Scaled up") && !m.contains(&first))
        .filter_map(|m| {
            let words: Vec<&str> = m.split_whitespace().collect();
            Some(format!("{}→{}", words.get(6)?, words.get(8)?))
        })
        .collect();
    steps.sort();
    steps
}

#[test]
fn chapter_8_replaces_pods_at_once_and_chapter_9_rolls_them() {
    let args = |chapter| ["--chapter", chapter, "--nodes", "1", "--runtime", "fake"];
    let eight = Cluster::start_with(&args("8"));
    eight.apply(ROLL);
    assert_eq!(
        new_replicaset_steps(&eight),
        ["0→4"],
        "chapter 8 gives the new ReplicaSet every replica in one step"
    );
    let history = eight.ok(&["rollout", "history", "deploy/roll"]);
    // kubectl lists ReplicaSets without a revision as revision 0.
    assert!(
        !history.contains("1         ") && !history.contains("2         "),
        "no revisions before chapter 9: {history}"
    );
    assert!(
        eight
            .ok(&["get", "controllerrevisions", "-o", "name"])
            .is_empty(),
        "no ControllerRevisions before chapter 9"
    );

    let nine = Cluster::start_with(&args("9"));
    nine.apply(ROLL);
    assert_eq!(
        new_replicaset_steps(&nine),
        ["0→1", "1→2", "2→3", "3→4"],
        "chapter 9 surges one pod at a time"
    );
    let history = nine.ok(&["rollout", "history", "deploy/roll"]);
    assert!(
        history.contains("1         <none>") && history.contains("2         <none>"),
        "{history}"
    );
    assert!(eventually(30, || nine
        .ok(&["get", "controllerrevisions", "-o", "name"])
        .contains("controllerrevision.apps/roll-agent-")));
}
