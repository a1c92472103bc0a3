//! Garbage collection: the garbage collector and the namespace controller.
//!
//! Two cleanup jobs give deletion in Kubernetes its meaning beyond "this
//! one object goes":
//!
//! - **Owner references** ([`garbage_collector`]). A ReplicaSet's pods say
//!   `ownerReferences: [{kind: ReplicaSet, uid: …}]`. When the owner goes,
//!   the `propagationPolicy` of its DELETE decides what happens to them:
//!   - *Background* (the default): the owner is deleted at once, and the
//!     collector then deletes every object whose owners no longer exist;
//!   - *Foreground*: the API server keeps the owner with a
//!     `foregroundDeletion` finalizer; the collector deletes its dependents
//!     and, when none is left, removes the finalizer;
//!   - *Orphan*: the owner's `orphan` finalizer makes the collector strip
//!     the owner reference from each dependent, then remove the finalizer.
//! - **Namespace deletion** ([`namespace_controller`]). A deleted namespace
//!   turns `Terminating`; the namespace controller deletes everything in it
//!   and then removes `kubernetes` from its `spec.finalizers`, which lets
//!   the API server delete the namespace itself.
//!
//! The API server's part is small and generic (`objects.rs`): a DELETE
//! with Foreground or Orphan only adds the finalizer and a
//! `deletionTimestamp`, a namespace's DELETE only marks it, and the last
//! finalizer removed deletes the object. Everything else is done by these
//! two controllers, which are **ordinary API clients**: shared informers
//! feed a [`WorkQueue`](kubelab_client::WorkQueue), `reconcile(key)` looks
//! at the caches and writes through [`Client`](kubelab_client::Client) —
//! through authentication, admission and validation like any kubectl
//! request. Neither reads the store.
//!
//! ```text
//!  DELETE owner ──▶ API server: finalizer + deletionTimestamp (or gone)
//!                        │ watch
//!                        ▼
//!   informers (every resource) ──▶ garbage collector: graph of owner uid → dependents
//!                                   └─▶ DELETE / PATCH dependents, PATCH the owner's finalizers
//!   informer (namespaces)      ──▶ namespace controller
//!                                   └─▶ LIST + DELETE contents, PUT namespaces/<ns>/finalize
//! ```
//!
//! Upstream both run in kube-controller-manager (`pkg/controller/garbagecollector`,
//! `pkg/controller/namespace`). Chapter 01 has no controller manager yet,
//! so this crate's [`install`](crate::install) registers them as the
//! `garbage-collector` and `namespace-controller` controllers of the
//! cluster; they would run unchanged in any other process with a client.
//!
//! ## Where to start reading
//! [`garbage_collector::GarbageCollector::reconcile`](kubelab_client::Reconciler::reconcile)
//! and its header, then [`namespace_controller`].

pub mod garbage_collector;
pub mod namespace_controller;

pub use garbage_collector::GarbageCollector;
pub use namespace_controller::NamespaceController;

use kubelab_api::registry::ResourceInfo;

/// Can `info` be listed and watched? Every resource can but `Binding`,
/// which is create-only (`POST pods/<name>/binding`, as discovery says).
pub fn is_listable(info: &ResourceInfo) -> bool {
    info.kind != "Binding" && info.verbs.contains(&"list") && info.verbs.contains(&"watch")
}

/// A cluster to test the controllers against: the API server (in memory,
/// no TLS) and an in-process client with shared informers.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::{Duration, Instant};

    use kubelab_client::rest::{self, Client};
    use kubelab_client::{ApiError, InformerFactory};
    use serde_json::{Value, json};

    pub struct TestCluster {
        /// Kept so the server lives as long as the test.
        pub _running: crate::Running,
        pub client: Client,
        pub informers: InformerFactory,
    }

    pub async fn cluster() -> TestCluster {
        let running = crate::serve(
            kubelab_store::in_memory(),
            crate::Config {
                addr: "127.0.0.1:0".parse().unwrap(),
                advertise: None,
                tls_dir: None,
                compaction_interval: Duration::from_secs(300),
                label_matcher: None,
                strategies: None,
                extensions: Default::default(),
            },
        )
        .await
        .unwrap();
        let client = Client::new(running.router.clone(), Some(running.token.clone()));
        TestCluster {
            informers: InformerFactory::new(&client),
            client,
            _running: running,
        }
    }

    /// The URL of a core/v1 object (`name = None`: the collection).
    pub fn url(kind: &str, ns: Option<&str>, name: Option<&str>) -> String {
        rest::path(rest::resource("v1", kind), ns, name)
    }

    /// Creates a ConfigMap `owner` and two Secrets `a` and `b` owned by it
    /// in namespace `ns`; returns the owner's uid.
    pub async fn owner_with_two_dependents(c: &Client, ns: &str) -> String {
        let owner = c
            .create(
                &url("ConfigMap", Some(ns), None),
                &json!({"metadata": {"name": "owner"}}),
            )
            .await
            .unwrap();
        let uid = owner["metadata"]["uid"].as_str().unwrap().to_string();
        for n in ["a", "b"] {
            c.create(&url("Secret", Some(ns), None), &dependent(n, &uid))
                .await
                .unwrap();
        }
        uid
    }

    /// A Secret named `name` owned by the ConfigMap `owner` of uid `uid`.
    pub fn dependent(name: &str, uid: &str) -> Value {
        json!({"metadata": {"name": name, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "controller": true}
        ]}})
    }

    pub async fn list(c: &Client, kind: &str, ns: &str) -> Vec<Value> {
        let l = c.get(&url(kind, Some(ns), None)).await.unwrap();
        l["items"].as_array().cloned().unwrap_or_default()
    }

    /// The status code of a GET: 200, or the error's (404 once deleted).
    pub async fn code_of(c: &Client, url: &str) -> u16 {
        c.get(url).await.map_or_else(|e: ApiError| e.code, |_| 200)
    }

    /// Waits up to 10 s for `check` to hold; panics with `what` if it never does.
    pub async fn eventually<F, Fut>(what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
