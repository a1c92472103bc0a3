//! One pod subscription for all the kubelets of this process.
//!
//! A real kubelet watches only its own pods (`fieldSelector=spec.nodeName=<me>`):
//! the API server does the filtering. kubelab runs many kubelets in one
//! process over one shared pod informer, so the filtering happens here
//! instead: every pod change is read once and handed to the kubelet of the
//! node it names (and, when a pod moves or leaves, to the one it left).
//! With 1,000 fake nodes this is the difference between offering each
//! change to one queue and to a thousand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kubelab_client::informer::{Change, Informer};
use tokio::sync::mpsc;

fn node_of(pod: &serde_json::Value) -> Option<&str> {
    pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())
}

/// Routes pod changes to per-node channels by `spec.nodeName`.
#[derive(Clone)]
pub struct PodRouter {
    pub pods: Informer,
    routes: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Change>>>>,
}

impl PodRouter {
    pub fn start(pods: &Informer) -> PodRouter {
        let router = PodRouter {
            pods: pods.clone(),
            routes: Arc::default(),
        };
        let mut rx = pods.subscribe();
        let routes = router.routes.clone();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                let new = node_of(change.object()).map(str::to_string);
                let old = match &change {
                    Change::Modified { old, .. } => node_of(old).map(str::to_string),
                    _ => None,
                };
                let routes = routes.lock().unwrap();
                for node in [&new, &old].into_iter().flatten() {
                    if let Some(tx) = routes.get(node) {
                        let _ = tx.send(change.clone());
                    }
                    if old == new {
                        break;
                    }
                }
            }
        });
        router
    }

    /// The changes of pods bound to `node`, starting with those already
    /// cached (as `Added`), like a fresh watch with a field selector.
    pub fn subscribe(&self, node: &str) -> mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Under the routes lock no change is routed, so none falls between
        // the replay and the registration (a change both replayed and
        // routed arrives twice, which a reconcile loop does not mind).
        let mut routes = self.routes.lock().unwrap();
        for pod in self.pods.list(None) {
            if node_of(&pod) == Some(node) {
                let _ = tx.send(Change::Added(pod));
            }
        }
        routes.insert(node.to_string(), tx);
        rx
    }
}
