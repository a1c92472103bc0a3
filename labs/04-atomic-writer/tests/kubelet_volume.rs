//! Lab 04's checks inside a real cluster: a pod mounts a ConfigMap, the
//! kubelet writes the volume with your `write_payload`, and a change to the
//! ConfigMap reaches the files in the pod's directory.
//!
//! This test program has its own `main` (`harness = false` in Cargo.toml):
//! the process runtime starts each container through a small helper
//! program, and that helper is this very program, re-executed as
//! `<program> runtime-shim DIR` — as runc re-executes itself for
//! `runc init` (see `kubelab_runtime::reexec`). Such a start is not a test
//! run, so `main` hands it to the runtime first, as kubelab's own `main`
//! does.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kubelab_client::Client;
use kubelab_client::rest::{path, resource};
use serde_json::{Value, json};

/// How long the pod may take to start (your writer runs before it does).
const START: Duration = Duration::from_secs(30);
/// How long a ConfigMap change may take to reach the files (kubelab: at once).
const UPDATE: Duration = Duration::from_secs(5);

fn configmap(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "app-config", "namespace": "default"}, "data": data})
}

/// Two volumes of one ConfigMap: every key (`config`), and one key at a
/// nested path with its own mode (`nested`).
fn pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "reader", "namespace": "default"},
    "spec": {
        "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                             {"name": "nested", "mountPath": "/etc/nested"}]}],
        "volumes": [
            {"name": "config", "configMap": {"name": "app-config"}},
            {"name": "nested", "configMap": {"name": "app-config",
                "items": [{"key": "app.conf", "path": "conf/app.conf", "mode": 0o400}]}},
        ]}})
}

/// The warnings the cluster recorded about the pod (e.g. `FailedMount`).
async fn warnings(client: &Client) -> Vec<String> {
    let events = path(resource("v1", "Event"), Some("default"), None);
    let list = client.get(&events).await.unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["involvedObject"]["name"] == "reader" && e["type"] == "Warning")
        .map(|e| format!("{}: {}", e["reason"], e["message"]))
        .collect()
}

/// Waits until the pod runs; returns its uid.
async fn wait_running(client: &Client) -> String {
    let pod_path = path(resource("v1", "Pod"), Some("default"), Some("reader"));
    let deadline = Instant::now() + START;
    loop {
        no_panic_in_the_kubelet();
        let pod = client.get(&pod_path).await.unwrap();
        if pod["status"]["phase"] == "Running" {
            return pod["metadata"]["uid"].as_str().unwrap().to_string();
        }
        if Instant::now() > deadline {
            panic!(
                "the pod is not Running after {START:?} (status {}). The kubelet writes its \
                 volumes with your write_payload before it starts a container: did it panic \
                 (see the output above) or return an error? Warnings: {:#?}",
                pod["status"],
                warnings(client).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Upstream's place for a configMap volume: `<pod dir>/volumes/kubernetes.io~configmap/<volume>`.
fn volume_dir(data_dir: &Path, uid: &str, volume: &str) -> PathBuf {
    data_dir
        .join("nodes/kubelab-node-1/pods")
        .join(uid)
        .join("volumes/kubernetes.io~configmap")
        .join(volume)
}

/// The `..<timestamp>` directories of a volume.
fn versions(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..") && n.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
        .collect();
    v.sort();
    v
}

/// Where `..data` points; checks that it is a `..<timestamp>` directory.
fn data_target(dir: &Path) -> String {
    let target = std::fs::read_link(dir.join("..data"))
        .unwrap_or_else(|e| panic!("{dir:?}/..data must be a symlink: {e}"));
    let name = target.to_string_lossy().into_owned();
    assert!(
        versions(dir).contains(&name),
        "`..data` must point at a `..<timestamp>` directory of the volume, not at {target:?}"
    );
    name
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// The whole story, in one cluster: the first write when the pod starts,
/// then an update of the ConfigMap while the pod runs.
async fn mount_then_update(client: &Client, data_dir: &Path) {
    let cms = path(resource("v1", "ConfigMap"), Some("default"), None);
    let data = json!({"color": "teal", "size": "small", "app.conf": "listen = 8080\n"});
    client.create(&cms, &configmap(data)).await.unwrap();
    let pods = path(resource("v1", "Pod"), Some("default"), None);
    client.create(&pods, &pod()).await.unwrap();
    let uid = wait_running(client).await;

    // 1. The pod's first version: every key a link through `..data`.
    let dir = volume_dir(data_dir, &uid, "config");
    let first = data_target(&dir);
    assert_eq!(versions(&dir), [&*first], "one version");
    for key in ["color", "size", "app.conf"] {
        assert_eq!(
            std::fs::read_link(dir.join(key)).ok(),
            Some(Path::new("..data").join(key)),
            "{dir:?}/{key} must be a symlink to ..data/{key}"
        );
    }
    assert_eq!(read(&dir, "color").as_deref(), Some("teal"));
    assert_eq!(read(&dir, "size").as_deref(), Some("small"));
    assert_eq!(read(&dir, "app.conf").as_deref(), Some("listen = 8080\n"));
    let nested = volume_dir(data_dir, &uid, "nested");
    assert_eq!(
        read(&nested, "conf/app.conf").as_deref(),
        Some("listen = 8080\n"),
        "`items: [{{path: conf/app.conf}}]` puts the key in a directory"
    );
    assert_eq!(
        std::fs::read_link(nested.join("conf")).ok(),
        Some(PathBuf::from("..data/conf")),
        "the top-level name `conf` is the link"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(nested.join("conf/app.conf"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o400, "the item's mode");

    // 2. Change a key, remove one, add one: the files follow.
    let cm_path = path(
        resource("v1", "ConfigMap"),
        Some("default"),
        Some("app-config"),
    );
    let mut cm = client.get(&cm_path).await.unwrap();
    cm["data"] = json!({"color": "orange", "app.conf": "listen = 9090\n", "shape": "round"});
    client.replace(&cm_path, &cm).await.unwrap();
    let deadline = Instant::now() + UPDATE;
    while read(&dir, "shape").is_none() || read(&dir, "color").as_deref() != Some("orange") {
        no_panic_in_the_kubelet();
        assert!(
            Instant::now() < deadline,
            "the ConfigMap changed, but after {UPDATE:?} {dir:?} still shows color = {:?}, \
             shape = {:?}",
            read(&dir, "color"),
            read(&dir, "shape")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // let the writer finish
    let second = data_target(&dir);
    assert_ne!(second, first, "`..data` points at a new version");
    assert_eq!(
        versions(&dir),
        [second],
        "exactly one version remains: the old one must go"
    );
    assert_eq!(read(&dir, "app.conf").as_deref(), Some("listen = 9090\n"));
    assert_eq!(read(&dir, "shape").as_deref(), Some("round"));
    assert!(
        std::fs::symlink_metadata(dir.join("size")).is_err(),
        "the removed key's link {dir:?}/size must go"
    );
    assert_eq!(
        read(&nested, "conf/app.conf").as_deref(),
        Some("listen = 9090\n"),
        "the other volume of the same ConfigMap follows too"
    );
    assert_eq!(versions(&nested).len(), 1);
}

const TEST: &str = "the_kubelet_writes_and_updates_a_configmap_volume_with_your_writer";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = kubelab_runtime::reexec::main(&args) {
        std::process::exit(code);
    }
    // `cargo test -p lab-04-atomic-writer NAME` runs only the tests whose
    // name contains NAME, as the usual test harness does.
    let filters: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| TEST.contains(f)) {
        println!("\nrunning 0 tests (1 filtered out)\n");
        return;
    }
    record_panics();
    println!("\nrunning 1 test");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(the_kubelet_writes_and_updates_a_configmap_volume_with_your_writer());
    println!("test {TEST} ... ok\n");
}

async fn the_kubelet_writes_and_updates_a_configmap_volume_with_your_writer() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_04_atomic_writer::start_cluster(dir.path()).await;
    let (client, data_dir) = (cluster.client(), dir.path().to_path_buf());
    // Run the checks in a task of their own, so that the pod's process is
    // stopped (`shutdown`) even when a check fails.
    let checks = tokio::spawn(async move { mount_then_update(&client, &data_dir).await });
    let outcome = checks.await;
    cluster.shutdown().await;
    if let Err(e) = outcome {
        println!("test {TEST} ... FAILED\n");
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The first panic of the program: one inside the kubelet (your
/// `write_payload` is called from the kubelet's workers) fails the test at
/// once instead of at a timeout.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn record_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut first) = PANIC.lock() {
            first.get_or_insert_with(|| info.to_string());
        }
        report(info);
    }));
}

/// Fails the test if something panicked inside the cluster.
fn no_panic_in_the_kubelet() {
    // Read, then let go of the lock: the panic below records itself too.
    let first = PANIC.lock().unwrap().clone();
    if let Some(p) = first {
        panic!("a panic in the cluster, where the kubelet runs your write_payload: {p}");
    }
}
