//! Lab 06, called directly: the autoscaler's arithmetic on hand-made pods.

use lab_06_hpa_replicas::{PodUsage, TOLERANCE, desired_replicas};

fn ready(usage: u64, request: u64) -> PodUsage {
    PodUsage {
        usage: Some(usage),
        request,
        ready: true,
    }
}

fn unready(usage: Option<u64>, request: u64) -> PodUsage {
    PodUsage {
        usage,
        request,
        ready: false,
    }
}

fn missing(request: u64) -> PodUsage {
    PodUsage {
        usage: None,
        request,
        ready: true,
    }
}

#[test]
fn busy_pods_ask_for_more_and_idle_ones_for_fewer() {
    // 2 pods at 90 % of 100m, target 50 %: ratio 1.8, ceil(3.6) = 4.
    assert_eq!(
        desired_replicas(2, &[ready(90, 100), ready(90, 100)], 50, TOLERANCE),
        Ok((4, 90))
    );
    // 3 pods at 10 %: ratio 0.2, ceil(0.6) = 1.
    assert_eq!(
        desired_replicas(3, &[ready(10, 100); 3], 50, TOLERANCE),
        Ok((1, 10))
    );
    // Different requests: (300 + 100) / (400 + 100) = 80 %, ratio 1.6, ceil(3.2) = 4.
    assert_eq!(
        desired_replicas(2, &[ready(300, 400), ready(100, 100)], 50, TOLERANCE),
        Ok((4, 80))
    );
}

#[test]
fn utilization_is_in_whole_percent_truncated() {
    // 2 / 3 = 66.6 %, which counts as 66; against 33 %: ratio 2.0 → 2 pods.
    assert_eq!(
        desired_replicas(1, &[ready(2, 3)], 33, TOLERANCE),
        Ok((2, 66))
    );
}

#[test]
fn within_the_tolerance_nothing_changes() {
    // 54 % against 50 %: ratio 1.08.
    assert_eq!(
        desired_replicas(3, &[ready(54, 100); 3], 50, TOLERANCE),
        Ok((3, 54))
    );
    // 45 % against 50 %: ratio 0.9, exactly at the edge: still nothing.
    assert_eq!(
        desired_replicas(3, &[ready(45, 100); 3], 50, TOLERANCE),
        Ok((3, 45))
    );
    // 40 %: ratio 0.8, out of it: ceil(0.8 × 5) = 4.
    assert_eq!(
        desired_replicas(5, &[ready(40, 100); 5], 50, TOLERANCE),
        Ok((4, 40))
    );
    // A wider tolerance keeps 5.
    assert_eq!(
        desired_replicas(5, &[ready(40, 100); 5], 50, 0.25),
        Ok((5, 40))
    );
}

#[test]
fn no_ready_pod_with_a_reading_is_an_error() {
    assert!(desired_replicas(2, &[unready(Some(500), 100), missing(100)], 50, TOLERANCE).is_err());
    assert!(desired_replicas(2, &[], 50, TOLERANCE).is_err());
}

#[test]
fn scaling_up_an_unready_pod_counts_as_idle() {
    // Ready pod at 100 %, a starting pod burning 500 %: (100 + 0) / 200 = 50 % → keep 2.
    assert_eq!(
        desired_replicas(
            2,
            &[ready(100, 100), unready(Some(500), 100)],
            50,
            TOLERANCE
        ),
        Ok((2, 100))
    );
    // Ready pods at 200 %: (200 + 200 + 0) / 300 = 133 %, ratio 2.67 → ceil(8.0) = 8.
    assert_eq!(
        desired_replicas(
            3,
            &[ready(200, 100), ready(200, 100), unready(None, 100)],
            50,
            TOLERANCE
        ),
        Ok((8, 200))
    );
}

#[test]
fn scaling_down_unready_pods_do_not_count_but_missing_ones_are_busy() {
    // Scaling down, an unready pod changes nothing: 2 ready pods at 10 % → ceil(0.2 × 2) = 1.
    assert_eq!(
        desired_replicas(
            3,
            &[ready(10, 100), ready(10, 100), unready(None, 100)],
            50,
            TOLERANCE
        ),
        Ok((1, 10))
    );
    // A ready pod without a reading counts as using its whole request:
    // (0 + 100) / 200 = 50 % → ratio 1.0 → keep 2.
    assert_eq!(
        desired_replicas(2, &[ready(0, 100), missing(100)], 50, TOLERANCE),
        Ok((2, 0))
    );
    // With a target above 100 %, the missing pod is assumed at the target:
    // (0 + 150 + 150) / 300 = 100 % against 150 % → ratio 0.67 → ceil(0.67 × 3) = 2.
    assert_eq!(
        desired_replicas(
            3,
            &[ready(0, 100), missing(100), missing(100)],
            150,
            TOLERANCE
        ),
        Ok((2, 0))
    );
}

#[test]
fn scaling_up_a_missing_pod_counts_as_idle() {
    // (160 + 0) / 200 = 80 % against 50 % → ratio 1.6 → ceil(3.2) = 4.
    assert_eq!(
        desired_replicas(2, &[ready(160, 100), missing(100)], 50, TOLERANCE),
        Ok((4, 160))
    );
    // (60 + 0) / 200 = 30 %: the direction flips (1.2 → 0.6): keep 2.
    assert_eq!(
        desired_replicas(2, &[ready(60, 100), missing(100)], 50, TOLERANCE),
        Ok((2, 60))
    );
}
