//! Chapter 04 end to end with the real kubectl: ConfigMaps and Secrets in
//! pods' variables and files, live updates, references that are missing
//! for a while, and Secrets encrypted at rest with key rotation.

mod support;

use std::path::Path;

use support::{Cluster, eventually, is_root, jsonpath};

const APP: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'echo "color=$COLOR password=$PASSWORD size=$CFG_size greeting=$GREETING"; sleep 3600']
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: web-config, key: color}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
    - {name: MISSING, valueFrom: {configMapKeyRef: {name: nothing, key: k, optional: true}}}
    - {name: GREETING, value: "$(COLOR) says hi"}
    envFrom:
    - {prefix: CFG_, configMapRef: {name: web-config}}
    volumeMounts:
    - {name: config, mountPath: /etc/web}
    - {name: config, mountPath: /etc/color, subPath: color}
    - {name: creds, mountPath: /etc/creds}
  volumes:
  - {name: config, configMap: {name: web-config}}
  - name: creds
    secret:
      secretName: db
      defaultMode: 0440
      items: [{key: password, path: db/pw, mode: 0400}]
"#;

fn exec(c: &Cluster, script: &str) -> String {
    c.ok(&["exec", "app", "--", "sh", "-c", script])
}

#[test]
fn configmaps_and_secrets_reach_pods_and_follow_updates() {
    if !is_root() {
        eprintln!("chapter 04's volume checks need the linux runtime (root); skipped");
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.ok(&[
        "create",
        "configmap",
        "web-config",
        "--from-literal=color=teal",
        "--from-literal=size=m",
    ]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=hunter2",
    ]);
    c.apply(APP);
    assert!(
        eventually(30, || jsonpath(&c, &["pod", "app"], "{.status.phase}")
            == "Running"),
        "{}",
        c.ok(&["describe", "pod", "app"])
    );
    // Variables: a key, a Secret's key, envFrom with a prefix, $(VAR), an
    // optional reference to nothing (left out).
    assert!(eventually(10, || c
        .ok(&["logs", "app"])
        .contains("color=teal")));
    assert_eq!(
        c.ok(&["logs", "app"]),
        "color=teal password=hunter2 size=m greeting=teal says hi\n"
    );
    assert_eq!(exec(&c, "echo ${MISSING-unset}"), "unset\n");
    // Files: every key, links into ..data, modes; a secret item at its path.
    assert_eq!(exec(&c, "cat /etc/web/color /etc/web/size"), "tealm");
    assert_eq!(exec(&c, "readlink /etc/web/color"), "..data/color\n");
    assert!(exec(&c, "readlink /etc/web/..data").starts_with(".."));
    assert_eq!(exec(&c, "cat /etc/creds/db/pw"), "hunter2");
    assert_eq!(exec(&c, "stat -L -c %a /etc/creds/db/pw"), "400\n");
    assert_eq!(exec(&c, "stat -L -c %a /etc/web/color"), "644\n");
    // Read-only, as upstream mounts them.
    let write = c.kubectl(&["exec", "app", "--", "sh", "-c", "echo x > /etc/web/new"]);
    assert!(!write.status.success(), "the volume is read-only");
    // An update reaches the files in a moment; the subPath file stays.
    c.ok(&[
        "patch",
        "configmap",
        "web-config",
        "-p",
        r#"{"data":{"color":"orange","shape":"round"}}"#,
    ]);
    assert!(
        eventually(5, || exec(&c, "cat /etc/web/color") == "orange"),
        "the mounted file follows the ConfigMap"
    );
    assert_eq!(exec(&c, "cat /etc/web/shape"), "round", "a new key appears");
    assert_eq!(
        exec(&c, "cat /etc/color"),
        "teal",
        "a subPath mount does not update"
    );
    assert_eq!(
        exec(&c, "ls -a /etc/web | grep -c '^\\.\\.2'"),
        "1\n",
        "one version directory is left"
    );
    // Variables are read at start: a running container keeps its own.
    assert!(c.ok(&["logs", "app"]).contains("color=teal"));
}

#[test]
fn missing_references_wait_and_start_by_themselves() {
    let c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: env-wait}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: [sleep, '3600']
    env: [{name: COLOR, valueFrom: {configMapKeyRef: {name: late, key: color}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: vol-wait}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: [sleep, '3600'], volumeMounts: [{name: v, mountPath: /v}]}
  volumes: [{name: v, configMap: {name: later}}]
"#,
    );
    let reason = |pod: &str| {
        jsonpath(
            &c,
            &["pod", pod],
            "{.status.containerStatuses[0].state.waiting.reason}",
        )
    };
    let message = |pod: &str| {
        jsonpath(
            &c,
            &["pod", pod],
            "{.status.containerStatuses[0].state.waiting.message}",
        )
    };
    assert!(
        eventually(20, || reason("env-wait") == "CreateContainerConfigError"),
        "{}",
        c.ok(&["get", "pod", "env-wait", "-o", "yaml"])
    );
    assert_eq!(message("env-wait"), "configmap \"late\" not found");
    assert!(
        c.ok(&["get", "pod", "env-wait"])
            .contains("CreateContainerConfigError")
    );
    // The object, but not the key.
    c.ok(&["create", "configmap", "late", "--from-literal=size=m"]);
    assert!(eventually(10, || message("env-wait")
        == "couldn't find key color in ConfigMap default/late"));
    let events = |pod: &str| {
        c.ok(&[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={pod}"),
            "-o",
            "custom-columns=REASON:.reason,MESSAGE:.message",
            "--no-headers",
        ])
    };
    assert!(
        events("env-wait").contains("Error: couldn't find key color in ConfigMap default/late")
    );
    // The volume's pod waits in ContainerCreating with FailedMount, before
    // any sandbox exists (volumes first, as upstream): no address yet.
    assert_eq!(reason("vol-wait"), "ContainerCreating");
    assert_eq!(jsonpath(&c, &["pod", "vol-wait"], "{.status.podIP}"), "");
    assert!(
        events("vol-wait").contains(
            "FailedMount   MountVolume.SetUp failed for volume \"v\" : configmap \"later\" not found"
        ),
        "{}",
        events("vol-wait")
    );
    // Both start by themselves once what they need exists.
    c.ok(&[
        "patch",
        "configmap",
        "late",
        "-p",
        r#"{"data":{"color":"teal"}}"#,
    ]);
    c.ok(&["create", "configmap", "later", "--from-literal=a=1"]);
    for pod in ["env-wait", "vol-wait"] {
        assert!(
            eventually(15, || jsonpath(&c, &["pod", pod], "{.status.phase}")
                == "Running"),
            "{pod}: {}",
            c.ok(&["describe", "pod", pod])
        );
    }
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t)
                    if t.is_file()
                        && std::fs::read(&p)
                            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) =>
                {
                    found.push(p.display().to_string())
                }
                _ => {}
            }
        }
    }
    found
}

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

fn encryption_config(providers: &str) -> String {
    format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{providers}"
    )
}

#[test]
fn secrets_are_encrypted_at_rest_and_keys_rotate() {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("encryption.yaml");
    let key1 = format!("  - secretbox:\n      keys: [{{name: key1, secret: \"{K1}\"}}]\n");
    let key2 = format!("  - aesgcm:\n      keys: [{{name: key2, secret: \"{K2}\"}}]\n");
    std::fs::write(
        &conf,
        encryption_config(&format!("{key1}  - identity: {{}}\n")),
    )
    .unwrap();
    let mut c = Cluster::start_with(&[
        "--chapter",
        "4",
        "--nodes",
        "0",
        "--encryption-provider-config",
        conf.to_str().unwrap(),
    ]);
    let secret = "kubelab-plaintext-7c1d9e";
    c.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        &format!("--from-literal=k={secret}"),
    ]);
    c.ok(&[
        "create",
        "configmap",
        "plain",
        &format!("--from-literal=k={secret}"),
    ]);
    let b64 = base64_of(secret);
    let store = c.data_dir().join("store");
    // The ConfigMap is plain JSON on disk; the Secret is neither plain nor base64.
    assert!(
        !files_containing(&store, secret.as_bytes()).is_empty(),
        "the ConfigMap is readable on disk"
    );
    c.ok(&["delete", "configmap", "plain"]);
    c.restart(); // the store compacts old values only later: start afresh to check the Secret alone
    assert!(eventually(5, || jsonpath(
        &c,
        &["secret", "s"],
        "{.data.k}"
    ) == b64));
    let with_b64 = files_containing(&c.data_dir(), b64.as_bytes());
    assert!(
        with_b64.is_empty(),
        "the Secret's base64 is on disk: {with_b64:?}"
    );
    assert!(!files_containing(&store, b"k8s:enc:secretbox:v1:key1:").is_empty());

    // Rotation, as upstream documents it: the new key first, the old one kept.
    std::fs::write(
        &conf,
        encryption_config(&format!("{key2}{key1}  - identity: {{}}\n")),
    )
    .unwrap();
    c.restart();
    assert_eq!(
        jsonpath(&c, &["secret", "s"], "{.data.k}"),
        b64,
        "old values still read"
    );
    // Rewrite every Secret: unchanged objects are written again (stale key).
    let all = c.ok(&["get", "secrets", "-A", "-o", "json"]);
    let out = c.kubectl_stdin(&["replace", "-f", "-"], &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!files_containing(&store, b"k8s:enc:aesgcm:v1:key2:").is_empty());
    // Drop the old key: everything still reads.
    std::fs::write(&conf, encryption_config(&key2)).unwrap();
    c.restart();
    assert_eq!(jsonpath(&c, &["secret", "s"], "{.data.k}"), b64);
    c.ok(&["create", "secret", "generic", "t", "--from-literal=k=v"]);
    assert_eq!(jsonpath(&c, &["secret", "t"], "{.data.k}"), "dg==");
}

fn base64_of(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn immutable_configmaps_and_typed_secrets_refuse_changes() {
    let c = Cluster::start_with(&["--chapter", "4", "--nodes", "0"]);
    c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: '1'}\n");
    let err = c.fails(&[
        "patch",
        "configmap",
        "frozen",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ]);
    assert!(
        err.contains("field is immutable when `immutable` is set"),
        "{err}"
    );
    let err = c.fails(&[
        "patch",
        "configmap",
        "frozen",
        "-p",
        r#"{"immutable":false}"#,
    ]);
    assert!(
        err.contains("immutable: Forbidden: field is immutable when `immutable` is set"),
        "an immutable ConfigMap stays immutable: {err}"
    );
    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/tls\ndata: {tls.crt: eA==}\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("data[tls.key]: Required value"), "{err}");
    assert_eq!(
        c.ok(&["get", "secrets", "-o", "name"]),
        "",
        "nothing was written"
    );
}
