//! # kubelab-scaling — more pods, fewer pods, pods that move (chapter 06)
//!
//! Chapter 02 kept N pods running on healthy nodes. This chapter is about
//! N changing and nodes failing:
//!
//! * [`daemonset`] — one pod per node, on the nodes its selector, affinity
//!   and tolerations allow; a new node gets its pod at once;
//! * ReplicationControllers — the ReplicaSet's ancestor (core/v1), run by
//!   chapter 02's ReplicaSet controller with a plain-map selector;
//! * [`nodelifecycle`] — a node whose kubelet stops heartbeating goes
//!   `Unknown` after the grace period and gets NoExecute taints; pods that
//!   do not tolerate them (for longer) are deleted and replaced elsewhere;
//!   every pod gets 300 s of tolerance by default;
//! * [`disruption`] — PodDisruptionBudgets and the eviction API, which
//!   `kubectl drain` uses: an eviction that would break a budget gets a
//!   429 and drain waits;
//! * [`metrics`] — CPU and memory read from cgroups and served as the
//!   aggregated API `metrics.k8s.io`, for `kubectl top`;
//! * [`hpa`] and [`replicas`] — the HorizontalPodAutoscaler, which turns
//!   those metrics into a replica count on the `scale` subresource.
//!
//! And `kubelab node stop|start` (the kubelet's power switch, in
//! `kubelab-kubelet`) lets you kill a node and watch all of it happen.
//!
//! ## Where to start reading
//! [`install`]; then [`daemonset::should_run`] and
//! [`daemonset::DaemonSetController::reconcile`];
//! [`nodelifecycle::NodeLifecycleController::reconcile`] and
//! [`nodelifecycle::TaintEvictionController::reconcile`];
//! [`disruption::Eviction`]; [`replicas::desired_replicas`] (lab 06 is
//! that function) and [`hpa::AutoscalerController::reconcile`].

pub mod daemonset;
pub mod disruption;
pub mod hpa;
pub mod metrics;
pub mod nodelifecycle;
pub mod replicas;
pub mod validation;

use std::time::Duration;

use kubelab_apiserver::extensions::ApiExtensions;
use kubelab_apiserver::strategy::Strategies;
use kubelab_client::{Cluster, ClusterBuilder, Phase};
use kubelab_controllers::replicaset::{REPLICATION_CONTROLLER, ReplicaSetController};

/// Settings of this chapter (a builder slot): `kubelab up
/// --node-monitor-grace-period`, and lab 06's replica calculator.
#[derive(Clone, Copy)]
pub struct ScalingOptions {
    pub node_monitor_grace_period: Duration,
    pub desired_replicas: replicas::DesiredReplicasFn,
}

impl Default for ScalingOptions {
    fn default() -> Self {
        ScalingOptions {
            node_monitor_grace_period: nodelifecycle::DEFAULT_GRACE_PERIOD,
            desired_replicas: replicas::desired_replicas,
        }
    }
}

/// Chapter 06's share of kube-controller-manager, of the API server
/// (admission, eviction, the metrics API) and of the nodes (metrics).
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    let strategies = b.slot::<Strategies>();
    strategies.register("", "Pod", nodelifecycle::DefaultTolerationSeconds);
    strategies.register(
        "autoscaling",
        "HorizontalPodAutoscaler",
        validation::AutoscalerRules,
    );
    strategies.register(
        "policy",
        "PodDisruptionBudget",
        validation::DisruptionBudgetRules,
    );
    let metrics = metrics::Metrics::default();
    let extensions = b.slot::<ApiExtensions>();
    extensions.subresource("", "Pod", "eviction", disruption::Eviction);
    extensions.aggregated_api(metrics::MetricsApi(metrics.clone()));

    b.controller("replication-controller", |client, informers| {
        ReplicaSetController::start_for(&REPLICATION_CONTROLLER, client, informers);
    });
    b.controller_with("daemonset-controller", |c, client, informers| {
        // Chapter 09's rolling updates, if installed.
        let updates = c.get::<daemonset::DaemonSetRollout>().unwrap_or_default();
        daemonset::DaemonSetController::start(client, informers, updates.make(c));
    });
    // The options are read when the cluster starts, so `kubelab up` and
    // lab 06 may set them after the install.
    b.on_start(
        Phase::ControlPlane,
        "node-lifecycle-controller",
        |c: Cluster| async move {
            let grace = c
                .get::<ScalingOptions>()
                .unwrap_or_default()
                .node_monitor_grace_period;
            let client = c.client().named("node-lifecycle-controller");
            nodelifecycle::NodeLifecycleController::start(&client, &c.informers(), grace);
            Ok(())
        },
    );
    b.controller("taint-eviction-controller", |client, informers| {
        nodelifecycle::TaintEvictionController::start(client, informers);
    });
    b.controller("disruption-controller", |client, informers| {
        disruption::DisruptionController::start(client, informers);
    });
    b.on_start(
        Phase::ControlPlane,
        "horizontal-pod-autoscaler",
        |c: Cluster| async move {
            let desired = c
                .get::<ScalingOptions>()
                .unwrap_or_default()
                .desired_replicas;
            let client = c.client().named("horizontal-pod-autoscaler");
            hpa::AutoscalerController::start(&client, &c.informers(), desired);
            Ok(())
        },
    );
    b.on_start(
        Phase::NodeAgents,
        "metrics-server",
        move |c: Cluster| async move {
            if let Some(nodes) = c.get::<kubelab_kubelet::Nodes>() {
                let informers = c.informers();
                metrics.run(nodes, informers.of("v1", "Pod"), informers.of("v1", "Node"));
            }
            Ok(())
        },
    );
}
// ANCHOR_END: install
