//! Chapter 10 end to end: `kubelab helm` and the real helm v3 take turns
//! on the same releases. A release one installs, the other lists,
//! upgrades, rolls back and uninstalls, both ways, and both write the
//! same release record. An upgrade is a three-way merge that keeps what
//! only the cluster changed; rollbacks and `--keep-history` keep the
//! history helm keeps; hooks run by weight and are deleted by policy;
//! `kubelab helm test` runs the test hooks.
//!
//! The fake runtime is enough here: containers are records, `true` and
//! `false` end at once (so hook Jobs and Pods complete).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Cluster, eventually, jsonpath};

/// A chart with a ConfigMap, a Deployment (replicas only when set), an
/// optional extra ConfigMap, a kept ConfigMap, and hooks: pre-install
/// ConfigMap (weight -3), pre-install/pre-upgrade Job (weight 5, deleted
/// when it succeeds), a post-install Pod, a test Pod.
const CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: shop\nversion: 0.3.0\nappVersion: \"3.1\"\n",
    ),
    (
        "values.yaml",
        "message: hello\nextra: false\nlabel: \"\"\ntestCommand: \"true\"\n",
    ),
    (
        "templates/app.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app: {{ .Release.Name }}-web
    {{- with .Values.label }}
    flavour: {{ . }}
    {{- end }}
spec:
  {{- with .Values.replicas }}
  replicas: {{ . }}
  {{- end }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
      - name: web
        image: kubelab/web:1.0
        env:
        - name: MESSAGE
          value: {{ .Values.message | quote }}
{{- if .Values.extra }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-kept
  annotations:
    helm.sh/resource-policy: keep
data: {a: b}
{{- end }}
"#,
    ),
    (
        "templates/hooks.yaml",
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "5"
    helm.sh/hook-delete-policy: hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: busybox, command: ["true"]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-first
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "-3"
data: {a: b}
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-post
  annotations:
    helm.sh/hook: post-install
spec:
  restartPolicy: Never
  containers:
  - {name: post, image: busybox, command: ["true"]}
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  restartPolicy: Never
  containers:
  - {name: t, image: busybox, command: [{{ .Values.testCommand | quote }}]}
"#,
    ),
    (
        "templates/NOTES.txt",
        "Thanks for installing {{ .Release.Name }} <&>.\n",
    ),
];

/// A chart whose post-install hook Job fails (and is deleted for it).
const FAILING: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: failing\nversion: 1.0.0\n",
    ),
    (
        "templates/a.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-cm}
data: {a: b}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-bad
  annotations: {helm.sh/hook: post-install, helm.sh/hook-delete-policy: hook-failed}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: x, image: busybox, command: ["false"]}]
"#,
    ),
];

fn write_chart(dir: &Path, name: &str, files: &[(&str, &str)]) -> String {
    let root = dir.join(name);
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root.display().to_string()
}

fn have_helm() -> bool {
    Command::new("helm")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The real helm, with its own config and cache dirs.
fn helm(c: &Cluster, args: &[&str]) -> Output {
    let home = c.path().join("helm-home");
    Command::new("helm")
        .args(args)
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm")
}

/// `kubelab helm`.
fn kl(c: &Cluster, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("helm")
        .args(args)
        .env("KUBECONFIG", &c.kubeconfig)
        .output()
        .expect("run kubelab helm")
}

#[track_caller]
fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[track_caller]
fn fails(what: &str, out: Output) -> String {
    assert!(
        !out.status.success(),
        "{what} should have failed but printed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn start() -> (Cluster, PathBuf) {
    let c = Cluster::start_with(&["--nodes", "1", "--runtime", "fake"]);
    let charts = c.path().join("charts");
    (c, charts)
}

/// The release record as stored: base64(gzip(json)) in the Secret, with
/// every timestamp replaced (they differ between two installs).
fn stored_release(c: &Cluster, name: &str, version: u32) -> String {
    use base64::Engine;
    use std::io::Write;
    let data = jsonpath(
        c,
        &["secret", &format!("sh.helm.release.v1.{name}.v{version}")],
        "{.data.release}",
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64.decode(data.trim()).expect("secret data is base64");
    let gz = b64.decode(&inner).expect("the release is base64");
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 0x08], "the release is gzipped");
    // gunzip with the system's gzip (the test has no gzip decoder of its own)
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(&gz).unwrap();
    let json = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        json.starts_with(&format!("{{\"name\":\"{name}\",\"info\":{{")),
        "{json}"
    );
    let re = regex::Regex::new(
        r#""(first_deployed|last_deployed|deleted|started_at|completed_at)":"[^"]*""#,
    )
    .unwrap();
    re.replace_all(&json, "\"$1\":\"T\"").into_owned()
}

fn history_lines(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip(1)
        .map(|l| l.split('\t').map(|c| c.trim().to_string()).collect())
        .collect()
}

#[test]
fn a_release_the_real_helm_installed_is_managed_by_kubelab_helm() {
    if !have_helm() {
        eprintln!("the real helm is not installed; skipped");
        return;
    }
    let (c, charts) = start();
    let chart = write_chart(&charts, "shop", CHART);
    ok(
        "helm install",
        helm(&c, &["install", "web", &chart, "--set", "message=one"]),
    );

    // kubelab helm reads what helm wrote: list, history, status, values
    let list = ok("list", kl(&c, &["list"]));
    let lines: Vec<&str> = list.lines().collect();
    // byte for byte what the real helm prints for the same release (the
    // UPDATED column's width follows the timestamp's nanoseconds)
    assert_eq!(list, ok("helm list", helm(&c, &["list"])));
    assert!(
        lines[1].starts_with("web \tdefault  \t1       \t"),
        "{list}"
    );
    assert!(
        lines[1].ends_with("\tdeployed\tshop-0.3.0\t3.1        "),
        "{list}"
    );
    let status = ok("status", kl(&c, &["status", "web"]));
    assert!(status.starts_with("NAME: web\nLAST DEPLOYED: "), "{status}");
    assert!(
        status.contains("NAMESPACE: default\nSTATUS: deployed\nREVISION: 1\n"),
        "{status}"
    );
    assert!(
        status.ends_with("NOTES:\nThanks for installing web <&>.\n"),
        "{status}"
    );
    assert_eq!(
        ok("get values", kl(&c, &["get", "values", "web"])),
        "USER-SUPPLIED VALUES:\nmessage: one\n"
    );
    // the same text as helm prints
    for args in [
        &["status", "web"][..],
        &["get", "all", "web"],
        &["history", "web"],
        &["list", "-o", "json"],
        &["get", "hooks", "web"],
    ] {
        assert_eq!(
            ok("kubelab helm", kl(&c, args)),
            ok("helm", helm(&c, args)),
            "helm {args:?}"
        );
    }

    // upgrade: a new revision, the ConfigMap changed
    let up = ok(
        "upgrade",
        kl(&c, &["upgrade", "web", &chart, "--set", "message=two"]),
    );
    assert!(
        up.starts_with("Release \"web\" has been upgraded. Happy Helming!\nNAME: web\n"),
        "{up}"
    );
    assert!(up.contains("REVISION: 2\n"), "{up}");
    assert_eq!(
        jsonpath(&c, &["configmap", "web-config"], "{.data.message}"),
        "two"
    );
    let hist = history_lines(&ok("helm history", helm(&c, &["history", "web"])));
    assert_eq!(
        hist.iter()
            .map(|r| (r[0].as_str(), r[2].as_str(), r[5].as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("1", "superseded", "Install complete"),
            ("2", "deployed", "Upgrade complete")
        ]
    );

    // rollback to 1: revision 3, "Rollback to 1", the old value back
    assert_eq!(
        ok("rollback", kl(&c, &["rollback", "web", "1"])),
        "Rollback was a success! Happy Helming!\n"
    );
    assert_eq!(
        jsonpath(&c, &["configmap", "web-config"], "{.data.message}"),
        "one"
    );
    let hist = history_lines(&ok("helm history", helm(&c, &["history", "web"])));
    assert_eq!(hist.len(), 3);
    assert_eq!(
        (
            hist[2][0].as_str(),
            hist[2][2].as_str(),
            hist[2][5].as_str()
        ),
        ("3", "deployed", "Rollback to 1")
    );
    assert_eq!(
        ok("helm get values", helm(&c, &["get", "values", "web"])),
        "USER-SUPPLIED VALUES:\nmessage: one\n"
    );

    // uninstall: resources and release records gone; hooks stay, as with helm
    assert_eq!(
        ok("uninstall", kl(&c, &["uninstall", "web"])),
        "release \"web\" uninstalled\n"
    );
    assert_eq!(ok("helm list", helm(&c, &["list", "--all", "-q"])), "");
    assert!(fails("get deploy", c.kubectl(&["get", "deploy", "web-web"])).contains("NotFound"));
    assert!(
        jsonpath(
            &c,
            &["secrets", "-l", "owner=helm"],
            "{.items[*].metadata.name}"
        )
        .trim()
        .is_empty()
    );
    assert_eq!(
        jsonpath(&c, &["configmap", "web-first"], "{.metadata.name}"),
        "web-first"
    );
}

#[test]
fn a_release_kubelab_helm_installed_is_managed_by_the_real_helm() {
    if !have_helm() {
        eprintln!("the real helm is not installed; skipped");
        return;
    }
    let (c, charts) = start();
    let chart = write_chart(&charts, "shop", CHART);
    let out = ok(
        "install",
        kl(&c, &["install", "api", &chart, "--set", "message=<one>"]),
    );
    assert!(out.starts_with("NAME: api\nLAST DEPLOYED: "), "{out}");
    assert!(out.contains("\nNAMESPACE: default\nSTATUS: deployed\nREVISION: 1\nNOTES:\nThanks for installing api <&>.\n"), "{out}");
    let ours = stored_release(&c, "api", 1);

    // the real helm reads it ...
    let list = ok("helm list", helm(&c, &["list", "-o", "json"]));
    assert!(
        list.contains(r#""name":"api","namespace":"default","revision":"1""#),
        "{list}"
    );
    assert!(
        list.contains(r#""status":"deployed","chart":"shop-0.3.0","app_version":"3.1""#),
        "{list}"
    );
    assert_eq!(
        ok("helm get values", helm(&c, &["get", "values", "api"])),
        "USER-SUPPLIED VALUES:\nmessage: <one>\n"
    );
    // ... upgrades it, rolls it back, and kubelab helm follows
    ok(
        "helm upgrade",
        helm(&c, &["upgrade", "api", &chart, "--set", "message=two"]),
    );
    assert_eq!(
        jsonpath(&c, &["configmap", "api-config"], "{.data.message}"),
        "two"
    );
    ok("helm rollback", helm(&c, &["rollback", "api"]));
    assert_eq!(
        jsonpath(&c, &["configmap", "api-config"], "{.data.message}"),
        "<one>"
    );
    let hist = history_lines(&ok("history", kl(&c, &["history", "api"])));
    assert_eq!(
        hist.iter()
            .map(|r| (r[0].as_str(), r[2].as_str(), r[5].as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("1", "superseded", "Install complete"),
            ("2", "superseded", "Upgrade complete"),
            ("3", "deployed", "Rollback to 1")
        ]
    );
    assert_eq!(
        ok("helm uninstall", helm(&c, &["uninstall", "api"])),
        "release \"api\" uninstalled\n"
    );
    assert_eq!(ok("list", kl(&c, &["list", "--all", "-q"])), "");
    assert!(fails("get cm", c.kubectl(&["get", "configmap", "api-config"])).contains("NotFound"));

    // the same chart and values installed by the real helm: the same record
    ok(
        "helm install",
        helm(&c, &["install", "api", &chart, "--set", "message=<one>"]),
    );
    assert_eq!(
        stored_release(&c, "api", 1),
        ours,
        "kubelab helm's release record differs from helm's"
    );
    let labels = jsonpath(
        &c,
        &["secret", "sh.helm.release.v1.api.v1"],
        "{.metadata.labels}",
    );
    assert!(
        labels.contains(r#""name":"api""#)
            && labels.contains(r#""owner":"helm""#)
            && labels.contains(r#""status":"deployed""#),
        "{labels}"
    );
}

#[test]
fn an_upgrade_is_a_three_way_merge_that_keeps_what_only_the_cluster_changed() {
    let (c, charts) = start();
    let chart = write_chart(&charts, "shop", CHART);
    ok(
        "install",
        kl(
            &c,
            &["install", "m", &chart, "--set", "extra=true,label=blue"],
        ),
    );
    assert_eq!(
        jsonpath(&c, &["deploy", "m-web"], "{.metadata.labels.flavour}"),
        "blue"
    );
    // changes only the cluster knows of: a scale and an annotation
    ok(
        "scale",
        c.kubectl(&["scale", "deploy/m-web", "--replicas=3"]),
    );
    ok(
        "annotate",
        c.kubectl(&["annotate", "deploy/m-web", "owner=ops"]),
    );
    // an env var added live to the container the chart owns
    ok(
        "set env",
        c.kubectl(&["set", "env", "deploy/m-web", "INJECTED=yes"]),
    );

    // the chart drops the label and the extra ConfigMaps, changes the message
    let up = kl(&c, &["upgrade", "m", &chart, "--set", "message=changed"]);
    ok("upgrade", up);
    assert_eq!(
        jsonpath(&c, &["configmap", "m-config"], "{.data.message}"),
        "changed"
    );
    assert_eq!(
        jsonpath(&c, &["deploy", "m-web"], "{.spec.replicas}"),
        "3",
        "the chart never set replicas: the scale stays"
    );
    assert_eq!(
        jsonpath(&c, &["deploy", "m-web"], "{.metadata.annotations.owner}"),
        "ops"
    );
    // the chart changed the container's env list: a strategic merge by
    // name changes MESSAGE and keeps the live INJECTED (a merge patch
    // would have replaced the whole list)
    assert_eq!(
        jsonpath(
            &c,
            &["deploy", "m-web"],
            "{range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}"
        ),
        "MESSAGE=changed INJECTED=yes "
    );
    assert_eq!(
        jsonpath(
            &c,
            &["deploy", "m-web"],
            "{.metadata.annotations.meta\\.helm\\.sh/release-name}"
        ),
        "m"
    );
    assert_eq!(
        jsonpath(&c, &["deploy", "m-web"], "{.metadata.labels.flavour}"),
        "",
        "a label the chart dropped is removed"
    );
    assert!(
        fails("get extra", c.kubectl(&["get", "configmap", "m-extra"])).contains("NotFound"),
        "gone from the chart: deleted"
    );
    assert_eq!(
        jsonpath(&c, &["configmap", "m-kept"], "{.metadata.name}"),
        "m-kept",
        "resource-policy keep"
    );
    // helm 3.18's default: no new values means the last release's values
    ok("upgrade again", kl(&c, &["upgrade", "m", &chart]));
    assert_eq!(
        ok("get values", kl(&c, &["get", "values", "m", "-o", "json"])),
        "{\"message\":\"changed\"}\n"
    );
    // --reuse-values merges new over old; --reset-values drops the old
    ok(
        "reuse",
        kl(
            &c,
            &[
                "upgrade",
                "m",
                &chart,
                "--reuse-values",
                "--set",
                "label=red",
            ],
        ),
    );
    assert_eq!(
        ok("get values", kl(&c, &["get", "values", "m", "-o", "json"])),
        "{\"label\":\"red\",\"message\":\"changed\"}\n"
    );
    assert_eq!(
        jsonpath(&c, &["deploy", "m-web"], "{.metadata.labels.flavour}"),
        "red"
    );
    ok("reset", kl(&c, &["upgrade", "m", &chart, "--reset-values"]));
    assert_eq!(
        jsonpath(&c, &["configmap", "m-config"], "{.data.message}"),
        "hello"
    );
    // an upgrade of a release that does not exist
    let err = fails("upgrade", kl(&c, &["upgrade", "nope", &chart]));
    assert_eq!(
        err,
        "Error: UPGRADE FAILED: \"nope\" has no deployed releases\n"
    );
}

#[test]
fn rollback_keep_history_and_list_filters() {
    let (c, charts) = start();
    let chart = write_chart(&charts, "shop", CHART);
    ok("install a", kl(&c, &["install", "a", &chart]));
    ok("install b", kl(&c, &["install", "b", &chart]));
    ok(
        "upgrade a",
        kl(&c, &["upgrade", "a", &chart, "--set", "message=v2"]),
    );
    ok("rollback a", kl(&c, &["rollback", "a"]));
    let hist = history_lines(&ok("history", kl(&c, &["history", "a"])));
    assert_eq!(
        hist.iter()
            .map(|r| (r[2].as_str(), r[5].as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("superseded", "Install complete"),
            ("superseded", "Upgrade complete"),
            ("deployed", "Rollback to 1")
        ]
    );
    assert_eq!(
        jsonpath(&c, &["configmap", "a-config"], "{.data.message}"),
        "hello"
    );
    let err = fails("rollback", kl(&c, &["rollback", "a", "9"]));
    assert_eq!(err, "Error: release has no 9 version\n");

    // --keep-history: resources gone, the record kept as uninstalled
    assert_eq!(
        ok("uninstall", kl(&c, &["uninstall", "b", "--keep-history"])),
        "release \"b\" uninstalled\n"
    );
    assert!(fails("get cm", c.kubectl(&["get", "configmap", "b-config"])).contains("NotFound"));
    assert_eq!(ok("list", kl(&c, &["list", "-q"])), "a\n");
    assert_eq!(
        ok(
            "list --uninstalled",
            kl(&c, &["list", "--uninstalled", "-q"])
        ),
        "b\n"
    );
    assert_eq!(ok("list --all", kl(&c, &["list", "--all", "-q"])), "a\nb\n");
    assert_eq!(
        ok("list --superseded", kl(&c, &["list", "--superseded", "-q"])),
        "a\na\n"
    );
    assert_eq!(
        ok("list -f", kl(&c, &["list", "--all", "-q", "-f", "^b"])),
        "b\n"
    );
    assert_eq!(
        ok("list -r", kl(&c, &["list", "--all", "-q", "-r"])),
        "b\na\n"
    );
    let hist = history_lines(&ok("history", kl(&c, &["history", "b"])));
    assert_eq!(
        (hist[0][2].as_str(), hist[0][5].as_str()),
        ("uninstalled", "Uninstallation complete")
    );
    let status = ok("status", kl(&c, &["status", "b"]));
    assert!(status.contains("STATUS: uninstalled\n"), "{status}");
    // the name is still in use, until an upgrade --install takes it back
    let err = fails("install", kl(&c, &["install", "b", &chart]));
    assert_eq!(
        err,
        "Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n"
    );
    let out = ok(
        "upgrade --install",
        kl(&c, &["upgrade", "--install", "b", &chart]),
    );
    assert!(
        out.starts_with("Release \"b\" does not exist. Installing it now.\nNAME: b\n"),
        "{out}"
    );
    assert!(out.contains("REVISION: 2\n"), "{out}");
    assert_eq!(ok("list", kl(&c, &["list", "-q"])), "a\nb\n");
    // a release in another namespace, seen with -A
    ok(
        "install c",
        kl(
            &c,
            &["install", "c", &chart, "-n", "team", "--create-namespace"],
        ),
    );
    assert_eq!(ok("list", kl(&c, &["list", "-q"])), "a\nb\n");
    assert_eq!(ok("list -A", kl(&c, &["list", "-A", "-q"])), "a\nb\nc\n");
    let err = fails("uninstall", kl(&c, &["uninstall", "zzz"]));
    assert_eq!(
        err,
        "Error: uninstall: Release not loaded: zzz: release: not found\n"
    );
    assert_eq!(
        fails("status", kl(&c, &["status", "zzz"])),
        "Error: release: not found\n"
    );

    // --history-max: the oldest revisions go before a new one is stored,
    // never the deployed one; the real helm sees the same history
    let revisions = |c: &Cluster| -> Vec<String> {
        history_lines(&ok("history", helm(c, &["history", "a"])))
            .iter()
            .map(|r| format!("{}:{}", r[0], r[2]))
            .collect()
    };
    assert_eq!(
        revisions(&c),
        ["1:superseded", "2:superseded", "3:deployed"]
    );
    ok(
        "upgrade --history-max 3",
        kl(
            &c,
            &[
                "upgrade",
                "a",
                &chart,
                "--history-max",
                "3",
                "--set",
                "message=v4",
            ],
        ),
    );
    assert_eq!(
        revisions(&c),
        ["2:superseded", "3:superseded", "4:deployed"]
    );
    // a rollback keeps the revision it rolls back to long enough to read it
    ok(
        "rollback --history-max 2",
        kl(&c, &["rollback", "a", "2", "--history-max", "2"]),
    );
    assert_eq!(revisions(&c), ["4:superseded", "5:deployed"]);
    let status = ok(
        "status --show-desc",
        kl(&c, &["status", "a", "--show-desc"]),
    );
    assert!(
        status.contains("REVISION: 5\nDESCRIPTION: Rollback to 2\n"),
        "{status}"
    );
    assert_eq!(
        status,
        ok(
            "helm status --show-desc",
            helm(&c, &["status", "a", "--show-desc"])
        )
    );

    // --labels go on the release Secrets, where the real helm's
    // --selector finds them; an upgrade merges them and "null" removes one
    ok(
        "install --labels",
        kl(
            &c,
            &["install", "d", &chart, "--labels", "team=shop,tier=web"],
        ),
    );
    assert_eq!(
        ok("list -l", kl(&c, &["list", "-q", "-l", "team=shop"])),
        "d\n"
    );
    assert_eq!(
        ok(
            "helm list -l",
            helm(&c, &["list", "-q", "-l", "team=shop,tier=web"])
        ),
        "d\n"
    );
    assert_eq!(
        ok("list -l !=", kl(&c, &["list", "-q", "-l", "team!=shop"])),
        "a\nb\n"
    );
    ok(
        "upgrade --labels",
        kl(
            &c,
            &["upgrade", "d", &chart, "--labels", "tier=null,stage=prod"],
        ),
    );
    assert_eq!(
        ok("helm list -l", helm(&c, &["list", "-q", "-l", "tier"])),
        ""
    );
    assert_eq!(
        ok(
            "helm list -l",
            helm(&c, &["list", "-q", "-l", "team=shop,stage=prod"])
        ),
        "d\n"
    );
    assert_eq!(
        fails(
            "reserved label",
            kl(&c, &["install", "e", &chart, "--labels", "owner=me"])
        ),
        "Error: INSTALLATION FAILED: user supplied labels contains system reserved label name. System labels: [name owner status version createdAt modifiedAt]\n"
    );
    assert_eq!(
        jsonpath(&c, &["configmap", "a-config"], "{.data.message}"),
        "v2"
    );
}

#[test]
fn hooks_run_by_weight_and_are_deleted_by_policy() {
    let (c, charts) = start();
    let chart = write_chart(&charts, "shop", CHART);
    ok("install", kl(&c, &["install", "h", &chart]));
    // the Job (hook-succeeded) is gone, the other hooks stay
    assert!(fails("get job", c.kubectl(&["get", "job", "h-migrate"])).contains("NotFound"));
    assert_eq!(
        jsonpath(&c, &["configmap", "h-first"], "{.metadata.name}"),
        "h-first"
    );
    assert_eq!(
        jsonpath(&c, &["pod", "h-post"], "{.status.phase}"),
        "Succeeded"
    );
    // hook records: phases, the default delete policy, weight before name
    let rel: serde_json::Value =
        serde_json::from_str(&ok("status", kl(&c, &["status", "h", "-o", "json"]))).unwrap();
    let hooks = rel["hooks"].as_array().unwrap();
    let find = |n: &str| {
        hooks
            .iter()
            .find(|h| h["name"] == n)
            .unwrap_or_else(|| panic!("no hook {n}"))
            .clone()
    };
    let (first, migrate, post) = (find("h-first"), find("h-migrate"), find("h-post"));
    for h in [&first, &migrate, &post] {
        assert_eq!(h["last_run"]["phase"], "Succeeded", "{h}");
    }
    assert_eq!(first["weight"], -3);
    assert_eq!(
        first["delete_policies"],
        serde_json::json!(["before-hook-creation"])
    );
    assert_eq!(
        migrate["delete_policies"],
        serde_json::json!(["hook-succeeded"])
    );
    let started = |h: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(h["last_run"]["started_at"].as_str().unwrap()).unwrap()
    };
    assert!(
        started(&first) <= started(&migrate),
        "weight -3 runs before weight 5"
    );
    assert!(
        started(&migrate) <= started(&post),
        "pre-install before post-install"
    );
    assert_eq!(
        find("h-test")["last_run"]["phase"],
        "",
        "test hooks wait for helm test"
    );
    // pre-upgrade runs the Job again
    ok(
        "upgrade",
        kl(&c, &["upgrade", "h", &chart, "--set", "message=x"]),
    );
    let rel: serde_json::Value =
        serde_json::from_str(&ok("status", kl(&c, &["status", "h", "-o", "json"]))).unwrap();
    let m = rel["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "h-migrate")
        .unwrap()
        .clone();
    assert_eq!(m["last_run"]["phase"], "Succeeded");
    assert!(fails("get job", c.kubectl(&["get", "job", "h-migrate"])).contains("NotFound"));

    // a failing post-install hook: the release fails, the Job is deleted (hook-failed)
    let failing = write_chart(&charts, "failing", FAILING);
    let err = fails("install", kl(&c, &["install", "f", &failing]));
    assert_eq!(
        err,
        "Error: INSTALLATION FAILED: failed post-install: 1 error occurred:\n\t* job f-bad failed: BackoffLimitExceeded\n\n\n"
    );
    let hist = history_lines(&ok("history", kl(&c, &["history", "f"])));
    assert_eq!(hist[0][2], "failed");
    assert_eq!(
        hist[0][5],
        "Release \"f\" failed: failed post-install: 1 error occurr..."
    );
    assert!(eventually(10, || !c
        .kubectl(&["get", "job", "f-bad"])
        .status
        .success()));
    // --atomic uninstalls what failed
    let err = fails(
        "install --atomic",
        kl(&c, &["install", "g", &failing, "--atomic"]),
    );
    assert!(err.starts_with("Error: INSTALLATION FAILED: release g failed, and has been uninstalled due to atomic being set: failed post-install"), "{err}");
    assert!(fails("status", kl(&c, &["status", "g"])).contains("release: not found"));
    assert!(fails("get cm", c.kubectl(&["get", "configmap", "g-cm"])).contains("NotFound"));
}

#[test]
fn kubelab_helm_test_runs_the_test_hooks() {
    let (c, charts) = start();
    let chart = write_chart(&charts, "shop", CHART);
    ok(
        "install",
        kl(&c, &["install", "t", &chart, "--wait", "--timeout", "60s"]),
    );
    let out = ok("test", kl(&c, &["test", "t"]));
    assert!(out.starts_with("NAME: t\nLAST DEPLOYED: "), "{out}");
    assert!(
        out.contains("TEST SUITE:     t-test\nLast Started:   "),
        "{out}"
    );
    assert!(
        out.contains("\nPhase:          Succeeded\nNOTES:\nThanks for installing t <&>.\n"),
        "{out}"
    );
    assert_eq!(
        jsonpath(&c, &["pod", "t-test"], "{.status.phase}"),
        "Succeeded"
    );
    // status shows the last test run, for both helms
    let status = ok("status", kl(&c, &["status", "t"]));
    assert!(
        status.contains("TEST SUITE:     t-test\n")
            && status.contains("Phase:          Succeeded\n"),
        "{status}"
    );
    if have_helm() {
        let theirs = ok("helm status", helm(&c, &["status", "t"]));
        assert_eq!(theirs, status);
    }
    // a failing test: exit 1, the failure recorded
    ok(
        "upgrade",
        kl(&c, &["upgrade", "t", &chart, "--set", "testCommand=false"]),
    );
    let out = kl(&c, &["test", "t"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = fails("test", out);
    assert_eq!(err, "Error: 1 error occurred:\n\t* pod t-test failed\n\n\n");
    assert!(stdout.contains("Phase:          Failed\n"), "{stdout}");
    // --filter leaves the failing test out: nothing fails; --hide-notes
    let out = ok(
        "test --filter",
        kl(
            &c,
            &["test", "t", "--filter", "!name=t-test", "--hide-notes"],
        ),
    );
    assert!(
        out.contains("TEST SUITE:     t-test\n") && !out.contains("NOTES:"),
        "{out}"
    );
    let out = kl(&c, &["test", "t", "--filter", "name=t-test"]);
    assert_eq!(fails("test --filter name=", out), err);
}
