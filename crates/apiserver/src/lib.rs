//! # kubelab-apiserver — the front door of the cluster (chapter 01)
//!
//! Every component of Kubernetes — kubectl, the scheduler, each kubelet,
//! every controller — talks only to the API server, and only the API server
//! talks to the store. This crate is that server, compatible enough that
//! the **real kubectl** and the official clients use it unchanged.
//!
//! ## The path of a request
//! 1. [`server::handle`]: authentication (bearer token), routing,
//!    authorization, body decoding — the pipeline, top to bottom.
//! 2. [`request`]: the URL becomes a [`request::RequestInfo`]
//!    (resource, namespace, name, subresource, verb).
//! 3. [`objects`]: the generic registry — defaults, validation, server
//!    fields, resourceVersion checks, finalizers — over the store.
//! 4. Responses: plain JSON, or a [`table`] for `kubectl get`; a stream of
//!    events for [`watch`]; a `Status` for every error ([`status`]).
//!
//! Around it: [`discovery`] (what exists, plus OpenAPI v3), [`patch`]
//! (JSON, merge and strategic merge patches, server-side apply),
//! [`gc`] (owner references and namespace deletion) and [`tls`] (the
//! cluster CA and tokens).
//!
//! ## Where to start reading
//! [`server::handle`], then follow a `kubectl apply` through
//! [`objects::Objects::create`].

pub mod discovery;
pub mod gc;
pub mod objects;
pub mod patch;
pub mod protobuf;
pub mod request;
pub mod server;
pub mod services;
pub mod spdy;
pub mod status;
pub mod streaming;
pub mod table;
pub mod tls;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kubelab_api::registry;
use kubelab_store::Store;
use serde_json::json;

pub use objects::Objects;
pub use server::ApiState;

/// The namespaces every cluster starts with.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// How to run the API server.
pub struct Config {
    pub addr: SocketAddr,
    /// Where the PKI and token live; `None`: plain HTTP and no authentication (tests).
    pub tls_dir: Option<PathBuf>,
    /// How often old revisions are compacted away (upstream's
    /// `--etcd-compaction-interval`, 5 minutes by default).
    pub compaction_interval: Duration,
    /// Replaces the built-in label selector matching (lab 01); `None` for the built-in.
    pub label_matcher: Option<kubelab_api::selector::Matcher>,
}

/// Like kube-apiserver, every `interval` compact the store up to the
/// revision it had one interval ago: watches and continue tokens older than
/// that get 410 Expired and clients re-list.
async fn compact_periodically(objects: Objects, interval: Duration) {
    let mut previous = objects.store().current_revision();
    loop {
        tokio::time::sleep(interval).await;
        let now = objects.store().current_revision();
        let store = objects.store().clone();
        match tokio::task::spawn_blocking(move || store.compact(previous)).await {
            Ok(Ok(())) => tracing::debug!("compacted up to revision {previous}"),
            Ok(Err(e)) => tracing::warn!("compaction failed: {e}"),
            Err(e) => tracing::warn!("compaction task failed: {e}"),
        }
        previous = now;
    }
}

/// A running API server.
pub struct Running {
    pub addr: SocketAddr,
    /// `https://127.0.0.1:PORT` (or http for tests).
    pub url: String,
    pub ca_pem: Option<String>,
    pub token: String,
    /// The same API, callable in-process: the cluster's own components
    /// (controllers, scheduler, kubelets) send their requests here, through
    /// the whole pipeline, without a TCP hop.
    pub router: axum::Router,
    /// Where kubelets register themselves for logs, exec and port-forward.
    pub nodes: streaming::NodeConnections,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting requests, lets in-flight ones finish, and returns.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(2)));
        let _ = self.task.await;
    }

    /// A kubeconfig that reaches this server as the admin.
    pub fn kubeconfig(&self) -> String {
        tls::kubeconfig(&self.url, self.ca_pem.as_deref(), &self.token)
    }
}

/// Creates the namespaces a cluster starts with, if missing.
pub async fn bootstrap(objects: &Objects) -> Result<(), status::ApiError> {
    let ns = registry::by_kind("v1", "Namespace").unwrap();
    for name in SYSTEM_NAMESPACES {
        match objects
            .create(
                ns,
                None,
                json!({"metadata": {"name": name}}),
                Default::default(),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    // The `kubernetes` Service: the API server at the first address of the
    // service range, as every cluster has it (its endpoints are written by
    // whoever knows where the API server is reachable from pods).
    let svc = registry::by_kind("v1", "Service").unwrap();
    let kubernetes = json!({
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": kubelab_api::network::KUBERNETES_SERVICE_IP.to_string(),
                 "ports": [{"name": "https", "port": 443, "targetPort": 6443, "protocol": "TCP"}]},
    });
    match objects
        .create(svc, Some("default"), kubernetes, Default::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "AlreadyExists" => Ok(()),
        Err(e) => Err(e),
    }
}

/// Starts the API server (and its garbage collector) on `store`.
pub async fn serve(store: Arc<dyn Store>, config: Config) -> std::io::Result<Running> {
    let mut objects = Objects::new(store);
    if let Some(m) = config.label_matcher {
        objects = objects.with_label_matcher(m);
    }
    bootstrap(&objects)
        .await
        .map_err(|e| std::io::Error::other(e.message))?;
    tokio::spawn(gc::run(objects.clone()));
    tokio::spawn(compact_periodically(
        objects.clone(),
        config.compaction_interval,
    ));

    let (tokens, pki) = match &config.tls_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (
                vec![tls::load_or_create_token(dir)?],
                Some(tls::load_or_create(dir)?),
            )
        }
        None => (Vec::new(), None),
    };
    let token = tokens.first().cloned().unwrap_or_default();
    let nodes = streaming::NodeConnections::default();
    let state = Arc::new(ApiState {
        objects,
        tokens,
        nodes: nodes.clone(),
    });
    let app = axum::Router::new()
        .fallback(server::handle)
        .with_state(state);
    let router = app.clone();
    let handle = axum_server::Handle::new();
    let task = match &pki {
        Some(p) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
                p.server_cert.clone().into_bytes(),
                p.server_key.clone().into_bytes(),
            )
            .await?;
            let server = axum_server::bind_rustls(config.addr, tls).handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service()))
        }
        None => {
            let server = axum_server::bind(config.addr).handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service()))
        }
    };
    let addr = handle
        .listening()
        .await
        .ok_or_else(|| std::io::Error::other("the API server failed to listen"))?;
    let scheme = if pki.is_some() { "https" } else { "http" };
    Ok(Running {
        addr,
        url: format!("{scheme}://127.0.0.1:{}", addr.port()),
        ca_pem: pki.map(|p| p.ca_cert),
        token,
        router,
        nodes,
        handle,
        task,
    })
}
