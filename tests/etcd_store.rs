//! Beyond one machine: the cluster's state in a real etcd cluster
//! (`kubelab up --store etcd://…`), laid out as kube-apiserver lays it out,
//! looked at with the real `etcdctl`.
//!
//! tests/run.sh starts a three-member etcd on loopback and names it in
//! `KUBELAB_ETCD`; without it, the test starts one of its own. Each test
//! keeps its keys under a prefix of its own (upstream's `--etcd-prefix`).

mod support;

use std::process::Command;

use kubelab_store::LocalEtcd;
use support::{Cluster, jsonpath};

struct Etcd {
    /// `etcd://a,b,c`
    url: String,
    _own: Option<LocalEtcd>,
}

impl Etcd {
    fn get() -> Etcd {
        if let Ok(url) = std::env::var("KUBELAB_ETCD") {
            return Etcd { url, _own: None };
        }
        let dir = std::env::temp_dir().join(format!("kubelab-etcd-e2e-{}", std::process::id()));
        let own = LocalEtcd::start(&dir, 3).expect("a local etcd cluster");
        Etcd {
            url: own.url(""),
            _own: Some(own),
        }
    }

    /// The real etcdctl against the same members.
    fn etcdctl(&self, args: &[&str]) -> String {
        let hosts = self.url.trim_start_matches("etcd://");
        let endpoints: Vec<String> = hosts.split(',').map(|h| format!("http://{h}")).collect();
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(args)
            .output()
            .expect("etcdctl (Debian's etcd-client; tests/run.sh installs it)");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn unique_prefix(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("/kubelab-{what}-{}-{nanos}", std::process::id())
}

#[test]
fn the_cluster_keeps_its_objects_in_etcd_as_upstream_lays_them_out() {
    let etcd = Etcd::get();
    let prefix = unique_prefix("layout");
    let store = format!("{}{prefix}", etcd.url);
    let mut c = Cluster::start_with(&["--chapter", "4", "--runtime", "fake", "--store", &store]);
    c.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=hunter2",
    ]);

    let keys = etcd.etcdctl(&[
        "get",
        "--prefix",
        "--keys-only",
        &format!("{prefix}/registry/"),
    ]);
    for key in [
        "configmaps/default/settings",
        "secrets/default/db",
        "namespaces/kube-system",
        "services/specs/default/kubernetes",
        "minions/kubelab-node-1",
        "leases/kube-node-lease/kubelab-node-1",
    ] {
        let full = format!("{prefix}/registry/{key}");
        assert!(
            keys.lines().any(|l| l == full),
            "{full} is not in etcd:\n{keys}"
        );
    }

    // A resourceVersion is the etcd revision of the object's last write.
    let rv = jsonpath(
        &c,
        &["configmap", "settings"],
        "{.metadata.resourceVersion}",
    );
    let raw = etcd.etcdctl(&[
        "get",
        &format!("{prefix}/registry/configmaps/default/settings"),
        "-w",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(json["kvs"][0]["mod_revision"].to_string(), rv);

    // Secrets are encrypted at rest (chapter 04): etcd only has ciphertext.
    let stored = etcd.etcdctl(&[
        "get",
        "--print-value-only",
        &format!("{prefix}/registry/secrets/default/db"),
    ]);
    assert!(
        stored.starts_with("k8s:enc:secretbox:v1:"),
        "not encrypted: {stored:?}"
    );
    assert!(!stored.contains("hunter2"));
    assert_eq!(
        jsonpath(&c, &["secret", "db"], "{.data.password}"),
        "aHVudGVyMg=="
    );

    // kill -9 of the API server loses nothing: the state is in etcd.
    c.crash_and_restart();
    assert_eq!(
        jsonpath(
            &c,
            &["configmap", "settings"],
            "{.metadata.resourceVersion}"
        ),
        rv
    );
    assert_eq!(
        jsonpath(&c, &["secret", "db"], "{.data.password}"),
        "aHVudGVyMg=="
    );
    // … and revisions go on from etcd's, not from zero.
    c.ok(&["label", "configmap", "settings", "tier=backend"]);
    let after = jsonpath(
        &c,
        &["configmap", "settings"],
        "{.metadata.resourceVersion}",
    );
    assert!(after.parse::<u64>().unwrap() > rv.parse::<u64>().unwrap());
}

#[test]
fn an_unreachable_etcd_is_a_clear_error_at_start() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-test-")
        .tempdir()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["apiserver", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .args(["--store", &format!("etcd://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "etcd is unavailable (127.0.0.1:{port}: Connection refused"
        )),
        "{err}"
    );
}
