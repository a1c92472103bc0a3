//! The autoscaler's arithmetic: how many replicas the metrics ask for
//! (upstream's `replica_calculator.go`, for resource metrics).
//!
//! ```text
//! ratio   = usage of the ready pods / their requests / target     (150 % used, 50 % wanted → 3.0)
//! within the tolerance (|ratio - 1| ≤ 0.1)   → keep the current count
//! else                                       → ceil(ratio × ready pods)
//! ```
//!
//! Two kinds of pod could make that wrong, and upstream treats them with
//! care: pods **without a reading** yet (missing) and pods **not ready**
//! (a new pod burning CPU while it starts should not trigger more pods).
//! If there are any, the ratio is computed again assuming the worst for
//! the direction it points: scaling up, the missing and unready pods use
//! nothing; scaling down, the missing ones use all they asked for. If the
//! new ratio is within the tolerance or points the other way, nothing
//! changes.
//!
//! A target given as an average value (`averageValue: 100Mi`) works the
//! same way with each pod's "request" set to that value and a target of
//! 100 %.

/// One pod as the calculator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodUsage {
    /// What it uses now (millicores or bytes); `None` if not read yet.
    pub usage: Option<u64>,
    /// What it requested of that resource.
    pub request: u64,
    /// Ready to count: running, Ready, and past its start-up.
    pub ready: bool,
}

/// Upstream's default `--horizontal-pod-autoscaler-tolerance`.
pub const TOLERANCE: f64 = 0.1;

/// `(desired replicas, utilization in % of the requests)`, or why not.
pub type Recommendation = Result<(i64, i64), String>;

/// The signature lab 06 plugs in.
pub type DesiredReplicasFn = fn(i64, &[PodUsage], i64, f64) -> Recommendation;

/// usage / requests of `pods`, in whole percent (upstream truncates too).
fn utilization(pods: &[(u64, u64)]) -> i64 {
    let usage: u64 = pods.iter().map(|p| p.0).sum();
    let requests: u64 = pods.iter().map(|p| p.1).sum();
    (usage * 100).checked_div(requests).unwrap_or(0) as i64
}

// ANCHOR: desired_replicas
/// How many replicas bring the pods' average utilization to `target` %.
pub fn desired_replicas(
    current: i64,
    pods: &[PodUsage],
    target: i64,
    tolerance: f64,
) -> Recommendation {
    // The ready pods with a reading decide the direction.
    let measured: Vec<(u64, u64)> = pods
        .iter()
        .filter(|p| p.ready)
        .filter_map(|p| Some((p.usage?, p.request)))
        .collect();
    if measured.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let used = utilization(&measured);
    let ratio = used as f64 / target as f64;
    let missing: Vec<&PodUsage> = pods
        .iter()
        .filter(|p| p.ready && p.usage.is_none())
        .collect();
    let unready: Vec<&PodUsage> = pods.iter().filter(|p| !p.ready).collect();
    let rebalance_unready = !unready.is_empty() && ratio > 1.0;
    if missing.is_empty() && !rebalance_unready {
        if (ratio - 1.0).abs() <= tolerance {
            return Ok((current, used));
        }
        return Ok(((ratio * measured.len() as f64).ceil() as i64, used));
    }
    // Assume the worst for the direction the ratio points.
    let mut all = measured.clone();
    for p in missing {
        let assumed = if ratio < 1.0 {
            p.request * target.max(100) as u64 / 100
        } else {
            0
        };
        all.push((assumed, p.request));
    }
    if rebalance_unready {
        all.extend(unready.iter().map(|p| (0, p.request)));
    }
    let new_ratio = utilization(&all) as f64 / target as f64;
    if (new_ratio - 1.0).abs() <= tolerance || (ratio < 1.0) != (new_ratio < 1.0) {
        return Ok((current, used));
    }
    let replicas = (new_ratio * all.len() as f64).ceil() as i64;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok((current, used));
    }
    Ok((replicas, used))
}
// ANCHOR_END: desired_replicas

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(usage: u64, request: u64) -> PodUsage {
        PodUsage {
            usage: Some(usage),
            request,
            ready: true,
        }
    }

    #[test]
    fn the_ratio_decides_within_a_tolerance() {
        // 2 pods at 90 % of 100m, target 50 % → ratio 1.8 → ceil(3.6) = 4.
        assert_eq!(
            desired_replicas(2, &[ready(90, 100), ready(90, 100)], 50, TOLERANCE),
            Ok((4, 90))
        );
        // 54 % against 50 %: within 10 %, no change.
        assert_eq!(
            desired_replicas(3, &[ready(54, 100)], 50, TOLERANCE),
            Ok((3, 54))
        );
        // Idle: 3 pods at 10 % → ceil(0.2 × 3) = 1.
        assert_eq!(
            desired_replicas(3, &[ready(10, 100); 3], 50, TOLERANCE),
            Ok((1, 10))
        );
    }

    #[test]
    fn missing_and_unready_pods_are_assumed_to_work_against_the_change() {
        let starting = PodUsage {
            usage: Some(500),
            request: 100,
            ready: false,
        };
        // Scaling up: the unready pod counts as idle: (100 + 0) / 200 = 50 % → 1.0 → keep 2.
        assert_eq!(
            desired_replicas(2, &[ready(100, 100), starting], 50, TOLERANCE),
            Ok((2, 100))
        );
        // Scaling down: a pod without a reading counts as fully busy.
        let unread = PodUsage {
            usage: None,
            request: 100,
            ready: true,
        };
        assert_eq!(
            desired_replicas(2, &[ready(0, 100), unread], 50, TOLERANCE),
            Ok((2, 0))
        );
        assert!(desired_replicas(1, &[starting], 50, TOLERANCE).is_err());
    }
}
