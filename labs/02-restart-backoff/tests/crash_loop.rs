//! Lab 02's checks: the waits of a container that crashes again and again,
//! computed by the kubelet's own restart schedule with your function.

use std::time::Duration;

use lab_02_restart_backoff::BACKOFF;

fn secs(v: &[Duration]) -> Vec<u64> {
    v.iter().map(|d| d.as_secs()).collect()
}

#[test]
fn the_first_restart_is_immediate_then_the_wait_doubles() {
    let waits = kubelab_kubelet::restart_schedule(BACKOFF, 6);
    assert_eq!(secs(&waits), [0, 10, 20, 40, 80, 160]);
}

#[test]
fn the_wait_never_exceeds_five_minutes() {
    let waits = kubelab_kubelet::restart_schedule(BACKOFF, 12);
    assert_eq!(waits[6], Duration::from_secs(300));
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(300)));
    assert_eq!(*waits.last().unwrap(), Duration::from_secs(300));
}

#[test]
fn a_crash_loop_for_an_hour_restarts_about_as_often_as_upstream() {
    // Upstream: 0, 10, 20, 40, 80, 160, then every 300 s (plus run time).
    let mut elapsed = Duration::ZERO;
    let mut restarts = 0;
    for w in kubelab_kubelet::restart_schedule(BACKOFF, 100) {
        elapsed += w;
        if elapsed > Duration::from_secs(3600) {
            break;
        }
        restarts += 1;
    }
    assert_eq!(restarts, 16, "restarts within the first hour");
}
