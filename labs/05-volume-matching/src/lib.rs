//! # Lab 05 — which volume a claim gets
//!
//! A PersistentVolumeClaim asks for storage: *at least* so much, with
//! *these* access modes, of *this* class, perhaps only from volumes with
//! *these* labels. The PersistentVolume controller's binder looks through
//! the cluster's volumes and binds the claim to the one that fits best.
//! Write that choice. Your function has the binder's own signature
//! ([`kubelab_volumes::claims::MatchFn`]); [`start_cluster`] plugs it into
//! a real binder (and the scheduler's VolumeBinding filter), and the tests
//! watch which volumes claims get.
//!
//! **Edit only `src/claims.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod claims;
#[cfg(feature = "solution")]
#[path = "../solution/claims.rs"]
mod claims;

pub use claims::find_best_match;

/// Your function as the binder takes it.
pub const MATCHER: kubelab_volumes::claims::MatchFn = find_best_match;

/// Starts a chapter-05 cluster in `dir` — in memory, plain HTTP on
/// 127.0.0.1, one node on the `fake` runtime (binding needs no real
/// containers, and no root) — whose binder matches claims with
/// [`find_best_match`].
///
/// It is assembled as `kubelab up --chapter 5` assembles its cluster: the
/// installs of chapters 01 to 05, in the order of the chapter table
/// (`crates/kubelab/src/chapters.rs`). The settings go into their slots
/// first, because an install reads them: chapter 05's reads
/// [`kubelab_volumes::VolumeOptions`] to pick its matching function.
pub async fn start_cluster(dir: &std::path::Path) -> kubelab_client::Cluster {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 5;
    options.nodes = 1;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.insert(kubelab_kubelet::NodeOptions {
        runtime: kubelab_runtime::RuntimeKind::Fake,
        backoff: None,
    });
    b.insert(kubelab_volumes::VolumeOptions { matcher: MATCHER });
    b.install(1, kubelab_apiserver::install);
    b.install(2, kubelab_scheduler::install);
    b.install(2, kubelab_controllers::install);
    b.install(2, kubelab_kubelet::install);
    b.install(3, kubelab_network::install);
    b.install(3, kubelab_proxy::install);
    b.install(3, kubelab_dns::install);
    b.install(4, kubelab_config::install);
    b.install(5, kubelab_volumes::install);
    b.start().await.expect("start the cluster")
}
