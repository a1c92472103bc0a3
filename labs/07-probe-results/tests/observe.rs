//! Lab 07: your `initial` and `observe`, called directly.

use ProbeResult::{Failure, Success};
use kubelab_lifecycle::results::{ProbeKind, ProbeResult, ProbeState, Thresholds};
use lab_07_probe_results::{initial, observe};

fn thresholds(success: u32, failure: u32) -> Thresholds {
    Thresholds { success, failure }
}

/// Feeds `outcomes` one by one and returns the verdict after each.
fn verdicts(kind: ProbeKind, t: Thresholds, outcomes: &[ProbeResult]) -> Vec<Option<ProbeResult>> {
    let mut s = ProbeState {
        result: initial(kind),
        ..Default::default()
    };
    outcomes
        .iter()
        .map(|o| {
            observe(&mut s, *o, t);
            s.result
        })
        .collect()
}

#[test]
fn first_verdicts_are_upstreams() {
    assert_eq!(initial(ProbeKind::Readiness), Some(Failure));
    assert_eq!(initial(ProbeKind::Liveness), Some(Success));
    assert_eq!(initial(ProbeKind::Startup), None);
}

#[test]
fn one_failure_is_not_enough_with_the_default_threshold_of_three() {
    let v = verdicts(
        ProbeKind::Liveness,
        thresholds(1, 3),
        &[Failure, Failure, Failure],
    );
    assert_eq!(v, [Some(Success), Some(Success), Some(Failure)]);
}

#[test]
fn a_success_in_between_starts_the_count_again() {
    let v = verdicts(
        ProbeKind::Liveness,
        thresholds(1, 2),
        &[Failure, Success, Failure, Success, Failure, Failure],
    );
    assert_eq!(
        v,
        [Some(Success); 5]
            .into_iter()
            .chain([Some(Failure)])
            .collect::<Vec<_>>()
    );
}

#[test]
fn readiness_needs_success_threshold_successes_in_a_row() {
    let v = verdicts(
        ProbeKind::Readiness,
        thresholds(3, 1),
        &[Success, Success, Failure, Success, Success, Success],
    );
    assert_eq!(
        v,
        [None, None, None, None, None, Some(Success)]
            .map(|x: Option<ProbeResult>| x.or(Some(Failure)))
    );
}

#[test]
fn observe_says_true_only_when_the_verdict_changes() {
    let mut s = ProbeState {
        result: initial(ProbeKind::Startup),
        ..Default::default()
    };
    let t = thresholds(1, 1);
    assert!(observe(&mut s, Success, t), "unknown → success is a change");
    assert!(!observe(&mut s, Success, t), "success → success is not");
    assert!(observe(&mut s, Failure, t));
    assert!(!observe(&mut s, Failure, t));
    assert_eq!((s.last, s.run), (Some(Failure), 2));
}

#[test]
fn a_threshold_of_zero_counts_as_one() {
    let mut s = ProbeState {
        result: Some(Failure),
        ..Default::default()
    };
    assert!(observe(&mut s, Success, thresholds(0, 0)));
    assert_eq!(s.result, Some(Success));
}
