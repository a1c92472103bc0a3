//! The kubelet's API on port 10250, for an API server in another process.
//!
//! When the node runs in the `kubelab up` process, the API server calls
//! the kubelet directly ([`kubelab_client::streams::NodeConnections`]).
//! A `kubelab node` on a host of its own is reached over the network
//! instead, as upstream's kubelet is: TLS on `<node IP>:10250`, with a
//! certificate the kubelet makes for itself at start (upstream's kubelet
//! does the same when it is given none). The protocol — logs, exec,
//! attach, port-forward — is [`kubelab_client::kubelet_api`].

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use kubelab_client::kubelet_api::{self, KUBELET_PORT};
use kubelab_client::streams::NodeStreams;

/// Listens on `ip:10250` and serves `streams` to requests carrying `token`.
pub async fn serve(
    ip: Ipv4Addr,
    token: String,
    streams: Arc<dyn NodeStreams>,
) -> anyhow::Result<()> {
    let cert = rcgen::generate_simple_self_signed(vec![ip.to_string()])
        .context("making the kubelet's serving certificate")?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)?;
    let addr = SocketAddr::from((ip, KUBELET_PORT));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("the kubelet's API on {addr}"))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, token, streams) = (acceptor.clone(), token.clone(), streams.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    kubelet_api::serve(tls, &token, streams).await;
                }
            });
        }
    });
    Ok(())
}
