//! Your code for lab 07. `kubelab lab reset 07` puts this file back as it was.

use kubelab_lifecycle::results::{ProbeKind, ProbeResult, ProbeState, Thresholds};

/// The verdict of a probe before its first attempt:
///
/// - a **readiness** probe starts at `Failure`: a container gets no traffic
///   until a probe has said it may;
/// - a **liveness** probe starts at `Success`: a container is not killed
///   before a probe has said it is dead;
/// - a **startup** probe starts with no verdict (`None`, upstream's
///   "Unknown"): the container has not started until it succeeds.
pub fn initial(kind: ProbeKind) -> Option<ProbeResult> {
    let _ = kind;
    todo!("lab 07: the verdict before any attempt")
}

/// Records one attempt's `outcome` in `state` and returns whether the
/// verdict (`state.result`) changed.
///
/// - `state.last` is the outcome of the previous attempt and `state.run`
///   how many attempts in a row had it. The same outcome again makes the
///   run one longer; a different one starts a new run of 1.
/// - The verdict becomes `outcome` only when the run reaches the threshold
///   for that outcome: `thresholds.failure` failures in a row, or
///   `thresholds.success` successes in a row. Before that, the verdict
///   stands. (A threshold of 0 counts as 1.)
/// - Return `true` only when the verdict is now different from before
///   (`None` → `Some(Success)` is a change, `Success` → `Success` is not).
pub fn observe(state: &mut ProbeState, outcome: ProbeResult, thresholds: Thresholds) -> bool {
    let _ = (state, outcome, thresholds);
    todo!("lab 07: count the run, compare it with the threshold, update the verdict")
}
