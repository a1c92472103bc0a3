//! # Lab 07 — from probe attempts to a verdict
//!
//! A probe runs every `periodSeconds`. One failed attempt must not take a
//! pod out of its Service, and one lucky success must not put a broken pod
//! back: the kubelet keeps a *verdict* per probe and changes it only after
//! `failureThreshold` failures in a row, or `successThreshold` successes in
//! a row. Write that state machine: [`initial`] (the verdict before any
//! attempt) and [`observe`] (one attempt). [`start_cluster`] plugs them
//! into a real kubelet's prober, and the tests watch a pod's readiness.
//!
//! **Edit only `src/results.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod results;
#[cfg(feature = "solution")]
#[path = "../solution/results.rs"]
mod results;

pub use results::{initial, observe};

/// Starts a chapter-07 cluster in `dir` — in memory, plain HTTP on
/// 127.0.0.1, one node on the `fake` runtime (no root needed: a TCP probe
/// with `host: 127.0.0.1` reaches a port the test opens) — whose prober
/// judges probes with your [`initial`] and [`observe`].
///
/// It is assembled as `kubelab up --chapter 7` assembles its cluster: the
/// installs of the chapter table, in order. The lab's functions go into
/// chapter 07's [`kubelab_lifecycle::LifecycleOptions`] slot first, because
/// its install reads them.
pub async fn start_cluster(dir: &std::path::Path) -> kubelab_client::Cluster {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 7;
    options.nodes = 1;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.insert(kubelab_kubelet::NodeOptions {
        runtime: kubelab_runtime::RuntimeKind::Fake,
        backoff: None,
    });
    b.insert(kubelab_lifecycle::LifecycleOptions { observe, initial });
    b.install(1, kubelab_apiserver::install);
    b.install(2, kubelab_scheduler::install);
    b.install(2, kubelab_controllers::install);
    b.install(2, kubelab_kubelet::install);
    b.install(3, kubelab_network::install);
    b.install(3, kubelab_proxy::install);
    b.install(3, kubelab_dns::install);
    b.install(4, kubelab_config::install);
    b.install(5, kubelab_volumes::install);
    b.install(6, kubelab_scaling::install);
    b.install(7, kubelab_lifecycle::install);
    b.start().await.expect("start the cluster")
}
