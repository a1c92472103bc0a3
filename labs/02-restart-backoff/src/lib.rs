//! # Lab 02 — the restart back-off
//!
//! When a container keeps crashing, the kubelet does not restart it in a
//! tight loop: it waits longer after each crash (CrashLoopBackOff). Write
//! the function that says how long. It has the kubelet's own signature
//! ([`kubelab_kubelet::BackoffFn`]), so `kubelab` can run with it.
//!
//! **Edit only `src/backoff.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod backoff;
#[cfg(feature = "solution")]
#[path = "../solution/backoff.rs"]
mod backoff;

pub use backoff::next_backoff;

/// Your function as the kubelet takes it.
pub const BACKOFF: kubelab_kubelet::BackoffFn = next_backoff;
