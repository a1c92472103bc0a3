//! Chapter 05 end to end with the real kubectl: claims provisioned on
//! first use and kept across pods and restarts, static volumes matched by
//! size and labels, emptyDirs (and what a container's own layer loses),
//! hostPath checks, subPaths, the downward API, projected volumes and
//! ServiceAccount tokens used from inside a pod.

mod support;

use std::path::PathBuf;

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

/// An event of `name` with this reason and message (columns are padded).
fn has_event(c: &Cluster, name: &str, reason: &str, message: &str) -> bool {
    events(c, name).lines().any(|l| {
        l.split_once(' ')
            .is_some_and(|(r, m)| r == reason && m.trim() == message)
    })
}

fn phase(c: &Cluster, what: &[&str]) -> String {
    jsonpath(c, what, "{.status.phase}")
}

fn running(c: &Cluster, pod: &str) -> bool {
    phase(c, &["pod", pod]) == "Running"
}

const NOTES: &str = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: notes}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
"#;

fn notes_pod(name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo {name} >> /data/notes.txt; sleep 3600']
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: notes}}}}]
"#
    )
}

#[test]
fn a_claim_is_provisioned_for_its_first_pod_and_keeps_its_data() {
    if !is_root() {
        eprintln!("chapter 05 needs the linux runtime (root); skipped");
        return;
    }
    let mut c = Cluster::start_with(&["--nodes", "1"]);
    // The default class, as kind's: WaitForFirstConsumer.
    let sc = c.ok(&["get", "sc"]);
    assert!(sc.starts_with("NAME                 PROVISIONER             RECLAIMPOLICY   VOLUMEBINDINGMODE      ALLOWVOLUMEEXPANSION   AGE"), "{sc}");
    assert!(sc.contains("standard (default)   kubelab.io/local-path   Delete          WaitForFirstConsumer   false"), "{sc}");
    c.apply(NOTES);
    // No pod yet: the claim waits, and says why.
    assert!(eventually(10, || has_event(
        &c,
        "notes",
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding"
    )));
    assert_eq!(phase(&c, &["pvc", "notes"]), "Pending");
    assert_eq!(
        jsonpath(&c, &["pvc", "notes"], "{.spec.storageClassName}"),
        "standard"
    );
    c.apply(&notes_pod("first"));
    assert!(
        eventually(30, || running(&c, "first")),
        "{}",
        c.ok(&["describe", "pod", "first"])
    );
    assert_eq!(phase(&c, &["pvc", "notes"]), "Bound");
    let pv = jsonpath(&c, &["pvc", "notes"], "{.spec.volumeName}");
    let uid = jsonpath(&c, &["pvc", "notes"], "{.metadata.uid}");
    assert_eq!(pv, format!("pvc-{uid}"));
    // The scheduler chose the node; the volume is pinned to it.
    assert_eq!(
        jsonpath(
            &c,
            &["pvc", "notes"],
            "{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}"
        ),
        "kubelab-node-1"
    );
    assert_eq!(
        jsonpath(
            &c,
            &["pv", &pv],
            "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}"
        ),
        "kubelab-node-1"
    );
    let dir = c
        .data_dir()
        .join(format!("storage/kubelab-node-1/pvc-{uid}_default_notes"));
    assert_eq!(
        jsonpath(&c, &["pv", &pv], "{.spec.hostPath.path}"),
        dir.display().to_string()
    );
    assert!(eventually(10, || std::fs::read_to_string(
        dir.join("notes.txt")
    )
    .is_ok_and(|s| s == "first\n")));
    let pvc = c.ok(&["get", "pvc", "notes"]);
    assert!(pvc.starts_with("NAME    STATUS   VOLUME"), "{pvc}");
    assert!(pvc.contains(&format!("notes   Bound    {pv}   64Mi       RWO            standard       <unset>                 ")), "{pvc}");
    let pvs = c.ok(&["get", "pv"]);
    assert!(pvs.contains("64Mi       RWO            Delete           Bound    default/notes   standard       <unset>"), "{pvs}");
    assert!(
        c.ok(&["describe", "pvc", "notes"])
            .contains("Used By:       first")
    );

    // Another pod, the same files; then kubelab itself restarts.
    c.ok(&["delete", "pod", "first", "--wait"]);
    c.apply(&notes_pod("second"));
    assert!(eventually(30, || running(&c, "second")));
    assert_eq!(
        c.ok(&["exec", "second", "--", "cat", "/data/notes.txt"]),
        "first\nsecond\n"
    );
    c.restart();
    assert!(eventually(30, || running(&c, "second")
        && c.kubectl(&[
            "exec",
            "second",
            "--",
            "cat",
            "/data/notes.txt"
        ])
        .status
        .success()));
    assert!(
        c.ok(&["exec", "second", "--", "cat", "/data/notes.txt"])
            .starts_with("first\nsecond\n")
    );

    // In use: deleting the claim leaves it Terminating until the pod goes.
    c.ok(&["delete", "pvc", "notes", "--wait=false"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(c.ok(&["get", "pvc", "notes"]).contains("Terminating"));
    assert!(dir.exists());
    c.ok(&["delete", "pod", "second", "--wait"]);
    // Then the claim goes, its volume is released and, reclaim policy
    // Delete, removed with its directory.
    assert!(eventually(20, || !c
        .kubectl(&["get", "pvc", "notes"])
        .status
        .success()));
    assert!(
        eventually(20, || !c.kubectl(&["get", "pv", &pv]).status.success()),
        "{}",
        c.ok(&["get", "pv", "-o", "yaml"])
    );
    assert!(!dir.exists(), "reclaim policy Delete removes the data");

    // A class that retains: the directory and the volume stay, Released.
    c.apply("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: keep}\nprovisioner: kubelab.io/local-path\nreclaimPolicy: Retain\nvolumeBindingMode: Immediate\n");
    c.apply(
        &NOTES
            .replace("name: notes", "name: kept")
            .replace("accessModes", "storageClassName: keep\n  accessModes"),
    );
    assert!(
        eventually(20, || phase(&c, &["pvc", "kept"]) == "Bound"),
        "Immediate: bound without a pod"
    );
    let kept = jsonpath(&c, &["pvc", "kept"], "{.spec.volumeName}");
    let kept_dir = std::path::PathBuf::from(jsonpath(&c, &["pv", &kept], "{.spec.hostPath.path}"));
    assert!(kept_dir.is_dir());
    c.ok(&["delete", "pvc", "kept"]);
    assert!(eventually(10, || phase(&c, &["pv", &kept]) == "Released"));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(kept_dir.is_dir(), "Retain keeps the data");
}

const STATIC: &str = r#"apiVersion: v1
kind: PersistentVolume
metadata: {name: small, labels: {speed: slow}}
spec:
  capacity: {storage: 200Mi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: DIR/small}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: big, labels: {speed: fast}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  storageClassName: manual
  hostPath: {path: DIR/big}
"#;

fn claim(name: &str, size: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}}}\nspec:\n  storageClassName: manual\n  accessModes: [ReadWriteOnce]\n  resources: {{requests: {{storage: {size}}}}}\n{extra}"
    )
}

#[test]
fn static_volumes_go_to_the_smallest_fitting_claim_and_are_retained() {
    let c = Cluster::start_with(&["--nodes", "1", "--runtime", "fake"]);
    let dir = c.data_dir().join("static");
    c.apply(&STATIC.replace("DIR", &dir.display().to_string()));
    assert!(eventually(10, || phase(&c, &["pv", "small"]) == "Available"));
    // 100Mi fits both: the smaller one is taken.
    c.apply(&claim("a", "100Mi", ""));
    assert!(eventually(10, || phase(&c, &["pvc", "a"]) == "Bound"));
    assert_eq!(jsonpath(&c, &["pvc", "a"], "{.spec.volumeName}"), "small");
    assert_eq!(
        jsonpath(&c, &["pvc", "a"], "{.status.capacity.storage}"),
        "200Mi"
    );
    assert_eq!(jsonpath(&c, &["pv", "small"], "{.spec.claimRef.name}"), "a");
    // Nothing fits 5Gi: Pending, and a pod that needs it is not scheduled.
    c.apply(&claim("huge", "5Gi", ""));
    c.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: needs-huge}\nspec:\n  containers: [{name: c, image: busybox}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: huge}}]\n",
    );
    assert!(eventually(10, || jsonpath(
        &c,
        &["pod", "needs-huge"],
        "{.status.conditions[0].message}"
    ) == "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."));
    // A class that names no StorageClass cannot be provisioned (upstream's
    // words); it waits for a volume made by hand.
    assert!(
        has_event(
            &c,
            "huge",
            "ProvisioningFailed",
            "storageclass.storage.k8s.io \"manual\" not found"
        ),
        "{}",
        events(&c, "huge")
    );
    assert_eq!(phase(&c, &["pvc", "huge"]), "Pending");
    // A selector: only volumes with the label.
    c.apply(&claim(
        "fast",
        "10Mi",
        "  selector: {matchLabels: {speed: fast}}\n",
    ));
    assert!(eventually(10, || jsonpath(
        &c,
        &["pvc", "fast"],
        "{.spec.volumeName}"
    ) == "big"));
    // Claim deleted, reclaim policy Retain (the default for a PV made by
    // hand): Released, data and object kept.
    c.ok(&["delete", "pvc", "a"]);
    assert!(eventually(10, || phase(&c, &["pv", "small"]) == "Released"));
    assert!(
        c.ok(&["get", "pv", "small"])
            .contains("Retain           Released   default/a")
    );
    // A volume with a claim cannot be deleted while Bound.
    c.ok(&["delete", "pv", "big", "--wait=false"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(c.ok(&["get", "pv", "big"]).contains("Terminating"));
    c.ok(&["delete", "pvc", "fast"]);
    assert!(eventually(10, || !c
        .kubectl(&["get", "pv", "big"])
        .status
        .success()));
}

#[test]
fn empty_dirs_outlive_containers_but_not_limits() {
    if !is_root() {
        eprintln!("chapter 05 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'if [ -f /cache/seen ]; then ls /layer-file; echo restarted; sleep 3600; else touch /cache/seen /layer-file; exit 1; fi']
    volumeMounts: [{name: cache, mountPath: /cache}, {name: mem, mountPath: /mem}]
  volumes:
  - {name: cache, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'dd if=/dev/zero of=/cache/big bs=1024 count=4096; sleep 3600']
    volumeMounts: [{name: cache, mountPath: /cache}]
  volumes: [{name: cache, emptyDir: {sizeLimit: 1Mi}}]
"#,
    );
    // The emptyDir kept `seen`; the container's own layer lost its file.
    // (stdout and stderr are separate pipes: their lines may interleave.)
    let logs = || String::from_utf8_lossy(&c.kubectl(&["logs", "keeper"]).stdout).to_string();
    assert!(
        eventually(40, || logs().contains("restarted")),
        "{}",
        c.ok(&["describe", "pod", "keeper"])
    );
    assert!(
        logs().contains("ls: /layer-file: No such file or directory\n"),
        "{}",
        logs()
    );
    assert_eq!(
        jsonpath(
            &c,
            &["pod", "keeper"],
            "{.status.containerStatuses[0].restartCount}"
        ),
        "1"
    );
    // Memory-backed: a tmpfs as big as its limit.
    let df = c.ok(&[
        "exec",
        "keeper",
        "--",
        "sh",
        "-c",
        "grep ' /mem ' /proc/mounts; df -k /mem | tail -1",
    ]);
    assert!(df.starts_with("tmpfs /mem tmpfs"), "{df}");
    assert!(df.contains(" 8192 "), "8Mi: {df}");
    // Over its limit on disk: evicted, as upstream words it.
    let message = "Usage of EmptyDir volume \"cache\" exceeds the limit \"1Mi\". ";
    assert!(
        eventually(30, || jsonpath(&c, &["pod", "hog"], "{.status.reason}")
            == "Evicted"),
        "{}",
        c.ok(&["describe", "pod", "hog"])
    );
    assert_eq!(phase(&c, &["pod", "hog"]), "Failed");
    assert_eq!(jsonpath(&c, &["pod", "hog"], "{.status.message}"), message);
    assert!(
        has_event(&c, "hog", "Evicted", message.trim_end()),
        "{}",
        events(&c, "hog")
    );
    // The tmpfs goes with its pod.
    let uid = jsonpath(&c, &["pod", "keeper"], "{.metadata.uid}");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&uid)
    };
    assert!(mounted());
    let cache = c.data_dir().join(format!(
        "nodes/kubelab-node-1/pods/{uid}/volumes/kubernetes.io~empty-dir/cache"
    ));
    assert!(cache.join("seen").exists());
    c.ok(&["delete", "pod", "keeper", "--wait"]);
    assert!(eventually(10, || !mounted()), "the tmpfs is unmounted");
    assert!(
        eventually(10, || !cache.exists()),
        "an emptyDir goes with its pod"
    );
    // Housekeeping: a pod directory nobody knows (a pod deleted before it
    // got a sandbox), with a tmpfs in it, is unmounted and removed.
    let orphan = c
        .data_dir()
        .join("nodes/kubelab-node-1/pods/kubelab-orphan-uid");
    let mem = orphan.join("volumes/kubernetes.io~empty-dir/m");
    std::fs::create_dir_all(&mem).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "kubelab-orphan", mem.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::open(&orphan)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains("kubelab-orphan-uid")
    };
    assert!(
        eventually(15, || !orphan.exists() && !mounted()),
        "the orphaned pod directory and its tmpfs are removed"
    );
}

/// Removes the test's hostPath directory, even when the test fails.
struct HostDir(PathBuf);
impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn host_paths_are_type_checked_and_sub_paths_are_per_pod() {
    if !is_root() {
        eprintln!("chapter 05 needs the linux runtime (root); skipped");
        return;
    }
    let host =
        HostDir(std::env::temp_dir().join(format!("kubelab-hostpath-{}", std::process::id())));
    let c = Cluster::start_with(&["--nodes", "1"]);
    let h = host.0.display().to_string();
    c.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: missing-dir}}
spec:
  containers: [{{name: c, image: busybox, command: [sleep, '3600'], volumeMounts: [{{name: h, mountPath: /h}}]}}]
  volumes: [{{name: h, hostPath: {{path: {h}/nothing, type: Directory}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: writer}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo from-$POD_NAME > /mine/hello; sleep 3600']
    env: [{{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}]
    volumeMounts:
    - {{name: h, mountPath: /mine, subPathExpr: $(POD_NAME)}}
    - {{name: h, mountPath: /all, readOnly: true}}
  volumes: [{{name: h, hostPath: {{path: {h}/shared, type: DirectoryOrCreate}}}}]
"#
    ));
    assert!(eventually(20, || has_event(
        &c,
        "missing-dir",
        "FailedMount",
        &format!(
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: {h}/nothing is not a directory"
        )
    )));
    assert!(
        c.ok(&["get", "pod", "missing-dir"])
            .contains("ContainerCreating")
    );
    assert!(eventually(30, || running(&c, "writer")));
    assert!(eventually(10, || std::fs::read_to_string(
        host.0.join("shared/writer/hello")
    )
    .is_ok_and(|s| s == "from-writer\n")));
    assert_eq!(
        c.ok(&["exec", "writer", "--", "cat", "/all/writer/hello"]),
        "from-writer\n"
    );
    let write = c.kubectl(&["exec", "writer", "--", "touch", "/all/x"]);
    assert!(!write.status.success(), "a readOnly mount refuses writes");
    assert!(String::from_utf8_lossy(&write.stderr).contains("Read-only file system"));
    // A symlink planted in a volume cannot lead a subPath out of it
    // (CVE-2017-1002101): the container is not created.
    std::os::unix::fs::symlink("/etc", host.0.join("shared/escape")).unwrap();
    c.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: escaper}}\nspec:\n  containers: [{{name: c, image: busybox, command: [sleep, '3600'], volumeMounts: [{{name: h, mountPath: /x, subPath: escape}}]}}]\n  volumes: [{{name: h, hostPath: {{path: {h}/shared}}}}]\n"
    ));
    assert!(
        eventually(20, || has_event(
            &c,
            "escaper",
            "CreateContainerConfigError",
            "failed to prepare subPath for volumeMount \"h\" of container \"c\": subPath \"escape\" resolves to /etc, outside the volume"
        )),
        "{}",
        events(&c, "escaper")
    );
    assert_ne!(phase(&c, &["pod", "escaper"]), "Running");
    // Created once the path exists with the right type.
    std::fs::create_dir_all(host.0.join("nothing")).unwrap();
    assert!(eventually(20, || running(&c, "missing-dir")));
}

#[test]
fn pods_know_themselves_and_talk_to_the_api_with_their_token() {
    if !is_root() {
        eprintln!("chapter 05 needs the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    // Every namespace gets a default ServiceAccount and the CA.
    c.ok(&["create", "namespace", "shop"]);
    assert!(eventually(10, || c
        .kubectl(&["get", "sa", "default", "-n", "shop"])
        .status
        .success()));
    assert!(eventually(10, || c
        .kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "shop"])
        .status
        .success()));
    let kubectl = which_kubectl();
    c.apply(&format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: greeting}}
data: {{hello: hi}}
---
apiVersion: v1
kind: Pod
metadata: {{name: info, labels: {{app: shop}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: [sleep, '3600']
    resources: {{limits: {{memory: 64Mi}}}}
    volumeMounts:
    - {{name: podinfo, mountPath: /etc/podinfo}}
    - {{name: bundle, mountPath: /etc/bundle}}
    - {{name: kubectl, mountPath: /usr/local/bin/kubectl}}
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}
      - {{path: mem, resourceFieldRef: {{containerName: c, resource: limits.memory, divisor: 1Mi}}}}
  - name: bundle
    projected:
      sources:
      - configMap: {{name: greeting}}
      - downwardAPI: {{items: [{{path: name, fieldRef: {{fieldPath: metadata.name}}}}]}}
      - serviceAccountToken: {{audience: vault, expirationSeconds: 600, path: vault-token}}
  - {{name: kubectl, hostPath: {{path: {kubectl}, type: File}}}}
"#,
        kubectl = kubectl.display()
    ));
    assert!(
        eventually(30, || running(&c, "info")),
        "{}",
        c.ok(&["describe", "pod", "info"])
    );
    let exec = |script: &str| c.ok(&["exec", "info", "--", "sh", "-c", script]);
    assert_eq!(exec("cat /etc/podinfo/labels"), "app=\"shop\"");
    assert_eq!(exec("cat /etc/podinfo/mem"), "64");
    assert_eq!(exec("cat /etc/bundle/hello /etc/bundle/name"), "hiinfo");
    // The admission plugin's volume: serviceAccountName and the token files.
    assert_eq!(
        jsonpath(&c, &["pod", "info"], "{.spec.serviceAccountName}"),
        "default"
    );
    let sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    assert_eq!(exec(&format!("ls {sa_dir}")), "ca.crt\nnamespace\ntoken\n");
    assert_eq!(exec(&format!("cat {sa_dir}/namespace")), "default");
    // Labels change: the file follows.
    c.ok(&["label", "pod", "info", "tier=web"]);
    assert!(eventually(10, || exec("cat /etc/podinfo/labels")
        == "app=\"shop\"\ntier=\"web\""));
    // kubectl inside the pod: the mounted token, CA and the kubernetes Service.
    let inside = exec("kubectl get pods -o name");
    assert!(inside.contains("pod/info"), "{inside}");
    // A token for another audience is not accepted by the API server.
    let vault = exec("cat /etc/bundle/vault-token");
    let refused = c.kubectl(&["--token", &vault, "get", "pods"]);
    assert!(!refused.status.success());
    // `kubectl create token`: a JWT that works until its account goes.
    c.ok(&["create", "serviceaccount", "robot"]);
    let token = c.ok(&["create", "token", "robot", "--duration", "10m"]);
    assert_eq!(token.trim().split('.').count(), 3);
    assert!(
        c.ok(&["--token", token.trim(), "get", "pods", "-o", "name"])
            .contains("pod/info")
    );
    c.ok(&["delete", "serviceaccount", "robot"]);
    let after = c.kubectl(&["--token", token.trim(), "get", "pods"]);
    assert!(!after.status.success());
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("Unauthorized"),
        "{after:?}"
    );
    // Too short a token is refused with the field.
    let short = c.fails(&["create", "token", "default", "--duration", "1m"]);
    assert!(short.contains("spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"), "{short}");
    // A pod naming an account that does not exist is refused.
    let refused = c.fails(&[
        "run",
        "ghost",
        "--image",
        "busybox",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"ghost"}}"#,
    ]);
    assert!(
        refused.contains(
            "error looking up service account default/ghost: serviceaccount \"ghost\" not found"
        ),
        "{refused}"
    );
}

fn which_kubectl() -> PathBuf {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v kubectl"])
        .output()
        .unwrap();
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::canonicalize(&p).unwrap_or(p)
}

#[test]
fn local_volumes_keep_their_pods_on_their_node() {
    let c = Cluster::start_with(&["--nodes", "2", "--runtime", "fake"]);
    let pinned = |name: &str, node: &str| {
        format!(
            "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {name}}}\nspec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  storageClassName: local\n  local: {{path: /tmp/kubelab-never-used}}\n  nodeAffinity: {{required: {{nodeSelectorTerms: [{{matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{node}]}}]}}]}}}}\n"
        )
    };
    let user = |pod: &str, claim: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}}}\nspec:\n  containers: [{{name: c, image: busybox}}]\n  volumes: [{{name: v, persistentVolumeClaim: {{claimName: {claim}}}}}]\n"
        )
    };
    // A class without a provisioner that waits for the first pod, as
    // upstream's docs set up local volumes.
    c.apply("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\nprovisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n");
    c.apply(&pinned("on-two", "kubelab-node-2"));
    c.apply(&claim("near", "100Mi", "").replace("manual", "local"));
    c.apply(&user("follows", "near"));
    // The scheduler picks the volume's node, then the claim is bound.
    assert!(
        eventually(20, || jsonpath(&c, &["pod", "follows"], "{.spec.nodeName}")
            == "kubelab-node-2"),
        "{}",
        c.ok(&["describe", "pod", "follows"])
    );
    assert_eq!(
        jsonpath(&c, &["pvc", "near"], "{.spec.volumeName}"),
        "on-two"
    );
    // Bound to a volume on a node that does not exist: no node will do.
    c.apply(&user("stranded", "near"));
    assert!(
        eventually(10, || phase(&c, &["pod", "stranded"]) == "Running"),
        "same claim, same node: {}",
        c.ok(&["describe", "pod", "stranded"])
    );
    c.apply(&pinned("on-nowhere", "kubelab-node-9"));
    c.apply(&claim("far", "100Mi", "  volumeName: on-nowhere\n").replace("manual", "local"));
    assert!(eventually(10, || phase(&c, &["pvc", "far"]) == "Bound"));
    c.apply(&user("lost", "far"));
    assert!(
        eventually(10, || jsonpath(
            &c,
            &["pod", "lost"],
            "{.status.conditions[0].message}"
        ) == "0/2 nodes are available: 2 node(s) didn't match PersistentVolume's node affinity."),
        "{}",
        c.ok(&["describe", "pod", "lost"])
    );
    // Unbound, waiting for its first pod, and no volume fits: nowhere to go.
    c.apply(&claim("nothing-fits", "50Gi", "").replace("manual", "local"));
    c.apply(&user("waits", "nothing-fits"));
    assert!(
        eventually(10, || jsonpath(
            &c,
            &["pod", "waits"],
            "{.status.conditions[0].message}"
        ) == "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."),
        "{}",
        c.ok(&["describe", "pod", "waits"])
    );
}
