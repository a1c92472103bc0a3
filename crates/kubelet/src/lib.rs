//! # kubelab-kubelet — the agent on every node (chapter 02)
//!
//! The scheduler only writes a node's name into a pod. Everything after
//! that is the **kubelet** of that node: it sees the pod (a watch on pods
//! with `spec.nodeName=<me>`), asks the container runtime to create the
//! pod's sandbox and containers, watches them, restarts them according to
//! `restartPolicy`, and reports back in `pod.status`. It also registers
//! its `Node` and keeps a `Lease` fresh ([`node`]), and serves logs, exec,
//! attach and port-forward to the API server ([`streams`]).
//!
//! The pod loop is the same controller pattern as every other loop in
//! kubelab: a change to a pod, or to one of its containers (noticed by
//! the "pod lifecycle event generator", a relist of the runtime every
//! second), queues the pod's key, and [`Kubelet::reconcile`] makes the
//! containers match the spec, then writes the status.
//!
//! ```text
//!  Pending ──sandbox, containers created──▶ Running ──all exited──▶ Succeeded / Failed
//!     │  waiting: ContainerCreating,            │  (restartPolicy Never/OnFailure)
//!     │  ErrImageNeverPull, CreateContainerError│
//!     │                                         └─exited, restartPolicy Always/OnFailure──▶
//!     │                                            waiting: CrashLoopBackOff (10 s, 20 s … 5 min)
//! ```
//!
//! ## Where to start reading
//! [`Kubelet::reconcile`]: the sandbox, then the pod's containers in two
//! halves — [`actions::compute_pod_actions`] decides (a pure function:
//! restart policies, CrashLoopBackOff) and `Kubelet::execute` does it.
//! Then [`status`] for how the status is computed.

pub mod actions;
pub mod env;
pub mod eviction;
pub mod node;
pub mod nodes;
pub mod plugin;
pub mod router;
pub mod server;
pub mod spec;
pub mod status;
pub mod streams;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubelab_client::informer::{Informer, key_of};
use kubelab_client::{Action, Client, Error, EventRecorder, Reconciler, WorkQueue, rest as client};
use kubelab_runtime::{ContainerState, PodSandboxConfig, Runtime};
pub use nodes::{NodeOptions, Nodes, images, install, node_dir, node_name};
pub use plugin::{KubeletPlugin, KubeletPlugins, NodeInfo};
use serde_json::{Value, json};

/// What a kubelet is told about its node.
pub struct NodeConfig {
    pub node: NodeInfo,
    pub runtime: Arc<dyn Runtime>,
    pub cpu_millis: u64,
    pub memory: u64,
    pub max_pods: u64,
    /// Per-pod files (`/etc/hosts`), `<data>/nodes/<node>/pods`.
    pub pod_dir: PathBuf,
    /// What later chapters add to every pod ([`plugin`]).
    pub plugins: KubeletPlugins,
}

/// The longest CrashLoopBackOff wait (upstream: 5 minutes).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The wait before the next restart: none the first time, then 10 s,
/// doubling each time, never more than [`MAX_BACKOFF`].
// ANCHOR: backoff
pub fn next_backoff(previous: Duration) -> Duration {
    if previous.is_zero() {
        Duration::from_secs(10)
    } else {
        (previous * 2).min(MAX_BACKOFF)
    }
}
// ANCHOR_END: backoff

/// A replaceable back-off function (lab 02 plugs its own in here).
pub type BackoffFn = fn(Duration) -> Duration;

/// The waits before each of the first `restarts` restarts of a container
/// that keeps crashing, as [`actions::compute_pod_actions`] and
/// `Kubelet::execute` apply them: the first restart waits the initial
/// back-off (none), and after each crash the back-off becomes
/// `backoff(previous)`.
pub fn restart_schedule(backoff: BackoffFn, restarts: usize) -> Vec<Duration> {
    let mut current = Duration::ZERO;
    let mut waits = Vec::with_capacity(restarts);
    for _ in 0..restarts {
        waits.push(current);
        current = backoff(current);
    }
    waits
}

/// What the kubelet remembers about one container of a pod.
#[derive(Debug, Clone, Default)]
pub struct ContainerRecord {
    /// The runtime's id of the current container, if one was created.
    pub id: Option<String>,
    /// The one before (for `kubectl logs --previous` and `lastState`).
    pub previous_id: Option<String>,
    pub restart_count: u32,
    /// The wait applied before the next restart.
    pub backoff: Duration,
    /// When the next restart may happen (while in CrashLoopBackOff).
    pub restart_at: Option<Instant>,
    /// Why it is not running, when the runtime cannot say (image missing…).
    pub waiting: Option<(String, String)>,
}

/// What the kubelet remembers about one pod.
#[derive(Debug, Clone, Default)]
pub struct PodRecord {
    pub uid: String,
    pub sandbox: Option<String>,
    pub containers: HashMap<String, ContainerRecord>,
    pub start_time: String,
    pub terminating: bool,
    /// Evicted by the kubelet ([`eviction`]), with the reason's message:
    /// its containers are stopped and not restarted; the pod has failed.
    pub evicted: Option<String>,
}

pub struct Kubelet {
    pub config: NodeConfig,
    client: Client,
    /// Pods bound to this node (a shared informer, filtered by node name).
    pods: Informer,
    pub(crate) events: EventRecorder,
    pub(crate) state: Mutex<HashMap<String, PodRecord>>,
    /// container id → the state the PLEG saw last.
    seen: Mutex<HashMap<String, &'static str>>,
    queue: WorkQueue,
    boot_id: String,
    backoff: BackoffFn,
    /// Ourselves, for work spawned from `&self` (termination).
    me: std::sync::Weak<Kubelet>,
    /// Set when kubelab shuts down: start nothing new.
    stopping: std::sync::atomic::AtomicBool,
    /// The machine is "down" (`kubelab node stop`, chapter 06): no
    /// heartbeats, no status, no containers, until `kubelab node start`.
    down: std::sync::atomic::AtomicBool,
    /// The node's `InternalIP` as registered (pods' `status.hostIP`).
    pub(crate) node_ip: Mutex<String>,
}

fn state_name(s: &ContainerState) -> &'static str {
    match s {
        ContainerState::Created => "created",
        ContainerState::Running { .. } => "running",
        ContainerState::Exited { .. } => "exited",
    }
}

fn my_pod(pod: &Value, node: &str) -> bool {
    pod["spec"]["nodeName"].as_str() == Some(node)
}

impl Kubelet {
    /// Registers the node, re-adopts what the runtime still runs, and
    /// starts the pod workers, the PLEG and the heartbeat.
    pub async fn start(
        client: &Client,
        router: &router::PodRouter,
        config: NodeConfig,
        backoff: Option<BackoffFn>,
    ) -> Result<Arc<Kubelet>, Error> {
        let client = client.named(&format!("kubelet/{}", config.node.name));
        std::fs::create_dir_all(&config.pod_dir)?;
        let k = Arc::new_cyclic(|me| Kubelet {
            me: me.clone(),
            events: EventRecorder::new(&client, "kubelet", Some(&config.node.name)),
            client,
            pods: router.pods.clone(),
            state: Mutex::default(),
            seen: Mutex::default(),
            queue: WorkQueue::new(),
            boot_id: kubelab_runtime::new_id(),
            backoff: backoff.unwrap_or(next_backoff),
            stopping: Default::default(),
            down: Default::default(),
            node_ip: Mutex::new("127.0.0.1".into()),
            config,
        });
        k.register().await?;
        k.renew_lease().await?;
        k.readopt().await?;
        // Only this node's pods arrive (the router filters by nodeName,
        // as the API server does for a real kubelet's field selector).
        let name = k.config.node.name.clone();
        kubelab_client::feed_from(router.subscribe(&name), &k.queue, |change| {
            vec![key_of(change.object())]
        });
        // Once the cache is filled, anything the runtime runs for a pod
        // that no longer exists is removed.
        let me = k.clone();
        tokio::spawn(async move {
            me.pods.synced().await;
            let keys: Vec<String> = me.state.lock().unwrap().keys().cloned().collect();
            for key in keys {
                me.queue.add(&key);
            }
        });
        tokio::spawn(kubelab_client::run(k.clone(), k.queue.clone(), 8));
        tokio::spawn(k.clone().pleg());
        tokio::spawn(k.clone().heartbeat());
        tokio::spawn(k.clone().eviction_manager());
        tokio::spawn(k.clone().power_switch());
        Ok(k)
    }

    /// After a restart of kubelab: rebuild the records from what the
    /// runtime still has, so running containers are kept, not duplicated.
    async fn readopt(&self) -> Result<(), Error> {
        let sandboxes = self.config.runtime.list_pod_sandboxes().await?;
        let containers = self.config.runtime.list_containers().await?;
        let mut state = self.state.lock().unwrap();
        for s in sandboxes {
            let key = format!("{}/{}", s.config.namespace, s.config.name);
            let rec = state.entry(key).or_default();
            rec.uid = s.config.pod_uid.clone();
            rec.sandbox = Some(s.id.clone());
            rec.start_time = kubelab_api::meta::now();
        }
        // What plugins hold for sandboxes that did not survive goes.
        let live: Vec<String> = state.values().filter_map(|r| r.sandbox.clone()).collect();
        for p in &self.config.plugins.0 {
            p.readopt(&self.config.node, &live);
        }
        let mut containers = containers;
        containers.sort_by_key(|c| c.config.attempt);
        for c in containers {
            let key = format!("{}/{}", c.config.pod_namespace, c.config.pod_name);
            let Some(rec) = state.get_mut(&key).filter(|r| r.uid == c.config.pod_uid) else {
                continue;
            };
            let cr = rec.containers.entry(c.config.name.clone()).or_default();
            cr.previous_id = cr.id.take();
            cr.id = Some(c.id.clone());
            cr.restart_count = c.config.attempt;
        }
        if !state.is_empty() {
            tracing::info!(
                "{}: re-adopted {} pods from the runtime",
                self.config.node.name,
                state.len()
            );
        }
        Ok(())
    }

    /// The Pod Lifecycle Event Generator: every second, ask the runtime
    /// what its containers are doing and queue the pods whose containers
    /// changed (started, exited).
    async fn pleg(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let ids: Vec<(String, String)> = {
                let state = self.state.lock().unwrap();
                state
                    .iter()
                    .flat_map(|(k, r)| {
                        r.containers
                            .values()
                            .filter_map(|c| c.id.clone())
                            .map(move |id| (k.clone(), id))
                    })
                    .collect()
            };
            for (key, id) in ids {
                let Ok(s) = self.config.runtime.container_status(&id).await else {
                    continue;
                };
                let now = state_name(&s.state);
                let changed = self.seen.lock().unwrap().insert(id, now) != Some(now);
                if changed {
                    self.queue.add(&key);
                }
            }
        }
    }

    /// The pod's IP, from the plugins that give the sandbox one (chapter
    /// 03's network), before the pod's status shows it.
    pub(crate) fn sandbox_ip(&self, sandbox: Option<&str>) -> Option<String> {
        let mut status = json!({});
        for p in &self.config.plugins.0 {
            p.pod_status(&self.config.node, sandbox, &mut status);
        }
        status["podIP"].as_str().map(String::from)
    }

    async fn is_running(&self, id: &str) -> bool {
        matches!(
            self.config
                .runtime
                .container_status(id)
                .await
                .map(|s| s.state),
            Ok(ContainerState::Running { .. })
        )
    }

    pub(crate) fn pod_dir(&self, uid: &str) -> PathBuf {
        self.config.pod_dir.join(uid)
    }

    /// Stops and removes everything of a pod record.
    async fn kill_pod(&self, key: &str, rec: &PodRecord, grace: Duration) {
        let rt = &self.config.runtime;
        for c in rec.containers.values() {
            for id in c.id.iter().chain(c.previous_id.iter()) {
                let _ = rt.stop_container(id, grace).await;
                let _ = rt.remove_container(id).await;
                self.seen.lock().unwrap().remove(id);
            }
        }
        if let Some(s) = &rec.sandbox {
            let _ = rt.remove_pod_sandbox(s).await;
            for p in &self.config.plugins.0 {
                p.sandbox_removed(&self.config.node, s);
            }
        }
        // Plugins undo what lives outside the pod's directory (mounts).
        for p in &self.config.plugins.0 {
            p.pod_removed(&self.config.node, &rec.uid, &self.pod_dir(&rec.uid));
        }
        let _ = std::fs::remove_dir_all(self.pod_dir(&rec.uid));
        let mut state = self.state.lock().unwrap();
        if state.get(key).is_some_and(|r| r.uid == rec.uid) {
            state.remove(key);
        }
    }

    /// Graceful deletion: SIGTERM, up to the grace period, SIGKILL; then
    /// the final status, and the pod is deleted for good (grace 0).
    async fn terminate(self: Arc<Self>, key: String, pod: Arc<Value>) {
        let grace = actions::grace_period(&pod);
        let start = Instant::now();
        let rec = self
            .state
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_default();
        let sandbox = rec.sandbox.clone().unwrap_or_default();
        // App and debug containers first, all at once, each with its
        // preStop hook; then the sidecars one by one in reverse order, with
        // what is left of the grace period (upstream 1.33's order), so a
        // sidecar (a proxy, a log shipper) outlives what it serves.
        let running = |name: &str| rec.containers.get(name).and_then(|c| c.id.clone());
        let mut sidecars = Vec::new();
        let mut first = Vec::new();
        for (c, kind) in spec::all_containers(&pod) {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let Some(id) = running(&name) else { continue };
            match kind {
                spec::ContainerKind::Sidecar => sidecars.push((name, id)),
                spec::ContainerKind::Init => {
                    let _ = self
                        .config
                        .runtime
                        .stop_container(&id, Duration::ZERO)
                        .await;
                }
                _ => first.push((name, id)),
            }
        }
        let me = &*self;
        let stop = |name: String, id: String, grace: Duration| {
            let (pod, sandbox) = (&pod, &sandbox);
            async move {
                let me = me;
                // A container that is not running gets no preStop hook.
                if !me.is_running(&id).await {
                    let _ = me.config.runtime.stop_container(&id, Duration::ZERO).await;
                    return;
                }
                me.events.for_container(
                    pod,
                    &name,
                    false,
                    "Killing",
                    format!("Stopping container {name}"),
                );
                me.stop_with_hooks(pod, &name, &id, sandbox, grace).await;
            }
        };
        futures::future::join_all(first.into_iter().map(|(n, id)| (stop)(n, id, grace))).await;
        for (name, id) in sidecars.into_iter().rev() {
            // What is left of the grace period, but 2 s at least (upstream).
            let left = grace
                .saturating_sub(start.elapsed())
                .max(Duration::from_secs(2).min(grace));
            stop(name, id, left).await;
        }
        // The last status: every container terminated.
        let _ = self.write_status(&key, &pod).await;
        let path = client::object_path(&pod);
        let opts =
            json!({"gracePeriodSeconds": 0, "preconditions": {"uid": pod["metadata"]["uid"]}});
        if let Err(e) = self.client.delete(&path, &opts).await
            && !e.is_not_found()
            && !e.is_conflict()
        {
            tracing::warn!("{key}: final delete: {e}");
        }
        self.kill_pod(&key, &rec, Duration::ZERO).await;
    }
}

#[async_trait::async_trait]
impl Reconciler for Kubelet {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        if self.is_stopping() || self.is_down() {
            return Ok(Action::Done);
        }
        let pod = self
            .pods
            .get(key)
            .filter(|p| my_pod(p, &self.config.node.name));
        let record = self.state.lock().unwrap().get(key).cloned();

        // A pod we run that is gone from the API (or replaced by another
        // pod of the same name): stop everything of it.
        if let Some(rec) = &record
            && pod
                .as_ref()
                .is_none_or(|p| p["metadata"]["uid"] != rec.uid.as_str())
            && !rec.terminating
        {
            self.kill_pod(key, rec, Duration::from_secs(2)).await;
        }
        let Some(pod) = pod else {
            return Ok(Action::Done);
        };
        let uid = pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();

        // Being deleted: terminate gracefully, in the background.
        if kubelab_api::meta::is_being_deleted(&pod) {
            let start = {
                let mut state = self.state.lock().unwrap();
                let rec = state.entry(key.to_string()).or_insert_with(|| PodRecord {
                    uid: uid.clone(),
                    ..Default::default()
                });
                !std::mem::replace(&mut rec.terminating, true)
            };
            if start {
                for p in &self.config.plugins.0 {
                    p.pod_stopping(&self.config.node, &pod);
                }
                let me = self.self_arc();
                tokio::spawn(me.terminate(key.to_string(), pod.clone()));
            }
            return Ok(Action::Done);
        }
        if kubelab_api::pod::is_terminal(&pod) && record.is_none() {
            return Ok(Action::Done); // finished before we (re)started
        }
        // Evicted: nothing runs again; only the status is kept current.
        if record
            .as_ref()
            .is_some_and(|r| r.uid == uid && r.evicted.is_some())
        {
            self.write_status(key, &pod).await?;
            return Ok(Action::Done);
        }

        // Later chapters' volumes first (upstream: WaitForAttachAndMount
        // before the sandbox): a pod whose volume cannot be set up gets no
        // sandbox and no address yet.
        if let Err(wait) = self.prepare_pod(&pod, &uid).await {
            self.events.warning(&pod, &wait.reason, wait.message);
            self.write_status(key, &pod).await?;
            return Ok(Action::RequeueAfter(Duration::from_secs(1)));
        }
        // 1. The sandbox: the pod's own namespaces, created once.
        let sandbox = self
            .ensure_sandbox(key, &pod, &uid, record.as_ref())
            .await?;
        // 2. What the kubelet remembers, and what the runtime runs now.
        let (records, current) = self.observe_containers(key).await;
        // 3. Decide — a pure function, see `actions` (or chapter 07's,
        //    which knows init containers, sidecars and probes).
        let now = Instant::now();
        let pod_ip = self.sandbox_ip(Some(&sandbox));
        let ctx = plugin::PodContext {
            key,
            pod: &pod,
            sandbox: &sandbox,
            records: &records,
            current: &current,
            pod_ip: pod_ip.as_deref(),
            now,
            runtime: &self.config.runtime,
            queue: &self.queue,
            events: &self.events,
        };
        let decided = self
            .config
            .plugins
            .0
            .iter()
            .find_map(|p| p.pod_actions(&self.config.node, &ctx));
        let actions =
            decided.unwrap_or_else(|| actions::compute_pod_actions(&pod, &records, &current, now));
        // A kill waits out the grace period: report what is true before
        // (the app container that finished, while its sidecar stops).
        if actions
            .steps
            .iter()
            .any(|s| matches!(s, actions::Step::Kill { .. }))
        {
            self.write_status(key, &pod).await?;
        }
        // 4. Do: start, create, back off; retries come back as a requeue.
        let requeue = self.execute(key, &pod, &sandbox, actions).await?;
        // 5. Report what is now true.
        self.write_status(key, &pod).await?;
        Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
    }
    // ANCHOR_END: reconcile
}

impl Kubelet {
    /// Every plugin's `prepare_pod` (volumes), in chapter order.
    async fn prepare_pod(&self, pod: &Value, uid: &str) -> Result<(), plugin::NotReady> {
        if kubelab_api::pod::is_terminal(pod) {
            return Ok(());
        }
        // A volume of a type no installed chapter mounts (upstream: "no
        // volume plugin matched").
        for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            let Some(kind) = v.as_object().and_then(|m| m.keys().find(|k| *k != "name")) else {
                continue;
            };
            let served = self
                .config
                .plugins
                .0
                .iter()
                .any(|p| p.volume_types().contains(&kind.as_str()));
            if !served {
                return Err(plugin::NotReady::mount(format!(
                    "MountVolume.SetUp failed for volume \"{}\" : no volume plugin matched: no installed chapter mounts {kind} volumes",
                    v["name"].as_str().unwrap_or_default()
                )));
            }
        }
        if self.config.plugins.0.is_empty() {
            return Ok(());
        }
        let dir = self.pod_dir(uid);
        // Files the containers mount; the fake runtime mounts nothing.
        let mounts = self.config.runtime.kind() != kubelab_runtime::RuntimeKind::Fake;
        if mounts {
            std::fs::create_dir_all(&dir).map_err(|e| plugin::NotReady::mount(e.to_string()))?;
        }
        let dir = mounts.then_some(dir.as_path());
        for p in &self.config.plugins.0 {
            p.prepare_pod(&self.config.node, pod, dir).await?;
        }
        Ok(())
    }

    /// Stops starting anything (kubelab is shutting down and is about to
    /// remove every container): a container started after that removal
    /// would outlive kubelab.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Is the machine down (`kubelab node stop`)?
    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The running containers of this node: `(pod key, pod uid, container
    /// name, container id)`, for the metrics pipeline (chapter 06), as the
    /// kubelet's `/metrics/resource` lists them for metrics-server.
    pub fn containers(&self) -> Vec<(String, String, String, String)> {
        let state = self.state.lock().unwrap();
        state
            .iter()
            .filter(|(_, r)| r.sandbox.is_some() && !r.terminating)
            .flat_map(|(k, r)| {
                r.containers.iter().filter_map(move |(name, c)| {
                    Some((k.clone(), r.uid.clone(), name.clone(), c.id.clone()?))
                })
            })
            .collect()
    }

    /// The network namespace of a pod this kubelet runs (`namespace/name`),
    /// for tools that send traffic from inside a pod (benchmarks).
    pub fn pod_netns(&self, key: &str) -> Option<PathBuf> {
        let sandbox = self.state.lock().unwrap().get(key)?.sandbox.clone()?;
        self.config.runtime.sandbox_netns(&sandbox)
    }

    fn self_arc(&self) -> Arc<Kubelet> {
        self.me
            .upgrade()
            .expect("the kubelet is alive while it reconciles")
    }
}

impl Kubelet {
    /// The pod's sandbox: the one it has, or a new one (upstream: the
    /// `CreateSandbox` of `podActions`, decided from the same fact — no
    /// sandbox for this pod's uid yet).
    async fn ensure_sandbox(
        &self,
        key: &str,
        pod: &Value,
        uid: &str,
        record: Option<&PodRecord>,
    ) -> Result<String, Error> {
        match record
            .filter(|r| r.uid == uid)
            .and_then(|r| r.sandbox.clone())
        {
            Some(s) => Ok(s),
            None => self.create_sandbox(key, pod, uid).await,
        }
    }

    /// Asks the runtime for the pod's namespaces, lets the kubelet plugins
    /// set them up (`sandbox_created`: the network, the pod's files), and
    /// starts a fresh record for the pod. If a plugin fails, the sandbox
    /// is removed again and the next pass starts over.
    async fn create_sandbox(&self, key: &str, pod: &Value, uid: &str) -> Result<String, Error> {
        let dir = self.pod_dir(uid);
        // Files the containers mount; the fake runtime mounts nothing.
        let mounts = self.config.runtime.kind() != kubelab_runtime::RuntimeKind::Fake;
        if mounts {
            std::fs::create_dir_all(&dir)?;
        }
        let cfg = PodSandboxConfig {
            pod_uid: uid.to_string(),
            name: pod["metadata"]["name"].as_str().unwrap_or_default().into(),
            namespace: pod["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .into(),
            hostname: spec::hostname(pod).into(),
            share_pid: pod["spec"]["shareProcessNamespace"] == true,
        };
        let id = match self.config.runtime.run_pod_sandbox(&cfg).await {
            Ok(id) => id,
            Err(e) => {
                self.events.warning(
                    pod,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {e}"),
                );
                return Err(e.into());
            }
        };
        // The plugins' turn: the pod network (CNI ADD), the pod's files.
        let netns = self.config.runtime.sandbox_netns(&id);
        let sandbox = plugin::Sandbox {
            id: &id,
            netns: netns.as_deref(),
            dir: mounts.then_some(dir.as_path()),
        };
        for p in &self.config.plugins.0 {
            if let Err(e) = p.sandbox_created(&self.config.node, pod, &sandbox).await {
                let _ = self.config.runtime.remove_pod_sandbox(&id).await;
                for q in &self.config.plugins.0 {
                    q.sandbox_removed(&self.config.node, &id);
                }
                self.events.warning(
                    pod,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {e}"),
                );
                return Err(e.into());
            }
        }
        let mut state = self.state.lock().unwrap();
        let rec = state.entry(key.to_string()).or_default();
        *rec = PodRecord {
            uid: uid.to_string(),
            sandbox: Some(id.clone()),
            start_time: kubelab_api::meta::now(),
            ..Default::default()
        };
        Ok(id)
    }

    /// The kubelet's records of the pod's containers, and the runtime's
    /// state of each one's current instance (upstream: the `PodStatus`
    /// that `SyncPod` gets from the runtime before it decides). A
    /// container the runtime no longer knows is left out: it is gone.
    async fn observe_containers(
        &self,
        key: &str,
    ) -> (
        HashMap<String, ContainerRecord>,
        HashMap<String, ContainerState>,
    ) {
        let records = self
            .state
            .lock()
            .unwrap()
            .get(key)
            .map(|r| r.containers.clone())
            .unwrap_or_default();
        let mut current = HashMap::new();
        for (name, rec) in &records {
            let Some(id) = &rec.id else { continue };
            if let Ok(s) = self.config.runtime.container_status(id).await {
                current.insert(name.clone(), s.state);
            }
        }
        (records, current)
    }

    fn container_record(&self, key: &str, name: &str) -> ContainerRecord {
        self.state
            .lock()
            .unwrap()
            .get(key)
            .and_then(|r| r.containers.get(name).cloned())
            .unwrap_or_default()
    }

    fn update_container(&self, key: &str, name: &str, f: impl FnOnce(&mut ContainerRecord)) {
        let mut state = self.state.lock().unwrap();
        if let Some(r) = state.get_mut(key) {
            f(r.containers.entry(name.to_string()).or_default());
        }
    }

    /// Computes the pod's status from the runtime and writes it if it changed.
    pub(crate) async fn write_status(&self, key: &str, pod: &Value) -> Result<(), Error> {
        if self.is_down() {
            return Ok(());
        }
        let record = self
            .state
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default();
        let mut observed = HashMap::new();
        let pod_dir = self.pod_dir(pod["metadata"]["uid"].as_str().unwrap_or_default());
        for (name, c) in &record.containers {
            let spec = spec::find_container(pod, name)
                .map(|(c, _)| c.clone())
                .unwrap_or_default();
            let read = |s: Option<kubelab_runtime::ContainerStatus>| {
                s.map(|mut s| {
                    status::termination_message(&pod_dir, &spec, &mut s);
                    s
                })
            };
            let cur = match &c.id {
                Some(id) => read(self.config.runtime.container_status(id).await.ok()),
                None => None,
            };
            let prev = match &c.previous_id {
                Some(id) => read(self.config.runtime.container_status(id).await.ok()),
                None => None,
            };
            if let Some(s) = &cur {
                self.seen
                    .lock()
                    .unwrap()
                    .insert(s.id.clone(), state_name(&s.state));
            }
            observed.insert(name.clone(), (c.clone(), cur, prev));
        }
        let host_ip = self.node_ip.lock().unwrap().clone();
        let node = &self.config.node;
        let health = |name: &str, id: &str| {
            self.config
                .plugins
                .0
                .iter()
                .find_map(|p| p.container_health(node, pod, name, id))
        };
        let mut new = status::pod_status(pod, &record, &observed, &host_ip, &health);
        for p in &self.config.plugins.0 {
            p.pod_status(&self.config.node, record.sandbox.as_deref(), &mut new);
        }
        if status::same(&pod["status"], &new) {
            return Ok(());
        }
        let mut updated = pod.clone();
        updated["status"] = new;
        match self
            .client
            .replace(&format!("{}/status", client::object_path(pod)), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
