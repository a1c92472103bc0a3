//! Beyond one machine, first steps: the control plane's components run as
//! processes of their own against an API server in another process, as
//! upstream runs kube-controller-manager and kube-scheduler — each a
//! plain HTTPS client of the API server with the kubeconfig it is given.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Cluster;

/// A component process, stopped (SIGTERM, then kill) when dropped.
struct Component(Child);

impl Drop for Component {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.0.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.0.kill();
                let _ = self.0.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn component(args: &[&str]) -> (Component, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    (Component(child), first)
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
        assert!(
            Instant::now() < deadline,
            "the Deployment's pods were never made ({pods})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rs = api.kubectl(&[
        "get",
        "replicasets",
        "-o",
        "jsonpath={.items[0].metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(String::from_utf8_lossy(&rs.stdout), "web");
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
