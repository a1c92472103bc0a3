//! # Lab 08 — when does a CronJob run next?
//!
//! A CronJob's `spec.schedule` (`"*/5 9-17 * * MON-FRI"`) is a set of
//! allowed minutes, hours, days and months. The CronJob controller asks
//! one question of it, again and again: *which is the first minute after
//! this moment that the schedule allows?* — to find the runs it missed,
//! and to know when to wake up. Write that search: [`next_after`].
//! [`start_cluster`] plugs it into a real CronJob controller, and the
//! tests watch which Job it creates.
//!
//! **Edit only `src/schedule.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod schedule;
#[cfg(feature = "solution")]
#[path = "../solution/schedule.rs"]
mod schedule;

pub use schedule::next_after;

/// Your function as the CronJob controller takes it.
pub const NEXT_AFTER: kubelab_batch::cronjob::NextAfter = next_after;

/// Starts a chapter-08 cluster in `dir` — in memory, plain HTTP on
/// 127.0.0.1, one node on the `fake` runtime (no root needed) — whose
/// CronJob controller finds schedule times with [`next_after`].
///
/// It is assembled as `kubelab up --chapter 8` assembles its cluster: the
/// installs of the chapter table, in order. The lab's function goes into
/// chapter 08's [`kubelab_batch::BatchOptions`] slot first, because its
/// install reads it.
pub async fn start_cluster(dir: &std::path::Path) -> kubelab_client::Cluster {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 8;
    options.nodes = 1;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.insert(kubelab_kubelet::NodeOptions {
        runtime: kubelab_runtime::RuntimeKind::Fake,
        backoff: None,
    });
    b.insert(kubelab_batch::BatchOptions {
        next_after: NEXT_AFTER,
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
    b.start().await.expect("start the cluster")
}
