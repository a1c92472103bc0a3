//! Chapter 02 end to end: real kubectl against `kubelab up` with nodes.
//! As root the nodes use the linux runtime (namespaces, cgroups); the
//! process runtime is tested too. Every test checks something a broken
//! kubelet, scheduler, runtime or controller would get wrong.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Cluster, eventually, get_through_port_forward, is_root, jsonpath, processes_of};

fn wait_phase(c: &Cluster, pod: &str, phase: &str, secs: u64) {
    assert!(
        eventually(secs, || jsonpath(c, &["pod", pod], "{.status.phase}")
            == phase),
        "pod {pod} never reached {phase}: {}",
        c.ok(&["describe", "pod", pod])
    );
}

const WEB: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - {name: web, image: kubelab/web:1.0}
";

#[test]
fn a_pod_runs_isolated_with_logs_exec_attach_and_port_forward() {
    let c = Cluster::start_with(&["--nodes", "1"]);
    assert!(c.ok(&["get", "nodes"]).contains("kubelab-node-1"));
    c.apply(WEB);
    wait_phase(&c, "web", "Running", 30);
    assert!(eventually(10, || c
        .ok(&["logs", "web"])
        .contains("listening on :8080")));

    // exec: output, exit codes, stdin.
    assert_eq!(c.ok(&["exec", "web", "--", "echo", "hi"]), "hi\n");
    let out = c.kubectl(&["exec", "web", "--", "sh", "-c", "exit 3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "kubectl exec must pass the exit code on"
    );
    let out = c.kubectl_stdin(
        &["exec", "-i", "web", "--", "sh", "-c", "read x; echo got:$x"],
        "abc\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got:abc\n");

    if is_root() {
        // Isolation: the app is PID 1, the hostname is the pod's, and the
        // host's processes and files are out of sight.
        let cmdline = c.ok(&["exec", "web", "--", "cat", "/proc/1/cmdline"]);
        assert!(cmdline.contains("web"), "PID 1 is {cmdline:?}");
        assert_eq!(c.ok(&["exec", "web", "--", "hostname"]), "web\n");
        let procs = c.ok(&[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "ls -d /proc/[0-9]* | wc -l",
        ]);
        assert!(
            procs.trim().parse::<u32>().unwrap() < 8,
            "host processes visible: {procs}"
        );
        let marker = c.path().join("host-only-marker");
        std::fs::write(&marker, "x").unwrap();
        let seen = c.kubectl(&["exec", "web", "--", "ls", marker.to_str().unwrap()]);
        assert!(
            !seen.status.success(),
            "a host file is visible inside the container"
        );
    }

    // port-forward reaches the app inside the pod.
    let body = get_through_port_forward(&c, "pod/web", 8080).1.unwrap();
    assert!(body.contains("Hello from web"), "{body}");

    // run -i --rm: attach, stdin, then the pod is deleted.
    let out = c.kubectl_stdin(
        &[
            "run",
            "-i",
            "--rm",
            "once",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "read x; echo said:$x",
        ],
        "hello\n",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("said:hello"),
        "{out:?}"
    );
    assert!(eventually(10, || !c
        .kubectl(&["get", "pod", "once"])
        .status
        .success()));

    // Describe shows the kubelet's and scheduler's events.
    let d = c.ok(&["describe", "pod", "web"]);
    for e in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(d.contains(e), "missing event {e}: {d}");
    }
}

#[test]
fn crash_loops_back_off_and_limits_are_enforced() {
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - {name: app, image: busybox, command: [sh, -c, 'echo attempt; exit 2']}
---
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - {name: app, image: 'nginx:1.25'}
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: busybox, command: [sh, -c, 'exit 0']}
",
    );
    assert!(
        eventually(40, || {
            jsonpath(
                &c,
                &["pod", "crash"],
                "{.status.containerStatuses[0].state.waiting.reason}",
            ) == "CrashLoopBackOff"
                && jsonpath(
                    &c,
                    &["pod", "crash"],
                    "{.status.containerStatuses[0].restartCount}",
                )
                .parse::<u32>()
                .unwrap_or(0)
                    >= 2
        }),
        "{}",
        c.ok(&["describe", "pod", "crash"])
    );
    assert_eq!(
        jsonpath(
            &c,
            &["pod", "crash"],
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "2"
    );
    assert_eq!(c.ok(&["logs", "crash", "--previous"]), "attempt\n");
    assert!(
        c.ok(&["describe", "pod", "crash"])
            .contains("Back-off restarting failed container")
    );
    // The second restart waits for the back-off (10 s): the third does not
    // come at once.
    let restarts = jsonpath(
        &c,
        &["pod", "crash"],
        "{.status.containerStatuses[0].restartCount}",
    );
    std::thread::sleep(Duration::from_secs(3));
    let later = jsonpath(
        &c,
        &["pod", "crash"],
        "{.status.containerStatuses[0].restartCount}",
    );
    assert!(later.parse::<u32>().unwrap() <= restarts.parse::<u32>().unwrap() + 1);

    let reason = jsonpath(
        &c,
        &["pod", "missing"],
        "{.status.containerStatuses[0].state.waiting.reason}",
    );
    assert_eq!(reason, "ErrImageNeverPull");
    assert!(
        jsonpath(
            &c,
            &["pod", "missing"],
            "{.status.containerStatuses[0].state.waiting.message}"
        )
        .contains("kubelab image load")
    );
    wait_phase(&c, "done", "Succeeded", 20);

    if is_root() {
        c.apply(
            "apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'x=a; while true; do x=$x$x; done']
    resources: {limits: {memory: 64Mi}}
",
        );
        wait_phase(&c, "hog", "Failed", 30);
        // (64Mi, not less: before it execs the command, the container's
        // first process is kubelab's own binary, in the same cgroup.)
        assert_eq!(
            jsonpath(
                &c,
                &["pod", "hog"],
                "{.status.containerStatuses[0].state.terminated.reason}"
            ),
            "OOMKilled",
            "{}",
            c.ok(&["get", "pod", "hog", "-o", "yaml"])
        );
        assert_eq!(
            jsonpath(
                &c,
                &["pod", "hog"],
                "{.status.containerStatuses[0].state.terminated.exitCode}"
            ),
            "137"
        );
    }
}

#[test]
fn deployments_spread_over_nodes_and_replicasets_heal() {
    let c = Cluster::start_with(&["--nodes", "3"]);
    c.apply(
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 3
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - {name: whoami, image: kubelab/whoami:1.0}
",
    );
    c.ok(&["rollout", "status", "deploy/hello", "--timeout=60s"]);
    let nodes = jsonpath(
        &c,
        &["pods", "-l", "app=hello"],
        "{.items[*].spec.nodeName}",
    );
    let mut distinct: Vec<&str> = nodes.split_whitespace().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "replicas not spread over 3 nodes: {nodes}"
    );
    let rs = jsonpath(&c, &["rs", "-l", "app=hello"], "{.items[0].metadata.name}");
    assert!(rs.starts_with("hello-"), "{rs}");

    // Delete one pod: the ReplicaSet makes a new one.
    let names = jsonpath(
        &c,
        &["pods", "-l", "app=hello"],
        "{.items[*].metadata.name}",
    );
    let victim = names.split_whitespace().next().unwrap().to_string();
    c.ok(&["delete", "pod", &victim]);
    assert!(eventually(30, || {
        let now = jsonpath(
            &c,
            &[
                "pods",
                "-l",
                "app=hello",
                "--field-selector=status.phase=Running",
            ],
            "{.items[*].metadata.name}",
        );
        now.split_whitespace().count() == 3 && !now.contains(&victim)
    }));

    // A new template rolls out to a new ReplicaSet; the old one goes to 0.
    c.ok(&["set", "image", "deploy/hello", "whoami=kubelab/web:2.0"]);
    c.ok(&["rollout", "status", "deploy/hello", "--timeout=60s"]);
    let history = c.ok(&["rollout", "history", "deploy/hello"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // Scale down.
    c.ok(&["scale", "deploy/hello", "--replicas=1"]);
    assert!(eventually(30, || jsonpath(
        &c,
        &["pods", "-l", "app=hello"],
        "{.items[*].metadata.name}"
    )
    .split_whitespace()
    .count()
        == 1));

    // A pod that fits nowhere: upstream's message.
    c.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
  - {name: app, image: busybox, resources: {requests: {cpu: '500'}}}
",
    );
    assert!(eventually(20, || c
        .ok(&["describe", "pod", "huge"])
        .contains("0/3 nodes are available: 3 Insufficient cpu.")));
    assert_eq!(jsonpath(&c, &["pod", "huge"], "{.status.phase}"), "Pending");
}

#[test]
fn deletion_is_graceful() {
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - {name: app, image: busybox, command: [sleep, '1000']}
---
apiVersion: v1
kind: Pod
metadata: {name: polite}
spec:
  containers:
  - {name: app, image: kubelab/web:1.0}
",
    );
    wait_phase(&c, "stubborn", "Running", 30);
    wait_phase(&c, "polite", "Running", 30);
    // An app that exits on SIGTERM goes well before its 30 s grace period.
    let t = Instant::now();
    c.ok(&["delete", "pod", "polite"]);
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t.elapsed()
    );
    // PID 1 without a SIGTERM handler ignores it: killed after the grace period.
    let t = Instant::now();
    let del = c
        .kubectl_cmd(&["delete", "pod", "stubborn", "--wait=false"])
        .output()
        .unwrap();
    assert!(del.status.success());
    assert!(
        !jsonpath(&c, &["pod", "stubborn"], "{.metadata.deletionTimestamp}").is_empty(),
        "not marked for deletion"
    );
    assert!(eventually(15, || !c
        .kubectl(&["get", "pod", "stubborn"])
        .status
        .success()));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(12),
        "took {took:?}"
    );
}

#[test]
fn the_process_runtime_runs_pods_without_isolation() {
    let c = Cluster::start_with(&["--nodes", "1", "--runtime", "process"]);
    c.apply(WEB);
    wait_phase(&c, "web", "Running", 30);
    let info = c.ok(&[
        "get",
        "node",
        "kubelab-node-1",
        "-o",
        "jsonpath={.status.nodeInfo.containerRuntimeVersion}",
    ]);
    assert!(info.starts_with("kubelab-process://"), "{info}");
    assert!(
        c.ok(&["describe", "node"])
            .contains("no namespaces, no cgroups")
    );
    assert_eq!(c.ok(&["exec", "web", "--", "echo", "ok"]), "ok\n");
    assert!(eventually(10, || c
        .ok(&["logs", "web"])
        .contains("listening")));
}

#[test]
fn stopping_kubelab_leaves_nothing_behind() {
    if !is_root() {
        return;
    }
    let mut c = Cluster::start_with(&["--nodes", "2"]);
    c.apply(WEB);
    wait_phase(&c, "web", "Running", 30);
    let data = c.data_dir();
    let list_netns = || {
        std::fs::read_dir("/run/netns")
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let prefix = kubelab_network::linux::netns_prefix(&data);
    assert_eq!(
        list_netns()
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .count(),
        3,
        "two nodes and the cluster network"
    );
    let ids: Vec<String> = ["kubelab-node-1", "kubelab-node-2"]
        .iter()
        .flat_map(|n| {
            std::fs::read_dir(data.join("nodes").join(n).join("runtime/containers"))
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    assert!(!ids.is_empty());
    c.stop_now();
    assert_eq!(
        list_netns()
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .count(),
        0,
        "network namespaces left"
    );
    let cgroups = kubelab_runtime::cgroup::all_kubelab_cgroups();
    for id in &ids {
        assert!(
            !cgroups
                .iter()
                .any(|p| p.to_string_lossy().contains(id.as_str())),
            "cgroup of {id} left"
        );
    }
    // No link of the pod network ever appears in the host's namespace.
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    for name in [": kv", ": kn", ": cbr0", ": kubelab0"] {
        assert!(!links.contains(name), "host link {name}… found:\n{links}");
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(data.to_str().unwrap()),
        "mounts left under {}",
        data.display()
    );
    let left = processes_of(&data);
    assert!(left.is_empty(), "processes left: {left:?}");
}

#[test]
fn an_oci_image_made_by_umoci_loads_and_runs() {
    if Command::new("umoci").arg("--version").output().is_err() {
        panic!("umoci is missing: tests/run.sh installs it");
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    let dir = c.path().join("oci");
    let layout = format!("{}:hello", dir.display());
    let run = |args: &[&str]| {
        let out = Command::new("umoci").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "umoci {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["init", "--layout", dir.to_str().unwrap()]);
    run(&["new", "--image", &layout]);
    let bundle = c.path().join("bundle");
    run(&[
        "unpack",
        "--rootless",
        "--image",
        &layout,
        bundle.to_str().unwrap(),
    ]);
    let bin = bundle.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/usr/bin/busybox", bin.join("busybox")).unwrap();
    std::fs::write(bundle.join("rootfs/greeting"), "made by umoci\n").unwrap();
    run(&["repack", "--image", &layout, bundle.to_str().unwrap()]);
    run(&[
        "config",
        "--image",
        &layout,
        "--config.entrypoint",
        "/bin/busybox",
        "--config.cmd",
        "cat",
        "--config.cmd",
        "/greeting",
    ]);
    let load = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args([
            "image",
            "load",
            "--tag",
            "example.com/hello:1.0",
            "--data-dir",
        ])
        .arg(c.data_dir())
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    c.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: umoci}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: 'example.com/hello:1.0'}
",
    );
    wait_phase(&c, "umoci", "Succeeded", 30);
    assert_eq!(c.ok(&["logs", "umoci"]), "made by umoci\n");
}

#[test]
fn a_container_sees_the_environment_containerd_would_give_it() {
    if !is_root() {
        eprintln!("/etc/hostname is a mount: linux runtime (root) only; skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: envy}\nspec:\n  hostname: front\n  terminationGracePeriodSeconds: 0\n  containers:\n  - {name: c, image: busybox, command: [sleep, '3600']}\n",
    );
    assert!(eventually(30, || jsonpath(
        &c,
        &["pod", "envy"],
        "{.status.phase}"
    ) == "Running"));
    let out = c.ok(&[
        "exec",
        "envy",
        "--",
        "sh",
        "-c",
        "echo $HOSTNAME $HOME $PATH; cat /etc/hostname; hostname",
    ]);
    assert_eq!(
        out,
        "front /root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nfront\nfront\n"
    );
    // kubectl cp: tar through exec, both ways, a directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in/sub")).unwrap();
    std::fs::write(dir.path().join("in/sub/f"), "copied\n").unwrap();
    let src = dir.path().join("in");
    c.ok(&["cp", src.to_str().unwrap(), "envy:/tmp/in"]);
    assert_eq!(
        c.ok(&["exec", "envy", "--", "cat", "/tmp/in/sub/f"]),
        "copied\n"
    );
    let back = dir.path().join("back");
    c.ok(&["cp", "envy:/tmp/in", back.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(back.join("sub/f")).unwrap(),
        "copied\n"
    );
    // Termination messages: the file, or the log's tail for a failure.
    c.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bye}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, 'echo done > /dev/termination-log; exit 3']}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: broke}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, terminationMessagePolicy: FallbackToLogsOnError, command: [sh, -c, 'echo it broke; exit 1']}\n",
    );
    let message = |pod: &str| {
        jsonpath(
            &c,
            &["pod", pod],
            "{.status.containerStatuses[0].state.terminated.message}",
        )
    };
    assert!(
        eventually(30, || message("bye") == "done\n"),
        "{:?}",
        message("bye")
    );
    assert!(
        eventually(30, || message("broke") == "it broke\n"),
        "{:?}",
        message("broke")
    );
    assert!(c.ok(&["describe", "pod", "bye"]).contains("Message:  done"));
}

#[test]
fn security_contexts_set_the_user_groups_and_a_read_only_root() {
    if !is_root() {
        eprintln!("users and read-only roots need the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: locked}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000]}
  containers:
  - name: c
    image: busybox
    command: [sleep, '3600']
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  containers:
  - name: c
    image: busybox
    command: [sleep, '3600']
    securityContext: {runAsNonRoot: true}
"#,
    );
    assert!(eventually(30, || jsonpath(
        &c,
        &["pod", "locked"],
        "{.status.phase}"
    ) == "Running"));
    // The container's process and an exec into it run as the user.
    assert_eq!(c.ok(&["exec", "locked", "--", "id", "-u"]), "1000\n");
    assert_eq!(c.ok(&["exec", "locked", "--", "id", "-g"]), "3000\n");
    assert!(c.ok(&["exec", "locked", "--", "id", "-G"]).contains("4000"));
    assert_eq!(
        c.ok(&[
            "exec",
            "locked",
            "--",
            "sh",
            "-c",
            "grep NoNewPrivs /proc/self/status | tr -d '\\t '"
        ]),
        "NoNewPrivs:1\n"
    );
    let write = c.kubectl(&["exec", "locked", "--", "sh", "-c", "touch /made-here"]);
    assert!(
        String::from_utf8_lossy(&write.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&write.stderr)
    );
    // An image that runs as root is refused with runAsNonRoot, as upstream.
    let message = || {
        jsonpath(
            &c,
            &["pod", "nonroot"],
            "{.status.containerStatuses[0].state.waiting.message}",
        )
    };
    assert!(
        eventually(20, || message().starts_with(
            "container has runAsNonRoot and image will run as root (pod: \"nonroot_default("
        )),
        "{}",
        message()
    );
}

/// The host's bounding set: what a privileged container gets (this host
/// may itself lack a capability or two).
fn host_capabilities() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn capabilities_seccomp_and_masks_as_containerd_and_runc_apply_them() {
    if !is_root() {
        eprintln!("capabilities and seccomp: linux runtime (root) only; skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: busybox, command: [sleep, '3600']}]
---
apiVersion: v1
kind: Pod
metadata: {name: tight}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: busybox
    command: [sleep, '3600']
    securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}
---
apiVersion: v1
kind: Pod
metadata: {name: priv}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: [sleep, '3600'], securityContext: {privileged: true}}
"#,
    );
    for p in ["plain", "tight", "priv"] {
        wait_phase(&c, p, "Running", 30);
    }
    let sh = |pod: &str, script: &str| {
        let out = c.kubectl(&["exec", pod, "--", "sh", "-c", script]);
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let status = |pod: &str, field: &str| {
        sh(
            pod,
            &format!("grep '^{field}:' /proc/self/status | cut -f2"),
        )
        .trim()
        .to_string()
    };
    // containerd's default set: the well-known a80425fb; no filter.
    assert_eq!(status("plain", "CapEff"), "00000000a80425fb");
    assert_eq!(status("plain", "CapBnd"), "00000000a80425fb");
    assert_eq!(status("plain", "Seccomp"), "0");
    assert!(sh("plain", "chown 1 /tmp && echo ok").contains("ok"));
    // drop ALL + add NET_BIND_SERVICE, RuntimeDefault (the pod's).
    assert_eq!(status("tight", "CapEff"), "0000000000000400");
    assert_eq!(status("tight", "Seccomp"), "2");
    assert!(sh("tight", "chown 1 /tmp").contains("Operation not permitted"));
    assert!(
        sh("tight", "unshare -U true").contains("Operation not permitted"),
        "the default filter refuses unshare"
    );
    assert!(
        sh("plain", "unshare -U true && echo ok").contains("ok"),
        "Unconfined allows it"
    );
    // Privileged: every capability this host has, /sys writable, /proc unmasked.
    assert_eq!(status("priv", "CapEff"), host_capabilities());
    assert!(sh("plain", "touch /sys/x").contains("Read-only file system"));
    assert!(!sh("priv", "touch /sys/x").contains("Read-only file system"));
    // procMount Default: host details hidden, controls read-only.
    let masked = "grep -c -E ' /proc/(keys|timer_list|acpi)| /sys/firmware' /proc/mounts; grep ' /proc/sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1";
    assert_eq!(sh("plain", masked), "4\nro\n");
    assert_eq!(sh("priv", masked).lines().next(), Some("0"));
    assert_eq!(sh("plain", "wc -c < /proc/keys").trim(), "0");
}

#[test]
fn fs_group_owns_the_volumes_and_the_images_user_is_honoured() {
    if !is_root() {
        eprintln!("volumes and users: linux runtime (root) only; skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    // An image whose config names a user, and one naming a user it lacks
    // (each its own OCI layout, made with umoci).
    let run = |args: &[&str]| {
        let out = Command::new("umoci").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "umoci {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for (tag, user) in [("app", "app"), ("nobody", "nobody")] {
        let dir = c.path().join(format!("oci-{tag}"));
        let layout = format!("{}:{tag}", dir.display());
        run(&["init", "--layout", dir.to_str().unwrap()]);
        run(&["new", "--image", &layout]);
        let bundle = c.path().join(format!("bundle-{tag}"));
        run(&[
            "unpack",
            "--rootless",
            "--image",
            &layout,
            bundle.to_str().unwrap(),
        ]);
        let root = bundle.join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        run(&["repack", "--image", &layout, bundle.to_str().unwrap()]);
        run(&[
            "config",
            "--image",
            &layout,
            "--config.user",
            user,
            "--config.entrypoint",
            "/bin/busybox",
            "--config.entrypoint",
            "sh",
        ]);
        let load = Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args([
                "image",
                "load",
                "--tag",
                &format!("example.com/users:{tag}"),
                "--data-dir",
            ])
            .arg(c.data_dir())
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            load.status.success(),
            "{}",
            String::from_utf8_lossy(&load.stderr)
        );
    }
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsUser: 1000, fsGroup: 2000}
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'touch /data/mine; sleep 3600']
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: as-app}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsNonRoot: true}
  containers: [{name: c, image: 'example.com/users:app', args: [-c, 'id; echo HOME=$HOME; sleep 3600']}]
---
apiVersion: v1
kind: Pod
metadata: {name: no-user}
spec:
  containers: [{name: c, image: 'example.com/users:nobody', args: [-c, 'id']}]
"#,
    );
    wait_phase(&c, "shared", "Running", 30);
    let sh = |script: &str| c.ok(&["exec", "shared", "--", "sh", "-c", script]);
    // The volume: group 2000, setgid; a new file inherits the group.
    assert_eq!(sh("stat -c '%g %A' /data"), "2000 drwxrwsrwx\n");
    assert!(eventually(10, || sh("stat -c '%u %g' /data/mine") == "1000 2000\n"));
    assert!(
        sh("id -G").split_whitespace().any(|g| g == "2000"),
        "{}",
        sh("id")
    );
    // The token volume too (read-only bits), as upstream's SetVolumeOwnership.
    let token_dir = "/var/run/secrets/kubernetes.io/serviceaccount/..data";
    assert_eq!(sh(&format!("stat -c '%g' {token_dir}/token")), "2000\n");
    // The image's user (a name, then its own group and home); runAsNonRoot
    // is satisfied by it only because it names the user by a name the
    // kubelet cannot check… so upstream refuses it.
    let waiting = |pod: &str| {
        jsonpath(
            &c,
            &["pod", pod],
            "{.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}",
        )
    };
    assert!(
        eventually(20, || {
            waiting("as-app").starts_with(
        "CreateContainerConfigError: container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root"
    )
        }),
        "{}",
        waiting("as-app")
    );
    c.ok(&["delete", "pod", "as-app", "--wait=false"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: as-app-2}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: 'example.com/users:app', args: [-c, 'id; echo HOME=$HOME; sleep 3600']}]
"#,
    );
    wait_phase(&c, "as-app-2", "Running", 30);
    assert!(eventually(10, || c
        .ok(&["logs", "as-app-2"])
        .contains("HOME=/home/app")));
    assert!(
        c.ok(&["logs", "as-app-2"])
            .starts_with("uid=1000(app) gid=1000"),
        "{}",
        c.ok(&["logs", "as-app-2"])
    );
    // A user the image's /etc/passwd does not have: the runtime's error.
    assert!(
        eventually(20, || waiting("no-user")
            == "CreateContainerError: failed to create container: no users found"),
        "{}",
        waiting("no-user")
    );
}
