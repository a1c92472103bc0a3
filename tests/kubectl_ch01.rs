//! Chapter 01 end to end: the real `kubectl` against a real `kubelab up`.
//!
//! Each test starts its own cluster (see `support`), so they run in parallel.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{Cluster, eventually};

const DEPLOYMENT: &str =
    include_str!("../chapters/01-objects-and-api/manifests/web-deployment.yaml");
const SERVICE: &str = include_str!("../chapters/01-objects-and-api/manifests/web-service.yaml");
const CONFIG: &str = include_str!("../chapters/01-objects-and-api/manifests/web-config.yaml");
const NAMESPACE: &str = include_str!("../chapters/01-objects-and-api/manifests/lab-namespace.yaml");
const TYPO: &str = include_str!("../chapters/01-objects-and-api/manifests/typo-deployment.yaml");

#[test]
fn version_discovery_and_explain() {
    let c = Cluster::start();
    let v: serde_json::Value = serde_json::from_str(&c.ok(&["version", "-o", "json"])).unwrap();
    // The kubectl dispatcher picks its client from this minor version.
    assert_eq!(v["serverVersion"]["minor"], "33");
    assert_eq!(v["serverVersion"]["major"], "1");

    let resources = c.ok(&["api-resources"]);
    let deploy = resources
        .lines()
        .find(|l| l.starts_with("deployments "))
        .expect("deployments listed");
    let cols: Vec<&str> = deploy.split_whitespace().collect();
    assert_eq!(
        cols,
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["namespaces", "ns", "v1", "false", "Namespace"])
    );

    let versions = c.ok(&["api-versions"]);
    for gv in [
        "v1",
        "apps/v1",
        "batch/v1",
        "rbac.authorization.k8s.io/v1",
        "coordination.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing from api-versions"
        );
    }

    let explain = c.ok(&["explain", "pod.spec.containers"]);
    assert!(
        explain.contains("FIELD: containers <[]Container>"),
        "{explain}"
    );
    assert!(explain.contains("image\t<string>"), "{explain}");
    let explain = c.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explain.contains("FIELD: replicas <integer>"), "{explain}");

    // The system namespaces exist from the start.
    let ns = c.ok(&["get", "ns", "-o", "name"]);
    assert_eq!(
        ns.lines().collect::<Vec<_>>(),
        [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system"
        ]
    );
}

#[test]
fn apply_creates_then_leaves_unchanged_then_configures() {
    let c = Cluster::start();
    assert_eq!(c.apply(DEPLOYMENT), "deployment.apps/web created\n");
    assert_eq!(c.apply(DEPLOYMENT), "deployment.apps/web unchanged\n");
    assert_eq!(
        c.apply(&DEPLOYMENT.replace("replicas: 2", "replicas: 4")),
        "deployment.apps/web configured\n"
    );

    let d: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "deploy", "web", "-o", "json"])).unwrap();
    assert_eq!(d["spec"]["replicas"], 4);
    // Defaults the server filled in, as upstream does.
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(
        d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        30
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    // Two spec changes: create and the replica change.
    assert_eq!(d["metadata"]["generation"], 2);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );

    // Server-side apply creates, then updates.
    let out = c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], CONFIG);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/web-config serverside-applied\n"
    );
    let out = c.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        &CONFIG.replace("teal", "orange"),
    );
    assert!(out.status.success());
    assert_eq!(
        c.ok(&["get", "cm", "web-config", "-o", "jsonpath={.data.COLOUR}"]),
        "orange"
    );
}

#[test]
fn create_generators_send_protobuf_and_work() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&["create", "namespace", "dev"]),
        "namespace/dev created\n"
    );
    assert_eq!(
        c.ok(&[
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=1",
            "--from-literal=b=2"
        ]),
        "configmap/cfg created\n"
    );
    assert_eq!(
        c.ok(&[
            "create",
            "secret",
            "generic",
            "pw",
            "--from-literal=password=s3cret"
        ]),
        "secret/pw created\n"
    );
    assert_eq!(
        c.ok(&[
            "create",
            "deployment",
            "api",
            "--image=kubelab/rng:1.0",
            "--replicas=3",
            "-n",
            "dev"
        ]),
        "deployment.apps/api created\n"
    );
    assert_eq!(
        c.ok(&[
            "create",
            "job",
            "once",
            "--image=kubelab/busybox",
            "--",
            "echo",
            "hi"
        ]),
        "job.batch/once created\n"
    );
    assert_eq!(
        c.ok(&[
            "create",
            "service",
            "clusterip",
            "api",
            "--tcp=80:8080",
            "-n",
            "dev"
        ]),
        "service/api created\n"
    );

    assert_eq!(
        c.ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.a},{.data.b}"]),
        "1,2"
    );
    // "s3cret" in base64: the bytes went through protobuf unchanged.
    assert_eq!(
        c.ok(&[
            "get",
            "secret",
            "pw",
            "-o",
            "jsonpath={.type} {.data.password}"
        ]),
        "Opaque czNjcmV0"
    );
    assert_eq!(
        c.ok(&["get", "deploy", "api", "-n", "dev", "-o", "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image}"]),
        "3 api kubelab/rng:1.0"
    );
    assert_eq!(
        c.ok(&[
            "get",
            "job",
            "once",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command}"
        ]),
        r#"["echo","hi"]"#
    );
    assert_eq!(
        c.ok(&[
            "get",
            "svc",
            "api",
            "-n",
            "dev",
            "-o",
            "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort}"
        ]),
        "80:8080"
    );
}

#[test]
fn create_dash_f_creates_once() {
    let c = Cluster::start();
    let file = c.path().join("all.yaml");
    std::fs::write(&file, format!("{CONFIG}---\n{SERVICE}")).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(
        c.ok(&["create", "-f", f]),
        "configmap/web-config created\nservice/web created\n"
    );
    let e = c.fails(&["create", "-f", f]);
    assert!(
        e.contains(r#"configmaps "web-config" already exists"#),
        "{e}"
    );
}

#[test]
fn get_prints_tables_and_filters() {
    let c = Cluster::start();
    c.apply(DEPLOYMENT);
    c.apply(SERVICE);
    c.apply(CONFIG);
    c.apply(NAMESPACE);
    c.ok(&["create", "configmap", "other", "-n", "lab"]);

    let wide = c.ok(&["get", "deploy", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let row: Vec<&str> = wide.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[5], row[6], row[7]),
        ("web", "0/2", "web", "kubelab/web:1.0", "app=web")
    );

    // `-A` fills NAMESPACE from each row's metadata; kinds get their group prefix.
    let all = c.ok(&["get", "cm", "-A", "--no-headers"]);
    let names: Vec<(String, String)> = all
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0].to_string(), c[1].to_string())
        })
        .collect();
    assert_eq!(
        names,
        [
            ("default".into(), "web-config".into()),
            ("lab".into(), "other".into())
        ]
    );
    let mixed = c.ok(&["get", "deploy,svc", "-o", "name"]);
    // Every cluster has the `kubernetes` Service in `default`.
    assert_eq!(
        mixed,
        "deployment.apps/web\nservice/kubernetes\nservice/web\n"
    );

    assert_eq!(
        c.ok(&["get", "cm", "-l", "app=web", "-o", "name"]),
        "configmap/web-config\n"
    );
    assert_eq!(
        c.ok(&["get", "cm", "-l", "app!=web", "-o", "name", "-A"]),
        "configmap/other\n"
    );
    assert_eq!(
        c.ok(&[
            "get",
            "ns",
            "--field-selector",
            "metadata.name=lab",
            "-o",
            "name"
        ]),
        "namespace/lab\n"
    );
    let labels = c.ok(&["get", "ns", "lab", "--show-labels", "--no-headers"]);
    assert!(labels.contains("purpose=experiments"), "{labels}");
    let e = c.fails(&["get", "cm", "--field-selector", "spec.nodeName=x"]);
    assert!(
        e.contains("field label not supported: spec.nodeName"),
        "{e}"
    );

    // Paging: kubectl follows `continue` tokens transparently.
    for i in 0..7 {
        c.ok(&["create", "configmap", &format!("page-{i}")]);
    }
    let paged = c.ok(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    assert_eq!(
        paged
            .lines()
            .filter(|l| l.starts_with("configmap/page-"))
            .count(),
        7
    );

    let yaml = c.ok(&["get", "svc", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("targetPort: http") && yaml.contains("type: ClusterIP"),
        "{yaml}"
    );
}

#[test]
fn watch_streams_changes() {
    let c = Cluster::start();
    c.apply(CONFIG);
    let child = c
        .kubectl_cmd(&["get", "cm", "-w", "--no-headers", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    c.ok(&["label", "cm", "web-config", "seen=yes"]);
    c.ok(&["create", "cm", "second"]);
    c.ok(&["delete", "cm", "second"]);
    std::thread::sleep(Duration::from_millis(700));
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    let events: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0].to_string(), c[1].to_string())
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("ADDED", "web-config"),
        ("MODIFIED", "web-config"),
        ("ADDED", "second"),
        ("DELETED", "second"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, want);
}

#[test]
fn describe_label_annotate_patch_edit_scale_replace() {
    let c = Cluster::start();
    c.apply(DEPLOYMENT);
    let d = c.ok(&["describe", "deploy", "web"]);
    assert!(d.contains("Replicas:               2 desired"), "{d}");
    assert!(
        d.contains("RollingUpdateStrategy:  25% max unavailable, 25% max surge"),
        "{d}"
    );

    assert_eq!(
        c.ok(&["label", "deploy", "web", "tier=front"]),
        "deployment.apps/web labeled\n"
    );
    assert_eq!(
        c.ok(&["annotate", "deploy", "web", "owner=team-a"]),
        "deployment.apps/web annotated\n"
    );
    assert_eq!(
        c.ok(&["scale", "deploy", "web", "--replicas=5"]),
        "deployment.apps/web scaled\n"
    );
    assert_eq!(
        c.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.labels.tier} {.metadata.annotations.owner} {.spec.replicas}"
        ]),
        "front team-a 5"
    );

    // Strategic merge: the container list merges by name, the port survives.
    c.ok(&["patch", "deploy", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"kubelab/web:2.0"}]}}}}"#]);
    assert_eq!(c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}"]), "kubelab/web:2.0 8080");
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":null}}}"#,
    ]);
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    assert_eq!(
        c.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.labels} {.spec.replicas}"
        ]),
        r#"{"app":"web"} 1"#
    );
    let e = c.fails(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/nope"}]"#,
    ]);
    assert!(
        e.contains(
            "The request is invalid: the server rejected our request due to an error in our request"
        ),
        "{e}"
    );

    // edit with a scripted editor.
    let out = c
        .kubectl_cmd(&["edit", "deploy", "web"])
        .env("EDITOR", "sed -i s/replicas:\\ 1/replicas:\\ 3/")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "deployment.apps/web edited\n"
    );
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );

    // replace with what we read works once; the same (now stale) body conflicts.
    let current = c
        .ok(&["get", "deploy", "web", "-o", "yaml"])
        .replace("replicas: 3", "replicas: 6");
    let file = c.path().join("web.yaml");
    std::fs::write(&file, current).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(
        c.ok(&["replace", "-f", f]),
        "deployment.apps/web replaced\n"
    );
    let e = c.fails(&["replace", "-f", f]);
    assert!(
        e.contains("Error from server (Conflict)") && e.contains("the object has been modified"),
        "{e}"
    );
}

#[test]
fn delete_by_name_file_label_all_and_cascading() {
    let c = Cluster::start();
    c.apply(DEPLOYMENT);
    c.apply(SERVICE);
    c.apply(CONFIG);
    let file = c.path().join("svc.yaml");
    std::fs::write(&file, SERVICE).unwrap();
    assert_eq!(
        c.ok(&["delete", "-f", file.to_str().unwrap()]),
        "service \"web\" deleted\n"
    );
    assert_eq!(
        c.ok(&["delete", "cm", "-l", "app=web"]),
        "configmap \"web-config\" deleted\n"
    );
    c.ok(&["create", "cm", "a"]);
    c.ok(&["create", "cm", "b"]);
    assert_eq!(
        c.ok(&["delete", "cm", "--all"]),
        "configmap \"a\" deleted\nconfigmap \"b\" deleted\n"
    );

    // Owner references: ConfigMaps owned by the Deployment.
    let owned = |name: &str, uid: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: web\n    uid: {uid}\n    controller: true\n"
        )
    };
    let uid = c.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"]);
    c.apply(&owned("child", &uid));
    c.ok(&["delete", "deploy", "web", "--cascade=orphan"]);
    assert!(
        eventually(5, || c
            .ok(&[
                "get",
                "cm",
                "child",
                "-o",
                "jsonpath={.metadata.ownerReferences}"
            ])
            .is_empty()),
        "orphan keeps the child without its owner reference"
    );

    c.apply(DEPLOYMENT);
    let uid = c.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"]);
    c.apply(&owned("child2", &uid));
    assert_eq!(
        c.ok(&["delete", "deploy", "web"]),
        "deployment.apps \"web\" deleted\n"
    );
    assert!(
        eventually(5, || !c.kubectl(&["get", "cm", "child2"]).status.success()),
        "background cascade deletes the dependent"
    );

    c.apply(DEPLOYMENT);
    let uid = c.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"]);
    c.apply(&owned("child3", &uid));
    // Foreground: kubectl waits until the owner is really gone, which needs the dependent gone first.
    c.ok(&["delete", "deploy", "web", "--cascade=foreground"]);
    assert!(
        !c.kubectl(&["get", "cm", "child3"]).status.success(),
        "foreground deletes dependents before the owner"
    );
    assert!(
        c.kubectl(&["get", "cm", "child"]).status.success(),
        "the orphan stays"
    );
}

#[test]
fn deleting_a_namespace_deletes_its_contents() {
    let c = Cluster::start();
    c.apply(NAMESPACE);
    c.ok(&["create", "configmap", "inside", "-n", "lab"]);
    c.ok(&[
        "create",
        "deployment",
        "d",
        "--image=kubelab/web:1.0",
        "-n",
        "lab",
    ]);
    assert_eq!(
        c.ok(&["delete", "ns", "lab"]),
        "namespace \"lab\" deleted\n"
    );
    assert!(!c.kubectl(&["get", "ns", "lab"]).status.success());
    let e = c.fails(&["get", "cm", "inside", "-n", "lab"]);
    assert!(e.contains("NotFound"), "{e}");
    // A namespace of the same name starts empty.
    c.apply(NAMESPACE);
    assert_eq!(c.ok(&["get", "all,cm", "-n", "lab", "-o", "name"]), "");
}

#[test]
fn bad_input_gets_upstream_errors_and_writes_nothing() {
    let c = Cluster::start();
    let rv_before = c.ok(&[
        "get",
        "cm",
        "-A",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);

    let out = c.kubectl_stdin(&["apply", "-f", "-"], TYPO);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains(r#"strict decoding error: unknown field "spec.replica""#),
        "{e}"
    );

    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains(r#"The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#), "{e}");

    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n",
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains(r#"no matches for kind "Widget" in version "v1""#),
        "{e}"
    );

    let out = c.kubectl_stdin(&["apply", "-f", "-"], "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a}]}}}\n");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("spec.selector: Required value")
            && e.contains("spec.template.spec.containers[0].image: Required value"),
        "{e}"
    );

    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: many}\n",
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("spec.replicas: invalid type: string \"many\""),
        "{e}"
    );

    let e = c.fails(&["create", "configmap", "x", "-n", "missing"]);
    assert!(e.contains(r#"namespaces "missing" not found"#), "{e}");
    let e = c.fails(&["get", "deploy", "nope"]);
    assert_eq!(
        e.trim(),
        r#"Error from server (NotFound): deployments.apps "nope" not found"#
    );

    // Nothing above wrote anything: the store revision did not move.
    let rv_after = c.ok(&[
        "get",
        "cm",
        "-A",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    assert_eq!(rv_before, rv_after);
}

#[test]
fn a_wrong_token_is_refused() {
    let c = Cluster::start();
    let config = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let token = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    let path = c.path().join("wrong.kubeconfig");
    std::fs::write(&path, config.replace(&token, "not-the-token")).unwrap();
    let out = c
        .kubectl_cmd(&["get", "ns"])
        .env("KUBECONFIG", &path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("error: You must be logged in to the server"),
        "{e}"
    );
}

#[test]
fn objects_and_resource_versions_survive_restarts() {
    let mut c = Cluster::start();
    c.apply(DEPLOYMENT);
    c.apply(CONFIG);
    let before = c.ok(&["get", "deploy,cm", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion},{.metadata.uid} {end}"]);
    c.restart();
    let after = c.ok(&["get", "deploy,cm", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion},{.metadata.uid} {end}"]);
    assert_eq!(before, after);
    // Revisions keep going forward after the restart.
    let old_rv: u64 = c
        .ok(&[
            "get",
            "cm",
            "web-config",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap();
    c.ok(&["label", "cm", "web-config", "again=1"]);
    let new_rv: u64 = c
        .ok(&[
            "get",
            "cm",
            "web-config",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap();
    assert!(new_rv > old_rv);
}

#[test]
fn up_on_a_taken_port_fails_at_once_with_the_reason() {
    // Someone already listens on the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::Builder::new()
        .prefix("kubelab-port-")
        .tempdir()
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["up", "--chapter", "1", "--port", &port, "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kubelab up kept running on a taken port (it used to hang with an empty log)");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(
        err.contains(&format!("starting the API server on 127.0.0.1:{port}"))
            && err.contains("Address already in use"),
        "{err}"
    );
}

/// The REST client every component uses, over HTTPS to a `kubelab up` in
/// another process (what a component running as its own process needs):
/// create, read, a watch that sees later changes, errors as `Status`.
#[test]
fn the_client_works_over_the_network_too() {
    let cluster = Cluster::start_with(&["--chapter", "1"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use futures::StreamExt;
        let client = kubelab_client::rest::Client::from_kubeconfig(&cluster.kubeconfig).unwrap();
        let list = "/api/v1/namespaces/default/configmaps";
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "remote"}, "data": {"a": "1"}});
        let created = client.create(list, &cm).await.unwrap();
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let mut events = Box::pin(client.watch(list, &rv).await.unwrap());
        client
            .merge_patch(
                &format!("{list}/remote"),
                &serde_json::json!({"data": {"a": "2"}}),
            )
            .await
            .unwrap();
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("the watch delivers the change")
            .unwrap();
        assert_eq!(ev.kind, "MODIFIED");
        assert_eq!(ev.object["data"]["a"], "2");
        let got = client.get(&format!("{list}/remote")).await.unwrap();
        assert_eq!(got["data"]["a"], "2");
        let err = client.get(&format!("{list}/nope")).await.unwrap_err();
        assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
        // a wrong token is refused by the server's authentication
        let k = kubelab_client::remote::KubeConfig::load(&cluster.kubeconfig).unwrap();
        let stranger = kubelab_client::rest::Client::remote(
            &k.server,
            k.ca_pem.as_deref(),
            Some("wrong".into()),
        )
        .unwrap();
        assert_eq!(stranger.get(list).await.unwrap_err().code, 401);
        // a CA that did not sign the server's certificate: no connection
        let untrusted =
            kubelab_client::rest::Client::remote(&k.server, None, k.token.clone()).unwrap();
        assert_eq!(untrusted.get(list).await.unwrap_err().code, 503);
    });
}
