//! # kubelab — the cluster, assembled, and the course around it
//!
//! The `kubelab` binary (`src/main.rs`) composes the chapters' subsystems
//! into one running cluster. This library holds what the binary and the
//! workspace's tests share: the exercise runner ([`exercises`]) and the
//! classroom labs ([`labs`]), and an in-process [`Cluster`] for notebooks.

pub mod bench_pods;
pub mod bench_services;
pub mod cluster;
pub mod exercises;
pub mod host;
pub mod labs;
pub mod nodes;

pub use cluster::Cluster;

/// Re-exported so notebooks can print and build JSON without a `:dep` of their own.
pub use serde_json;
