//! One step of a rolling update, as arithmetic (lab 09 writes it).
//!
//! A rolling update is a loop: each pass looks at the ReplicaSets as they
//! are and moves a little. Two numbers bound every pass:
//!
//! * `maxSurge`: at most `replicas + maxSurge` pods exist, old and new;
//! * `maxUnavailable`: at least `replicas - maxUnavailable` are available.
//!
//! The step grows the new ReplicaSet into the room the surge leaves, then
//! shrinks old ones: first by pods that are not available anyway (they
//! cost no availability), then by available ones, as far as the floor
//! allows. New pods turning available is what lets the next pass go on.
//!
//! Upstream splits this into `reconcileNewReplicaSet` and
//! `reconcileOldReplicaSets` (pkg/controller/deployment/rolling.go) and
//! does one of them per pass; here one function returns both, which comes
//! to the same sizes.

/// A ReplicaSet as a rolling update sees it: its size (`spec.replicas`)
/// and how many of its pods are available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub replicas: i64,
    pub available: i64,
}

/// The deployment's numbers, `maxSurge` and `maxUnavailable` already
/// resolved from percentages (and never both 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub replicas: i64,
    pub max_surge: i64,
    pub max_unavailable: i64,
}

/// The sizes after one step: the new ReplicaSet's, and the old ones' in
/// the order they were given (oldest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub new: i64,
    pub olds: Vec<i64>,
}

/// The signature lab 09 implements.
pub type RollingStepFn = fn(&Bounds, Sizes, &[Sizes]) -> Step;

// ANCHOR: step
pub fn rolling_step(b: &Bounds, new: Sizes, olds: &[Sizes]) -> Step {
    let old_total: i64 = olds.iter().map(|o| o.replicas).sum();

    // 1. Scale up: the new ReplicaSet grows into the room the surge leaves.
    let new_size = if new.replicas >= b.replicas {
        b.replicas
    } else {
        let room = (b.replicas + b.max_surge - new.replicas - old_total).max(0);
        new.replicas + room.min(b.replicas - new.replicas)
    };

    // 2. Scale down: how many pods may go without availability dropping
    //    below the floor, counting new pods that are not available yet.
    let mut sizes: Vec<i64> = olds.iter().map(|o| o.replicas).collect();
    let min_available = b.replicas - b.max_unavailable;
    let new_unavailable = (new_size - new.available).max(0);
    let mut may_remove = new_size + old_total - min_available - new_unavailable;
    if may_remove <= 0 {
        return Step {
            new: new_size,
            olds: sizes,
        };
    }
    //    First the old pods that are not available anyway: free.
    for (size, old) in sizes.iter_mut().zip(olds) {
        let unhealthy = (old.replicas - old.available).max(0).min(may_remove);
        *size -= unhealthy;
        may_remove -= unhealthy;
    }
    //    Then available ones, down to the floor. A ReplicaSet's available
    //    pods count at most up to its size: just after a pass shrinks an
    //    old one, its status still counts the pods being removed, and a
    //    pass woken in between (a new pod turned available) would count
    //    them and remove too many. Upstream sums `availableReplicas` as it
    //    is; kubelab is stricter here, so the floor holds.
    let available: i64 = new.available.min(new_size)
        + olds
            .iter()
            .map(|o| o.available.min(o.replicas))
            .sum::<i64>();
    let mut surplus = available - min_available;
    for size in sizes.iter_mut() {
        let take = (*size).min(surplus.max(0));
        *size -= take;
        surplus -= take;
    }
    Step {
        new: new_size,
        olds: sizes,
    }
}
// ANCHOR_END: step

#[cfg(test)]
mod tests {
    use super::*;

    fn s(replicas: i64, available: i64) -> Sizes {
        Sizes {
            replicas,
            available,
        }
    }

    const FOUR: Bounds = Bounds {
        replicas: 4,
        max_surge: 1,
        max_unavailable: 0,
    };

    #[test]
    fn pods_an_old_replicaset_is_removing_are_not_counted_as_available() {
        // 12 replicas, surge 3, floor 11. A pass shrank the old ReplicaSet
        // to 10; its status still says 11 available when a new pod turns
        // available and wakes the next pass. Counting the 11 would take 2
        // more old pods: 2 new + 8 old = 10 available, below the floor.
        let b = Bounds {
            replicas: 12,
            max_surge: 3,
            max_unavailable: 1,
        };
        let step = rolling_step(&b, s(3, 2), &[s(10, 11)]);
        assert_eq!(step.olds, vec![9], "2 new + 9 old = 11 available");
    }

    #[test]
    fn with_no_unavailability_allowed_one_new_pod_comes_before_one_old_goes() {
        // Start: 4 old, all available. The surge allows one new pod.
        let step = rolling_step(&FOUR, s(0, 0), &[s(4, 4)]);
        assert_eq!(
            step,
            Step {
                new: 1,
                olds: vec![4]
            }
        );
        // The new pod is not available yet: nothing old may go.
        assert_eq!(rolling_step(&FOUR, s(1, 0), &[s(4, 4)]).olds, vec![4]);
        // Now it is: one old pod goes.
        assert_eq!(rolling_step(&FOUR, s(1, 1), &[s(4, 4)]).olds, vec![3]);
    }

    #[test]
    fn unavailable_old_pods_go_first_and_cost_nothing() {
        let b = Bounds {
            replicas: 4,
            max_surge: 0,
            max_unavailable: 1,
        };
        // Two old ReplicaSets: the oldest has 2 broken pods. 4 pods, at
        // least 3 available: one pod may go, and a broken one costs nothing.
        let step = rolling_step(&b, s(0, 0), &[s(2, 0), s(2, 2)]);
        assert_eq!(step.new, 0, "no room to surge into");
        assert_eq!(step.olds, vec![1, 2], "a broken one, not an available one");
        // 5 pods (one surged), 4 available: two may go, both broken.
        let step = rolling_step(&b, s(1, 0), &[s(2, 0), s(2, 2)]);
        assert_eq!(step.olds, vec![1, 2], "the new one is unavailable too");
        let step = rolling_step(&b, s(1, 1), &[s(2, 0), s(2, 2)]);
        assert_eq!(step.olds, vec![0, 2], "both broken ones, nothing available");
    }

    #[test]
    fn a_too_big_new_replicaset_shrinks_to_the_replicas() {
        assert_eq!(rolling_step(&FOUR, s(6, 6), &[]).new, 4);
    }

    #[test]
    fn percentages_resolved_give_the_usual_first_step() {
        // 10 replicas, 25%/25%: surge 3 (rounded up), unavailable 2 (down).
        let b = Bounds {
            replicas: 10,
            max_surge: 3,
            max_unavailable: 2,
        };
        let step = rolling_step(&b, s(0, 0), &[s(10, 10)]);
        assert_eq!(
            step,
            Step {
                new: 3,
                olds: vec![8]
            }
        );
    }
}
