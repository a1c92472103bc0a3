//! # Lab 06 — how many replicas does the autoscaler want?
//!
//! Every 15 seconds the HorizontalPodAutoscaler reads its pods' CPU (or
//! memory) and asks one question: *how many pods would bring the average
//! to the target?* Write that arithmetic: [`desired_replicas`].
//! [`start_cluster`] plugs it into a real autoscaler, and the tests watch
//! what it does to a Deployment.
//!
//! **Edit only `src/replicas.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod replicas;
#[cfg(feature = "solution")]
#[path = "../solution/replicas.rs"]
mod replicas;

pub use kubelab_scaling::replicas::{PodUsage, Recommendation, TOLERANCE};
pub use replicas::desired_replicas;

/// Your function as the autoscaler takes it.
pub const DESIRED_REPLICAS: kubelab_scaling::replicas::DesiredReplicasFn = desired_replicas;

/// Starts a chapter-06 cluster in `dir` — in memory, plain HTTP on
/// 127.0.0.1, two nodes on the `fake` runtime (no root needed) — whose
/// HorizontalPodAutoscaler controller computes with [`desired_replicas`].
///
/// It is assembled as `kubelab up --chapter 6` assembles its cluster: the
/// installs of the chapter table, in order. The lab's function goes into
/// chapter 06's [`kubelab_scaling::ScalingOptions`] slot, which the
/// autoscaler reads when it starts.
pub async fn start_cluster(dir: &std::path::Path) -> kubelab_client::Cluster {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 6;
    options.nodes = 2;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.insert(kubelab_kubelet::NodeOptions {
        runtime: kubelab_runtime::RuntimeKind::Fake,
        backoff: None,
    });
    b.insert(kubelab_scaling::ScalingOptions {
        desired_replicas: DESIRED_REPLICAS,
        ..Default::default()
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
    b.start().await.expect("start the cluster")
}
