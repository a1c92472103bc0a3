//! # kubelab-controllers — the controller runtime and the first controllers (chapter 02)
//!
//! Kubernetes is a set of control loops. Each watches the objects it cares
//! about and, whenever something changes, compares what *is* with what the
//! object's `spec` says *should be*, and acts to close the gap. It never
//! asks "what happened?", only "what is true now?": that makes a loop
//! idempotent, so it can crash, restart, or run twice and still do the
//! right thing ("level-triggered", not "edge-triggered").
//!
//! Every loop in kubelab is built from the same three parts:
//!
//! ```text
//!  API server ──list+watch──▶ Informer (cache) ──change──▶ keys ──▶ WorkQueue
//!                                   ▲                                  │
//!                                   └──── read ──── reconcile(key) ◀───┘
//!                                                       │
//!  API server ◀──── create / update / delete ───────────┘
//! ```
//!
//! * [`informer::Informer`] — a local copy of one kind of object;
//! * [`queue::WorkQueue`] — keys (`namespace/name`) that need attention;
//! * a [`Reconciler`] — `reconcile(key)`, run by [`run`].
//!
//! The controllers of this chapter: [`replicaset`] (keep N pods) and
//! [`deployment`] (keep a ReplicaSet per pod template, and roll between
//! them). Later chapters add theirs to this crate or their own.
//!
//! ## Where to start reading
//! [`Reconciler`] and [`run`], then [`replicaset::ReplicaSetController::reconcile`].

pub mod client;
pub mod deployment;
pub mod endpoints;
pub mod events;
pub mod informer;
pub mod queue;
pub mod replicaset;

use std::sync::Arc;
use std::time::Duration;

pub use client::Client;
pub use events::EventRecorder;
pub use informer::{Change, Informer};
pub use queue::WorkQueue;

/// What to do with a key after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the next change.
    Done,
    /// Look again after a while even if nothing changes (time-based logic,
    /// such as waiting for a pod to be available for `minReadySeconds`).
    RequeueAfter(Duration),
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// One control loop.
// ANCHOR: reconciler
#[async_trait::async_trait]
pub trait Reconciler: Send + Sync + 'static {
    /// For logs, e.g. `replicaset-controller`.
    fn name(&self) -> &'static str;
    /// Makes the world match the object `key` (`namespace/name`). Must be
    /// idempotent: it may run any number of times for the same state.
    async fn reconcile(&self, key: &str) -> Result<Action, Error>;
}
// ANCHOR_END: reconciler

/// Runs `workers` reconcile loops over `queue` until it shuts down.
// ANCHOR: run
pub async fn run<R: Reconciler>(reconciler: Arc<R>, queue: WorkQueue, workers: usize) {
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (r, q) = (reconciler.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(key) = q.get().await {
                match r.reconcile(&key).await {
                    Ok(Action::Done) => q.forget(&key),
                    Ok(Action::RequeueAfter(d)) => {
                        q.forget(&key);
                        q.add_after(&key, d);
                    }
                    Err(e) => {
                        tracing::debug!("{}: {key}: {e}; retrying", r.name());
                        q.add_rate_limited(&key);
                    }
                }
                q.done(&key);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
// ANCHOR_END: run

/// Feeds an informer's changes into a queue, each change mapped to the
/// keys it concerns (the object itself, its owner, …).
pub fn feed<F>(informer: &Informer, queue: &WorkQueue, keys: F)
where
    F: Fn(&Change) -> Vec<String> + Send + 'static,
{
    feed_from(informer.subscribe(), queue, keys)
}

/// [`feed`], from any stream of changes (the kubelets' [`PodRouter`]
/// hands each kubelet only the changes of its node's pods).
///
/// [`PodRouter`]: ../kubelab_kubelet/router/struct.PodRouter.html
pub fn feed_from<F>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Change>,
    queue: &WorkQueue,
    keys: F,
) where
    F: Fn(&Change) -> Vec<String> + Send + 'static,
{
    let queue = queue.clone();
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            for k in keys(&change) {
                queue.add(&k);
            }
        }
    });
}

/// The informers the control plane shares (one per resource, as
/// client-go's SharedInformerFactory).
#[derive(Clone)]
pub struct Informers {
    pub pods: Informer,
    pub replicasets: Informer,
    pub deployments: Informer,
    pub nodes: Informer,
    /// Chapter 03: Services, their endpoints, for the endpoints
    /// controller, the service proxy, the DNS server and the kubelets.
    pub services: Informer,
    pub endpoints: Informer,
    pub endpointslices: Informer,
}

impl Informers {
    pub fn start(client: &Client) -> Informers {
        let r = client::resource;
        Informers {
            pods: Informer::start(client, r("v1", "Pod"), None),
            replicasets: Informer::start(client, r("apps/v1", "ReplicaSet"), None),
            deployments: Informer::start(client, r("apps/v1", "Deployment"), None),
            nodes: Informer::start(client, r("v1", "Node"), None),
            services: Informer::start(client, r("v1", "Service"), None),
            endpoints: Informer::start(client, r("v1", "Endpoints"), None),
            endpointslices: Informer::start(
                client,
                r("discovery.k8s.io/v1", "EndpointSlice"),
                None,
            ),
        }
    }
}

/// Starts the chapter-02 controllers (kube-controller-manager's share of it).
pub fn start(client: &Client, informers: &Informers) {
    replicaset::ReplicaSetController::start(client, informers);
    deployment::DeploymentController::start(client, informers);
    endpoints::EndpointsController::start(client, informers);
}

/// Is the pod's `Ready` condition true?
pub fn pod_is_ready(pod: &serde_json::Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Succeeded or Failed: the pod will never run again.
pub fn pod_is_terminal(pod: &serde_json::Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

/// The uid of the object's controller (the owner with `controller: true`).
pub fn controller_uid(obj: &serde_json::Value) -> Option<&str> {
    kubelab_api::meta::controller_of(obj).and_then(|o| o["uid"].as_str())
}
