//! The control loop, once, for every actor of the cluster.
//!
//! Kubernetes is a set of control loops. Each watches the objects it cares
//! about and, whenever something changes, compares what *is* with what the
//! object's `spec` says *should be*, and acts to close the gap. It never
//! asks "what happened?", only "what is true now?": that makes a loop
//! idempotent, so it can crash, restart, or run twice and still do the
//! right thing ("level-triggered", not "edge-triggered").
//!
//! Every loop in kubelab — the ReplicaSet controller, the scheduler, each
//! kubelet's pod workers, the service proxy, the garbage collector — is a
//! [`Reconciler`] run by [`run`] over a [`WorkQueue`] that [`feed`] fills
//! from informers. Upstream's controllers are written the same way
//! (`informer → workqueue → syncHandler(key)`), and so are kube-rs's
//! (`Controller::run(reconcile, error_policy)`).

use std::sync::Arc;
use std::time::Duration;

use crate::informer::{Change, Informer};
use crate::queue::WorkQueue;

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

/// [`run`], once every informer in `caches` has listed its objects
/// (upstream's `cache.WaitForCacheSync`). A controller that acted on a
/// half-filled cache would see a Job's pods missing and create them again.
pub async fn run_when_synced<R: Reconciler>(
    reconciler: Arc<R>,
    queue: WorkQueue,
    workers: usize,
    caches: Vec<Informer>,
) {
    for c in &caches {
        c.synced().await;
    }
    run(reconciler, queue, workers).await
}

/// Feeds an informer's changes into a queue, each change mapped to the
/// keys it concerns (the object itself, its owner, …).
pub fn feed<F>(informer: &Informer, queue: &WorkQueue, keys: F)
where
    F: Fn(&Change) -> Vec<String> + Send + 'static,
{
    feed_from(informer.subscribe(), queue, keys)
}

/// [`feed`], from any stream of changes (the kubelets' pod router hands
/// each kubelet only the changes of its node's pods).
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
