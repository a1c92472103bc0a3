//! A small, blocking Kubernetes client for the helm commands: a kubeconfig
//! (server, CA, bearer token), HTTPS over rustls, API discovery to turn
//! `apiVersion` + `kind` into a resource path, and the handful of verbs
//! helm needs (get, create, replace, patch, delete, list).
//!
//! Every request opens its own connection: helm makes tens of requests per
//! command, and a fresh connection never meets a stale keep-alive.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value as J, json};

/// An error from the API server (or from getting there).
#[derive(Debug, Clone)]
pub struct KubeError {
    /// The HTTP status (0: no answer).
    pub code: u16,
    /// `reason` of the Status (`NotFound`, `AlreadyExists` …).
    pub reason: String,
    pub message: String,
}

impl KubeError {
    fn other(message: impl Into<String>) -> KubeError {
        KubeError {
            code: 0,
            reason: String::new(),
            message: message.into(),
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
    pub fn is_already_exists(&self) -> bool {
        self.code == 409 && self.reason == "AlreadyExists"
    }
}

impl std::fmt::Display for KubeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KubeError {}

pub type Result<T> = std::result::Result<T, KubeError>;

/// What the kubeconfig says about where and how to connect.
#[derive(Clone, Debug)]
pub struct KubeConfig {
    pub server: String,
    pub ca_pem: Option<Vec<u8>>,
    pub token: Option<String>,
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
    pub insecure: bool,
    /// The context's namespace ("default" when it names none).
    pub namespace: String,
}

fn home_config() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    Path::new(&home).join(".kube/config")
}

impl KubeConfig {
    /// `--kubeconfig`, else `$KUBECONFIG` (its first existing file), else `~/.kube/config`.
    pub fn load(explicit: Option<&Path>) -> Result<KubeConfig> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var("KUBECONFIG") {
                Ok(v) if !v.is_empty() => v
                    .split(':')
                    .map(PathBuf::from)
                    .find(|p| p.exists())
                    .unwrap_or_else(|| PathBuf::from(v.split(':').next().unwrap_or(""))),
                _ => home_config(),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            KubeError::other(format!(
                "Kubernetes cluster unreachable: stat {}: {}",
                path.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_string()
                } else {
                    e.to_string()
                }
            ))
        })?;
        let doc: J = serde_yaml::from_str(&text).map_err(|e| {
            KubeError::other(format!(
                "error loading config file \"{}\": {e}",
                path.display()
            ))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_doc(&doc, &base)
    }

    fn from_doc(doc: &J, base: &Path) -> Result<KubeConfig> {
        let find = |list: &str, name: &str, field: &str| -> J {
            doc.get(list)
                .and_then(|l| l.as_array())
                .and_then(|a| {
                    a.iter()
                        .find(|e| e.get("name").and_then(|n| n.as_str()) == Some(name))
                })
                .and_then(|e| e.get(field))
                .cloned()
                .unwrap_or(J::Null)
        };
        let current = doc
            .get("current-context")
            .and_then(|c| c.as_str())
            .unwrap_or("");
        let ctx = find("contexts", current, "context");
        let s = |v: &J, k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
        let cluster = find(
            "clusters",
            &s(&ctx, "cluster").unwrap_or_default(),
            "cluster",
        );
        let user = find("users", &s(&ctx, "user").unwrap_or_default(), "user");
        let server = s(&cluster, "server")
            .ok_or_else(|| KubeError::other("Kubernetes cluster unreachable: invalid configuration: no configuration has been provided"))?;
        let data_or_file = |v: &J, data: &str, file: &str| -> Result<Option<Vec<u8>>> {
            if let Some(d) = s(v, data) {
                return base64::engine::general_purpose::STANDARD
                    .decode(d.trim())
                    .map(Some)
                    .map_err(|e| KubeError::other(format!("{data}: {e}")));
            }
            if let Some(f) = s(v, file) {
                let p = if Path::new(&f).is_absolute() {
                    PathBuf::from(&f)
                } else {
                    base.join(&f)
                };
                return std::fs::read(&p)
                    .map(Some)
                    .map_err(|e| KubeError::other(format!("{}: {e}", p.display())));
            }
            Ok(None)
        };
        let mut token = s(&user, "token");
        if token.is_none()
            && let Some(f) = s(&user, "tokenFile")
        {
            token = std::fs::read_to_string(f)
                .ok()
                .map(|t| t.trim().to_string());
        }
        Ok(KubeConfig {
            server: server.trim_end_matches('/').to_string(),
            ca_pem: data_or_file(
                &cluster,
                "certificate-authority-data",
                "certificate-authority",
            )?,
            token,
            client_cert_pem: data_or_file(&user, "client-certificate-data", "client-certificate")?,
            client_key_pem: data_or_file(&user, "client-key-data", "client-key")?,
            insecure: cluster
                .get("insecure-skip-tls-verify")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            namespace: s(&ctx, "namespace")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into()),
        })
    }
}

/// One API resource: its path segment and whether it lives in a namespace.
#[derive(Clone, Debug)]
pub struct ApiResource {
    /// `/api/v1` or `/apis/apps/v1`
    pub prefix: String,
    /// `deployments`
    pub plural: String,
    pub namespaced: bool,
}

#[derive(Default)]
struct Discovery {
    /// (apiVersion, kind) → resource
    kinds: BTreeMap<(String, String), ApiResource>,
    /// group versions and `gv/Kind`s (helm's `.Capabilities.APIVersions`)
    versions: Vec<String>,
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// The client. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Client {
    cfg: Rc<KubeConfig>,
    tls: Option<Arc<rustls::ClientConfig>>,
    host: String,
    port: u16,
    path_prefix: String,
    discovery: Rc<RefCell<Option<Rc<Discovery>>>>,
}

fn tls_config(cfg: &KubeConfig) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| KubeError::other(e.to_string()))?;
    let builder = if cfg.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(kubelab_client::remote::InsecureSkipVerify(
                provider,
            )))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = &cfg.ca_pem {
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| {
                    KubeError::other(format!("unable to load root certificates: {e}"))
                })?;
                roots.add(cert).map_err(|e| {
                    KubeError::other(format!("unable to load root certificates: {e}"))
                })?;
            }
        }
        builder.with_root_certificates(roots)
    };
    match (&cfg.client_cert_pem, &cfg.client_key_pem) {
        (Some(c), Some(k)) => {
            let certs = rustls::pki_types::CertificateDer::pem_slice_iter(c)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| KubeError::other(e.to_string()))?;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(k)
                .map_err(|e| KubeError::other(e.to_string()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| KubeError::other(e.to_string()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// `%`-encodes a query parameter value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Client {
    pub fn new(cfg: KubeConfig) -> Result<Client> {
        let (scheme, rest) = cfg
            .server
            .split_once("://")
            .unwrap_or(("https", cfg.server.as_str()));
        let (authority, path_prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/').to_string()),
            None => (rest, String::new()),
        };
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, p) = r.split_once(']').unwrap_or((r, ""));
            (
                h.to_string(),
                p.strip_prefix(':').and_then(|p| p.parse().ok()),
            )
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().ok()),
                None => (authority.to_string(), None),
            }
        };
        let tls = if scheme == "https" {
            Some(Arc::new(tls_config(&cfg)?))
        } else {
            None
        };
        let port = port.unwrap_or(if tls.is_some() { 443 } else { 80 });
        Ok(Client {
            cfg: Rc::new(cfg),
            tls,
            host,
            port,
            path_prefix,
            discovery: Rc::default(),
        })
    }

    /// From `--kubeconfig` / `$KUBECONFIG` / `~/.kube/config`.
    pub fn from_kubeconfig(explicit: Option<&Path>) -> Result<Client> {
        Client::new(KubeConfig::load(explicit)?)
    }

    /// The kubeconfig context's namespace.
    pub fn default_namespace(&self) -> &str {
        &self.cfg.namespace
    }

    fn connect(&self) -> Result<BufReader<Box<dyn Stream>>> {
        let unreachable =
            |e: String| KubeError::other(format!("Kubernetes cluster unreachable: {e}"));
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .map_err(|e| unreachable(format!("dial tcp {}:{}: {e}", self.host, self.port)))?;
        let _ = tcp.set_nodelay(true);
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(60)));
        let stream: Box<dyn Stream> = match &self.tls {
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| unreachable(e.to_string()))?;
                let conn = rustls::ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| unreachable(e.to_string()))?;
                Box::new(rustls::StreamOwned::new(conn, tcp))
            }
            None => Box::new(tcp),
        };
        Ok(BufReader::new(stream))
    }

    /// One HTTP request: (status, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> Result<(u16, Vec<u8>)> {
        let io =
            |e: std::io::Error| KubeError::other(format!("Kubernetes cluster unreachable: {e}"));
        let mut conn = self.connect()?;
        let mut req = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}:{}\r\nAccept: application/json\r\nUser-Agent: helm/v3.18.0 (kubelab)\r\nConnection: close\r\n",
            self.path_prefix, self.host, self.port
        );
        if let Some(t) = &self.cfg.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        {
            let w = conn.get_mut();
            w.write_all(req.as_bytes()).map_err(io)?;
            w.write_all(body).map_err(io)?;
            w.flush().map_err(io)?;
        }
        let mut line = String::new();
        conn.read_line(&mut line).map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                KubeError::other(format!(
                    "Kubernetes cluster unreachable: bad status line {line:?}"
                ))
            })?;
        let (mut chunked, mut len) = (false, None);
        loop {
            line.clear();
            if conn.read_line(&mut line).map_err(io)? == 0 {
                break;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            } else if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse::<usize>().ok();
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                if conn.read_line(&mut line).map_err(io)? == 0 {
                    break;
                }
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                if size == 0 {
                    break;
                }
                let mut buf = vec![0; size + 2];
                conn.read_exact(&mut buf).map_err(io)?;
                buf.truncate(size);
                out.extend(buf);
            }
        } else if let Some(n) = len {
            out.resize(n, 0);
            conn.read_exact(&mut out).map_err(io)?;
        } else {
            let _ = conn.read_to_end(&mut out);
        }
        Ok((status, out))
    }

    /// A request with a JSON answer; non-2xx becomes a [`KubeError`].
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&J>,
        content_type: &str,
    ) -> Result<J> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let (status, raw) = self.request(method, path, bytes.as_deref(), content_type)?;
        let v: J = serde_json::from_slice(&raw).unwrap_or(J::Null);
        if (200..300).contains(&status) {
            return Ok(v);
        }
        let message = v
            .get("message")
            .and_then(|m| m.as_str())
            .map(String::from)
            .unwrap_or_else(|| {
                format!(
                    "the server responded with the status code {status}: {}",
                    String::from_utf8_lossy(&raw).trim()
                )
            });
        Err(KubeError {
            code: status,
            reason: v
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_string(),
            message,
        })
    }

    pub fn get_json(&self, path: &str) -> Result<J> {
        self.call("GET", path, None, "application/json")
    }

    /// `/version`'s gitVersion (`v1.33.0`).
    pub fn server_version(&self) -> Result<String> {
        let v = self.get_json("/version")?;
        Ok(v.get("gitVersion")
            .and_then(|g| g.as_str())
            .unwrap_or("v1.33.0")
            .to_string())
    }

    fn discover(&self) -> Result<Rc<Discovery>> {
        if let Some(d) = self.discovery.borrow().as_ref() {
            return Ok(d.clone());
        }
        let mut d = Discovery::default();
        let mut gvs: Vec<(String, String)> = vec![]; // (groupVersion, prefix)
        let core = self.get_json("/api")?;
        for v in core
            .get("versions")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(v) = v.as_str() {
                gvs.push((v.to_string(), format!("/api/{v}")));
            }
        }
        let groups = self.get_json("/apis")?;
        for g in groups
            .get("groups")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            for v in g
                .get("versions")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(gv) = v.get("groupVersion").and_then(|x| x.as_str()) {
                    gvs.push((gv.to_string(), format!("/apis/{gv}")));
                }
            }
        }
        for (gv, prefix) in gvs {
            d.versions.push(gv.clone());
            let Ok(list) = self.get_json(&prefix) else {
                continue;
            };
            for r in list
                .get("resources")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                let name = r.get("name").and_then(|x| x.as_str()).unwrap_or("");
                if name.contains('/') || name.is_empty() {
                    continue;
                }
                let kind = r
                    .get("kind")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string();
                d.versions.push(format!("{gv}/{kind}"));
                d.kinds.entry((gv.clone(), kind)).or_insert(ApiResource {
                    prefix: prefix.clone(),
                    plural: name.to_string(),
                    namespaced: r
                        .get("namespaced")
                        .and_then(|x| x.as_bool())
                        .unwrap_or(false),
                });
            }
        }
        d.versions.sort();
        d.versions.dedup();
        let d = Rc::new(d);
        *self.discovery.borrow_mut() = Some(d.clone());
        Ok(d)
    }

    /// Forget discovery (after installing CRDs).
    pub fn invalidate(&self) {
        *self.discovery.borrow_mut() = None;
    }

    /// Group versions and `group/version/Kind`s the server serves.
    pub fn api_versions(&self) -> Result<Vec<String>> {
        Ok(self.discover()?.versions.clone())
    }

    /// The resource for `apiVersion` + `kind`.
    pub fn resource(&self, api_version: &str, kind: &str) -> Result<ApiResource> {
        self.discover()?
            .kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
            .ok_or_else(|| KubeError {
                code: 0,
                reason: "NoKindMatch".into(),
                message: format!("no matches for kind \"{kind}\" in version \"{api_version}\""),
            })
    }

    /// The path of a collection (`name` empty) or of one object.
    pub fn path(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<String> {
        let r = self.resource(api_version, kind)?;
        let mut p = r.prefix.clone();
        if r.namespaced && !namespace.is_empty() {
            p.push_str(&format!("/namespaces/{namespace}"));
        }
        p.push('/');
        p.push_str(&r.plural);
        if !name.is_empty() {
            p.push('/');
            p.push_str(name);
        }
        Ok(p)
    }

    /// The object, or `None` if there is none.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<J>> {
        match self.get_json(&self.path(api_version, kind, namespace, name)?) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `obj` (its apiVersion, kind and metadata say where).
    pub fn create(&self, obj: &J, namespace: &str) -> Result<J> {
        let (av, kind) = type_of(obj);
        let path = self.path(&av, &kind, namespace, "")?;
        self.call("POST", &path, Some(obj), "application/json")
    }

    pub fn replace(&self, obj: &J, namespace: &str) -> Result<J> {
        let (av, kind) = type_of(obj);
        let name = obj
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let path = self.path(&av, &kind, namespace, name)?;
        self.call("PUT", &path, Some(obj), "application/json")
    }

    /// Patches an object: `strategic` for the built-in kinds, merge patch otherwise.
    pub fn patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: &J,
        strategic: bool,
    ) -> Result<J> {
        let path = self.path(api_version, kind, namespace, name)?;
        let ct = if strategic {
            "application/strategic-merge-patch+json"
        } else {
            "application/merge-patch+json"
        };
        self.call("PATCH", &path, Some(patch), ct)
    }

    /// Deletes with background propagation. `Ok(false)`: it was not there.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<bool> {
        let path = self.path(api_version, kind, namespace, name)?;
        let opts =
            json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
        match self.call("DELETE", &path, Some(&opts), "application/json") {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Lists objects (all namespaces when `namespace` is empty).
    pub fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<J>> {
        let mut path = self.path(api_version, kind, namespace, "")?;
        if !label_selector.is_empty() {
            path.push_str(&format!("?labelSelector={}", query_escape(label_selector)));
        }
        let v = self.get_json(&path)?;
        Ok(v.get("items")
            .and_then(|i| i.as_array())
            .cloned()
            .unwrap_or_default())
    }

    /// Is `(apiVersion, kind)` a kind the API server knows natively (so a
    /// strategic merge patch applies)? Custom resources are not.
    pub fn is_builtin(api_version: &str) -> bool {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        !group.contains('.') || group.ends_with(".k8s.io")
    }
}

/// (apiVersion, kind) of an object.
pub fn type_of(obj: &J) -> (String, String) {
    let s = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    (s("apiVersion"), s("kind"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_kubeconfig() {
        let doc: J = serde_yaml::from_str(
            "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443/', certificate-authority-data: aGk=}\nusers:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: team}\ncurrent-context: x\n",
        )
        .unwrap();
        let c = KubeConfig::from_doc(&doc, Path::new("/")).unwrap();
        assert_eq!(c.server, "https://127.0.0.1:6443");
        assert_eq!(c.ca_pem.as_deref(), Some(&b"hi"[..]));
        assert_eq!(c.token.as_deref(), Some("abc"));
        assert_eq!(c.namespace, "team");
    }

    #[test]
    fn escapes_selectors() {
        assert_eq!(query_escape("owner=helm,name=a"), "owner%3Dhelm%2Cname%3Da");
        assert!(Client::is_builtin("apps/v1"));
        assert!(Client::is_builtin("v1"));
        assert!(Client::is_builtin("rbac.authorization.k8s.io/v1"));
        assert!(!Client::is_builtin("example.com/v1"));
    }
}
