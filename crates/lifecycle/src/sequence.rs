//! The order of a pod's containers: init containers one by one, sidecars
//! kept running, then the app containers; probes that kill.
//!
//! Chapter 02's kubelet decides per container, all at once
//! ([`compute_pod_actions`](kubelab_kubelet::actions::compute_pod_actions)).
//! This chapter replaces that decision with [`next_steps`], the same kind
//! of pure function — the pod, the records, what the runtime says, what the
//! probes say, the time in; steps out — following upstream 1.33's
//! `computePodActions` / `computeInitContainerActions`:
//!
//! ```text
//!  initContainers[0] ─exit 0─▶ initContainers[1] ─started─▶ … ─▶ containers (all at once)
//!  (regular: run to the end)   (sidecar: keeps running;          │
//!                               the next step waits only         ▼  all app containers done
//!                               for its start/startup probe)   sidecars stopped, last first
//! ```
//!
//! - A failed init container is restarted (back-off) unless the pod's
//!   `restartPolicy` is `Never`; then the pod fails. Nothing after it runs.
//! - A sidecar restarts whenever it exits, whatever the policy.
//! - Once an app container has run, the pod is initialized for good: init
//!   containers do not run again, a crashing sidecar does not hold the app
//!   containers back.
//! - A running container whose liveness (or startup) probe failed is
//!   killed; the next pass restarts it by its policy.
//! - When every app container has finished and none restarts (a Job's
//!   pod), the sidecars are stopped in reverse order so the pod can end.
//! - Ephemeral containers start once, even before the pod is initialized,
//!   and never restart.
//! - A pod that has Succeeded or Failed gets what still runs stopped.

use std::collections::HashMap;
use std::time::Instant;

use kubelab_kubelet::ContainerRecord;
use kubelab_kubelet::actions::{PodActions, Step, restarts, sync_container};
use kubelab_kubelet::spec::{ContainerKind, all_containers};
use kubelab_runtime::ContainerState;
use serde_json::Value;

/// What the probes say about a container's current instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probed {
    /// Its startup probe succeeded, or it has none.
    pub started: bool,
    /// Its liveness probe's verdict is Failure: kill it.
    pub liveness_failed: bool,
    /// Its startup probe's verdict is Failure: kill it.
    pub startup_failed: bool,
}

/// Decides the pod's steps (see the module documentation). `probed(name)`
/// is what the probes say of container `name`'s running instance.
// ANCHOR: next_steps
pub fn next_steps(
    pod: &Value,
    records: &HashMap<String, ContainerRecord>,
    current: &HashMap<String, ContainerState>,
    probed: &dyn Fn(&str) -> Probed,
    now: Instant,
) -> PodActions {
    let mut a = PodActions::default();
    let no_record = ContainerRecord::default();
    let rec = |name: &str| records.get(name).unwrap_or(&no_record);
    let running = |name: &str| matches!(current.get(name), Some(ContainerState::Running { .. }));
    // A pod that Succeeded or Failed runs nothing more: what still runs (a
    // sidecar beside a failed init container, a debug shell) is stopped,
    // app and debug containers first, then the sidecars last first.
    if kubelab_api::pod::is_terminal(pod) {
        let mut sidecars = Vec::new();
        for (c, kind) in all_containers(pod) {
            let name = c["name"].as_str().unwrap_or_default();
            match kind {
                _ if !running(name) => {}
                ContainerKind::Sidecar => sidecars.push(name),
                _ => a
                    .steps
                    .push(kill(name, rec(name), format!("Stopping container {name}"))),
            }
        }
        for name in sidecars.into_iter().rev() {
            a.steps
                .push(kill(name, rec(name), format!("Stopping container {name}")));
        }
        return a;
    }
    // Debug containers first: they may start before the pod is
    // initialized (a pod stuck in Init:CrashLoopBackOff is what one
    // debugs), and they never restart.
    for c in pod["spec"]["ephemeralContainers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = c["name"].as_str().unwrap_or_default();
        if rec(name).id.is_none() && !current.contains_key(name) {
            sync_container(&mut a, name, rec(name), None, |_| false, now);
        }
    }
    let apps: Vec<&str> = list(pod, "containers");
    // Has an app container run? Then initialization is over for good.
    let initialized = apps.iter().any(|n| rec(n).id.is_some());
    // Every app container finished and none restarts: the pod is ending.
    let apps_done = !apps.is_empty()
        && apps.iter().all(|n| match current.get(*n) {
            Some(ContainerState::Exited { exit_code, .. }) => {
                !restarts(pod, ContainerKind::App, *exit_code)
            }
            _ => false,
        });

    let mut sidecars = Vec::new();
    for (c, kind) in all_containers(pod) {
        let name = c["name"].as_str().unwrap_or_default();
        let state = current.get(name);
        match kind {
            ContainerKind::Init if initialized => continue,
            ContainerKind::Init => match state {
                Some(ContainerState::Exited { exit_code: 0, .. }) => continue,
                _ => {
                    // Running: wait for it. Exited with an error: back off
                    // and restart, or stay failed under `Never`.
                    let restart = |code| restarts(pod, kind, code);
                    sync_container(&mut a, name, rec(name), state, restart, now);
                    return a;
                }
            },
            ContainerKind::Sidecar => {
                sidecars.push(name);
                if apps_done {
                    continue; // stopped below, never restarted now
                }
                if running(name) {
                    let p = probed(name);
                    if let Some(why) = failed_probe(&p) {
                        a.steps.push(kill(
                            name,
                            rec(name),
                            format!("Init container {name} {why}"),
                        ));
                    } else if !p.started && !initialized {
                        return a; // the next step waits for its startup probe
                    }
                    continue;
                }
                sync_container(&mut a, name, rec(name), state, |_| true, now);
                if !initialized {
                    return a; // the next step waits for it to start
                }
            }
            ContainerKind::App => {
                if running(name) {
                    let p = probed(name);
                    if let Some(why) = failed_probe(&p) {
                        let restart = match pod["spec"]["restartPolicy"].as_str() {
                            Some("Never") => "",
                            _ => ", will be restarted",
                        };
                        let message = format!("Container {name} {why}{restart}");
                        a.steps.push(kill(name, rec(name), message));
                    }
                    continue;
                }
                let restart = |code| restarts(pod, kind, code);
                sync_container(&mut a, name, rec(name), state, restart, now);
            }
            ContainerKind::Ephemeral => {} // started above
        }
    }
    // A Job's pod: its work is done, so its sidecars go, the last first.
    if apps_done {
        for name in sidecars.into_iter().rev().filter(|n| running(n)) {
            a.steps
                .push(kill(name, rec(name), format!("Stopping container {name}")));
        }
    }
    a
}
// ANCHOR_END: next_steps

fn list<'a>(pod: &'a Value, key: &str) -> Vec<&'a str> {
    pod["spec"][key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

fn failed_probe(p: &Probed) -> Option<&'static str> {
    if p.startup_failed {
        Some("failed startup probe")
    } else if p.liveness_failed {
        Some("failed liveness probe")
    } else {
        None
    }
}

fn kill(name: &str, rec: &ContainerRecord, message: String) -> Step {
    Step::Kill {
        container: name.to_string(),
        id: rec.id.clone().unwrap_or_default(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn pod(policy: &str, init: Value, containers: &[&str]) -> Value {
        let cs: Vec<Value> = containers
            .iter()
            .map(|n| json!({"name": n, "image": "busybox"}))
            .collect();
        json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
               "spec": {"restartPolicy": policy, "initContainers": init, "containers": cs}})
    }

    fn running() -> ContainerState {
        ContainerState::Running {
            started_at: "2024-01-01T00:00:00Z".into(),
        }
    }

    fn exited(code: i32) -> ContainerState {
        ContainerState::Exited {
            started_at: None,
            finished_at: "2024-01-01T00:00:00Z".into(),
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
        }
    }

    fn ran(id: &str) -> ContainerRecord {
        ContainerRecord {
            id: Some(id.into()),
            ..Default::default()
        }
    }

    fn create(name: &str, attempt: u32) -> Step {
        Step::CreateAndStart {
            container: name.into(),
            attempt,
        }
    }

    fn started(_: &str) -> Probed {
        Probed {
            started: true,
            ..Default::default()
        }
    }

    fn names(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::CreateAndStart { container, .. } => format!("create {container}"),
                Step::StartCreated { container, .. } => format!("start {container}"),
                Step::BackOff { container, .. } => format!("backoff {container}"),
                Step::Kill { container, .. } => format!("kill {container}"),
            })
            .collect()
    }

    #[test]
    fn init_containers_run_one_at_a_time_before_the_app() {
        let p = pod("Always", json!([{"name": "a"}, {"name": "b"}]), &["app"]);
        let now = Instant::now();
        let mut records = HashMap::new();
        let mut current = HashMap::new();
        let a = next_steps(&p, &records, &current, &started, now);
        assert_eq!(a.steps, vec![create("a", 0)]);
        // a runs: nothing new.
        records.insert("a".into(), ran("ca"));
        current.insert("a".into(), running());
        assert!(
            next_steps(&p, &records, &current, &started, now)
                .steps
                .is_empty()
        );
        // a done: b.
        current.insert("a".into(), exited(0));
        let a = next_steps(&p, &records, &current, &started, now);
        assert_eq!(a.steps, vec![create("b", 0)]);
        // b done: the app.
        records.insert("b".into(), ran("cb"));
        current.insert("b".into(), exited(0));
        let a = next_steps(&p, &records, &current, &started, now);
        assert_eq!(a.steps, vec![create("app", 0)]);
    }

    #[test]
    fn a_failed_init_container_backs_off_or_fails_the_pod_under_never() {
        let init = json!([{"name": "a"}]);
        let records = HashMap::from([("a".to_string(), ran("ca"))]);
        let current = HashMap::from([("a".to_string(), exited(1))]);
        let now = Instant::now();
        let a = next_steps(
            &pod("Always", init.clone(), &["app"]),
            &records,
            &current,
            &started,
            now,
        );
        assert_eq!(names(&a.steps), ["backoff a", "create a"]);
        let a = next_steps(
            &pod("Never", init, &["app"]),
            &records,
            &current,
            &started,
            now,
        );
        assert!(a.steps.is_empty(), "{a:?}");
    }

    #[test]
    fn a_sidecar_holds_the_next_step_until_its_startup_probe_succeeds() {
        let init = json!([{"name": "proxy", "restartPolicy": "Always"}, {"name": "migrate"}]);
        let p = pod("Always", init, &["app"]);
        let records = HashMap::from([("proxy".to_string(), ran("cp"))]);
        let current = HashMap::from([("proxy".to_string(), running())]);
        let not_started = |_: &str| Probed::default();
        let now = Instant::now();
        assert!(
            next_steps(&p, &records, &current, &not_started, now)
                .steps
                .is_empty()
        );
        let a = next_steps(&p, &records, &current, &started, now);
        assert_eq!(a.steps, vec![create("migrate", 0)]);
    }

    #[test]
    fn a_crashed_sidecar_restarts_without_holding_back_a_running_app() {
        let init = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        let p = pod("Never", init, &["app"]);
        let records = HashMap::from([
            ("proxy".to_string(), ran("cp")),
            ("app".to_string(), ran("c1")),
        ]);
        let current = HashMap::from([
            ("proxy".to_string(), exited(0)),
            ("app".to_string(), running()),
        ]);
        let a = next_steps(&p, &records, &current, &started, Instant::now());
        assert_eq!(names(&a.steps), ["backoff proxy", "create proxy"]);
    }

    #[test]
    fn a_jobs_pod_stops_its_sidecars_last_first_when_the_app_is_done() {
        let init = json!([{"name": "s1", "restartPolicy": "Always"}, {"name": "s2", "restartPolicy": "Always"}]);
        let p = pod("Never", init, &["job"]);
        let records = HashMap::from([
            ("s1".to_string(), ran("c1")),
            ("s2".to_string(), ran("c2")),
            ("job".to_string(), ran("cj")),
        ]);
        let current = HashMap::from([
            ("s1".to_string(), running()),
            ("s2".to_string(), running()),
            ("job".to_string(), exited(0)),
        ]);
        let a = next_steps(&p, &records, &current, &started, Instant::now());
        assert_eq!(names(&a.steps), ["kill s2", "kill s1"]);
    }

    #[test]
    fn a_failed_liveness_probe_kills_with_upstreams_message() {
        let p = pod("Always", json!([]), &["app"]);
        let records = HashMap::from([("app".to_string(), ran("c1"))]);
        let current = HashMap::from([("app".to_string(), running())]);
        let dead = |_: &str| Probed {
            started: true,
            liveness_failed: true,
            startup_failed: false,
        };
        let a = next_steps(&p, &records, &current, &dead, Instant::now());
        let kill = Step::Kill {
            container: "app".into(),
            id: "c1".into(),
            message: "Container app failed liveness probe, will be restarted".into(),
        };
        assert_eq!(a.steps, vec![kill]);
        assert_eq!(a.requeue_after, None::<Duration>);
    }

    #[test]
    fn a_failed_pod_stops_what_still_runs_and_debugging_does_not_wait_for_init() {
        let init = json!([{"name": "proxy", "restartPolicy": "Always"}, {"name": "migrate"}]);
        let mut p = pod("Never", init, &["app"]);
        p["spec"]["ephemeralContainers"] = json!([{"name": "debugger"}]);
        let records = HashMap::from([
            ("proxy".to_string(), ran("cp")),
            ("migrate".to_string(), ran("cm")),
        ]);
        let current = HashMap::from([
            ("proxy".to_string(), running()),
            ("migrate".to_string(), exited(1)),
        ]);
        // Still deciding (the status is not Failed yet): the debugger starts.
        let a = next_steps(&p, &records, &current, &started, Instant::now());
        assert_eq!(names(&a.steps), ["create debugger"]);
        // Failed: the sidecar is stopped.
        p["status"]["phase"] = json!("Failed");
        let a = next_steps(&p, &records, &current, &started, Instant::now());
        assert_eq!(names(&a.steps), ["kill proxy"]);
    }

    #[test]
    fn an_ephemeral_container_starts_once_and_never_restarts() {
        let mut p = pod("Always", json!([]), &["app"]);
        p["spec"]["ephemeralContainers"] = json!([{"name": "debugger"}]);
        let mut records = HashMap::from([("app".to_string(), ran("c1"))]);
        let mut current = HashMap::from([("app".to_string(), running())]);
        let a = next_steps(&p, &records, &current, &started, Instant::now());
        assert_eq!(a.steps, vec![create("debugger", 0)]);
        records.insert("debugger".into(), ran("cd"));
        current.insert("debugger".into(), exited(1));
        let a = next_steps(&p, &records, &current, &started, Instant::now());
        assert!(a.steps.is_empty());
    }
}
