//! # Lab 01 — label selectors
//!
//! Write the function the API server uses to decide whether an object's
//! labels satisfy one requirement of a label selector
//! (`kubectl get pods -l 'app=web,tier notin (db)'`). Your function is
//! plugged into a real kubelab API server, and the tests query it with the
//! real `kubectl`.
//!
//! **Edit only `src/selector.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod selector;
#[cfg(feature = "solution")]
#[path = "../solution/selector.rs"]
mod selector;

pub use selector::matches;

/// Starts a chapter-01 cluster (in memory, plain HTTP on 127.0.0.1) whose
/// API server uses [`matches`] for every label selector, and returns it
/// with the path of a kubeconfig that reaches it. It is assembled as
/// `kubelab up --chapter 1` assembles its cluster: chapter 01's install on
/// the cluster builder, with your function in the API server's
/// label-matcher slot.
pub async fn start_cluster(dir: &std::path::Path) -> (kubelab_client::Cluster, std::path::PathBuf) {
    // The stub's todo!() fails the test at once, not at its timeout.
    kubelab_client::exit_on_panic();
    let mut options = kubelab_client::ClusterOptions::new(dir);
    options.chapter = 1;
    options.ephemeral = true;
    let mut b = kubelab_client::ClusterBuilder::new(options);
    b.install(1, kubelab_apiserver::install);
    b.insert(kubelab_apiserver::LabelMatcher(matches));
    let cluster = b.start().await.expect("start the API server");
    let api = cluster
        .get::<kubelab_apiserver::ApiServer>()
        .expect("chapter 01 runs an API server");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_text()).expect("write kubeconfig");
    (cluster, kubeconfig)
}
