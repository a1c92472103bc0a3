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

/// Starts an API server (in memory, plain HTTP on 127.0.0.1) that uses
/// [`matches`] for every label selector, and returns it with the path of a
/// kubeconfig that reaches it.
pub async fn start_cluster(
    dir: &std::path::Path,
) -> (kubelab_apiserver::Running, std::path::PathBuf) {
    let config = kubelab_apiserver::Config {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        tls_dir: None,
        compaction_interval: std::time::Duration::from_secs(300),
        label_matcher: Some(matches),
    };
    let running = kubelab_apiserver::serve(kubelab_store::in_memory(), config)
        .await
        .expect("start the API server");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, running.kubeconfig()).expect("write kubeconfig");
    (running, kubeconfig)
}
