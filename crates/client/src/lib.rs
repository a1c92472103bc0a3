//! # kubelab-client — how every part of the cluster talks to the API (chapter 01)
//!
//! In Kubernetes only the API server touches the store. Everything else —
//! kubectl, the scheduler, every controller, each kubelet, kube-proxy,
//! CoreDNS — is a *client* of the API server, and the Go components share
//! one library for it: client-go. This crate plays client-go's role for
//! every kubelab component, in every chapter:
//!
//! | module | what it is | client-go's |
//! |---|---|---|
//! | [`rest`] | requests, watches, `Status` errors | `rest.RESTClient`, the dynamic client |
//! | [`informer`] | a cache of one resource kept current by list + watch | `Reflector` + `Store` + `SharedInformer` |
//! | [`factory`] | one informer per resource, shared, created on demand | `SharedInformerFactory` |
//! | [`queue`] | keys that need a reconcile, deduplicated, with back-off | `workqueue` |
//! | [`events`] | what `kubectl describe` shows at the bottom | `record.EventRecorder` |
//! | [`reconcile`] | the one control-loop runtime every controller uses | controller-runtime's `Reconciler` |
//! | [`streams`] | logs, exec, attach, port-forward between API server and kubelet | the kubelet's streaming API |
//! | [`builder`] | how the chapters plug into one cluster | (kubelab's own: the course's spine) |
//!
//! ```text
//!  API server ──list+watch──▶ Informer (cache) ──change──▶ keys ──▶ WorkQueue
//!                                   ▲                                  │
//!                                   └──── read ──── reconcile(key) ◀───┘
//!                                                       │
//!  API server ◀──── create / update / delete ───────────┘
//! ```
//!
//! ## Where to start reading
//! [`reconcile::Reconciler`] and [`reconcile::run`] (the loop every actor
//! runs), then [`informer::Informer`], then [`builder::ClusterBuilder`] to
//! see how a chapter adds its actors to the cluster.

pub mod builder;
pub mod events;
pub mod factory;
pub mod informer;
pub mod kubelet_api;
pub mod leader;
pub mod queue;
pub mod reconcile;
pub mod remote;
pub mod rest;
pub mod streams;

pub use builder::{
    Cluster, ClusterBuilder, ClusterOptions, NodeIdentity, Phase, Plug, exit_on_panic,
};
pub use events::EventRecorder;
pub use factory::InformerFactory;
pub use informer::{Change, Informer};
pub use queue::WorkQueue;
pub use reconcile::{Action, Error, Reconciler, feed, feed_from, run, run_when_synced};
pub use rest::{ApiError, Client};

/// The uid of the object's controller (the owner with `controller: true`).
pub fn controller_uid(obj: &serde_json::Value) -> Option<&str> {
    kubelab_api::meta::controller_of(obj).and_then(|o| o["uid"].as_str())
}
