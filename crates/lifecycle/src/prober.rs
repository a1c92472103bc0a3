//! The prober manager: one worker per probe of each running container.
//!
//! Upstream's `pkg/kubelet/prober`: a goroutine per (container, probe
//! type) runs the probe every `periodSeconds`, feeds each outcome to the
//! result state machine ([`results`](crate::results)) and, when the
//! verdict changes, tells the pod worker. Here a tokio task does the same
//! and queues the pod's key; the kubelet then asks [`Prober::probed`]
//! (kill on liveness failure) and [`Prober::health`] (`started`, `ready`).
//!
//! - A worker belongs to one container *instance* (its runtime id): a
//!   restarted container gets fresh workers, with fresh verdicts.
//! - Until the startup probe succeeds, the other two do not run.
//! - Initial verdicts: readiness Failure (not ready until proven), liveness
//!   Success, startup none ("Unknown").
//! - After a liveness or startup Failure the worker stops: the container
//!   is about to be killed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubelab_client::EventRecorder;
use kubelab_kubelet::plugin::{Health, PodContext};
use kubelab_kubelet::spec::all_containers;
use kubelab_runtime::{ContainerState, Runtime};
use serde_json::Value;

use crate::probe::{self, Outcome, Target};
use crate::results::{InitialFn, ObserveFn, ProbeResult, ProbeState, Thresholds};
use crate::sequence::Probed;

pub use crate::results::ProbeKind as Kind;

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Startup, Kind::Readiness, Kind::Liveness];

    /// The field of the container spec.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Startup => "startupProbe",
            Kind::Readiness => "readinessProbe",
            Kind::Liveness => "livenessProbe",
        }
    }

    /// As events print it: `Liveness probe failed: …`.
    fn label(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Readiness => "Readiness",
            Kind::Liveness => "Liveness",
        }
    }
}

/// `(container id, probe)`.
type WorkerKey = (String, Kind);

struct Worker {
    state: Arc<Mutex<ProbeState>>,
    task: tokio::task::JoinHandle<()>,
    pod_uid: String,
    /// The pod's IP, filled in when the pod's status has it (the first
    /// sync may come before the status shows the address).
    pod_ip: Arc<Mutex<Option<IpAddr>>>,
}

/// Probe figures, for `kubelab bench lifecycle`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProbeCounts {
    pub runs: u64,
    pub failures: u64,
}

/// Every probe worker of one process (all nodes' kubelets).
pub struct Prober {
    workers: Mutex<HashMap<WorkerKey, Worker>>,
    observe: ObserveFn,
    initial: InitialFn,
    counts: Arc<Mutex<ProbeCounts>>,
}

impl Prober {
    pub fn new(observe: ObserveFn, initial: InitialFn) -> Prober {
        Prober {
            workers: Mutex::default(),
            observe,
            initial,
            counts: Arc::default(),
        }
    }

    /// How many probes ran, and how many failed, since the start.
    pub fn counts(&self) -> ProbeCounts {
        *self.counts.lock().unwrap()
    }

    /// Starts workers for the pod's running containers that have probes,
    /// and stops those whose container instance is no longer running.
    pub fn sync(&self, ctx: &PodContext<'_>) {
        let uid = ctx.pod["metadata"]["uid"].as_str().unwrap_or_default();
        let pod_ip = ctx
            .pod_ip
            .or(ctx.pod["status"]["podIP"].as_str())
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let mut live = Vec::new();
        let mut workers = self.workers.lock().unwrap();
        for (c, _) in all_containers(ctx.pod) {
            let name = c["name"].as_str().unwrap_or_default();
            let running = matches!(ctx.current.get(name), Some(ContainerState::Running { .. }));
            let Some(id) = ctx.records.get(name).and_then(|r| r.id.clone()) else {
                continue;
            };
            if !running {
                continue;
            }
            for kind in Kind::ALL {
                let probe = &c[kind.field()];
                if !probe.is_object() {
                    continue;
                }
                let key = (id.clone(), kind);
                live.push(key.clone());
                if let Some(w) = workers.get(&key) {
                    if pod_ip.is_some() {
                        *w.pod_ip.lock().unwrap() = pod_ip;
                    }
                    continue;
                }
                let shared_ip = Arc::new(Mutex::new(pod_ip));
                let state = Arc::new(Mutex::new(ProbeState {
                    result: (self.initial)(kind),
                    ..Default::default()
                }));
                let job = Job {
                    kind,
                    probe: probe.clone(),
                    container: c.clone(),
                    pod: ctx.pod.clone(),
                    key: ctx.key.to_string(),
                    id: id.clone(),
                    sandbox: ctx.sandbox.to_string(),
                    pod_ip: shared_ip.clone(),
                    runtime: ctx.runtime.clone(),
                    queue: ctx.queue.clone(),
                    events: ctx.events.clone(),
                    state: state.clone(),
                    observe: self.observe,
                    counts: self.counts.clone(),
                    startup: (kind != Kind::Startup && c["startupProbe"].is_object())
                        .then(|| {
                            workers
                                .get(&(id.clone(), Kind::Startup))
                                .map(|w| w.state.clone())
                        })
                        .flatten(),
                };
                let task = tokio::spawn(job.run());
                workers.insert(
                    key,
                    Worker {
                        state,
                        task,
                        pod_uid: uid.to_string(),
                        pod_ip: shared_ip,
                    },
                );
            }
        }
        // Workers of this pod whose container instance is gone.
        workers.retain(|k, w| {
            let keep = w.pod_uid != uid || live.contains(k);
            if !keep {
                w.task.abort();
            }
            keep
        });
    }

    /// The pod is being deleted: its liveness and startup probes stop, with
    /// a verdict of Success (upstream's), so that nothing is killed or
    /// reported unhealthy while the containers shut down. Readiness goes on.
    pub fn pod_stopping(&self, uid: &str) {
        for ((_, kind), w) in self.workers.lock().unwrap().iter() {
            if w.pod_uid == uid && *kind != Kind::Readiness {
                w.task.abort();
                w.state.lock().unwrap().result = Some(ProbeResult::Success);
            }
        }
    }

    /// Stops every worker of a pod (it is gone).
    pub fn forget_pod(&self, uid: &str) {
        self.workers.lock().unwrap().retain(|_, w| {
            if w.pod_uid == uid {
                w.task.abort();
            }
            w.pod_uid != uid
        });
    }

    fn verdict(&self, id: &str, kind: Kind) -> Option<Option<ProbeResult>> {
        let workers = self.workers.lock().unwrap();
        let w = workers.get(&(id.to_string(), kind))?;
        Some(w.state.lock().unwrap().result)
    }

    /// What the probes say of container `name` (instance `id`) of `pod`,
    /// for the decision ([`next_steps`](crate::sequence::next_steps)).
    pub fn probed(&self, pod: &Value, name: &str, id: Option<&str>) -> Probed {
        let spec = all_containers(pod).find(|(c, _)| c["name"] == name);
        let has = |kind: Kind| spec.is_some_and(|(c, _)| c[kind.field()].is_object());
        let id = id.unwrap_or_default();
        let startup = self.verdict(id, Kind::Startup).flatten();
        Probed {
            started: !has(Kind::Startup) || startup == Some(ProbeResult::Success),
            startup_failed: startup == Some(ProbeResult::Failure),
            liveness_failed: self.verdict(id, Kind::Liveness).flatten()
                == Some(ProbeResult::Failure),
        }
    }

    /// `started` and `ready` of a running container with probes; `None`
    /// for one without startup and readiness probes (chapter 02's rule:
    /// running means both).
    pub fn health(&self, pod: &Value, name: &str, id: &str) -> Option<Health> {
        let (c, _) = all_containers(pod).find(|(c, _)| c["name"] == name)?;
        let (startup, readiness) = (&c["startupProbe"], &c["readinessProbe"]);
        if !startup.is_object() && !readiness.is_object() {
            return None;
        }
        let started = !startup.is_object()
            || self.verdict(id, Kind::Startup).flatten() == Some(ProbeResult::Success);
        let ready = started
            && (!readiness.is_object()
                || self.verdict(id, Kind::Readiness).flatten() == Some(ProbeResult::Success));
        Some(Health { started, ready })
    }
}

/// One worker's world.
struct Job {
    kind: Kind,
    probe: Value,
    container: Value,
    pod: Value,
    key: String,
    id: String,
    sandbox: String,
    pod_ip: Arc<Mutex<Option<IpAddr>>>,
    runtime: Arc<dyn Runtime>,
    queue: kubelab_client::WorkQueue,
    events: EventRecorder,
    state: Arc<Mutex<ProbeState>>,
    observe: ObserveFn,
    counts: Arc<Mutex<ProbeCounts>>,
    /// The startup probe's verdict, when this container has one: the
    /// other probes wait for its success.
    startup: Option<Arc<Mutex<ProbeState>>>,
}

fn seconds(v: &Value, default: u64) -> Duration {
    Duration::from_secs(v.as_u64().unwrap_or(default))
}

impl Job {
    // ANCHOR: worker
    async fn run(self) {
        let p = &self.probe;
        let period = seconds(&p["periodSeconds"], 10).max(Duration::from_secs(1));
        let timeout = seconds(&p["timeoutSeconds"], 1).max(Duration::from_secs(1));
        let thresholds = Thresholds {
            success: p["successThreshold"].as_u64().unwrap_or(1) as u32,
            failure: p["failureThreshold"].as_u64().unwrap_or(3) as u32,
        };
        tokio::time::sleep(seconds(&p["initialDelaySeconds"], 0)).await;
        let name = self.container["name"].as_str().unwrap_or_default();
        loop {
            let held = self
                .startup
                .as_ref()
                .is_some_and(|s| s.lock().unwrap().result != Some(ProbeResult::Success));
            if !held {
                let target = Target {
                    runtime: &self.runtime,
                    sandbox: &self.sandbox,
                    id: &self.id,
                    container: &self.container,
                    pod_ip: *self.pod_ip.lock().unwrap(),
                    user_agent: "kube-probe/1.33",
                };
                let outcome = probe::run(p, &target, timeout).await;
                let result = match &outcome {
                    Outcome::Success => ProbeResult::Success,
                    Outcome::Failure(_) => ProbeResult::Failure,
                };
                {
                    let mut c = self.counts.lock().unwrap();
                    c.runs += 1;
                    c.failures += u64::from(result == ProbeResult::Failure);
                }
                if let Outcome::Failure(output) = &outcome {
                    self.events.for_container(
                        &self.pod,
                        name,
                        true,
                        "Unhealthy",
                        format!("{} probe failed: {output}", self.kind.label()),
                    );
                }
                let (changed, verdict) = {
                    let mut s = self.state.lock().unwrap();
                    let changed = (self.observe)(&mut s, result, thresholds);
                    (changed, s.result)
                };
                if changed {
                    self.queue.add(&self.key);
                }
                let done = match self.kind {
                    // Started: the startup probe's work is over.
                    Kind::Startup => verdict.is_some(),
                    // About to be killed and replaced.
                    Kind::Liveness => verdict == Some(ProbeResult::Failure),
                    Kind::Readiness => false,
                };
                if done {
                    return;
                }
            }
            tokio::time::sleep(period).await;
        }
    }
    // ANCHOR_END: worker
}
