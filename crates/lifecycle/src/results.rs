//! A probe's result: from single attempts to a verdict.
//!
//! One failed HTTP request does not make a container unready, and one
//! success does not make it ready again: a probe's result flips only after
//! `failureThreshold` failures in a row, or `successThreshold` successes in
//! a row. Until then the previous verdict stands. This is upstream's
//! `worker.doProbe` (`pkg/kubelet/prober/worker.go`): it keeps the last
//! attempt's outcome and how many times in a row it came (`resultRun`).
//!
//! ```text
//!              failure ×failureThreshold
//!   Success ───────────────────────────────▶ Failure
//!      ▲                                        │
//!      └────────────────────────────────────────┘
//!              success ×successThreshold
//! ```
//!
//! Lab 07 asks you to write [`initial`] and [`observe`]; the kubelet's
//! prober calls the functions plugged into
//! [`LifecycleOptions`](crate::LifecycleOptions).

/// The three probes of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Has the app started? Holds off the other two until it succeeds.
    Startup,
    /// May it get traffic? Drives `ready` and the Service's endpoints.
    Readiness,
    /// Is it alive? A Failure verdict gets the container killed.
    Liveness,
}

/// The signature of [`initial`], for lab 07.
pub type InitialFn = fn(ProbeKind) -> Option<ProbeResult>;

/// The verdict of a probe before its first attempts: a container is not
/// ready until proven so, alive until proven otherwise, and its startup is
/// unknown (`None`) — upstream's initial values.
// ANCHOR: initial
pub fn initial(kind: ProbeKind) -> Option<ProbeResult> {
    match kind {
        ProbeKind::Startup => None,
        ProbeKind::Readiness => Some(ProbeResult::Failure),
        ProbeKind::Liveness => Some(ProbeResult::Success),
    }
}
// ANCHOR_END: initial

/// One attempt's outcome, and the verdict it may lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Success,
    Failure,
}

/// What a probe worker remembers between attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeState {
    /// The verdict: `None` until the first one (a startup probe's
    /// "Unknown"); a readiness probe starts at `Failure`, a liveness probe
    /// at `Success`.
    pub result: Option<ProbeResult>,
    /// The outcome of the last attempt.
    pub last: Option<ProbeResult>,
    /// How many attempts in a row had that outcome.
    pub run: u32,
}

/// A probe's `successThreshold` and `failureThreshold` (defaults 1 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub success: u32,
    pub failure: u32,
}

/// The signature of [`observe`], so that lab 07 can plug its own in.
pub type ObserveFn = fn(&mut ProbeState, ProbeResult, Thresholds) -> bool;

/// Records one attempt's `outcome` and returns whether the verdict
/// changed. The verdict becomes `outcome` once `outcome` came
/// `thresholds.success` (or `.failure`) times in a row; a different
/// outcome starts a new run at 1.
// ANCHOR: observe
pub fn observe(state: &mut ProbeState, outcome: ProbeResult, thresholds: Thresholds) -> bool {
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
    if state.run < needed.max(1) {
        return false; // not yet: the verdict stands
    }
    let changed = state.result != Some(outcome);
    state.result = Some(outcome);
    changed
}
// ANCHOR_END: observe

#[cfg(test)]
mod tests {
    use super::*;
    use ProbeResult::{Failure, Success};

    const T: Thresholds = Thresholds {
        success: 2,
        failure: 3,
    };

    fn run(start: Option<ProbeResult>, outcomes: &[ProbeResult]) -> Vec<Option<ProbeResult>> {
        let mut s = ProbeState {
            result: start,
            ..Default::default()
        };
        outcomes
            .iter()
            .map(|o| {
                observe(&mut s, *o, T);
                s.result
            })
            .collect()
    }

    #[test]
    fn a_readiness_probe_needs_success_threshold_successes_in_a_row() {
        let r = run(Some(Failure), &[Success, Failure, Success, Success]);
        assert_eq!(
            r,
            [Some(Failure), Some(Failure), Some(Failure), Some(Success)]
        );
    }

    #[test]
    fn failures_flip_the_verdict_only_at_the_threshold() {
        let r = run(
            Some(Success),
            &[Failure, Failure, Success, Failure, Failure, Failure],
        );
        assert_eq!(
            r,
            [
                Some(Success),
                Some(Success),
                Some(Success),
                Some(Success),
                Some(Success),
                Some(Failure)
            ]
        );
    }

    #[test]
    fn observe_says_when_the_verdict_changes() {
        let mut s = ProbeState::default();
        let one = Thresholds {
            success: 1,
            failure: 1,
        };
        assert!(observe(&mut s, Success, one)); // unknown → success
        assert!(!observe(&mut s, Success, one));
        assert!(observe(&mut s, Failure, one));
        assert_eq!(s.run, 1);
    }
}
