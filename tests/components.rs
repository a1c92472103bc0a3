//! Beyond one machine, first steps: the control plane's components run as
//! processes of their own against an API server in another process, as
//! upstream runs kube-controller-manager and kube-scheduler — each a
//! plain HTTPS client of the API server with the kubeconfig it is given.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Cluster, Process};

fn component(args: &[&str]) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    // keep reading: a closed pipe would kill the process at its next line
    std::thread::spawn(move || lines.for_each(drop));
    (Process(child), first)
}

#[test]
fn controller_manager_and_scheduler_run_as_their_own_processes() {
    // the API server alone: chapter 01's cluster has no controllers
    let api = Cluster::start_with(&["--chapter", "1"]);
    let kc = api.kubeconfig.to_str().unwrap().to_string();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-cm-")
        .tempdir()
        .unwrap();
    let (_cm, said) = component(&[
        "controller-manager",
        "--kubeconfig",
        &kc,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        said.starts_with("kube-controller-manager is running: ")
            && said.contains("deployment-controller"),
        "{said}"
    );
    assert!(
        !said.contains("kube-scheduler"),
        "the scheduler is a process of its own: {said}"
    );
    let (_sched, said) = component(&["scheduler", "--kubeconfig", &kc]);
    assert_eq!(said, "kube-scheduler is running: kube-scheduler");

    // the controllers in the other process act on what kubectl writes
    deployment_makes_two_pods(&api, "the Deployment's pods were never made");
    let rs = api.kubectl(&[
        "get",
        "replicasets",
        "-o",
        "jsonpath={.items[0].metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(String::from_utf8_lossy(&rs.stdout), "web");
}

/// Creates the Deployment `web` with two replicas and waits up to 30 s for
/// its two pods: the controllers acted. Fails with `why` otherwise.
#[track_caller]
fn deployment_makes_two_pods(api: &Cluster, why: &str) {
    assert!(
        api.kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=kubelab/web:1.0",
            "--replicas=2"
        ])
        .status
        .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = api.kubectl(&["get", "pods", "-l", "app=web", "-o", "name"]);
        let pods = String::from_utf8_lossy(&out.stdout).lines().count();
        if pods == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{why} ({pods})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_component_with_refused_credentials_stops_at_once_with_the_reason() {
    let api = Cluster::start_with(&["--chapter", "1"]);
    let text = std::fs::read_to_string(&api.kubeconfig).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    let bad = tempfile::Builder::new()
        .prefix("kubelab-kc-")
        .tempdir()
        .unwrap();
    let path = bad.path().join("kubeconfig");
    std::fs::write(&path, text.replace(&token, "not-the-token")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["scheduler", "--kubeconfig"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kube-scheduler: the API server in") && err.contains("(401)"),
        "{err}"
    );
}

/// A component whose stdout lines arrive on a channel (it may print
/// nothing for a while: a standby waits for the Lease).
fn spawn_watched(args: &[&str]) -> (Process, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Process(child), rx)
}

#[test]
fn of_two_controller_managers_one_acts_and_the_other_takes_over_after_a_crash() {
    let api = Cluster::start_with(&["--chapter", "1"]);
    let kc = api.kubeconfig.to_str().unwrap().to_string();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-cm-")
        .tempdir()
        .unwrap();
    let args = |n: &str| {
        vec![
            "controller-manager".to_string(),
            "--kubeconfig".into(),
            kc.clone(),
            "--data-dir".into(),
            dir.path().join(n).to_str().unwrap().to_string(),
            "--leader-elect-lease-duration".into(),
            "3s".into(),
            "--leader-elect-retry-period".into(),
            "0.5s".into(),
        ]
    };
    let a1 = args("one");
    let (mut first, rx1) = spawn_watched(&a1.iter().map(String::as_str).collect::<Vec<_>>());
    let said = rx1
        .recv_timeout(Duration::from_secs(30))
        .expect("the first becomes the leader");
    assert!(
        said.starts_with("kube-controller-manager is running"),
        "{said}"
    );
    let a2 = args("two");
    let (_second, rx2) = spawn_watched(&a2.iter().map(String::as_str).collect::<Vec<_>>());
    // the second waits: the Lease is held and renewed
    assert!(
        rx2.recv_timeout(Duration::from_secs(5)).is_err(),
        "two leaders at once"
    );
    let lease = |field: &str| {
        let out = api.kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "kube-controller-manager",
            "-o",
            &format!("jsonpath={{.spec.{field}}}"),
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let holder = lease("holderIdentity");
    assert!(!holder.is_empty());

    // kill -9 the leader: no goodbye, the Lease just stops being renewed
    let killed = Instant::now();
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let said = rx2
        .recv_timeout(Duration::from_secs(30))
        .expect("the standby takes over");
    assert!(
        said.starts_with("kube-controller-manager is running"),
        "{said}"
    );
    eprintln!(
        "takeover {} ms after kill -9 (lease 3 s)",
        killed.elapsed().as_millis()
    );
    assert_ne!(lease("holderIdentity"), holder);
    assert_eq!(lease("leaseTransitions"), "1");

    // the new leader acts
    deployment_makes_two_pods(&api, "the new leader never made the pods");
    // and nothing was done twice: one ReplicaSet
    let rs = api.kubectl(&["get", "replicasets", "-o", "name"]);
    assert_eq!(String::from_utf8_lossy(&rs.stdout).lines().count(), 1);
}

/// The scheduler too: two run, one binds; after a `kill -9` of the leader
/// the standby binds the pods, each exactly once (one `Scheduled` event
/// per pod). The node is a `kubelab node` process on the fake runtime.
#[test]
fn of_two_schedulers_one_binds_and_the_other_takes_over_after_a_crash() {
    let api = Cluster::start_with(&["--chapter", "1"]);
    let kc = api.kubeconfig.to_str().unwrap().to_string();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-sched-")
        .tempdir()
        .unwrap();
    let node_dir = dir.path().join("node");
    let (_node, said) = component(&[
        "node",
        "--kubeconfig",
        &kc,
        "--name",
        "fake-1",
        "--runtime",
        "fake",
        "--node-ip",
        "127.0.0.1",
        "--data-dir",
        node_dir.to_str().unwrap(),
    ]);
    assert!(said.starts_with("kubelab node fake-1 is running"), "{said}");
    let args = [
        "scheduler",
        "--kubeconfig",
        &kc,
        "--leader-elect-lease-duration",
        "3s",
        "--leader-elect-retry-period",
        "0.5s",
    ];
    let (mut first, rx1) = spawn_watched(&args);
    let said = rx1
        .recv_timeout(Duration::from_secs(30))
        .expect("the first becomes the leader");
    assert!(said.starts_with("kube-scheduler is running"), "{said}");
    let (_second, rx2) = spawn_watched(&args);
    assert!(
        rx2.recv_timeout(Duration::from_secs(4)).is_err(),
        "two leaders at once"
    );
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let said = rx2
        .recv_timeout(Duration::from_secs(30))
        .expect("the standby takes over");
    assert!(said.starts_with("kube-scheduler is running"), "{said}");

    for i in 0..5 {
        let name = format!("p{i}");
        let out = api.kubectl(&["run", &name, "--image=busybox", "--", "sleep", "3600"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bound = || {
        let out = api.kubectl(&["get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}"]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|n| *n == "fake-1")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while bound() < 5 {
        assert!(
            Instant::now() < deadline,
            "the new leader never bound the pods"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = api.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "reason=Scheduled",
        "-o",
        "name",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&events.stdout).lines().count(),
        5,
        "each pod scheduled exactly once"
    );
}

/// `kubelab apiserver` alone, on another address than 127.0.0.1: the
/// kubeconfig it writes names the advertise address, and the serving
/// certificate covers it (kubectl verifies that); with another advertise
/// address the certificate is made anew.
#[test]
fn the_api_server_alone_listens_where_it_is_told_and_its_certificate_says_so() {
    let dir = tempfile::Builder::new()
        .prefix("kubelab-as-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let kubeconfig = data.join("kubeconfig");
    for address in ["127.0.0.2", "127.0.0.3"] {
        let (_api, said) = component(&[
            "apiserver",
            "--data-dir",
            data.to_str().unwrap(),
            "--port",
            "0",
            "--bind-address",
            address,
            "--advertise-address",
            address,
        ]);
        assert!(
            said.starts_with(&format!("kubelab apiserver is up at https://{address}:")),
            "{said}"
        );
        let text = std::fs::read_to_string(&kubeconfig).unwrap();
        assert!(
            text.contains(&format!("server: https://{address}:")),
            "{text}"
        );
        let out = Command::new("kubectl")
            .args(["get", "namespace", "kube-system", "-o", "name"])
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "namespace/kube-system\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // every chapter's kinds are served, with nothing running them
        let out = Command::new("kubectl")
            .args(["get", "cronjobs,horizontalpodautoscalers", "-A"])
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
