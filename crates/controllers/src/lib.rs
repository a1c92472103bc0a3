//! # kubelab-controllers — keeping N pods running (chapter 02)
//!
//! A Deployment says "three copies of this pod, please". Nothing in the API
//! server makes that true: two control loops of kube-controller-manager do.
//!
//! * [`replicaset`] keeps exactly `replicas` pods matching a ReplicaSet's
//!   selector: it creates the missing ones from the template, deletes the
//!   extra ones, and adopts or releases pods by owner reference;
//! * [`deployment`] keeps one ReplicaSet per version of the pod template
//!   and moves replicas from the old ones to the new one (a rollout).
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
    b.controller("deployment-controller", |client, informers| {
        deployment::DeploymentController::start(client, informers);
    });
}
// ANCHOR_END: install
