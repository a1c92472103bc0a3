//! Lab 09's direct checks: your `rolling_step` on hand-made ReplicaSets.

use lab_09_rolling_step::{Bounds, Sizes, Step, rolling_step};

fn s(replicas: i64, available: i64) -> Sizes {
    Sizes {
        replicas,
        available,
    }
}

fn bounds(replicas: i64, max_surge: i64, max_unavailable: i64) -> Bounds {
    Bounds {
        replicas,
        max_surge,
        max_unavailable,
    }
}

#[test]
fn the_first_step_surges_and_removes_what_availability_allows() {
    // 10 replicas with the defaults (25% / 25%): surge 3, unavailable 2.
    let step = rolling_step(&bounds(10, 3, 2), s(0, 0), &[s(10, 10)]);
    assert_eq!(
        step,
        Step {
            new: 3,
            olds: vec![8]
        },
        "3 new pods fit under 13; 2 old ones may go (10 available, floor 8)"
    );
}

#[test]
fn with_max_unavailable_0_an_old_pod_goes_only_when_a_new_one_is_available() {
    let b = bounds(4, 1, 0);
    assert_eq!(
        rolling_step(&b, s(0, 0), &[s(4, 4)]),
        Step {
            new: 1,
            olds: vec![4]
        }
    );
    assert_eq!(
        rolling_step(&b, s(1, 0), &[s(4, 4)]).olds,
        vec![4],
        "the new pod is not available yet: nothing old may go"
    );
    assert_eq!(
        rolling_step(&b, s(1, 1), &[s(4, 4)]),
        Step {
            new: 1,
            olds: vec![3]
        }
    );
    assert_eq!(
        rolling_step(&b, s(1, 1), &[s(3, 3)]),
        Step {
            new: 2,
            olds: vec![3]
        },
        "an old pod gone makes room for the next new one"
    );
}

#[test]
fn without_surge_old_pods_go_first() {
    let b = bounds(4, 0, 1);
    assert_eq!(
        rolling_step(&b, s(0, 0), &[s(4, 4)]),
        Step {
            new: 0,
            olds: vec![3]
        }
    );
    assert_eq!(
        rolling_step(&b, s(0, 0), &[s(3, 3)]),
        Step {
            new: 1,
            olds: vec![3]
        }
    );
}

#[test]
fn broken_old_pods_go_first_and_cost_no_availability() {
    let b = bounds(4, 0, 1);
    // The oldest ReplicaSet's 2 pods are broken: one may go (4 pods, at
    // least 3 available — and only 2 are).
    assert_eq!(
        rolling_step(&b, s(0, 0), &[s(2, 0), s(2, 2)]).olds,
        vec![1, 2]
    );
    // With a new, available pod: both broken ones, no available one.
    assert_eq!(
        rolling_step(&b, s(1, 1), &[s(2, 0), s(2, 2)]).olds,
        vec![0, 2]
    );
}

#[test]
fn a_new_replicaset_that_is_too_big_shrinks_and_a_done_rollout_stays() {
    assert_eq!(rolling_step(&bounds(4, 1, 0), s(6, 6), &[]).new, 4);
    assert_eq!(
        rolling_step(&bounds(4, 1, 0), s(4, 4), &[s(0, 0)]),
        Step {
            new: 4,
            olds: vec![0]
        }
    );
}

#[test]
fn several_old_replicasets_oldest_first() {
    // A rollout interrupted by another: two old ReplicaSets.
    let step = rolling_step(&bounds(6, 2, 2), s(0, 0), &[s(3, 3), s(3, 3)]);
    assert_eq!(step.new, 2);
    assert_eq!(
        step.olds,
        vec![1, 3],
        "the oldest loses both pods that may go"
    );
}

#[test]
fn a_new_replicaset_never_shrinks_for_lack_of_room() {
    // Over the surge already (a scale-down in the middle of a rollout).
    let step = rolling_step(&bounds(4, 1, 1), s(2, 2), &[s(5, 5)]);
    assert_eq!(step.new, 2);
}

#[test]
fn pods_an_old_replicaset_is_removing_are_not_counted() {
    // 12 replicas, surge 3, at least 11 available. The last pass shrank the
    // old ReplicaSet to 10, and its status still counts 11 available pods
    // (the one being removed too) when a new pod turns available.
    let step = rolling_step(&bounds(12, 3, 1), s(3, 2), &[s(10, 11)]);
    assert_eq!(
        step.olds,
        vec![9],
        "count an old ReplicaSet's available pods at most up to its size: 2 new + 9 old = 11"
    );
}
