//! The chapter table: which crates each chapter plugs into the cluster.
//!
//! This is the one place that knows every chapter. `kubelab up --chapter
//! N`, the notebooks' in-process cluster, the benchmarks and the tests all
//! build their cluster from it, so a cluster of chapter N runs exactly
//! what chapters 1..=N install — nothing of a later chapter.
//!
//! Adding a chapter: write its crate with `pub fn install(b: &mut
//! ClusterBuilder)`, and add one line here.

use kubelab_client::builder::Install;
use kubelab_client::{ClusterBuilder, ClusterOptions};

/// `(chapter, title, the installs of its crates)`, in book order.
// ANCHOR: table
pub const CHAPTERS: &[(u8, &str, &[Install])] = &[
    (1, "Objects & the API", &[kubelab_apiserver::install]),
    (
        2,
        "Pods",
        &[
            kubelab_scheduler::install,
            kubelab_controllers::install,
            kubelab_kubelet::install,
        ],
    ),
    (
        3,
        "Services",
        &[
            kubelab_network::install,
            kubelab_proxy::install,
            kubelab_dns::install,
        ],
    ),
];
// ANCHOR_END: table

/// The last chapter whose subsystems exist.
pub const LATEST: u8 = CHAPTERS[CHAPTERS.len() - 1].0;

/// A builder with chapters 1..=`options.chapter` installed.
pub fn builder(options: ClusterOptions) -> ClusterBuilder {
    let last = options.chapter;
    let mut b = ClusterBuilder::new(options);
    for (chapter, _, installs) in CHAPTERS.iter().filter(|(n, _, _)| *n <= last) {
        for install in *installs {
            b.install(*chapter, *install);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubelab_client::Phase;

    fn plan(chapter: u8) -> Vec<&'static str> {
        let mut o = ClusterOptions::new("/nonexistent");
        o.chapter = chapter;
        builder(o).plan().into_iter().map(|(_, _, n)| n).collect()
    }

    #[test]
    fn a_chapter_starts_its_own_components_and_none_of_later_ones() {
        assert_eq!(plan(1), ["kube-apiserver"]);
        let two = plan(2);
        for c in [
            "kube-scheduler",
            "replicaset-controller",
            "deployment-controller",
            "kubelet",
        ] {
            assert!(two.contains(&c), "{c} in {two:?}");
        }
        for c in [
            "endpoint-controller",
            "pod-network",
            "kube-proxy",
            "cluster-dns",
        ] {
            assert!(!two.contains(&c), "{c} must not run in chapter 2: {two:?}");
            assert!(plan(3).contains(&c), "{c} runs in chapter 3");
        }
    }

    #[test]
    fn the_table_is_in_book_order_and_phases_run_in_order() {
        let numbers: Vec<u8> = CHAPTERS.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(numbers, (1..=LATEST).collect::<Vec<_>>());
        let mut o = ClusterOptions::new("/nonexistent");
        o.chapter = LATEST;
        let phases: Vec<Phase> = builder(o).plan().into_iter().map(|(p, _, _)| p).collect();
        assert!(phases.is_sorted());
        assert_eq!(phases[0], Phase::ApiServer);
    }
}
