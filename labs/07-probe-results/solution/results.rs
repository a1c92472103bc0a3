//! The reference solution of lab 07 (`kubelab lab check 07 --solution`).

use kubelab_lifecycle::results::{ProbeKind, ProbeResult, ProbeState, Thresholds};

/// The verdict of a probe before its first attempt.
pub fn initial(kind: ProbeKind) -> Option<ProbeResult> {
    match kind {
        ProbeKind::Startup => None,
        ProbeKind::Readiness => Some(ProbeResult::Failure),
        ProbeKind::Liveness => Some(ProbeResult::Success),
    }
}

/// Records one attempt and returns whether the verdict changed.
pub fn observe(state: &mut ProbeState, outcome: ProbeResult, thresholds: Thresholds) -> bool {
    // How many attempts in a row had this outcome?
    if state.last == Some(outcome) {
        state.run += 1;
    } else {
        state.last = Some(outcome);
        state.run = 1;
    }
    let needed = match outcome {
        ProbeResult::Success => thresholds.success,
        ProbeResult::Failure => thresholds.failure,
    };
    // A threshold of 0 means 1, as the API server's defaulting does.
    if state.run < needed.max(1) {
        return false;
    }
    let changed = state.result != Some(outcome);
    state.result = Some(outcome);
    changed
}
