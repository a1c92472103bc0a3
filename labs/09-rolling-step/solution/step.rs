//! The reference solution of lab 09 (`kubelab lab check 09 --solution`):
//! chapter 09's own step, `rolling_step` in `crates/rollouts/src/rolling.rs`
//! — read it once your tests pass.

pub use kubelab_rollouts::rolling::rolling_step;
