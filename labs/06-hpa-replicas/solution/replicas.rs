//! The reference solution of lab 06 (`kubelab lab check 06 --solution`):
//! chapter 06's own calculator, `desired_replicas` in
//! `crates/scaling/src/replicas.rs` — read it once your tests pass.

pub use kubelab_scaling::replicas::desired_replicas;
