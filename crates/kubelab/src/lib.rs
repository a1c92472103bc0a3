//! # kubelab — the cluster, assembled, and the course around it
//!
//! The `kubelab` binary (`src/main.rs`) parses command lines and runs
//! them; the cluster itself comes from the chapters' crates, each plugged
//! in by one line of the chapter table ([`chapters`]). This library holds
//! what the binary, the notebooks and the workspace's tests share:
//!
//! - [`chapters`]: the chapter table and the builder it fills;
//! - [`notebook`]: an in-process [`Cluster`] for notebooks;
//! - [`exercises`]: the runner of the chapters' kubectl exercises;
//! - [`labs`]: the classroom labs (list, check, reset, meta-check);
//! - [`host`]: the Debian packages `kubelab up` installs when missing.

pub mod chapters;
pub mod exercises;
pub mod host;
pub mod labs;
pub mod notebook;

pub use notebook::Cluster;

/// Re-exported so notebooks can print and build JSON without a `:dep` of their own.
pub use serde_json;

/// Chapter 04's crate, for notebooks that call its pieces directly (the
/// atomic writer, the encryption providers).
pub use kubelab_config as config;

pub use kubelab_batch as batch;
/// Chapter 10's crate: the template engine, charts, values and releases.
pub use kubelab_helm as helm;
/// Chapter 07: init containers, sidecars, probes, hooks.
pub use kubelab_lifecycle as lifecycle;
/// Chapter 09's crate: rolling updates and revision history.
pub use kubelab_rollouts as rollouts;
pub use kubelab_scaling as scaling;
/// Chapter 05's crate, for notebooks that call its pieces directly (the
/// volume matching function, the token signer).
pub use kubelab_volumes as volumes;
