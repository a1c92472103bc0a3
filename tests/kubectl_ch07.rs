//! Chapter 07 end to end with the real kubectl: startup probes that hold
//! the others, the order of a pod's end (preStop before SIGTERM, app
//! containers before sidecars, sidecars last first), postStart failures,
//! init failures under `restartPolicy: Never`, interactive debug
//! containers, kubectl's words for bad probes, and what an earlier
//! chapter's kubelet does with init containers (nothing).
//!
//! The exercises (`chapters/07-sidecars/exercises`) cover the rest:
//! init order, sidecars sharing volumes, readiness and Services, liveness
//! restarts, shared process namespaces.

mod support;

use support::{Cluster, eventually, is_root, jsonpath};

fn events(c: &Cluster, name: &str) -> String {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        "custom-columns=REASON:.reason,MESSAGE:.message",
        "--no-headers",
    ])
}

fn status_column(c: &Cluster, pod: &str) -> String {
    let out = c.ok(&["get", "pod", pod, "--no-headers"]);
    out.split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

const STARTUP: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'trap "exit 0" TERM; sleep 3600 & wait']
    startupProbe:
      exec: {command: [test, -f, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 600
    readinessProbe:
      exec: {command: ['true']}
      periodSeconds: 1
    livenessProbe:
      exec: {command: ['false']}
      periodSeconds: 1
      failureThreshold: 1
"#;

#[test]
fn a_startup_probe_holds_readiness_and_liveness_until_it_succeeds() {
    if !is_root() {
        eprintln!("chapter 07 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(STARTUP);
    assert!(eventually(30, || !jsonpath(
        &c,
        &["pod", "slow"],
        "{.status.containerStatuses[0].state.running.startedAt}"
    )
    .is_empty()));
    // Running for a few probe periods, but not started: not ready, and the
    // failing liveness probe does not run (no restart).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let st = |p: &str| jsonpath(&c, &["pod", "slow"], p);
    assert_eq!(st("{.status.containerStatuses[0].started}"), "false");
    assert_eq!(st("{.status.containerStatuses[0].ready}"), "false");
    assert_eq!(st("{.status.containerStatuses[0].restartCount}"), "0");
    assert_eq!(
        c.ok(&["get", "pod", "slow", "--no-headers"])
            .split_whitespace()
            .nth(1),
        Some("0/1")
    );
    // Started: readiness and liveness run; liveness fails and kills it.
    c.ok(&["exec", "slow", "--", "touch", "/tmp/started"]);
    assert!(
        eventually(30, || st("{.status.containerStatuses[0].restartCount}")
            == "1"),
        "{}",
        events(&c, "slow")
    );
    let ev = events(&c, "slow");
    assert!(
        ev.contains("Container app failed liveness probe, will be restarted"),
        "{ev}"
    );
    assert!(ev.contains("Startup probe failed: "), "{ev}");
}

const ORDER: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: order}
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - name: first
    image: busybox
    restartPolicy: Always
    command: [sh, -c, 'trap "echo first-term >> /order/log; exit 0" TERM; sleep 3600 & wait']
    volumeMounts: [{name: order, mountPath: /order}]
  - name: second
    image: busybox
    restartPolicy: Always
    command: [sh, -c, 'trap "echo second-term >> /order/log; exit 0" TERM; sleep 3600 & wait']
    volumeMounts: [{name: order, mountPath: /order}]
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'trap "echo app-term >> /order/log; exit 0" TERM; sleep 3600 & wait']
    volumeMounts: [{name: order, mountPath: /order}]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, 'echo app-poststart >> /order/log']}
      preStop:
        exec: {command: [sh, -c, 'echo app-prestop >> /order/log; sleep 1']}
  volumes:
  - name: order
    hostPath: {path: DIR, type: DirectoryOrCreate}
"#;

#[test]
fn a_pod_ends_in_order_prestop_then_sigterm_then_sidecars_last_first() {
    if !is_root() {
        eprintln!("chapter 07 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    let dir = c.data_dir().join("order");
    c.apply(&ORDER.replace("DIR", &dir.display().to_string()));
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/order",
        "--timeout=60s",
    ]);
    assert_eq!(
        c.ok(&["get", "pod", "order", "--no-headers"])
            .split_whitespace()
            .nth(1),
        Some("3/3")
    );
    c.ok(&["delete", "pod", "order", "--timeout=60s"]);
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "app-poststart",
            "app-prestop",
            "app-term",
            "second-term",
            "first-term"
        ],
    );
}

#[test]
fn a_failing_post_start_hook_kills_the_container_and_it_restarts() {
    if !is_root() {
        eprintln!("chapter 07 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: hook}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'trap "exit 0" TERM; sleep 3600 & wait']
    lifecycle:
      postStart:
        exec: {command: [sh, -c, 'echo no database; exit 3']}
"#,
    );
    assert!(
        eventually(40, || jsonpath(
            &c,
            &["pod", "hook"],
            "{.status.containerStatuses[0].restartCount}"
        )
        .parse::<u32>()
        .unwrap_or(0)
            >= 1),
        "{}",
        events(&c, "hook")
    );
    let ev = events(&c, "hook");
    assert!(
        ev.contains(r#"FailedPostStartHook   Exec lifecycle hook ([sh -c echo no database; exit 3]) for Container "app" in Pod "hook_default("#)
            && ev.contains(r#"failed - error: command 'sh -c echo no database; exit 3' exited with 3: , message: "no database\n""#),
        "{ev}"
    );
    assert!(
        ev.contains("Killing               FailedPostStartHook"),
        "{ev}"
    );
}

#[test]
fn a_failed_init_container_fails_a_pod_that_never_restarts() {
    if !is_root() {
        eprintln!("chapter 07 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  initContainers:
  - {name: check, image: busybox, command: [sh, -c, 'exit 3']}
  - {name: never, image: busybox}
  containers:
  - {name: app, image: busybox}
"#,
    );
    assert!(eventually(30, || jsonpath(
        &c,
        &["pod", "once"],
        "{.status.phase}"
    ) == "Failed"));
    assert_eq!(status_column(&c, "once"), "Init:Error");
    let st = |p: &str| jsonpath(&c, &["pod", "once"], p);
    assert_eq!(
        st("{.status.initContainerStatuses[0].state.terminated.exitCode}"),
        "3"
    );
    assert_eq!(
        st("{.status.initContainerStatuses[1].state.waiting.reason}"),
        "PodInitializing"
    );
    assert_eq!(
        st("{.status.containerStatuses[0].state.waiting.reason}"),
        "PodInitializing"
    );
    assert_eq!(
        st(r#"{.status.conditions[?(@.type=="Initialized")].message}"#),
        "containers with incomplete status: [check never]"
    );
}

#[test]
fn kubectl_debug_attaches_to_a_container_that_sees_its_target() {
    if !is_root() {
        eprintln!("chapter 07 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.ok(&["run", "web", "--image=kubelab/web:1.0"]);
    c.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);
    let out = c.kubectl_stdin(
        &[
            "debug",
            "-i",
            "web",
            "--image=busybox",
            "--target=web",
            "--profile=general",
            "--",
            "sh",
        ],
        "ps -o pid,args\nexit\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 /bin/web"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The debug container is an ephemeral container of the pod, never restarted.
    assert!(eventually(20, || jsonpath(
        &c,
        &["pod", "web"],
        "{.status.ephemeralContainerStatuses[0].state.terminated.reason}"
    ) == "Completed"));
    // Changing it is refused.
    let name = jsonpath(&c, &["pod", "web"], "{.spec.ephemeralContainers[0].name}");
    let err = c.fails(&[
        "patch", "pod", "web", "--subresource=ephemeralcontainers", "--type=json",
        "-p", r#"[{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "kubelab/web:1.0"}]"#,
    ]);
    assert!(
        err.contains(&format!("spec.ephemeralContainers: Forbidden: existing ephemeral containers \"{name}\" may not be changed")),
        "{err}"
    );
}

#[test]
fn kubectl_names_the_field_of_a_bad_probe() {
    let c = Cluster::start_with(&["--nodes", "0", "--runtime", "fake"]);
    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  initContainers:
  - {name: proxy, image: busybox, restartPolicy: OnFailure}
  containers:
  - name: app
    image: busybox
    livenessProbe: {periodSeconds: 5}
"#,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"The Pod "bad" is invalid: "#)
            && err.contains("spec.containers[0].livenessProbe: Required value: must specify a handler type")
            && err.contains(r#"spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#),
        "{err}"
    );
}

#[test]
fn before_chapter_07_a_pod_with_init_containers_starts_nothing() {
    let c = Cluster::start_with(&["--chapter", "5", "--nodes", "1", "--runtime", "fake"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: early}
spec:
  initContainers: [{name: setup, image: busybox}]
  containers: [{name: app, image: busybox}]
"#,
    );
    assert!(eventually(20, || status_column(&c, "early") == "Init:0/1"));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(status_column(&c, "early"), "Init:0/1");
    assert_eq!(
        jsonpath(&c, &["pod", "early"], "{.status.phase}"),
        "Pending"
    );
}

#[test]
fn a_grpc_readiness_probe_follows_the_health_service() {
    if !is_root() {
        eprintln!("chapter 07 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../chapters/07-sidecars/manifests/grpc-health.yaml"),
    )
    .unwrap();
    c.apply(&manifest);
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/health",
        "--timeout=60s",
    ]);
    c.ok(&["exec", "health", "--", "touch", "/tmp/not-serving"]);
    c.ok(&[
        "wait",
        "--for=condition=Ready=false",
        "pod/health",
        "--timeout=30s",
    ]);
    let ev = events(&c, "health");
    assert!(
        ev.contains(r#"Readiness probe failed: service unhealthy (responded with "NOT_SERVING")"#),
        "{ev}"
    );
    c.ok(&["exec", "health", "--", "rm", "/tmp/not-serving"]);
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/health",
        "--timeout=30s",
    ]);
}
