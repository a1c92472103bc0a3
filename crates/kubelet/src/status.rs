//! `pod.status`: what the kubelet reports, computed from what the runtime
//! says about each container.

use std::collections::HashMap;

use kubelab_runtime::{ContainerState, ContainerStatus};
use serde_json::{Value, json};

use crate::actions::restarts;
use crate::plugin::Health;
use crate::spec::{ContainerKind, all_containers, has_init_containers};
use crate::{ContainerRecord, PodRecord};

type Observed = HashMap<
    String,
    (
        ContainerRecord,
        Option<ContainerStatus>,
        Option<ContainerStatus>,
    ),
>;

/// Where attempt `attempt` of container `name` writes its termination
/// message (mounted at its `terminationMessagePath`).
pub fn termination_file(pod_dir: &std::path::Path, name: &str, attempt: u32) -> std::path::PathBuf {
    pod_dir
        .join("termination")
        .join(format!("{name}-{attempt}"))
}

/// The message of an exited container, as the kubelet reads it at exit
/// (upstream: at most 4096 bytes of `terminationMessagePath`; with
/// `terminationMessagePolicy: FallbackToLogsOnError` and an empty file,
/// the last 80 lines of a failed container's log, at most 2048 bytes).
pub fn termination_message(pod_dir: &std::path::Path, spec: &Value, s: &mut ContainerStatus) {
    let ContainerState::Exited {
        exit_code, message, ..
    } = &mut s.state
    else {
        return;
    };
    if message.as_ref().is_some_and(|m| !m.is_empty()) {
        return;
    }
    let file = termination_file(pod_dir, &s.config.name, s.config.attempt);
    let mut text = std::fs::read(&file).unwrap_or_default();
    text.truncate(4096);
    if text.is_empty()
        && *exit_code != 0
        && spec["terminationMessagePolicy"] == "FallbackToLogsOnError"
    {
        let log = std::fs::read(&s.log_path).unwrap_or_default();
        let lines: Vec<Vec<u8>> = log
            .split(|b| *b == b'\n')
            .filter_map(|l| kubelab_runtime::container::parse_log_line(l).map(|e| e.content))
            .collect();
        let tail = lines[lines.len().saturating_sub(80)..].concat();
        let start = tail.len().saturating_sub(2048);
        text = tail[start..].to_vec();
    }
    if !text.is_empty() {
        *message = Some(String::from_utf8_lossy(&text).into_owned());
    }
}

fn terminated(s: &ContainerStatus) -> Option<Value> {
    match &s.state {
        ContainerState::Exited {
            started_at,
            finished_at,
            exit_code,
            reason,
            message,
        } => {
            let mut t = json!({
                "exitCode": exit_code, "reason": reason,
                "startedAt": started_at, "finishedAt": finished_at,
                "containerID": format!("kubelab://{}", s.id),
            });
            if let Some(m) = message.as_ref().filter(|m| !m.is_empty()) {
                t["message"] = json!(m);
            }
            Some(t)
        }
        _ => None,
    }
}

/// One entry of `status.containerStatuses` (or of `initContainerStatuses`,
/// `ephemeralContainerStatuses`: `kind` says which). `health` is what
/// chapter 07's probes say of it while it runs.
// ANCHOR: container_status
pub fn container_status(
    pod: &Value,
    spec: &Value,
    kind: ContainerKind,
    obs: Option<&(
        ContainerRecord,
        Option<ContainerStatus>,
        Option<ContainerStatus>,
    )>,
    health: Option<Health>,
) -> Value {
    let name = spec["name"].as_str().unwrap_or_default();
    let image = spec["image"].as_str().unwrap_or_default();
    let (rec, cur, prev) = match obs {
        Some((r, c, p)) => (r.clone(), c.as_ref(), p.as_ref()),
        None => (ContainerRecord::default(), None, None),
    };
    let mut last_state = json!({});
    let state = match (&rec.waiting, cur.map(|c| &c.state)) {
        (Some((reason, message)), _) => json!({"waiting": {"reason": reason, "message": message}}),
        (None, Some(ContainerState::Running { started_at })) => {
            json!({"running": {"startedAt": started_at}})
        }
        (None, Some(ContainerState::Exited { exit_code, .. })) => {
            let t = terminated(cur.unwrap()).unwrap();
            // The same rule that decides the restart (`actions`).
            if restarts(pod, kind, *exit_code) && rec.restart_at.is_some() {
                // Waiting out its back-off: the exit becomes lastState.
                last_state = json!({"terminated": t});
                let wait = rec.backoff.as_secs() / 2;
                let wait = if wait == 0 { 10 } else { wait };
                json!({"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": format!(
                        "back-off {wait}s restarting failed container={name} pod={}_{}({})",
                        pod["metadata"]["name"].as_str().unwrap_or_default(),
                        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
                        pod["metadata"]["uid"].as_str().unwrap_or_default()),
                }})
            } else {
                json!({"terminated": t})
            }
        }
        // Not created yet. Upstream says PodInitializing for every
        // container of a pod that has init containers.
        _ if has_init_containers(pod) => json!({"waiting": {"reason": "PodInitializing"}}),
        _ => json!({"waiting": {"reason": "ContainerCreating"}}),
    };
    if last_state == json!({})
        && let Some(t) = prev.and_then(terminated)
    {
        last_state = json!({"terminated": t});
    }
    let running = state.get("running").is_some();
    // Without probes a running container has started and is ready; with
    // them, the probes say (chapter 07). A finished init container counts
    // as ready; a debug container never does.
    let health = health.unwrap_or(Health {
        started: true,
        ready: true,
    });
    let (started, ready) = match kind {
        ContainerKind::Init => (
            running,
            state["terminated"]["exitCode"] == 0 && rec.waiting.is_none(),
        ),
        ContainerKind::Ephemeral => (running, false),
        _ => (running && health.started, running && health.ready),
    };
    let mut s = json!({
        "name": name,
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "restartCount": rec.restart_count,
        "image": image,
        "imageID": cur.map(|c| c.image_id.clone()).unwrap_or_default(),
        "started": started,
    });
    if let Some(c) = cur {
        s["containerID"] = json!(format!("kubelab://{}", c.id));
    }
    s
}
// ANCHOR_END: container_status

/// Whether the init step is over for this init container's status: a
/// regular one exited 0, a sidecar has started.
fn init_done(status: &Value, kind: ContainerKind) -> bool {
    match kind {
        ContainerKind::Sidecar => status["started"] == true,
        _ => status["state"]["terminated"]["exitCode"] == 0,
    }
}

/// An init container failed for good: it exited non-zero and the pod's
/// `restartPolicy` is `Never` (upstream: the pod fails).
fn init_failed(pod: &Value, status: &Value, kind: ContainerKind) -> bool {
    let code = &status["state"]["terminated"]["exitCode"];
    kind == ContainerKind::Init
        && pod["spec"]["restartPolicy"] == "Never"
        && code.is_i64()
        && *code != 0
}

/// The pod's phase from its containers' states.
// ANCHOR: phase
pub fn phase(pod: &Value, statuses: &[Value]) -> &'static str {
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    let running = statuses
        .iter()
        .filter(|s| s["state"].get("running").is_some())
        .count();
    let terminated: Vec<&Value> = statuses
        .iter()
        .filter_map(|s| s["state"].get("terminated"))
        .collect();
    let waiting_after_exit = statuses
        .iter()
        .filter(|s| {
            s["state"].get("waiting").is_some() && s["lastState"].get("terminated").is_some()
        })
        .count();
    let total = statuses.len();
    if total > 0 && terminated.len() == total {
        let all_ok = terminated.iter().all(|t| t["exitCode"] == 0);
        return match (policy, all_ok) {
            (_, true) if policy != "Always" => "Succeeded",
            ("Never", false) => "Failed",
            _ => "Running", // about to be restarted
        };
    }
    if running > 0 || waiting_after_exit > 0 || !terminated.is_empty() {
        return "Running";
    }
    "Pending"
}
// ANCHOR_END: phase

/// The whole `status`. `health(name, id)` is what chapter 07's probes
/// say of a running container.
pub fn pod_status(
    pod: &Value,
    record: &PodRecord,
    observed: &Observed,
    host_ip: &str,
    health: &dyn Fn(&str, &str) -> Option<Health>,
) -> Value {
    let (mut init, mut statuses, mut ephemeral) = (Vec::new(), Vec::new(), Vec::new());
    let mut sidecars = Vec::new();
    for (c, kind) in all_containers(pod) {
        let name = c["name"].as_str().unwrap_or_default();
        let obs = observed.get(name);
        let id = obs
            .and_then(|(r, _, _)| r.id.as_deref())
            .unwrap_or_default();
        let st = container_status(pod, c, kind, obs, health(name, id));
        match kind {
            ContainerKind::Init | ContainerKind::Sidecar => {
                if kind == ContainerKind::Sidecar {
                    sidecars.push(st.clone());
                }
                init.push((st, kind));
            }
            ContainerKind::App => statuses.push(st),
            ContainerKind::Ephemeral => ephemeral.push(st),
        }
    }
    // Upstream's getPhase: Pending until every init container is done,
    // Failed if one failed for good; after that the app containers decide
    // (sidecars do not: a Job's pod succeeds while its sidecar runs).
    // Once an app container has run, the pod stays initialized (a sidecar
    // that restarts or was stopped at the end does not undo it).
    let app_started = statuses.iter().any(|s| s.get("containerID").is_some());
    let initialized = app_started || init.iter().all(|(s, k)| init_done(s, *k));
    let init_failed = !app_started && init.iter().any(|(s, k)| init_failed(pod, s, *k));
    let phase = match (&record.evicted, init_failed, initialized) {
        (Some(_), _, _) | (None, true, _) => "Failed",
        (None, false, false) => "Pending",
        // A sidecar still running keeps the pod Running while it stops.
        (None, false, true) => match phase(pod, &statuses) {
            "Succeeded" | "Failed"
                if sidecars.iter().any(|s| s["state"]["running"].is_object()) =>
            {
                "Running"
            }
            p => p,
        },
    };
    let not_initialized: Vec<String> = init
        .iter()
        .filter(|_| !initialized)
        .filter(|(s, k)| !init_done(s, *k))
        .filter_map(|(s, _)| s["name"].as_str().map(String::from))
        .collect();
    // Ready counts the sidecars too (upstream: restartable init containers
    // are part of ContainersReady).
    let statuses_for_ready: Vec<Value> = sidecars.iter().chain(&statuses).cloned().collect();
    let init: Vec<Value> = init.into_iter().map(|(s, _)| s).collect();
    let all_ready = !statuses.is_empty() && statuses_for_ready.iter().all(|s| s["ready"] == true);
    let now = kubelab_api::meta::now();
    let old = &pod["status"]["conditions"];
    let condition = |t: &str, ok: bool, reason: Option<&str>| {
        let status = if ok { "True" } else { "False" };
        let since = kubelab_api::meta::transition_time(old, t, status, &now);
        let mut c = json!({"type": t, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        c
    };
    let not_ready: Vec<&str> = statuses_for_ready
        .iter()
        .filter(|s| s["ready"] != true)
        .filter_map(|s| s["name"].as_str())
        .collect();
    let (ready_reason, msg) = if all_ready || phase == "Succeeded" {
        (None, None)
    } else if phase == "Succeeded" || phase == "Failed" {
        (Some("PodCompleted"), None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                not_ready.join(" ")
            )),
        )
    };
    let ready_reason = if matches!(phase, "Succeeded" | "Failed") {
        Some("PodCompleted")
    } else {
        ready_reason
    };
    let mut ready = condition("Ready", all_ready, ready_reason);
    let mut containers_ready = condition("ContainersReady", all_ready, ready_reason);
    if let Some(m) = &msg {
        ready["message"] = json!(m);
        containers_ready["message"] = json!(m);
    }
    let sandbox_ok = record.sandbox.is_some() && !matches!(phase, "Succeeded" | "Failed");
    let mut initialized_cond = condition(
        "Initialized",
        initialized,
        match (initialized, phase) {
            (false, _) => Some("ContainersNotInitialized"),
            (true, "Succeeded") if !init.is_empty() => Some("PodCompleted"),
            _ => None,
        },
    );
    if !initialized {
        initialized_cond["message"] = json!(format!(
            "containers with incomplete status: [{}]",
            not_initialized.join(" ")
        ));
    }
    let conditions = vec![
        condition("PodReadyToStartContainers", sandbox_ok, None),
        initialized_cond,
        ready,
        containers_ready,
        condition("PodScheduled", true, None),
    ];

    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": if record.start_time.is_empty() { json!(now) } else { json!(record.start_time) },
        "containerStatuses": statuses,
        "qosClass": kubelab_api::pod::qos_class(&pod["spec"]),
    });
    if !init.is_empty() {
        status["initContainerStatuses"] = json!(init);
    }
    if !ephemeral.is_empty() {
        status["ephemeralContainerStatuses"] = json!(ephemeral);
    }
    if let Some(message) = &record.evicted {
        status["reason"] = json!("Evicted");
        status["message"] = json!(message);
    }
    // Keep what others own.
    for k in ["nominatedNodeName"] {
        if !pod["status"][k].is_null() {
            status[k] = pod["status"][k].clone();
        }
    }
    status
}

/// Equal but for timestamps that move on every computation.
pub fn same(old: &Value, new: &Value) -> bool {
    fn strip(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("startTime");
        }
        v
    }
    strip(old) == strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: Value, last: Value) -> Value {
        json!({"state": state, "lastState": last})
    }

    #[test]
    fn phases_follow_the_restart_policy() {
        let never = json!({"spec": {"restartPolicy": "Never"}});
        let always = json!({"spec": {}});
        let ok = st(json!({"terminated": {"exitCode": 0}}), json!({}));
        let bad = st(json!({"terminated": {"exitCode": 3}}), json!({}));
        let run = st(json!({"running": {}}), json!({}));
        let creating = st(
            json!({"waiting": {"reason": "ContainerCreating"}}),
            json!({}),
        );
        let crash = st(
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            json!({"terminated": {"exitCode": 1}}),
        );
        assert_eq!(phase(&never, std::slice::from_ref(&ok)), "Succeeded");
        assert_eq!(phase(&never, &[ok.clone(), bad.clone()]), "Failed");
        assert_eq!(phase(&always, std::slice::from_ref(&ok)), "Running");
        assert_eq!(phase(&always, &[run]), "Running");
        assert_eq!(phase(&always, &[creating]), "Pending");
        assert_eq!(phase(&always, &[crash]), "Running");
    }
}
