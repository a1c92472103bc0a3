//! # Lab 04 — the atomic writer
//!
//! A ConfigMap volume shows each key of the ConfigMap as a file in the pod,
//! and when the ConfigMap changes the files change under the running
//! program. The kubelet's atomic writer makes that change happen all at
//! once: a reader sees the old version or the new one, never half of each.
//! Write it. Your function has the kubelet's own signature
//! ([`kubelab_config::atomic_writer::WriteFn`]); [`start_cluster`] plugs it
//! into a real kubelet, and the tests watch the files it writes for a pod.
//!
//! **Edit only `src/atomic_writer.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod atomic_writer;
#[cfg(feature = "solution")]
#[path = "../solution/atomic_writer.rs"]
mod atomic_writer;

pub use atomic_writer::write_payload;

/// Your function as the kubelet takes it.
pub const WRITER: kubelab_config::atomic_writer::WriteFn = write_payload;

/// Starts a chapter-04 cluster in `dir` — in memory, plain HTTP on
/// 127.0.0.1, one node on the `process` runtime (no root needed) — whose
/// kubelet writes configMap and secret volumes with [`write_payload`].
///
/// It is assembled as `kubelab up --chapter 4` assembles its cluster: the
/// installs of chapters 01 to 04, in the order of the chapter table
/// (`crates/kubelab/src/chapters.rs`). The settings go into their slots
/// first, because an install reads them: chapter 04's reads
/// [`kubelab_config::ConfigOptions`] to pick its writer.
pub async fn start_cluster(dir: &std::path::Path) -> kubelab_client::Cluster {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 4;
    options.nodes = 1;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.insert(kubelab_kubelet::NodeOptions {
        runtime: kubelab_runtime::RuntimeKind::Process,
        backoff: None,
    });
    b.insert(kubelab_config::ConfigOptions { writer: WRITER });
    b.install(1, kubelab_apiserver::install);
    b.install(2, kubelab_scheduler::install);
    b.install(2, kubelab_controllers::install);
    b.install(2, kubelab_kubelet::install);
    b.install(3, kubelab_network::install);
    b.install(3, kubelab_proxy::install);
    b.install(3, kubelab_dns::install);
    b.install(4, kubelab_config::install);
    b.start().await.expect("start the cluster")
}
