//! The namespace controller: a deleted namespace empties, then goes.
//!
//! Watches namespaces; owns nothing. Deletes everything in a Terminating
//! namespace, then releases the namespace.
//!
//! ```text
//! reconcile(namespace):
//!     not being deleted, or no `kubernetes` in spec.finalizers → nothing to do
//!     list every namespaced resource in it (from the API server)
//!     DELETE each object not yet being deleted (Background)
//!     anything left (finalizers pending, pods shutting down)
//!         → error: look again after the queue's back-off
//!     empty → PUT namespaces/<name>/finalize without `kubernetes`;
//!             with no finalizer left the API server deletes the namespace
//! ```
//!
//! `kubectl delete namespace lab` only marks the namespace (its strategy
//! sets `deletionTimestamp` and `status.phase: Terminating`); from then on
//! the API server refuses new objects in it, so emptying it terminates.
//! The `kubernetes` entry of `spec.finalizers` (not `metadata.finalizers`)
//! is this controller's: other systems may add their own and remove them
//! the same way, through the `finalize` subresource.
//!
//! Unlike the garbage collector, this controller decides from **live lists**
//! rather than caches, as upstream's (`namespacedResourcesDeleter`) does:
//! releasing the namespace cannot be undone, and an object created just
//! before the namespace turned Terminating may not be in any cache yet.
//! Lists of one namespace cost the API server only that namespace (its
//! keys are `/registry/<resource>/<namespace>/…`).
//!
//! Simplifications: upstream also writes the namespace's status conditions
//! (`NamespaceContentRemaining`, `NamespaceDeletionContentFailure`, …) and
//! waits as long as the longest pod's grace period; here a namespace with
//! content left is simply retried with the queue's back-off.

use std::sync::Arc;

use kubelab_api::meta;
use kubelab_api::registry::{RESOURCES, ResourceInfo};
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer};
use kubelab_client::rest::{self, Client};
use kubelab_client::{Action, Error, InformerFactory, Reconciler, WorkQueue};

/// The namespace's own finalizer, in `spec.finalizers`.
const FINALIZER: &str = "kubernetes";
/// Concurrent reconciles (upstream's `--concurrent-namespace-syncs` is 10).
const WORKERS: usize = 2;

pub struct NamespaceController {
    client: Client,
    namespaces: Informer,
}

/// Objects are still in the namespace (waiting for finalizers, or pods for
/// their kubelet): the queue retries with back-off.
#[derive(Debug, thiserror::Error)]
#[error("namespace {namespace}: {left} objects remaining")]
struct ContentRemaining {
    namespace: String,
    left: usize,
}

impl NamespaceController {
    /// Queues every namespace that is being deleted, and starts the workers.
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<NamespaceController> {
        let c = Arc::new(NamespaceController {
            client: client.named("namespace-controller"),
            namespaces: informers.of("v1", "Namespace"),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.namespaces, &queue, |change| match change {
            Change::Deleted(_) => vec![],
            other if meta::is_being_deleted(other.object()) => {
                vec![meta::name(other.object()).to_string()]
            }
            _ => vec![],
        });
        tokio::spawn(kubelab_client::run(c.clone(), queue, WORKERS));
        c
    }
}

#[async_trait::async_trait]
impl Reconciler for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, name: &str) -> Result<Action, Error> {
        let Some(ns) = self.namespaces.get(name) else {
            return Ok(Action::Done);
        };
        if !meta::is_being_deleted(&ns) || !spec_finalizers(&ns).any(|f| f == FINALIZER) {
            return Ok(Action::Done);
        }
        // 1. Delete what is in it; most objects go at once.
        let mut contents = self.contents(name).await?;
        if !contents.is_empty() {
            for (info, obj) in contents.iter().filter(|(_, o)| !meta::is_being_deleted(o)) {
                self.delete(info, obj).await?;
            }
            contents = self.contents(name).await?;
        }
        // 2. Whatever waits for a finalizer or a kubelet: later.
        if !contents.is_empty() {
            return Err(ContentRemaining {
                namespace: name.to_string(),
                left: contents.len(),
            }
            .into());
        }
        // 3. Empty: release it.
        self.finalize(name).await
    }
    // ANCHOR_END: reconcile
}

// Helpers.

impl NamespaceController {
    /// Every object in namespace `ns`, resource by resource.
    async fn contents(&self, ns: &str) -> Result<Vec<(&'static ResourceInfo, Value)>, Error> {
        let mut all = Vec::new();
        for info in RESOURCES
            .iter()
            .filter(|r| r.namespaced && super::is_listable(r))
        {
            let mut list = self.client.get(&rest::path(info, Some(ns), None)).await?;
            if let Value::Array(items) = list["items"].take() {
                all.extend(items.into_iter().map(|o| (info, o)));
            }
        }
        Ok(all)
    }

    /// DELETE one object of the namespace (its dependents elsewhere are the
    /// garbage collector's, in the background).
    async fn delete(&self, info: &ResourceInfo, obj: &Value) -> Result<(), Error> {
        let url = rest::path(info, Some(meta::namespace(obj)), Some(meta::name(obj)));
        let options = json!({
            "apiVersion": "v1", "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            "preconditions": {"uid": meta::uid(obj)},
        });
        match self.client.delete(&url, &options).await {
            Ok(_) => Ok(()),
            // Gone already, or replaced (the next list shows the new one).
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `kubernetes` from `spec.finalizers` through the `finalize`
    /// subresource, re-reading the namespace on conflicts (the body carries
    /// the resourceVersion read, so another finalizer's change is not lost).
    async fn finalize(&self, name: &str) -> Result<Action, Error> {
        let url = rest::path(self.namespaces.info, None, Some(name));
        let done = rest::retry_on_conflict(|| async {
            let mut ns = self.client.get(&url).await?;
            let keep: Vec<String> = spec_finalizers(&ns)
                .filter(|f| *f != FINALIZER)
                .map(String::from)
                .collect();
            ns["spec"]["finalizers"] = json!(keep);
            self.client.replace(&format!("{url}/finalize"), &ns).await
        })
        .await;
        match done {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

fn spec_finalizers(ns: &Value) -> impl Iterator<Item = &str> {
    ns["spec"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::testing::{cluster, code_of, eventually, list, owner_with_two_dependents, url};

    #[tokio::test]
    async fn deleting_a_namespace_deletes_its_contents_then_itself() {
        let c = cluster().await;
        NamespaceController::start(&c.client, &c.informers);
        let namespaces = url("Namespace", None, None);
        let created = c
            .client
            .create(&namespaces, &json!({"metadata": {"name": "lab"}}))
            .await
            .unwrap();
        assert_eq!(created["spec"]["finalizers"], json!([FINALIZER]));
        owner_with_two_dependents(&c.client, "lab").await;

        let lab = url("Namespace", None, Some("lab"));
        let terminating = c.client.delete(&lab, &json!({})).await.unwrap();
        assert_eq!(terminating["status"]["phase"], "Terminating");
        let late = c
            .client
            .create(
                &url("ConfigMap", Some("lab"), None),
                &json!({"metadata": {"name": "late"}}),
            )
            .await
            .unwrap_err();
        assert_eq!(late.code, 403);

        eventually("the namespace deleted", || async {
            code_of(&c.client, &lab).await == 404
        })
        .await;
        assert!(list(&c.client, "Secret", "lab").await.is_empty());
        assert!(list(&c.client, "ConfigMap", "lab").await.is_empty());
        // Other namespaces are untouched.
        assert_eq!(
            code_of(&c.client, &url("Namespace", None, Some("default"))).await,
            200
        );
        assert_eq!(
            code_of(
                &c.client,
                &url("Service", Some("default"), Some("kubernetes"))
            )
            .await,
            200
        );
    }

    #[tokio::test]
    async fn another_finalizer_in_spec_keeps_the_emptied_namespace() {
        let c = cluster().await;
        NamespaceController::start(&c.client, &c.informers);
        let ns = json!({"metadata": {"name": "held"},
                        "spec": {"finalizers": [FINALIZER, "example.com/wait"]}});
        c.client
            .create(&url("Namespace", None, None), &ns)
            .await
            .unwrap();
        c.client
            .create(
                &url("ConfigMap", Some("held"), None),
                &json!({"metadata": {"name": "inside"}}),
            )
            .await
            .unwrap();
        let held = url("Namespace", None, Some("held"));
        c.client.delete(&held, &json!({})).await.unwrap();
        eventually("emptied, and only our finalizer removed", || async {
            let ns = c.client.get(&held).await.unwrap();
            ns["spec"]["finalizers"] == json!(["example.com/wait"])
        })
        .await;
        assert!(list(&c.client, "ConfigMap", "held").await.is_empty());
        assert_eq!(code_of(&c.client, &held).await, 200);
    }
}
