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
#[rustfmt::skip] // one line per chapter
pub const CHAPTERS: &[(u8, &str, &[Install])] = &[
    (1, "Objects & the API", &[kubelab_apiserver::install]),
    (2, "Pods", &[kubelab_scheduler::install, kubelab_controllers::install, kubelab_kubelet::install]),
    (3, "Services", &[kubelab_network::install, kubelab_proxy::install, kubelab_dns::install]),
    (4, "Config & Secrets", &[kubelab_config::install]),
    (5, "Volumes", &[kubelab_volumes::install]),
    (6, "Scaling", &[kubelab_scaling::install]),
    (7, "Multi-container pods", &[kubelab_lifecycle::install]),
    (8, "StatefulSets & Jobs", &[kubelab_batch::install]),
    (9, "Rollouts", &[kubelab_rollouts::install]),
    (10, "Helm", &[kubelab_helm::install]),
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
        assert_eq!(
            plan(1),
            [
                "kube-apiserver",
                "garbage-collector",
                "namespace-controller"
            ]
        );
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
        // In book order, each once (a chapter not written yet is absent).
        let numbers: Vec<u8> = CHAPTERS.iter().map(|(n, _, _)| *n).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        assert_eq!(numbers[0], 1);
        let mut o = ClusterOptions::new("/nonexistent");
        o.chapter = LATEST;
        let phases: Vec<Phase> = builder(o).plan().into_iter().map(|(p, _, _)| p).collect();
        assert!(phases.is_sorted());
        assert_eq!(phases[0], Phase::ApiServer);
    }

    /// What a later chapter's crate does, in a test: a strategy for a kind,
    /// a scheduler filter, nothing edited elsewhere.
    mod later_chapter {
        use std::sync::Arc;

        use kubelab_apiserver::strategy::{Strategies, Strategy};
        use kubelab_client::ClusterBuilder;
        use kubelab_scheduler::{FilterPlugin, SchedulerPlugins};
        use serde_json::Value;

        struct Stamp;
        impl Strategy for Stamp {
            fn default(&self, obj: &mut Value) {
                obj["metadata"]["labels"]["plugged"] = "yes".into();
            }
        }

        struct NoNode;
        impl FilterPlugin for NoNode {
            fn name(&self) -> &'static str {
                "NoNode"
            }
            fn filter(&self, _pod: &Value, _node: &Value) -> Result<(), String> {
                Err("node(s) refused by the test's plugin".into())
            }
        }

        pub fn install(b: &mut ClusterBuilder) {
            b.slot::<Strategies>().register("", "ConfigMap", Stamp);
            b.slot::<SchedulerPlugins>().filters.push(Arc::new(NoNode));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_later_chapter_plugs_in_a_strategy_and_a_scheduler_filter() {
        use kubelab_client::rest::{path, resource};
        let dir = tempfile::tempdir().unwrap();
        let mut o = ClusterOptions::new(dir.path());
        o.chapter = 2;
        o.nodes = 2;
        o.ephemeral = true;
        let mut b = builder(o);
        b.insert(kubelab_kubelet::NodeOptions {
            runtime: kubelab_runtime::RuntimeKind::Fake,
            backoff: None,
        });
        b.install(4, later_chapter::install);
        let c = b.start().await.unwrap();
        let client = c.client();
        let cm =
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let cms = path(resource("v1", "ConfigMap"), Some("default"), None);
        let created = client.create(&cms, &cm).await.unwrap();
        assert_eq!(created["metadata"]["labels"]["plugged"], "yes");
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let pods = path(resource("v1", "Pod"), Some("default"), None);
        client.create(&pods, &pod).await.unwrap();
        let mut message = String::new();
        for _ in 0..100 {
            let p = client.get(&format!("{pods}/p")).await.unwrap();
            if let Some(m) = p["status"]["conditions"][0]["message"].as_str() {
                message = m.to_string();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            message,
            "0/2 nodes are available: 2 node(s) refused by the test's plugin."
        );
        c.shutdown().await;
    }
}
