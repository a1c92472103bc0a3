//! # kubelab-rollouts — changing what runs without stopping it (chapter 09)
//!
//! Chapters 02, 06 and 08 keep pods running: so many copies, one per
//! node, one per ordinal. This chapter is about changing them — a new
//! image, a new setting — while they serve. Every workload gets the same
//! three things:
//!
//! * an **update strategy**: Deployments `RollingUpdate` (bounded by
//!   `maxSurge` / `maxUnavailable`) or `Recreate`; StatefulSets
//!   `RollingUpdate` (highest ordinal first, with a `partition` and
//!   `maxUnavailable`) or `OnDelete`; DaemonSets `RollingUpdate` (node by
//!   node, with `maxUnavailable` / `maxSurge`) or `OnDelete`;
//! * a **revision history**: ReplicaSets numbered by
//!   `deployment.kubernetes.io/revision` for Deployments, ControllerRevision
//!   objects for StatefulSets and DaemonSets — what `kubectl rollout
//!   history` lists and `rollout undo` goes back to;
//! * **progress reporting**: status fields `kubectl rollout status`
//!   watches, and a Deployment's progress deadline.
//!
//! Nothing here runs on its own: the crate plugs into the controllers of
//! earlier chapters through their slots ([`install`]).
//!
//! ## Where to start reading
//! [`rolling::rolling_step`] (the arithmetic of one step, lab 09), then
//! [`deployment::Rollouts::sync`] (a Deployment's whole pass),
//! [`history`] (ControllerRevisions), [`statefulset`] and [`daemonset`].

pub mod daemonset;
pub mod deployment;
pub mod history;
pub mod rolling;
pub mod statefulset;
pub mod validation;

use std::sync::Arc;

use kubelab_apiserver::strategy::Strategies;
use kubelab_batch::statefulset::StatefulSetRollout;
use kubelab_client::{Cluster, ClusterBuilder};
use kubelab_controllers::deployment::DeploymentRollout;
use kubelab_scaling::daemonset::DaemonSetRollout;

/// Settings of this chapter (a builder slot): lab 09's step function.
#[derive(Clone, Copy)]
pub struct RolloutOptions {
    pub rolling_step: rolling::RollingStepFn,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            rolling_step: rolling::rolling_step,
        }
    }
}

/// Chapter 09's share: rules for the update fields, and rollouts plugged
/// into the Deployment, StatefulSet and DaemonSet controllers.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    let strategies = b.slot::<Strategies>();
    strategies.register("apps", "Deployment", validation::DeploymentRules);
    strategies.register("apps", "StatefulSet", validation::StatefulSetRules);
    strategies.register("apps", "DaemonSet", validation::DaemonSetRules);

    // Made when the cluster starts: lab 09 may set the options after this.
    b.insert(DeploymentRollout::new(|c| {
        let step = c.get::<RolloutOptions>().unwrap_or_default().rolling_step;
        Arc::new(deployment::Rollouts {
            pods: c.informers().of("v1", "Pod"),
            step,
        })
    }));
    b.insert(DaemonSetRollout::new(|c| {
        Arc::new(daemonset::DaemonSetRollouts {
            history: history(c, "daemonset-controller"),
        })
    }));
    b.insert(StatefulSetRollout::new(|c| {
        Arc::new(statefulset::StatefulSetRollouts {
            history: history(c, "statefulset-controller"),
        })
    }));
}
// ANCHOR_END: install

fn history(c: &Cluster, controller: &str) -> history::History {
    history::History {
        client: c
            .client()
            .named(&format!("kube-controller-manager/{controller}")),
        revisions: c.informers().of("apps/v1", "ControllerRevision"),
    }
}
