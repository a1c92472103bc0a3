//! The cluster CA, the API server's certificate, and the admin token.
//!
//! A real cluster's API server speaks only HTTPS; clients trust it because
//! its certificate is signed by the *cluster CA*, whose certificate is in
//! every kubeconfig (`certificate-authority-data`). kubelab makes its own CA
//! on first start (with `rcgen`), signs a serving certificate for
//! `127.0.0.1`/`localhost`/`kubernetes.default.svc`, and keeps both in
//! `<data-dir>/pki` so a restart keeps the same identity. Clients prove who
//! they are with a bearer token (`Authorization: Bearer …`), as a
//! ServiceAccount token or a static token file does upstream.

use std::fs;
use std::io;
use std::path::Path;

use base64::Engine as _;
use rand::Rng;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// PEM files of one API server identity.
pub struct Pki {
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Loads `<dir>/pki`, creating the CA and serving certificate on first use.
/// `extra` are addresses beyond loopback the certificate must name (the
/// bind and advertise addresses, as kubeadm puts them in its serving
/// certificate); when they change, the PKI is made anew (the CA's key is
/// not kept, so old kubeconfigs stop working).
pub fn load_or_create(dir: &Path, extra: &[String]) -> io::Result<Pki> {
    let pki = dir.join("pki");
    let (ca, crt, key) = (
        pki.join("ca.crt"),
        pki.join("apiserver.crt"),
        pki.join("apiserver.key"),
    );
    let sans_file = pki.join("apiserver.extra-names");
    let wanted = extra.join("\n");
    let same_names = fs::read_to_string(&sans_file).unwrap_or_default() == wanted;
    if ca.exists() && crt.exists() && key.exists() && same_names {
        return Ok(Pki {
            ca_cert: fs::read_to_string(ca)?,
            server_cert: fs::read_to_string(crt)?,
            server_key: fs::read_to_string(key)?,
        });
    }
    fs::create_dir_all(&pki)?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kubelab-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_key = KeyPair::generate().map_err(other)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(other)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let names = [
        "127.0.0.1",
        "::1",
        // The `kubernetes` Service's address, for clients inside pods.
        "10.96.0.1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ];
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|s| s.to_string())
            .chain(extra.iter().cloned())
            .collect::<Vec<_>>(),
    )
    .map_err(other)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let server_key = KeyPair::generate().map_err(other)?;
    let server_cert = params.signed_by(&server_key, &issuer).map_err(other)?;

    let out = Pki {
        ca_cert: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    };
    fs::write(&ca, &out.ca_cert)?;
    fs::write(&crt, &out.server_cert)?;
    fs::write(&key, &out.server_key)?;
    fs::write(&sans_file, &wanted)?;
    Ok(out)
}

/// The admin's bearer token, kept in `<dir>/admin.token`.
pub fn load_or_create_token(dir: &Path) -> io::Result<String> {
    let path = dir.join("admin.token");
    if let Ok(t) = fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    let bytes: [u8; 24] = rand::rng().random();
    let token = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    fs::write(&path, &token)?;
    Ok(token)
}

/// A kubeconfig for the admin: what `kubectl` needs to find and trust us.
pub fn kubeconfig(server: &str, ca_pem: Option<&str>, token: &str) -> String {
    let cluster = match ca_pem {
        Some(ca) => format!(
            "    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(ca)
        ),
        None => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubelab\n  cluster:\n    server: {server}\n{cluster}users:\n- name: kubelab-admin\n  user:\n    token: {token}\ncontexts:\n- name: kubelab\n  context:\n    cluster: kubelab\n    user: kubelab-admin\n    namespace: default\ncurrent-context: kubelab\n"
    )
}
