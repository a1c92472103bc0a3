//! Chapter 09 end to end with the real kubectl: a rolling update and a
//! rollback of a Deployment behind a Service under continuous load lose
//! no request; a rollout to a missing image leaves the old pods serving
//! and exceeds its progress deadline; pause, history with change causes,
//! undo to a revision; StatefulSet partitions and DaemonSet surges with
//! their ControllerRevisions, history and undo; Recreate, whose new pods
//! start only once the old ones are gone.

mod support;

use std::io::Read;
use std::process::Stdio;

use support::{Cluster, eventually, is_root, jsonpath};

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: version 1.0}
spec:
  replicas: 4
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: kubelab/web:1.0
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
        # The pod keeps serving while the Service forgets it.
        lifecycle: {preStop: {sleep: {seconds: 3}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: sh, image: busybox, command: [sleep, '3600']}
";

/// Requests through the Service's ClusterIP, one after the other, from the
/// `client` pod, until [`stop`] leaves `/tmp/stop` there (killing
/// `kubectl exec` would leave the loop running in the pod): each prints
/// `ok` or `fail`. Not `timeout 5 wget` (busybox's wget has no timeout
/// flag): busybox's `timeout` leaves a watcher process to the container's
/// first process, `sleep`, which never reaps it — a zombie per request,
/// thousands per run.
fn load(c: &Cluster) -> std::process::Child {
    let script = "rm -f /tmp/stop; while [ ! -e /tmp/stop ]; do \
        if wget -q -O /tmp/page http://web/; then echo ok; else echo fail; fi; done";
    c.kubectl_cmd(&["exec", "client", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl exec")
}

fn stop(c: &Cluster, mut child: std::process::Child) -> (usize, usize) {
    c.ok(&["exec", "client", "--", "touch", "/tmp/stop"]);
    // Read to the end: the loop ends, the shell exits, so does kubectl.
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    let ok = out.lines().filter(|l| *l == "ok").count();
    let failed = out.lines().filter(|l| *l == "fail").count();
    (ok, failed)
}

// ANCHOR: zero_failed
#[test]
fn a_rolling_update_and_a_rollback_under_load_fail_no_request() {
    if !is_root() {
        eprintln!("needs root (the linux runtime, Service VIPs in namespaces); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "2"]);
    c.apply(WEB);
    c.ok(&["rollout", "status", "deploy/web", "--timeout=120s"]);
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/client",
        "--timeout=60s",
    ]);
    // The Service answers before the load starts.
    assert!(eventually(30, || c
        .ok(&["exec", "client", "--", "wget", "-qO-", "http://web/"])
        .contains("1.0")));

    for step in [
        vec!["set", "image", "deploy/web", "web=kubelab/web:2.0"],
        vec!["rollout", "undo", "deploy/web"],
    ] {
        let load = load(&c);
        std::thread::sleep(std::time::Duration::from_secs(2));
        c.ok(&step);
        c.ok(&["rollout", "status", "deploy/web", "--timeout=180s"]);
        // Old pods finish their preStop sleep and go.
        assert!(eventually(60, || jsonpath(
            &c,
            &["pods", "-l", "app=web"],
            "{.items[*].metadata.name}"
        )
        .split_whitespace()
        .count()
            == 4));
        let (ok, failed) = stop(&c, load);
        eprintln!("{}: {ok} requests answered, {failed} failed", step[0]);
        assert!(ok > 20, "too few requests to tell anything: {ok}");
        assert_eq!(
            failed,
            0,
            "{failed} of {} requests failed during `{}`",
            ok + failed,
            step.join(" ")
        );
    }
    let version = c.ok(&["exec", "client", "--", "wget", "-qO-", "http://web/"]);
    assert!(version.contains("1.0"), "after the undo: {version}");
}
// ANCHOR_END: zero_failed

#[test]
fn a_missing_image_keeps_the_old_pods_and_exceeds_the_deadline_then_undo_goes_back() {
    if !is_root() {
        eprintln!("needs root (the linux runtime: a missing image fails for real); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(&WEB.replace("replicas: 4", "replicas: 3\n  progressDeadlineSeconds: 8"));
    c.ok(&["rollout", "status", "deploy/web", "--timeout=120s"]);
    c.ok(&["set", "image", "deploy/web", "web=kubelab/web:9.9"]);
    c.ok(&[
        "annotate",
        "deploy/web",
        "kubernetes.io/change-cause=version 9.9",
        "--overwrite",
    ]);
    let err = c.fails(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    assert!(
        err.contains("deployment \"web\" exceeded its progress deadline"),
        "{err}"
    );
    let reason = jsonpath(
        &c,
        &["deploy", "web"],
        "{.status.conditions[?(@.type==\"Progressing\")].reason}",
    );
    assert_eq!(reason, "ProgressDeadlineExceeded");
    // maxUnavailable 0: all three old pods still serve.
    assert_eq!(
        jsonpath(&c, &["deploy", "web"], "{.status.availableReplicas}"),
        "3"
    );
    let history = c.ok(&["rollout", "history", "deploy/web"]);
    assert!(
        history.contains("1         version 1.0") && history.contains("2         version 9.9"),
        "{history}"
    );

    // Paused: a new template makes no ReplicaSet; undo is refused.
    c.ok(&["rollout", "pause", "deploy/web"]);
    c.ok(&["set", "image", "deploy/web", "web=kubelab/web:2.0"]);
    let err = c.fails(&["rollout", "undo", "deploy/web"]);
    assert!(
        err.contains("you cannot rollback a paused deployment"),
        "{err}"
    );
    // A rollout past its deadline keeps that verdict while paused (as
    // upstream: the paused condition does not overwrite it).
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        jsonpath(
            &c,
            &["deploy", "web"],
            "{.status.conditions[?(@.type==\"Progressing\")].reason}"
        ),
        "ProgressDeadlineExceeded"
    );
    assert_eq!(
        jsonpath(&c, &["rs", "-l", "app=web"], "{.items[*].metadata.name}")
            .split_whitespace()
            .count(),
        2,
        "a paused deployment made a ReplicaSet"
    );
    c.ok(&["rollout", "resume", "deploy/web"]);
    c.ok(&["rollout", "status", "deploy/web", "--timeout=120s"]);
    // Back to revision 1 by number: its ReplicaSet becomes revision 4.
    c.ok(&["rollout", "undo", "deploy/web", "--to-revision=1"]);
    c.ok(&["rollout", "status", "deploy/web", "--timeout=120s"]);
    let history = c.ok(&["rollout", "history", "deploy/web"]);
    assert!(history.contains("4         version 1.0"), "{history}");
    assert!(!history.contains("\n1 "), "revision 1 became 4: {history}");
}

#[test]
fn statefulset_partitions_and_daemonset_surges_keep_revisions() {
    let c = Cluster::start_with(&["--nodes", "3", "--runtime", "fake"]);
    c.apply(
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: kubelab/web:1.0}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: kubelab/ticker:1.0}]
",
    );
    c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    c.ok(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    let revision_of = |pod: &str| {
        jsonpath(
            &c,
            &["pod", pod],
            "{.metadata.labels.controller-revision-hash}",
        )
    };
    let first = revision_of("db-0");

    // A canary: only ordinals >= 2 move to the new template.
    c.ok(&[
        "patch",
        "sts/db",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}},"template":{"spec":{"containers":[{"name":"db","image":"kubelab/web:2.0"}]}}}}"#,
    ]);
    let done = c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(
        done.contains("partitioned roll out complete: 1 new pods have been updated..."),
        "{done}"
    );
    let second = revision_of("db-2");
    assert_ne!(second, first);
    assert_eq!(revision_of("db-0"), first);
    assert_eq!(revision_of("db-1"), first);
    // Deleted below the partition, a pod comes back at the old revision.
    // --wait=false: the set makes a new db-0 at once, and kubectl's wait can
    // miss the old one's deletion when the new one is listed first.
    let old_uid = jsonpath(&c, &["pod", "db-0"], "{.metadata.uid}");
    c.ok(&["delete", "pod", "db-0", "--wait=false"]);
    assert!(eventually(30, || {
        let uid = jsonpath(&c, &["pod", "db-0"], "{.metadata.uid}");
        !uid.is_empty() && uid != old_uid && revision_of("db-0") == first
    }));
    assert_eq!(
        jsonpath(
            &c,
            &["sts", "db"],
            "{.status.currentRevision} {.status.updateRevision}"
        ),
        format!("{first} {second}")
    );
    // Partition 0: the rest follow, highest first; the update becomes current.
    c.ok(&[
        "patch",
        "sts/db",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
    ]);
    c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(eventually(30, || jsonpath(
        &c,
        &["sts", "db"],
        "{.status.currentRevision}"
    ) == second));
    let revisions = c.ok(&["get", "controllerrevisions", "-l", "app=db"]);
    assert!(
        revisions.contains("statefulset.apps/db") && revisions.lines().count() == 3,
        "{revisions}"
    );
    c.ok(&["rollout", "undo", "sts/db"]);
    c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(eventually(30, || revision_of("db-0") == first
        && revision_of("db-2") == first));
    let history = c.ok(&["rollout", "history", "sts/db"]);
    assert!(
        history.contains("2 ") && history.contains("3 ") && !history.contains("\n1 "),
        "{history}"
    );

    // The DaemonSet: a new pod beside the old one, node by node.
    let ds_first = jsonpath(
        &c,
        &["pods", "-l", "app=agent"],
        "{.items[0].metadata.labels.controller-revision-hash}",
    );
    c.ok(&["set", "env", "ds/agent", "INTERVAL=5"]);
    c.ok(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    let hashes = jsonpath(
        &c,
        &["pods", "-l", "app=agent"],
        "{.items[*].metadata.labels.controller-revision-hash}",
    );
    assert_eq!(hashes.split_whitespace().count(), 3, "{hashes}");
    assert!(!hashes.contains(&ds_first), "{hashes}");
    let history = c.ok(&["rollout", "history", "ds/agent"]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );
    c.ok(&["rollout", "undo", "ds/agent"]);
    c.ok(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(eventually(30, || jsonpath(
        &c,
        &["pods", "-l", "app=agent"],
        "{.items[*].metadata.labels.controller-revision-hash}"
    )
    .split_whitespace()
    .all(|h| h == ds_first)));
    let err = c.fails(&["rollout", "pause", "ds/agent"]);
    assert!(err.contains("pausing is not supported"), "{err}");
}

#[test]
fn recreate_starts_new_pods_only_once_the_old_ones_are_gone() {
    if !is_root() {
        eprintln!(
            "needs root (the linux runtime: pods that take their grace period to stop); skipped"
        );
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: once}
spec:
  replicas: 3
  strategy: {type: Recreate}
  selector: {matchLabels: {app: once}}
  template:
    metadata: {labels: {app: once}}
    spec:
      # `sleep` as the container's first process ignores SIGTERM: each old
      # pod takes its whole grace period to stop.
      terminationGracePeriodSeconds: 2
      containers: [{name: a, image: busybox, command: [sleep, '3600']}]
",
    );
    c.ok(&["rollout", "status", "deploy/once", "--timeout=60s"]);
    c.ok(&["set", "env", "deploy/once", "VERSION=2"]);
    // While the old pods take their grace period, no new pod may exist.
    let mut seen_terminating = false;
    for _ in 0..40 {
        let hashes = jsonpath(
            &c,
            &["pods", "-l", "app=once"],
            "{.items[*].metadata.labels.pod-template-hash}",
        );
        let mut distinct: Vec<&str> = hashes.split_whitespace().collect();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() <= 1, "old and new pods at once: {hashes}");
        seen_terminating |= !jsonpath(
            &c,
            &["pods", "-l", "app=once"],
            "{.items[*].metadata.deletionTimestamp}",
        )
        .is_empty();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        seen_terminating,
        "the old pods never lingered: the test shows nothing"
    );
    // And then the new ones do start (nothing watches pods in the
    // Deployment controller: it must look again by itself).
    c.ok(&["rollout", "status", "deploy/once", "--timeout=60s"]);
    let messages = jsonpath(
        &c,
        &["events", "--field-selector", "reason=ScalingReplicaSet"],
        "{range .items[*]}{.message}{\"\\n\"}{end}",
    );
    let new = jsonpath(&c, &["deploy", "once"], "{.metadata.annotations}");
    assert!(
        new.contains("\"deployment.kubernetes.io/revision\":\"2\""),
        "{new}"
    );
    assert_eq!(
        messages
            .lines()
            .filter(|m| m.ends_with("from 0 to 3"))
            .count(),
        2,
        "each ReplicaSet got its 3 pods in one step: {messages}"
    );
    assert!(
        messages.lines().any(|m| m.ends_with("from 3 to 0")),
        "{messages}"
    );
}
