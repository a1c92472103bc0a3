//! # kubelab-controllers — keeping N pods running (chapter 02)
//!
//! A Deployment says "three copies of this pod, please". Nothing in the API
//! server makes that true: two control loops of kube-controller-manager do.
//!
//! * [`replicaset`] keeps exactly `replicas` pods matching a ReplicaSet's
//!   selector: it creates the missing ones from the template, deletes the
//!   extra ones, and adopts or releases pods by owner reference;
//! * [`deployment`] keeps one ReplicaSet per version of the pod template
//!   and gives the current one the replicas (chapter 09 plugs rolling
//!   updates into it).
//!
//! Both are written in the one controller pattern of the course
//! ([`kubelab_client::reconcile`]): informers feed a work queue, and
//! `reconcile(key)` compares what is with what should be and closes the
//! gap. The controller runtime itself is chapter 01's (`kubelab-client`);
//! later chapters bring their controllers in their own crates.
//!
//! ## Where to start reading
//! [`replicaset::ReplicaSetController::reconcile`], then
//! [`deployment::DeploymentController::reconcile`]; [`install`] shows how
//! the chapter plugs them into the cluster.

pub mod deployment;
pub mod replicaset;

use kubelab_client::ClusterBuilder;

/// Chapter 02's share of kube-controller-manager.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    b.controller("replicaset-controller", |client, informers| {
        replicaset::ReplicaSetController::start(client, informers);
    });
    // Chapter 09 may plug its rollouts in after this install: read the
    // slot when the cluster starts.
    b.controller_with("deployment-controller", |c, client, informers| {
        let rollout = c.get::<deployment::DeploymentRollout>().unwrap_or_default();
        deployment::DeploymentController::start(client, informers, rollout.make(c));
    });
}
// ANCHOR_END: install
