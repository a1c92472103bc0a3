//! Decide, then do: what the kubelet does to a pod's containers.
//!
//! Each pass of [`Kubelet::reconcile`](crate::Kubelet) over a pod runs in
//! four steps — the same steps as upstream's `SyncPod`
//! (`pkg/kubelet/kuberuntime/kuberuntime_manager.go`):
//!
//! ```text
//!  ensure_sandbox ──▶ observe ──▶ compute_pod_actions ──▶ execute ──▶ write_status
//!  (namespaces,       (ask the    (pure: spec + records    (runtime calls,
//!   network, files)    runtime)    + observed + now         events, records)
//!                                  → PodActions)
//! ```
//!
//! This module holds the middle two. [`compute_pod_actions`] is a *pure*
//! function: it gets the pod, what the kubelet remembers about each
//! container ([`ContainerRecord`]), what the runtime says each current
//! container is doing, and the time — and returns a list of [`Step`]s.
//! It calls no runtime, reads no clock, records no event. Everything with
//! a side effect happens afterwards, in [`Kubelet::execute`].
//!
//! Why split deciding from doing?
//! - **Testable.** The restart policy and the CrashLoopBackOff timing are
//!   the subtle part of the kubelet, and here they are tested with plain
//!   values (see the tests at the end) — no runtime, no sleeping.
//! - **Repeatable.** The same inputs give the same steps, every time.
//!   The kubelet is level-based: it may look at a pod many times, and a
//!   decision that depends only on what it sees is safe to make again.
//! - **Readable.** One function says *what* happens to a container in
//!   each state; the "how" (images, plugins, events) is elsewhere.
//!
//! Upstream does the same: `computePodActions` returns a `podActions`
//! (`KillPod`, `CreateSandbox`, `ContainersToStart`, `ContainersToKill`)
//! and `SyncPod` carries it out. Here the sandbox is ensured before
//! (`ensure_sandbox` in `lib.rs`) and a deleted pod is killed by the
//! termination path, so what is left are the containers to start — plus
//! the back-off, which upstream checks later, while it starts each
//! container (`doBackOff`), and kubelab decides here so that the whole
//! decision is in one testable place. Chapter 02 never kills a running
//! container; chapter 07's plugin decides instead of
//! [`compute_pod_actions`] (init containers, sidecars) and adds
//! [`Step::Kill`] for containers whose liveness probe failed, reusing
//! [`sync_container`] for each container's restart rule.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kubelab_client::Error;
use kubelab_runtime::{ContainerConfig, ContainerState, Image, RuntimeError};
use serde_json::Value;

use kubelab_client::informer::key_of;

use crate::env::EnvContext;
use crate::plugin::NotReady;
use crate::{ContainerRecord, Kubelet, spec};

/// What to do to a pod's containers, decided before anything is done
/// (upstream: `podActions`). A container the steps do not name is kept
/// as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodActions {
    /// In order: the steps of the first container, then the second's …
    pub steps: Vec<Step>,
    /// Look at the pod again after this long (a back-off runs out then),
    /// even if nothing changes.
    pub requeue_after: Option<Duration>,
}

/// One thing to do to one container (named as in `spec.containers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The runtime created this container but it never started (the
    /// kubelet stopped in between): start it.
    StartCreated { container: String, id: String },
    /// The container just exited and will be restarted: remember to
    /// restart it at `until` (now + the current back-off, `wait`), make
    /// the next back-off longer, and say so (a `BackOff` event) if there
    /// is a wait at all.
    BackOff {
        container: String,
        wait: Duration,
        until: Instant,
    },
    /// Create a new container from the spec and start it (upstream:
    /// `ContainersToStart`). `attempt` is its restart count: 0 for the
    /// first container, one more than the dead one's otherwise.
    CreateAndStart { container: String, attempt: u32 },
    /// Stop a running container (upstream: `ContainersToKill`): its
    /// `preStop` hook, SIGTERM, the grace period, SIGKILL. `message` says
    /// why, in the `Killing` event ("Container app failed liveness probe,
    /// will be restarted"). Chapter 07 decides these.
    Kill {
        container: String,
        id: String,
        message: String,
    },
}

/// Whether a container that exited with `exit_code` is restarted, by the
/// pod's `restartPolicy` (upstream: `kubecontainer.ShouldContainerBeRestarted`).
pub fn should_restart(pod: &Value, exit_code: i32) -> bool {
    match pod["spec"]["restartPolicy"].as_str().unwrap_or("Always") {
        "Always" => true,
        "OnFailure" => exit_code != 0,
        _ => false, // Never
    }
}

/// Whether a container of `kind` that exited with `exit_code` is
/// restarted: app containers by the pod's `restartPolicy`; a sidecar
/// always; an init container when it failed, unless the policy is
/// `Never`; an ephemeral container never (upstream's rules).
pub fn restarts(pod: &Value, kind: spec::ContainerKind, exit_code: i32) -> bool {
    match kind {
        spec::ContainerKind::App => should_restart(pod, exit_code),
        spec::ContainerKind::Sidecar => true,
        spec::ContainerKind::Init => pod["spec"]["restartPolicy"] != "Never" && exit_code != 0,
        spec::ContainerKind::Ephemeral => false,
    }
}

/// Decides what to do to each container of `pod`.
///
/// - `records`: what the kubelet remembers per container name (its
///   current id, restart count, back-off, when it may restart).
/// - `current`: the runtime's state of each container's current
///   instance (`records[name].id`); absent if it has none, or the runtime
///   no longer knows it.
/// - `now`: the time the decision is made for (passed in, so that the
///   function stays pure and tests choose the time).
// ANCHOR: compute_pod_actions
pub fn compute_pod_actions(
    pod: &Value,
    records: &HashMap<String, ContainerRecord>,
    current: &HashMap<String, ContainerState>,
    now: Instant,
) -> PodActions {
    let mut actions = PodActions::default();
    // A pod that Succeeded or Failed is done for good: nothing restarts.
    if kubelab_api::pod::is_terminal(pod) {
        return actions;
    }
    // Init containers come with chapter 07: without it, a pod that has
    // some starts nothing and shows `Init:0/N` (said on the book page).
    if spec::has_init_containers(pod) {
        return actions;
    }
    let no_record = ContainerRecord::default();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        let rec = records.get(name).unwrap_or(&no_record);
        let restart = |code| should_restart(pod, code);
        sync_container(&mut actions, name, rec, current.get(name), restart, now);
    }
    actions
}

/// The steps for one container, by its state and the restart rule
/// `restart(exit_code)`: start a created one, create a missing one,
/// restart an exited one after its back-off, keep a running one. Chapter
/// 07 calls it for init containers and sidecars too, with their rules.
pub fn sync_container(
    actions: &mut PodActions,
    name: &str,
    rec: &ContainerRecord,
    state: Option<&ContainerState>,
    restart: impl Fn(i32) -> bool,
    now: Instant,
) {
    let name = name.to_string();
    match state {
        // Running: keep it.
        Some(ContainerState::Running { .. }) => return,
        Some(ContainerState::Created) => {
            let id = rec.id.clone().unwrap_or_default();
            actions.steps.push(Step::StartCreated {
                container: name,
                id,
            });
            return;
        }
        Some(ContainerState::Exited { exit_code, .. }) => {
            if !restart(*exit_code) {
                return; // stays terminated; the phase says why
            }
            // The restart time is fixed once, when the exit is first
            // seen, so that looking again does not push it back.
            let until = match rec.restart_at {
                Some(t) => t,
                None => {
                    let (wait, until) = (rec.backoff, now + rec.backoff);
                    let container = name.clone();
                    actions.steps.push(Step::BackOff {
                        container,
                        wait,
                        until,
                    });
                    until
                }
            };
            if until > now {
                // CrashLoopBackOff: look again when the wait is over.
                actions.wait(until - now);
                return;
            }
        }
        // Never created, or gone from the runtime: create it.
        None => {}
    }
    // A restart counts one more than the dead container's attempt.
    let attempt = match rec.id {
        Some(_) => rec.restart_count + 1,
        None => rec.restart_count,
    };
    actions.steps.push(Step::CreateAndStart {
        container: name,
        attempt,
    });
}
// ANCHOR_END: compute_pod_actions

impl PodActions {
    /// Asks to look again after `d`, or earlier if another step asked so.
    pub fn wait(&mut self, d: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(d, |r| r.min(d)));
    }
}

/// The spec of container `name` of `pod`, of any kind.
fn container_spec<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    spec::find_container(pod, name).map(|(c, _)| c)
}

/// How long the pod's containers get between SIGTERM and SIGKILL.
pub fn grace_period(pod: &Value) -> Duration {
    let secs = pod["metadata"]["deletionGracePeriodSeconds"]
        .as_u64()
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
        .unwrap_or(30);
    // Capped at a year, so that deadlines computed from it cannot overflow.
    Duration::from_secs(secs.min(365 * 24 * 3600))
}

impl Kubelet {
    /// Carries out the steps [`compute_pod_actions`] decided (upstream:
    /// the second half of `SyncPod`). Returns when to look at the pod
    /// again: the decided requeue, or sooner if a step failed in a way
    /// that is worth retrying (a missing image, a create error).
    pub(crate) async fn execute(
        &self,
        key: &str,
        pod: &Value,
        sandbox: &str,
        actions: PodActions,
    ) -> Result<Option<Duration>, Error> {
        let mut next = actions.requeue_after;
        for step in actions.steps {
            let retry = match step {
                Step::StartCreated { id, .. } => {
                    self.config.runtime.start_container(&id).await?;
                    None
                }
                Step::BackOff {
                    container,
                    wait,
                    until,
                } => {
                    self.begin_backoff(key, pod, &container, wait, until);
                    None
                }
                Step::CreateAndStart { container, attempt } => {
                    self.create_and_start(key, pod, sandbox, &container, attempt)
                        .await?
                }
                Step::Kill {
                    container,
                    id,
                    message,
                } => {
                    self.events
                        .for_container(pod, &container, false, "Killing", message);
                    let grace = grace_period(pod);
                    self.stop_with_hooks(pod, &container, &id, sandbox, grace)
                        .await;
                    None
                }
            };
            if let Some(d) = retry {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        Ok(next)
    }

    /// A container just exited: record when it may restart and what the
    /// wait after its next crash is (the lab's [`BackoffFn`](crate::BackoffFn)
    /// makes it longer). Upstream keeps the same in a `flowcontrol.Backoff`
    /// keyed by pod and container.
    fn begin_backoff(&self, key: &str, pod: &Value, name: &str, wait: Duration, until: Instant) {
        self.update_container(key, name, |r| {
            r.restart_at = Some(until);
            r.backoff = (self.backoff)(r.backoff);
        });
        // The first restart is immediate and not worth a warning.
        if !wait.is_zero() {
            self.events.for_container(
                pod,
                name,
                true,
                "BackOff",
                "Back-off restarting failed container",
            );
        }
    }

    /// Creates a new container for `name` and starts it (upstream:
    /// `startContainer`: pull, create, start, each with its event).
    async fn create_and_start(
        &self,
        key: &str,
        pod: &Value,
        sandbox: &str,
        name: &str,
        attempt: u32,
    ) -> Result<Option<Duration>, Error> {
        let Some(c) = container_spec(pod, name) else {
            return Ok(None);
        };
        let rt = &self.config.runtime;
        let rec = self.container_record(key, name);
        let image_ref = c["image"].as_str().unwrap_or_default();
        let image = match self.container_image(key, pod, name, &rec, image_ref) {
            Ok(image) => image,
            Err(retry) => return Ok(Some(retry)),
        };
        if rec.id.is_none() {
            self.events.for_container(
                pod,
                name,
                false,
                "Pulled",
                format!("Container image \"{image_ref}\" already present on machine"),
            );
        }
        let cfg = match self.container_config(pod, c, &image, attempt) {
            Ok(cfg) => cfg,
            Err(wait) => {
                // Upstream: "Error: configmap \"x\" not found", and the
                // container waits in CreateContainerConfigError.
                let changed = rec
                    .waiting
                    .as_ref()
                    .is_none_or(|(r, m)| *r != wait.reason || *m != wait.message);
                if changed {
                    self.events.for_container(
                        pod,
                        name,
                        true,
                        "Failed",
                        format!("Error: {}", wait.message),
                    );
                }
                self.update_container(key, name, |r| r.waiting = Some((wait.reason, wait.message)));
                return Ok(Some(Duration::from_secs(1)));
            }
        };
        if self.is_stopping() {
            return Ok(None);
        }
        let id = match rt.create_container(sandbox, &cfg).await {
            Ok(id) => id,
            Err(e) => {
                let reason = match e {
                    RuntimeError::ImageNotFound(_) => "ErrImageNeverPull",
                    _ => "CreateContainerError",
                };
                self.events
                    .for_container(pod, name, true, "Failed", format!("Error: {e}"));
                self.update_container(key, name, |r| {
                    r.waiting = Some((reason.into(), e.to_string()))
                });
                return Ok(Some(Duration::from_secs(10)));
            }
        };
        self.replace_container(key, name, &rec, &id, attempt).await;
        self.events.for_container(
            pod,
            name,
            false,
            "Created",
            format!("Created container: {name}"),
        );
        match rt.start_container(&id).await {
            Ok(()) => self.events.for_container(
                pod,
                name,
                false,
                "Started",
                format!("Started container {name}"),
            ),
            Err(e) => {
                self.events
                    .for_container(pod, name, true, "Failed", format!("Error: {e}"));
                return Ok(None);
            }
        }
        // Chapter 07: the postStart hook runs now, before the pod moves
        // on (the next init step waits for it); if it fails, the container
        // is killed and restarted by its policy, as upstream.
        let pod_ip = self.sandbox_ip(Some(sandbox));
        let hook = crate::plugin::HookContext {
            pod,
            container: c,
            id: &id,
            sandbox,
            pod_ip: pod_ip.as_deref(),
            runtime: rt,
            events: &self.events,
            // Upstream gives postStart no timeout; kubelab gives it 10 min.
            deadline: Instant::now() + Duration::from_secs(600),
        };
        for p in &self.config.plugins.0 {
            if let Err(e) = p.post_start(&self.config.node, &hook).await {
                self.events
                    .for_container(pod, name, true, "FailedPostStartHook", e);
                self.events.for_container(
                    pod,
                    name,
                    false,
                    "Killing",
                    "FailedPostStartHook".to_string(),
                );
                self.stop_with_hooks(pod, name, &id, sandbox, grace_period(pod))
                    .await;
                break;
            }
        }
        Ok(None)
    }

    /// Stops a container as upstream's `killContainer` does: its `preStop`
    /// hook first (chapter 07's plugin), then SIGTERM with what is left of
    /// the grace period, then SIGKILL.
    pub(crate) async fn stop_with_hooks(
        &self,
        pod: &Value,
        name: &str,
        id: &str,
        sandbox: &str,
        grace: Duration,
    ) {
        let start = Instant::now();
        // No preStop when there is no time for it (`--grace-period=0`).
        if let Some(c) = container_spec(pod, name).filter(|_| !grace.is_zero()) {
            let pod_ip = self.sandbox_ip(Some(sandbox));
            let hook = crate::plugin::HookContext {
                pod,
                container: c,
                id,
                sandbox,
                pod_ip: pod_ip.as_deref(),
                runtime: &self.config.runtime,
                events: &self.events,
                deadline: start + grace,
            };
            for p in &self.config.plugins.0 {
                p.pre_stop(&self.config.node, &hook).await;
            }
        }
        // Upstream gives SIGTERM at least 2 s even after a long preStop.
        let left = grace
            .saturating_sub(start.elapsed())
            .max(Duration::from_secs(2).min(grace));
        let _ = self.config.runtime.stop_container(id, left).await;
    }

    /// The image of a container, from kubelab's image store. kubelab never
    /// pulls (as with `imagePullPolicy: Never`): a missing image leaves the
    /// container waiting in `ErrImageNeverPull` (one event when it starts
    /// to), and `Err` says to look again in 5 s, in case someone loads it.
    fn container_image(
        &self,
        key: &str,
        pod: &Value,
        name: &str,
        rec: &ContainerRecord,
        image_ref: &str,
    ) -> Result<Image, Duration> {
        if let Ok(image) = self.config.runtime.images().resolve(image_ref) {
            return Ok(image);
        }
        let msg = format!(
            "Container image \"{image_ref}\" is not present in kubelab's image store and kubelab never pulls images: load it with `kubelab image load FILE` (see `kubelab image ls`)"
        );
        let changed = rec
            .waiting
            .as_ref()
            .is_none_or(|(r, _)| r != "ErrImageNeverPull");
        if changed {
            self.events
                .for_container(pod, name, true, "ErrImageNeverPull", msg.clone());
        }
        self.update_container(key, name, |r| {
            r.waiting = Some(("ErrImageNeverPull".into(), msg))
        });
        Err(Duration::from_secs(5))
    }

    /// Everything the runtime needs to create the container, with what
    /// the kubelet plugins of later chapters add (env, mounts) — or why it
    /// cannot be built yet (a missing ConfigMap: [`NotReady`]).
    fn container_config(
        &self,
        pod: &Value,
        c: &Value,
        image: &Image,
        attempt: u32,
    ) -> Result<ContainerConfig, NotReady> {
        if let Some(why) = spec::non_root_violation(pod, c, image) {
            let m = &pod["metadata"];
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            return Err(NotReady::config(format!(
                "{why} (pod: \"{}_{}({})\", container: {})",
                s("name"),
                s("namespace"),
                s("uid"),
                c["name"].as_str().unwrap_or_default()
            )));
        }
        let node = &self.config.node;
        let plugins = &self.config.plugins.0;
        let pod_dir = self.pod_dir(pod["metadata"]["uid"].as_str().unwrap_or_default());
        let (mut plugin_vars, mut mounts) = (Vec::new(), Vec::new());
        // `/etc/hostname`, as containerd writes it beside the sandbox
        // (the fake runtime mounts nothing).
        if self.config.runtime.kind() != kubelab_runtime::RuntimeKind::Fake
            && std::fs::create_dir_all(&pod_dir).is_ok()
            && std::fs::write(
                pod_dir.join("hostname"),
                format!("{}\n", spec::hostname(pod)),
            )
            .is_ok()
        {
            mounts.push(kubelab_runtime::Mount {
                source: pod_dir.join("hostname"),
                destination: "/etc/hostname".into(),
                read_only: false,
            });
        }
        // The termination message file (`/dev/termination-log` unless the
        // container names another path): one per attempt, read at exit.
        if self.config.runtime.kind() != kubelab_runtime::RuntimeKind::Fake {
            let name = c["name"].as_str().unwrap_or_default();
            let file = crate::status::termination_file(&pod_dir, name, attempt);
            if file
                .parent()
                .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
                && std::fs::write(&file, b"").is_ok()
            {
                mounts.push(kubelab_runtime::Mount {
                    source: file,
                    destination: c["terminationMessagePath"]
                        .as_str()
                        .unwrap_or("/dev/termination-log")
                        .to_string(),
                    read_only: false,
                });
            }
        }
        for p in plugins {
            plugin_vars.extend(p.container_env(node, pod, c));
            mounts.extend(p.container_mounts(node, pod, c, &pod_dir));
        }
        // Shallow mounts first, so that a volume at /data/cache lands on
        // top of one at /data and is not hidden by it (containerd sorts
        // its mounts the same way). The sort is stable: equal depths keep
        // the kubelet's order.
        mounts.sort_by_key(|m| std::path::Path::new(&m.destination).components().count());
        // The addresses the pod's status will show, for the downward API.
        let sandbox = self
            .state
            .lock()
            .unwrap()
            .get(&key_of(pod))
            .and_then(|r| r.sandbox.clone());
        let pod_ips: Vec<String> = self.sandbox_ip(sandbox.as_deref()).into_iter().collect();
        let host_ip = self.node_ip.lock().unwrap().clone();
        let env_from = |source: &Value| plugins.iter().find_map(|p| p.env_from(node, pod, source));
        let value_from = |from: &Value| plugins.iter().find_map(|p| p.env_value(node, pod, from));
        let ctx = EnvContext {
            node: &node.name,
            pod_ips: &pod_ips,
            host_ip: &host_ip,
            allocatable: (self.config.cpu_millis, self.config.memory),
            env_from: &env_from,
            value_from: &value_from,
        };
        let env = crate::env::container_env(pod, c, plugin_vars, &ctx)?;
        if !env.skipped.is_empty() {
            self.warn_skipped_names(pod, c, &env.skipped);
        }
        // What the runtime would refuse to create (the image's user has no
        // entry): upstream's `CreateContainerError`.
        let mut cfg =
            spec::container_config(pod, c, image, attempt, env.vars, mounts).map_err(|e| {
                NotReady {
                    reason: "CreateContainerError".into(),
                    message: format!("failed to create container: {e}"),
                }
            })?;
        // Chapter 07: one PID namespace for the pod, or the target's for a
        // debug container (`kubectl debug --target`).
        let target = c["targetContainerName"].as_str().filter(|t| !t.is_empty());
        if pod["spec"]["shareProcessNamespace"] == true {
            cfg.pid_namespace = kubelab_runtime::PidNamespace::Pod;
        } else if let Some(target) = target {
            let id = self.container_record(&key_of(pod), target).id;
            let Some(id) = id else {
                return Err(NotReady {
                    reason: "CreateContainerError".into(),
                    message: format!("the target container \"{target}\" has not been created"),
                });
            };
            cfg.pid_namespace = kubelab_runtime::PidNamespace::Target(id);
        }
        Ok(cfg)
    }

    /// Upstream's `InvalidEnvironmentVariableNames` warning: `envFrom` keys
    /// that are no variable names are left out, and said so.
    fn warn_skipped_names(&self, pod: &Value, c: &Value, skipped: &[(usize, String)]) {
        for (i, source) in c["envFrom"].as_array().into_iter().flatten().enumerate() {
            let keys: Vec<&str> = skipped
                .iter()
                .filter(|(s, _)| *s == i)
                .map(|(_, k)| k.as_str())
                .collect();
            if keys.is_empty() {
                continue;
            }
            let (kind, r) = match (&source["configMapRef"], &source["secretRef"]) {
                (r, _) if !r.is_null() => ("configMap", r),
                (_, r) => ("secret", r),
            };
            self.events.warning(
                pod,
                "InvalidEnvironmentVariableNames",
                format!(
                    "Keys [{}] from the EnvFrom {kind} {}/{} were skipped since they are considered invalid environment variable names.",
                    keys.join(", "),
                    pod["metadata"]["namespace"].as_str().unwrap_or("default"),
                    r["name"].as_str().unwrap_or_default()
                ),
            );
        }
    }

    /// Records `id` as the container's current instance. The dead one it
    /// replaces becomes the previous (for `kubectl logs --previous` and
    /// `lastState`); the one before that is removed — the kubelet keeps
    /// one dead container per container, as upstream's garbage collector
    /// does by default.
    async fn replace_container(
        &self,
        key: &str,
        name: &str,
        rec: &ContainerRecord,
        id: &str,
        attempt: u32,
    ) {
        if let Some(old) = &rec.previous_id
            && rec.id.is_some()
        {
            let _ = self.config.runtime.remove_container(old).await;
            self.seen.lock().unwrap().remove(old);
        }
        self.update_container(key, name, |r| {
            r.previous_id = r.id.take().or(r.previous_id.take());
            r.id = Some(id.to_string());
            r.restart_count = attempt;
            r.restart_at = None;
            r.waiting = None;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pod with containers `names` and `restartPolicy` `policy`.
    fn pod(policy: &str, names: &[&str]) -> Value {
        let containers: Vec<Value> = names
            .iter()
            .map(|n| json!({"name": n, "image": "busybox"}))
            .collect();
        json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": policy, "containers": containers},
        })
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

    /// A container that ran `restarts` times before, now `id`.
    fn ran(id: &str, restarts: u32, backoff: Duration) -> ContainerRecord {
        ContainerRecord {
            id: Some(id.into()),
            restart_count: restarts,
            backoff,
            ..Default::default()
        }
    }

    fn one<T>(name: &str, v: T) -> HashMap<String, T> {
        HashMap::from([(name.to_string(), v)])
    }

    fn create(name: &str, attempt: u32) -> Step {
        Step::CreateAndStart {
            container: name.into(),
            attempt,
        }
    }

    #[test]
    fn a_fresh_pod_creates_and_starts_every_container() {
        let p = pod("Always", &["web", "sidecar"]);
        let a = compute_pod_actions(&p, &HashMap::new(), &HashMap::new(), Instant::now());
        assert_eq!(a.steps, vec![create("web", 0), create("sidecar", 0)]);
        assert_eq!(a.requeue_after, None);
    }

    #[test]
    fn a_running_container_is_kept() {
        let p = pod("Always", &["app"]);
        let records = one("app", ran("c1", 2, Duration::from_secs(20)));
        let current = one(
            "app",
            ContainerState::Running {
                started_at: "2024-01-01T00:00:00Z".into(),
            },
        );
        let a = compute_pod_actions(&p, &records, &current, Instant::now());
        assert_eq!(a, PodActions::default());
    }

    #[test]
    fn a_created_container_is_started_not_recreated() {
        let p = pod("Always", &["app"]);
        let records = one("app", ran("c1", 0, Duration::ZERO));
        let current = one("app", ContainerState::Created);
        let a = compute_pod_actions(&p, &records, &current, Instant::now());
        let start = Step::StartCreated {
            container: "app".into(),
            id: "c1".into(),
        };
        assert_eq!(a.steps, vec![start]);
        assert_eq!(a.requeue_after, None);
    }

    #[test]
    fn a_container_gone_from_the_runtime_is_created_again() {
        let p = pod("Always", &["app"]);
        let records = one("app", ran("c1", 3, Duration::from_secs(40)));
        let a = compute_pod_actions(&p, &records, &HashMap::new(), Instant::now());
        assert_eq!(a.steps, vec![create("app", 4)]);
    }

    #[test]
    fn restart_policy_never_leaves_an_exited_container_down() {
        let p = pod("Never", &["app"]);
        let records = one("app", ran("c1", 0, Duration::ZERO));
        for code in [0, 1, 137] {
            let current = one("app", exited(code));
            let a = compute_pod_actions(&p, &records, &current, Instant::now());
            assert_eq!(a, PodActions::default(), "exit code {code}");
        }
    }

    #[test]
    fn on_failure_leaves_a_successful_container_down() {
        let p = pod("OnFailure", &["app"]);
        let records = one("app", ran("c1", 0, Duration::from_secs(10)));
        let current = one("app", exited(0));
        let a = compute_pod_actions(&p, &records, &current, Instant::now());
        assert_eq!(a, PodActions::default());
    }

    #[test]
    fn the_first_restart_is_immediate() {
        // Back-off still zero: record the restart (so the next crash waits)
        // and create the next container in the same pass.
        let p = pod("Always", &["app"]);
        let records = one("app", ran("c1", 0, Duration::ZERO));
        let current = one("app", exited(0));
        let now = Instant::now();
        let a = compute_pod_actions(&p, &records, &current, now);
        let backoff = Step::BackOff {
            container: "app".into(),
            wait: Duration::ZERO,
            until: now,
        };
        assert_eq!(a.steps, vec![backoff, create("app", 1)]);
        assert_eq!(a.requeue_after, None);
    }

    #[test]
    fn on_failure_backs_off_then_restarts_once_the_wait_is_over() {
        let p = pod("OnFailure", &["app"]);
        let wait = Duration::from_secs(10);
        let mut rec = ran("c2", 1, wait);
        let current = one("app", exited(1));
        let t0 = Instant::now();

        // Just exited: start the back-off, look again when it is over.
        let a = compute_pod_actions(&p, &one("app", rec.clone()), &current, t0);
        let backoff = Step::BackOff {
            container: "app".into(),
            wait,
            until: t0 + wait,
        };
        assert_eq!(a.steps, vec![backoff]);
        assert_eq!(a.requeue_after, Some(wait));

        // What execute records; halfway through, nothing but waiting.
        rec.restart_at = Some(t0 + wait);
        let records = one("app", rec);
        let a = compute_pod_actions(&p, &records, &current, t0 + wait / 2);
        assert_eq!(a.steps, vec![]);
        assert_eq!(a.requeue_after, Some(wait / 2));

        // The wait is over: a new container, one attempt more.
        let a = compute_pod_actions(&p, &records, &current, t0 + wait);
        assert_eq!(a.steps, vec![create("app", 2)]);
        assert_eq!(a.requeue_after, None);
    }

    #[test]
    fn always_waits_out_the_rest_of_a_back_off() {
        // Always restarts even after exit code 0.
        let p = pod("Always", &["app"]);
        let t0 = Instant::now();
        let mut rec = ran("c5", 4, Duration::from_secs(80));
        rec.restart_at = Some(t0 + Duration::from_secs(40));
        let current = one("app", exited(0));
        let now = t0 + Duration::from_secs(15);
        let a = compute_pod_actions(&p, &one("app", rec), &current, now);
        assert_eq!(a.steps, vec![]);
        assert_eq!(a.requeue_after, Some(Duration::from_secs(25)));
    }

    #[test]
    fn the_earliest_back_off_decides_the_requeue() {
        let p = pod("Always", &["a", "b"]);
        let t0 = Instant::now();
        let mut ra = ran("ca", 3, Duration::from_secs(80));
        ra.restart_at = Some(t0 + Duration::from_secs(30));
        let rb = ran("cb", 1, Duration::from_secs(10));
        let records = HashMap::from([("a".to_string(), ra), ("b".to_string(), rb)]);
        let current = HashMap::from([("a".to_string(), exited(1)), ("b".to_string(), exited(1))]);
        let a = compute_pod_actions(&p, &records, &current, t0);
        assert_eq!(a.requeue_after, Some(Duration::from_secs(10)));
        // Deciding again from the same inputs gives the same answer.
        assert_eq!(compute_pod_actions(&p, &records, &current, t0), a);
    }

    #[test]
    fn a_terminal_pod_gets_no_steps() {
        for phase in ["Succeeded", "Failed"] {
            let mut p = pod("Always", &["app"]);
            p["status"] = json!({"phase": phase});
            let records = one("app", ran("c1", 0, Duration::ZERO));
            let current = one("app", exited(1));
            let a = compute_pod_actions(&p, &records, &current, Instant::now());
            assert_eq!(a, PodActions::default(), "{phase}");
            let a = compute_pod_actions(&p, &HashMap::new(), &HashMap::new(), Instant::now());
            assert_eq!(a, PodActions::default(), "{phase}, nothing created");
        }
    }

    #[test]
    fn should_restart_follows_the_policy() {
        let cases = [
            ("Always", 0, true),
            ("Always", 1, true),
            ("OnFailure", 0, false),
            ("OnFailure", 2, true),
            ("Never", 0, false),
            ("Never", 1, false),
        ];
        for (policy, code, want) in cases {
            assert_eq!(
                should_restart(&pod(policy, &[]), code),
                want,
                "{policy} {code}"
            );
        }
        // No policy is Always.
        assert!(should_restart(&json!({"spec": {}}), 0));
    }
}
