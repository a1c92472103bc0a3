//! The certificate functions make new keys on every call, so their output
//! cannot be compared byte for byte with the real helm's. What can be: the
//! certificates each produces for the same template are checked by
//! `openssl` — the leaf verifies against the CA — and carry the same
//! X.509 shape (key size, signature algorithm, key usages, SANs, CA flag).

use std::path::Path;
use std::process::Command;

fn helm_bin() -> Option<std::path::PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| Path::new(d).join("helm"))
        .find(|p| p.is_file())
}

const TEMPLATE: &str = r#"{{- $ca := genCA "kubelab-ca" 365 }}
{{- $c := genSignedCert "web.shop.svc" (list "10.96.0.42") (list "web" "web.shop") 30 $ca }}
{{- $s := genSelfSignedCert "self" nil (list "self.local") 10 }}
ca: {{ $ca.Cert | b64enc }}
leaf: {{ $c.Cert | b64enc }}
leafkey: {{ $c.Key | b64enc }}
self: {{ $s.Cert | b64enc }}
"#;

/// The parts of `openssl x509 -text` that do not change from key to key.
fn shape(pem: &[u8], dir: &Path) -> Vec<String> {
    let f = dir.join("c.pem");
    std::fs::write(&f, pem).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl x509");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let keep = [
        "Public-Key:",
        "Signature Algorithm:",
        "Issuer:",
        "Subject:",
        "CA:",
        "DNS:",
        "Digital Signature",
        "TLS Web",
    ];
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| keep.iter().any(|k| l.starts_with(k)))
        .map(String::from)
        .collect();
    // the order of extensions carries no meaning
    lines.sort();
    lines.dedup();
    lines
}

fn render(with_real_helm: bool, dir: &Path) -> serde_json::Value {
    let chart = dir.join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: certs\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("templates/certs.yaml"), TEMPLATE).unwrap();
    let c = chart.to_str().unwrap();
    let text = if with_real_helm {
        let out = Command::new(helm_bin().unwrap())
            .args(["template", c])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    } else {
        kubelab_helm::cli::capture(&["template", c]).unwrap()
    };
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn certificates_verify_and_have_helms_shape() {
    let Some(_) = helm_bin() else {
        panic!("the real helm is needed: run tests/run.sh (it installs helm 3.18)");
    };
    let tmp = tempfile::tempdir().unwrap();
    let b64 = |v: &serde_json::Value, k: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(v[k].as_str().unwrap())
            .unwrap()
    };
    let mut shapes = vec![];
    for real in [true, false] {
        let dir = tmp.path().join(if real { "helm" } else { "kubelab" });
        let v = render(real, &dir);
        std::fs::write(dir.join("ca.pem"), b64(&v, "ca")).unwrap();
        std::fs::write(dir.join("leaf.pem"), b64(&v, "leaf")).unwrap();
        let verify = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(dir.join("ca.pem"))
            .arg(dir.join("leaf.pem"))
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{}: the leaf must verify against the CA: {}",
            if real { "helm" } else { "kubelab" },
            String::from_utf8_lossy(&verify.stdout)
        );
        std::fs::write(dir.join("key.pem"), b64(&v, "leafkey")).unwrap();
        let key = Command::new("openssl")
            .args(["rsa", "-check", "-noout", "-in"])
            .arg(dir.join("key.pem"))
            .output()
            .unwrap();
        assert!(key.status.success(), "the key is an RSA key");
        shapes.push((
            shape(&b64(&v, "ca"), &dir),
            shape(&b64(&v, "leaf"), &dir),
            shape(&b64(&v, "self"), &dir),
        ));
    }
    assert_eq!(
        shapes[0], shapes[1],
        "kubelab's certificates have the real helm's shape"
    );
    assert!(
        shapes[1]
            .1
            .iter()
            .any(|l| l.contains("DNS:web, DNS:web.shop, IP Address:10.96.0.42")),
        "{:?}",
        shapes[1].1
    );
}

/// `genPrivateKey` of every kind helm knows: the same PEM block type, and
/// `openssl pkey` reads both keys as the same algorithm and size.
#[test]
fn private_keys_of_every_kind_read_as_helms() {
    let Some(helm) = helm_bin() else {
        panic!("the real helm is needed: run tests/run.sh (it installs helm 3.18)");
    };
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("keys");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: keys\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/keys.yaml"),
        "{{- range list \"rsa\" \"ecdsa\" \"ed25519\" \"dsa\" }}\n{{ . }}: {{ genPrivateKey . | b64enc }}\n{{- end }}\n",
    )
    .unwrap();
    let c = chart.to_str().unwrap();
    let out = Command::new(helm).args(["template", c]).output().unwrap();
    assert!(out.status.success());
    let real: serde_json::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let ours: serde_json::Value =
        serde_yaml::from_str(&kubelab_helm::cli::capture(&["template", c]).unwrap()).unwrap();
    for kind in ["rsa", "ecdsa", "ed25519", "dsa"] {
        let describe = |v: &serde_json::Value, who: &str| {
            use base64::Engine;
            let pem = base64::engine::general_purpose::STANDARD
                .decode(v[kind].as_str().unwrap())
                .unwrap();
            let f = tmp.path().join(format!("{who}-{kind}.pem"));
            std::fs::write(&f, &pem).unwrap();
            let text = Command::new("openssl")
                .args(["pkey", "-noout", "-text", "-in"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                text.status.success(),
                "{who}'s {kind} key reads with openssl"
            );
            let first = String::from_utf8_lossy(&pem)
                .lines()
                .next()
                .unwrap()
                .to_string();
            let size = String::from_utf8_lossy(&text.stdout)
                .lines()
                .next()
                .unwrap()
                .to_string();
            (first, size)
        };
        assert_eq!(
            describe(&ours, "kubelab"),
            describe(&real, "helm"),
            "{kind}"
        );
    }
}
