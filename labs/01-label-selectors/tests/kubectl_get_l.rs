//! Lab 01's checks: your `matches` inside a real API server, asked by the real kubectl.

use std::process::Command;

const OBJECTS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: web-prod, labels: {app: web, env: prod, tier: front}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-dev, labels: {app: web, env: dev, tier: front}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: db-prod, labels: {app: db, env: prod}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unlabelled}
"#;

fn kubectl(
    kubeconfig: &std::path::Path,
    cache: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> String {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_dash_l_uses_your_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (server, kubeconfig) = lab_01_label_selectors::start_cluster(dir.path()).await;
    let cache = dir.path().join("cache");
    let (kc, c) = (kubeconfig.clone(), cache.clone());
    tokio::task::spawn_blocking(move || {
        kubectl(&kc, &c, &["apply", "-f", "-"], Some(OBJECTS));
        let cases: &[(&str, &[&str])] = &[
            ("app=web", &["web-dev", "web-prod"]),
            ("app==db", &["db-prod"]),
            ("env!=prod", &["unlabelled", "web-dev"]),
            ("env in (prod,staging)", &["db-prod", "web-prod"]),
            ("app notin (web)", &["db-prod", "unlabelled"]),
            ("tier", &["web-dev", "web-prod"]),
            ("!tier", &["db-prod", "unlabelled"]),
            ("app=web,env=prod", &["web-prod"]),
            ("app in (web,db),!tier", &["db-prod"]),
        ];
        for (selector, want) in cases {
            let out = kubectl(
                &kc,
                &c,
                &["get", "configmaps", "-l", selector, "-o", "name"],
                None,
            );
            let got: Vec<&str> = out
                .lines()
                .map(|l| l.trim_start_matches("configmap/"))
                .collect();
            assert_eq!(&got, want, "kubectl get configmaps -l '{selector}'");
        }
    })
    .await
    .unwrap();
    server.shutdown().await;
}
