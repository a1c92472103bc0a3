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
//! 3. [`objects`]: the generic registry — server fields, resourceVersion
//!    checks, finalizers — over the store. It names no kind: what differs
//!    per kind (defaults, validation, allocation, graceful deletion) is the
//!    kind's [`strategy`], registered by the chapter that adds it
//!    (chapter 01's are in [`kinds`]).
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
pub mod extensions;
pub mod gc;
pub mod kinds;
pub mod objects;
pub mod patch;
pub mod printers;
pub mod protobuf;
pub mod request;
pub mod server;
pub mod spdy;
pub mod status;
pub mod storage;
pub mod strategy;
pub mod streaming;
pub mod table;
pub mod tls;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kubelab_api::registry;
use kubelab_client::{Client, Cluster, ClusterBuilder, ClusterOptions, InformerFactory, Phase};
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
    /// The address clients use (the kubeconfig's server, a name in the
    /// serving certificate); by default the bind address, or 127.0.0.1
    /// when that is `0.0.0.0`.
    pub advertise: Option<std::net::IpAddr>,
    /// Where the PKI and token live; `None`: plain HTTP and no authentication (tests).
    pub tls_dir: Option<PathBuf>,
    /// How often old revisions are compacted away (upstream's
    /// `--etcd-compaction-interval`, 5 minutes by default).
    pub compaction_interval: Duration,
    /// Replaces the built-in label selector matching (lab 01); `None` for the built-in.
    pub label_matcher: Option<kubelab_api::selector::Matcher>,
    /// The kinds' strategies; `None` for chapter 01's ([`kinds`]).
    pub strategies: Option<strategy::Strategies>,
    /// Later chapters' authenticators and subresources.
    pub extensions: extensions::ApiExtensions,
}

/// Replaces the built-in label-selector matching of the cluster's API
/// server (lab 01 puts its function in this slot of the builder).
pub struct LabelMatcher(pub kubelab_api::selector::Matcher);

/// Where the cluster's API server is, for whoever needs more than a client:
/// the binary (its kubeconfig), kubelets (to register their streams), the
/// notebooks (the store, to show revisions).
#[derive(Clone)]
pub struct ApiServer {
    pub addr: SocketAddr,
    pub url: String,
    pub token: String,
    pub ca_pem: Option<String>,
    /// Where the admin kubeconfig was written (`None` for an ephemeral cluster).
    pub kubeconfig: Option<PathBuf>,
    pub router: axum::Router,
    pub nodes: streaming::NodeConnections,
    pub store: Arc<dyn Store>,
    /// The registry the server writes through (same strategies).
    pub objects: Objects,
}

impl ApiServer {
    /// A kubeconfig that reaches this server as the admin.
    pub fn kubeconfig_text(&self) -> String {
        tls::kubeconfig(&self.url, self.ca_pem.as_deref(), &self.token)
    }
}

/// Chapter 01: the API server on its store, with chapter 01's strategies.
///
/// Options used: `data_dir` (the store in `<data_dir>/store`, the cluster
/// CA and the admin kubeconfig beside it), `port`, `compaction_interval`;
/// `ephemeral` keeps the store in memory and serves plain HTTP.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    kinds::register(b.slot::<strategy::Strategies>());
    b.on_start(
        Phase::ApiServer,
        "kube-apiserver",
        |c: Cluster| async move {
            let opts = c.options().clone();
            let store = open_store(&opts)?;
            let config = Config {
                addr: SocketAddr::new(opts.bind_address, opts.port),
                advertise: opts.advertise_address,
                tls_dir: (!opts.ephemeral).then(|| opts.data_dir.clone()),
                compaction_interval: opts.compaction_interval,
                label_matcher: c.take::<LabelMatcher>().map(|m| m.0),
                strategies: c.take::<strategy::Strategies>(),
                extensions: c.take::<extensions::ApiExtensions>().unwrap_or_default(),
            };
            let running = serve(store.clone(), config).await.map_err(|e| {
                anyhow::anyhow!(
                    "starting the API server on {}: {e}",
                    SocketAddr::new(opts.bind_address, opts.port)
                )
            })?;
            let kubeconfig = (!opts.ephemeral).then(|| opts.data_dir.join("kubeconfig"));
            if let Some(path) = &kubeconfig {
                std::fs::write(path, running.kubeconfig())?;
            }
            let client = Client::new(running.router.clone(), Some(running.token.clone()));
            c.insert(InformerFactory::new(&client));
            c.insert(client);
            // Where kubelets register for logs, exec and port-forward.
            c.insert(running.nodes.clone());
            c.insert(ApiServer {
                addr: running.addr,
                url: running.url.clone(),
                token: running.token.clone(),
                ca_pem: running.ca_pem.clone(),
                kubeconfig,
                router: running.router.clone(),
                nodes: running.nodes.clone(),
                objects: running.objects.clone(),
                store,
            });
            c.on_shutdown("kube-apiserver", running.shutdown());
            Ok(())
        },
    );
    // Deletion's other half: owner references and namespaces. Upstream runs
    // these two in kube-controller-manager; chapter 01 has none, so the API
    // server's crate registers them as ordinary controllers over the API.
    b.controller("garbage-collector", |client, informers| {
        gc::GarbageCollector::start(client, informers);
    });
    b.controller("namespace-controller", |client, informers| {
        gc::NamespaceController::start(client, informers);
    });
}
// ANCHOR_END: install

/// Writes the `kubernetes` Service's Endpoints: where pods reach the API
/// server through `10.96.0.1` (upstream's endpoint reconciler in
/// kube-apiserver writes the same, with the API servers' own addresses).
pub async fn publish_kubernetes_endpoints(
    client: &kubelab_client::Client,
    addresses: &[std::net::IpAddr],
    port: u16,
) -> Result<(), kubelab_client::ApiError> {
    let endpoints = kubelab_client::rest::resource("v1", "Endpoints");
    let list = kubelab_client::rest::path(endpoints, Some("default"), None);
    let addresses: Vec<serde_json::Value> = addresses
        .iter()
        .map(|ip| serde_json::json!({"ip": ip.to_string()}))
        .collect();
    let ep = serde_json::json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{"addresses": addresses,
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    client.create_or_replace(&list, &ep).await?;
    Ok(())
}

/// The cluster's store: an etcd cluster (`--store etcd://…`), sled in
/// `<data_dir>/store`, or in memory.
fn open_store(opts: &ClusterOptions) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &opts.store {
        return kubelab_store::open_etcd(url).map_err(|e| anyhow::anyhow!("--store: {e}"));
    }
    if opts.ephemeral {
        return Ok(kubelab_store::in_memory());
    }
    std::fs::create_dir_all(&opts.data_dir)?;
    let store = kubelab_store::open_sled(&opts.data_dir.join("store")).map_err(|e| match e {
        kubelab_store::Error::Format(why) => anyhow::anyhow!("{}: {why}", opts.data_dir.display()),
        other => anyhow::Error::new(other)
            .context("opening the store (is another kubelab running on this data dir?)"),
    })?;
    // Before kubelab laid keys out as upstream does, core objects lived
    // under /registry/core/: such a store would look empty, so say so.
    let old = store.range(&kubelab_store::RangeRequest {
        limit: Some(1),
        ..kubelab_store::RangeRequest::prefix(b"/registry/core/")
    })?;
    anyhow::ensure!(
        old.kvs.is_empty(),
        "{}: this data dir was written by an older kubelab (keys under /registry/core/); remove it with `kubelab down --data-dir {0}` and start again",
        opts.data_dir.display()
    );
    Ok(store)
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
    /// The registry behind the server.
    pub objects: Objects,
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

/// The address clients are given: the advertise address, else the bind
/// address, else (bound to every address) loopback.
fn client_address(addr: SocketAddr, advertise: Option<std::net::IpAddr>) -> std::net::IpAddr {
    match advertise {
        Some(a) => a,
        None if addr.ip().is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        None => addr.ip(),
    }
}

/// Addresses beyond loopback that the serving certificate must name.
fn served_names(addr: SocketAddr, advertise: Option<std::net::IpAddr>) -> Vec<String> {
    let mut names = vec![];
    for a in [Some(addr.ip()), advertise].into_iter().flatten() {
        // 127.0.0.1 and ::1 are always named
        let always = a == std::net::IpAddr::from([127, 0, 0, 1])
            || a == std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
        if !a.is_unspecified() && !always {
            names.push(a.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
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

/// Starts the API server on `store`. Only the server: the garbage
/// collector and the namespace controller are controllers that [`install`]
/// registers, so a bare `serve` leaves deleted owners' dependents and
/// Terminating namespaces in place.
pub async fn serve(store: Arc<dyn Store>, config: Config) -> std::io::Result<Running> {
    let client_ip = client_address(config.addr, config.advertise);
    let mut objects = match config.strategies {
        Some(s) => Objects::with_strategies(store, s),
        None => Objects::new(store),
    };
    if let Some(m) = config.label_matcher {
        objects = objects.with_label_matcher(m);
    }
    bootstrap(&objects)
        .await
        .map_err(|e| std::io::Error::other(e.message))?;
    tokio::spawn(compact_periodically(
        objects.clone(),
        config.compaction_interval,
    ));

    let (tokens, pki) = match &config.tls_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (
                vec![tls::load_or_create_token(dir)?],
                Some(tls::load_or_create(
                    dir,
                    &served_names(config.addr, config.advertise),
                )?),
            )
        }
        None => (Vec::new(), None),
    };
    let token = tokens.first().cloned().unwrap_or_default();
    let nodes = streaming::NodeConnections::default();
    let state = Arc::new(ApiState {
        objects: objects.clone(),
        tokens,
        nodes: nodes.clone(),
        extensions: config.extensions,
    });
    let app = axum::Router::new()
        .fallback(server::handle)
        .with_state(state);
    let router = app.clone();
    // Nodes in other processes (`kubelab node`) are reached at the address
    // and port their Node object announces, with the credential they hold.
    let local = kubelab_client::Client::new(router.clone(), Some(token.clone()));
    let locate: kubelab_client::kubelet_api::Locate = Arc::new(move |node: String| {
        let client = local.clone();
        Box::pin(async move {
            let n = client.get(&format!("/api/v1/nodes/{node}")).await?;
            let ip = n["status"]["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["type"] == "InternalIP")
                .and_then(|a| a["address"].as_str()?.parse::<std::net::IpAddr>().ok())
                .ok_or_else(|| {
                    kubelab_client::ApiError::bad_request(format!("node {node} has no InternalIP"))
                })?;
            let port = n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
                .as_u64()
                .unwrap_or(kubelab_client::kubelet_api::KUBELET_PORT as u64);
            Ok(SocketAddr::new(ip, port as u16))
        })
    });
    let kubelet_token = token.clone();
    nodes.set_remote(move |node| {
        Arc::new(kubelab_client::kubelet_api::RemoteKubelet {
            node: node.to_string(),
            locate: locate.clone(),
            token: kubelet_token.clone(),
        })
    });
    let handle = axum_server::Handle::new();
    // Bind here, not in the server task: a port that is taken must stop
    // the start at once with a clear error (a bind failing inside the task
    // left `kubelab up` waiting forever with an empty log).
    let listener = std::net::TcpListener::bind(config.addr)?;
    listener.set_nonblocking(true)?;
    let task = match &pki {
        Some(p) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
                p.server_cert.clone().into_bytes(),
                p.server_key.clone().into_bytes(),
            )
            .await?;
            let server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service()))
        }
        None => {
            let server = axum_server::from_tcp(listener)?.handle(handle.clone());
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
        url: format!("{scheme}://{}", SocketAddr::new(client_ip, addr.port())),
        ca_pem: pki.map(|p| p.ca_cert),
        token,
        router,
        nodes,
        objects,
        handle,
        task,
    })
}
