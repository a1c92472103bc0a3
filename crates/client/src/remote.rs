//! The same [`Client`](crate::rest::Client), over the network: HTTPS to
//! an API server in another process or on another machine, as client-go
//! talks to kube-apiserver. This is the transport a component needs when
//! it runs as its own process (`kubelab node`, `kubelab scheduler` …,
//! "beyond one machine"); in `kubelab up` everything shares one process
//! and requests go straight to the server's router instead.
//!
//! One HTTP/1.1 connection per request (a watch keeps its own for as long
//! as it lasts). **Simplification:** no connection pool and no HTTP/2
//! yet; client-go multiplexes its requests over one HTTP/2 connection.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the API server is and how to reach it.
pub struct Remote {
    /// `host:port`
    authority: String,
    host: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The CA it trusts (the cluster's, from the kubeconfig).
    pub ca_pem: Option<String>,
}

/// What a kubeconfig says about the current context's server and user.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    pub server: String,
    pub ca_pem: Option<String>,
    pub token: Option<String>,
    pub namespace: Option<String>,
}

impl KubeConfig {
    /// Reads the current context of a kubeconfig file (server, CA data or
    /// file, bearer token or token file).
    pub fn load(path: &std::path::Path) -> anyhow::Result<KubeConfig> {
        use anyhow::Context;
        use base64::Engine;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading kubeconfig {}", path.display()))?;
        let doc: serde_json::Value =
            serde_yaml::from_str(&text).context("kubeconfig is not YAML")?;
        let current = doc["current-context"].as_str().unwrap_or("");
        let named = |list: &str, name: &str| {
            doc[list]
                .as_array()
                .and_then(|l| l.iter().find(|e| e["name"].as_str() == Some(name)).cloned())
                .unwrap_or(serde_json::Value::Null)
        };
        let ctx = named("contexts", current);
        let cluster = named("clusters", ctx["context"]["cluster"].as_str().unwrap_or(""));
        let user = named("users", ctx["context"]["user"].as_str().unwrap_or(""));
        let server = cluster["cluster"]["server"]
            .as_str()
            .context("the kubeconfig's context has no server")?
            .to_string();
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let ca_pem = match (
            cluster["cluster"]["certificate-authority-data"].as_str(),
            cluster["cluster"]["certificate-authority"].as_str(),
        ) {
            (Some(data), _) => Some(String::from_utf8(
                base64::engine::general_purpose::STANDARD.decode(data)?,
            )?),
            (None, Some(file)) => Some(std::fs::read_to_string(dir.join(file))?),
            _ => None,
        };
        let token = match (
            user["user"]["token"].as_str(),
            user["user"]["tokenFile"].as_str(),
        ) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(f)) => Some(std::fs::read_to_string(dir.join(f))?.trim().to_string()),
            _ => None,
        };
        Ok(KubeConfig {
            server,
            ca_pem,
            token,
            namespace: ctx["context"]["namespace"].as_str().map(String::from),
        })
    }
}

impl Remote {
    /// `server` is `https://host:port` (trusting `ca_pem`) or `http://…`.
    pub fn new(server: &str, ca_pem: Option<&str>) -> anyhow::Result<Remote> {
        let (tls, rest) = if let Some(r) = server.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = server.strip_prefix("http://") {
            (false, r)
        } else {
            anyhow::bail!("the server must be an http:// or https:// URL: {server}");
        };
        let authority = rest.trim_end_matches('/').to_string();
        let host = match authority.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_string(),
            None => authority.clone(),
        };
        let tls = if tls {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut roots = rustls::RootCertStore::empty();
            if let Some(pem) = ca_pem {
                use rustls::pki_types::pem::PemObject;
                for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots.add(cert?)?;
                }
            }
            Some(Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            ))
        } else {
            None
        };
        Ok(Remote {
            authority,
            host,
            tls,
            ca_pem: ca_pem.map(str::to_string),
        })
    }

    /// Sends one request on a new connection; the response body streams
    /// (a watch goes on until the server ends it).
    pub async fn send(&self, mut req: Request<Body>) -> std::io::Result<Response<Body>> {
        let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        req.headers_mut().insert(
            axum::http::header::HOST,
            self.authority.parse().map_err(|e| other(&e))?,
        );
        let tcp = TcpStream::connect(&self.authority).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| other(&e))?;
                let stream = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await?;
                send_on(TokioIo::new(stream), req).await
            }
            None => send_on(TokioIo::new(tcp), req).await,
        }
    }
}

async fn send_on<I>(io: I, req: Request<Body>) -> std::io::Result<Response<Body>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let other = |e: hyper::Error| std::io::Error::other(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(other)?;
    Ok(resp.map(Body::new))
}

/// A verifier that accepts any server certificate: a kubeconfig's
/// `insecure-skip-tls-verify`, and the API server's connections to
/// kubelets, whose certificates are self-signed. Signatures are still
/// checked with the provider's algorithms.
#[derive(Debug)]
pub struct InsecureSkipVerify(pub Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for InsecureSkipVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
