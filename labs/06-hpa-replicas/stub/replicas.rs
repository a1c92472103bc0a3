//! Your code for lab 06. `kubelab lab reset 06` puts this file back as it was.

use kubelab_scaling::replicas::{PodUsage, Recommendation};

/// How many replicas bring the pods' average utilization to `target`
/// percent: `Ok((replicas, utilization))`, where `utilization` is the
/// whole percent the ready, measured pods use of what they request.
///
/// `pods` are the autoscaler's pods (finished and deleted ones already
/// left out). Each has `usage` (`None`: not measured yet), `request` and
/// `ready` (running, Ready and past its start-up).
///
/// - **The ready, measured pods decide.** Their utilization is
///   `sum(usage) * 100 / sum(request)`, in whole percent (integer
///   division, as upstream). None at all: `Err("did not receive metrics
///   for targeted pods (pods might be unready)")`.
/// - **The ratio** is utilization / target. Within the `tolerance`
///   (`|ratio - 1| <= tolerance`): keep `current`. Otherwise
///   `ceil(ratio * number of measured ready pods)`.
/// - **Unless some pods are missing or unready.** A ready pod without a
///   reading is *missing*; a pod that is not ready is *unready*. If there
///   are missing pods, or unready pods while the ratio says "up"
///   (> 1), compute a second ratio over more pods, assuming the worst for
///   the direction: when scaling down (ratio < 1) a missing pod uses all
///   of its request (or `target`% of it, if `target` is above 100), when
///   scaling up it uses nothing; unready pods (only when scaling up) use
///   nothing. If the new ratio is within the tolerance, or points the
///   other way than the first one, keep `current`. Otherwise the answer
///   is `ceil(new ratio * number of pods counted)` — unless that moves
///   against the new ratio's direction, and then `current` again.
/// - The utilization returned is always the first one (ready pods only).
pub fn desired_replicas(
    current: i64,
    pods: &[PodUsage],
    target: i64,
    tolerance: f64,
) -> Recommendation {
    let _ = (current, pods, target, tolerance);
    todo!("lab 06: how many replicas bring the utilization to the target?")
}
