//! # Lab 09 — one step of a rolling update
//!
//! A Deployment's rollout is a loop: every pass looks at the ReplicaSets
//! as they are and moves a little — a few new pods up, a few old ones
//! down — never past `maxSurge` extra pods and never below `replicas -
//! maxUnavailable` available ones. Write that step: [`rolling_step`].
//! [`start_cluster`] plugs it into the real Deployment controller, and the
//! tests watch a rollout it drives.
//!
//! **Edit only `src/step.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod step;
#[cfg(feature = "solution")]
#[path = "../solution/step.rs"]
mod step;

pub use kubelab_rollouts::rolling::{Bounds, Sizes, Step};
pub use step::rolling_step;

/// Your function as the Deployment controller takes it.
pub const ROLLING_STEP: kubelab_rollouts::rolling::RollingStepFn = rolling_step;

/// Starts a chapter-09 cluster in `dir` — in memory, plain HTTP on
/// 127.0.0.1, two nodes on the `fake` runtime (no root needed) — whose
/// Deployment controller steps rollouts with [`rolling_step`].
///
/// It is assembled as `kubelab up --chapter 9` assembles its cluster: the
/// installs of the chapter table, in order. The lab's function goes into
/// chapter 09's [`kubelab_rollouts::RolloutOptions`] slot, which the
/// Deployment controller reads when it starts.
pub async fn start_cluster(dir: &std::path::Path) -> kubelab_client::Cluster {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 9;
    options.nodes = 2;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.insert(kubelab_kubelet::NodeOptions {
        runtime: kubelab_runtime::RuntimeKind::Fake,
        backoff: None,
    });
    b.insert(kubelab_rollouts::RolloutOptions {
        rolling_step: ROLLING_STEP,
    });
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
    b.install(8, kubelab_batch::install);
    b.install(9, kubelab_rollouts::install);
    b.start().await.expect("start the cluster")
}
