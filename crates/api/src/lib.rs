//! # kubelab-api — the object model (chapter 01)
//!
//! Everything in Kubernetes is an *object*: a JSON document with
//! `apiVersion`, `kind`, `metadata` (name, namespace, labels, uid,
//! resourceVersion …), usually a `spec` (what you want) and a `status`
//! (what is). This crate is the API machinery around those documents — what
//! upstream keeps in `k8s.io/apimachinery` and `pkg/apis`:
//!
//! - [`registry`]: which kinds exist, their REST names, scopes, short names;
//! - [`schema`]: the real Kubernetes types (from `k8s-openapi`, pinned to
//!   Kubernetes 1.33) used to decode, check and describe objects;
//! - [`defaults`]: the fields the server fills in;
//! - [`validation`]: the rules, with upstream's field paths and messages;
//! - [`selector`]: label and field selectors;
//! - [`meta`]: names, uids, timestamps, generation, owner references;
//! - [`pod`]: facts about a pod that many components need (QoS class,
//!   readiness, finished), defined once.
//!
//! ## Where to start reading
//! [`registry::RESOURCES`] for the map of the API, then [`schema::round_trip`]
//! to see how a request body becomes a checked object.
//!
//! The API server (`kubelab-apiserver`) calls these in the order upstream's
//! request pipeline does: decode → default → validate → store.

pub mod defaults;
pub mod intstr;
pub mod meta;
pub mod network;
pub mod pod;
pub mod quantity;
pub mod registry;
pub mod schema;
pub mod selector;
pub mod strategic;
pub mod validation;

pub use registry::{RESOURCES, ResourceInfo};

/// The Kubernetes minor version whose types kubelab serves. `/version`
/// reports it, so the kubectl dispatcher picks the matching client.
pub const KUBERNETES_MAJOR: &str = "1";
pub const KUBERNETES_MINOR: &str = "33";
pub const KUBERNETES_VERSION: &str = "v1.33.0-kubelab";
