//! # Chapter 10 — Helm
//!
//! Helm packages an application as a *chart*: Go templates plus default
//! values. `helm install` renders the templates with the user's values and
//! sends the resulting manifests to the API server; the rendered release is
//! stored in the cluster itself (a Secret per revision) so that `upgrade`,
//! `rollback` and `uninstall` know what was installed. Helm is a pure API
//! client: nothing about it runs inside the cluster.
//!
//! This crate is that client, written to be interchangeable with the real
//! helm v3: the same template language, the same functions, the same release
//! format, so the real `helm` can upgrade a release `kubelab helm` installed
//! and the other way round.
//!
//! Where to start reading:
//! - [`template`] — Go's `text/template`: lexer → parser → executor;
//! - [`funcs`] — the functions templates call (Go's builtins, Sprig, Helm's own);
//! - `chart`, `values`, `engine` — loading a chart, merging values, rendering;
//! - `release`, `action` — releases as Secrets and the helm commands.

pub mod action;
pub mod chart;
pub mod cli;
pub mod dependencies;
pub mod engine;
pub mod funcs;
pub mod gostruct;
pub mod kube;
pub mod lint;
pub mod package;
pub mod release;
pub mod schema;
pub mod strvals;
pub mod template;
pub mod values;
pub mod yaml;

/// Chapter 10's line in the chapter table. Helm adds nothing to the
/// cluster: it is a client that renders charts and talks to the API server
/// like kubectl does, and keeps its releases in ordinary Secrets. So its
/// install plugs nothing in — the chapter is the `kubelab helm` command.
pub fn install(_b: &mut kubelab_client::ClusterBuilder) {}
