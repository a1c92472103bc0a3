//! # kubelab-batch — StatefulSets, Jobs and CronJobs (chapter 08)
//!
//! Chapter 02's ReplicaSet runs N interchangeable pods forever. Two kinds
//! of work do not fit that mould:
//!
//! * **state** — a database's pods each own their data and their name:
//!   the [`statefulset`] controller creates `db-0`, `db-1`, … in order,
//!   each with its own claim (`data-db-0`, chapter 05's storage) and its
//!   own DNS name through a headless Service (chapter 03);
//! * **work that ends** — a batch computation, a backup: the [`job`]
//!   controller runs pods until enough succeed, and the [`cronjob`]
//!   controller creates Jobs on a [`schedule`].
//!
//! ```text
//!  StatefulSet db (replicas 3) ─▶ statefulset controller ─▶ claim data-db-0 ─▶ pod db-0 (Ready?)
//!                                                         ─▶ claim data-db-1 ─▶ pod db-1 …
//!  CronJob backup "0 3 * * *" ─▶ cronjob controller ─▶ Job backup-29000000
//!                                                          └─▶ job controller ─▶ pods (finalizer)
//!                                                                 ◀── succeeded / failed, counted once
//! ```
//!
//! The chapter plugs in through [`install`] and edits no other crate: three
//! controllers, and strategy layers for the three kinds ([`validation`]).
//! The API server served these kinds since chapter 01; now they run.
//!
//! ## Where to start reading
//! [`statefulset::StatefulSetController`]'s `reconcile`; then
//! [`job::JobController`]'s `reconcile` and its exactly-once counting;
//! then [`schedule::Schedule::next_after`] and [`cronjob`].

pub mod cronjob;
pub mod job;
pub mod schedule;
pub mod statefulset;
pub mod validation;

use kubelab_apiserver::strategy::Strategies;
use kubelab_client::ClusterBuilder;

/// Settings of this chapter (a builder slot): lab 08 puts its own
/// next-run search here.
#[derive(Clone, Copy)]
pub struct BatchOptions {
    pub next_after: cronjob::NextAfter,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            next_after: schedule::Schedule::next_after,
        }
    }
}

/// Chapter 08's share of kube-controller-manager and of the API server.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    let strategies = b.slot::<Strategies>();
    strategies.register("batch", "Job", validation::JobRules);
    strategies.register("apps", "StatefulSet", validation::StatefulSetRules);
    strategies.register("batch", "CronJob", validation::CronJobRules);
    let options = b.get::<BatchOptions>().copied().unwrap_or_default();
    b.controller_with("statefulset-controller", |c, client, informers| {
        // Chapter 09's rolling updates, if installed.
        let updates = c
            .get::<statefulset::StatefulSetRollout>()
            .unwrap_or_default();
        statefulset::StatefulSetController::start(client, informers, updates.make(c));
    });
    b.controller("job-controller", |client, informers| {
        job::JobController::start(client, informers);
    });
    b.controller("cronjob-controller", move |client, informers| {
        cronjob::CronJobController::start(client, informers, options.next_after);
    });
}
// ANCHOR_END: install
