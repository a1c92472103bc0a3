//! Kubelet plugins: how later chapters add to every pod.
//!
//! Chapter 02's kubelet runs a pod's containers and nothing more: a pod
//! gets its own namespaces, its image's files and its spec's command and
//! environment. Everything else a pod sees comes from a later chapter,
//! through this trait:
//!
//! | chapter | plugin | adds | upstream |
//! |---|---|---|---|
//! | 03 | pod network (`kubelab-network`) | an IP, `/etc/hosts`, `resolv.conf`, Service variables | CNI `ADD`/`DEL`, the kubelet's DNS configurer and service-env code |
//! | 04 | config | ConfigMap and Secret variables and volumes | the configMap/secret volume plugins |
//! | 05 | volumes | emptyDir, hostPath, claims | volume plugins, the volume manager |
//! | 07 | lifecycle | probes, hooks | the prober manager, lifecycle handlers |
//!
//! The kubelet calls every installed plugin, in chapter order, at fixed
//! points of its pod loop ([`crate::Kubelet::reconcile`]):
//!
//! ```text
//! register node ─▶ node()                      (addresses, spec.podCIDR)
//! create sandbox ─▶ sandbox_created()          (network ADD, per-pod files)
//! every sync ─▶ prepare_pod()                   (volumes)
//! decide ─▶ pod_actions()                        (init containers, sidecars, probes)
//! create container ─▶ container_env(), env_from(), env_value(), container_mounts()
//! container started ─▶ post_start()              (postStart hook)
//! pod marked deleted ─▶ pod_stopping()          (liveness probes stop)
//! stop container ─▶ pre_stop()                   (preStop hook, before SIGTERM)
//! write status ─▶ container_health(), pod_status()  (started/ready; podIP)
//! every 2 s ─▶ eviction()                       (emptyDir over its sizeLimit)
//! remove sandbox ─▶ sandbox_removed()          (network DEL)
//! remove the pod's files ─▶ pod_removed()      (unmount a tmpfs)
//! ```
//!
//! Every method has a default that adds nothing, so a plugin implements
//! only its own points. A plugin serves every node of the process; the
//! [`NodeInfo`] says which node is asking.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use kubelab_client::{EventRecorder, WorkQueue};
use kubelab_runtime::{ContainerState, Mount, Runtime, RuntimeKind};
use serde_json::Value;

use crate::ContainerRecord;
use crate::actions::PodActions;

/// What a plugin that decides a pod's steps sees ([`KubeletPlugin::pod_actions`]):
/// the same inputs as chapter 02's [`compute_pod_actions`](crate::actions::compute_pod_actions),
/// and the kubelet's means to act later (probes run in the background).
pub struct PodContext<'a> {
    /// `namespace/name`: the key of the kubelet's work queue.
    pub key: &'a str,
    pub pod: &'a Value,
    pub sandbox: &'a str,
    pub records: &'a HashMap<String, ContainerRecord>,
    pub current: &'a HashMap<String, ContainerState>,
    /// The pod's IP as the sandbox has it (the pod's status may not show
    /// it yet).
    pub pod_ip: Option<&'a str>,
    pub now: Instant,
    pub runtime: &'a Arc<dyn Runtime>,
    /// `queue.add(key)` makes the kubelet look at the pod again.
    pub queue: &'a WorkQueue,
    pub events: &'a EventRecorder,
}

/// A container a lifecycle hook runs for ([`KubeletPlugin::post_start`],
/// [`KubeletPlugin::pre_stop`]).
pub struct HookContext<'a> {
    pub pod: &'a Value,
    /// The container's spec.
    pub container: &'a Value,
    /// Its runtime id.
    pub id: &'a str,
    pub sandbox: &'a str,
    /// The pod's IP as the sandbox has it.
    pub pod_ip: Option<&'a str>,
    pub runtime: &'a Arc<dyn Runtime>,
    pub events: &'a EventRecorder,
    /// The hook must be over by then (the grace period, for preStop).
    pub deadline: Instant,
}

/// A running container's health, as its probes say (chapter 07).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// `containerStatuses[].started`: its startup probe succeeded (or it
    /// has none).
    pub started: bool,
    /// `containerStatuses[].ready`: its readiness probe succeeded (or it
    /// has none), and it has started.
    pub ready: bool,
}

/// The node a kubelet runs, as plugins see it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `kubelab-node-1` …
    pub name: String,
    /// 1 for the first node: which share of the cluster (its pod range) it has.
    pub index: usize,
    pub runtime: RuntimeKind,
    /// `<data>/nodes/<node>`: where a plugin may keep node state.
    pub dir: PathBuf,
}

/// Why a plugin cannot give a pod or a container what it needs yet (a
/// ConfigMap that does not exist, a key missing from it). The kubelet
/// does not start the container, shows `reason` as its waiting reason, and
/// tries again a moment later — so the pod starts by itself once the
/// object appears, as upstream's pod workers do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// `CreateContainerConfigError` for a container's environment;
    /// `FailedMount` for a pod's volumes.
    pub reason: String,
    /// Upstream's words: `configmap "x" not found`.
    pub message: String,
}

impl NotReady {
    /// A container's configuration cannot be built yet.
    pub fn config(message: impl Into<String>) -> NotReady {
        NotReady {
            reason: "CreateContainerConfigError".into(),
            message: message.into(),
        }
    }

    /// A pod's volume cannot be set up yet.
    pub fn mount(message: impl Into<String>) -> NotReady {
        NotReady {
            reason: "FailedMount".into(),
            message: message.into(),
        }
    }
}

/// A pod's sandbox, right after the runtime created it.
pub struct Sandbox<'a> {
    /// The runtime's id of the sandbox.
    pub id: &'a str,
    /// Its network namespace (the linux runtime; `None` otherwise).
    pub netns: Option<&'a Path>,
    /// `<node>/pods/<uid>`: the pod's own files; absent on the fake
    /// runtime, which mounts nothing.
    pub dir: Option<&'a Path>,
}

#[async_trait::async_trait]
pub trait KubeletPlugin: Send + Sync + 'static {
    /// For events and logs: `pod-network`.
    fn name(&self) -> &'static str;

    /// The pod volume types this plugin mounts (`configMap`, `emptyDir`…).
    /// A pod with a volume no installed plugin names waits in
    /// `ContainerCreating` with a `FailedMount` event.
    fn volume_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// The node registers itself: add to its Node object (its addresses
    /// in `status.addresses`, its pod range in `spec.podCIDR`).
    fn node(&self, _node: &NodeInfo, _obj: &mut Value) {}

    /// kubelab restarted and the kubelet re-adopted these sandboxes; state
    /// kept for others (addresses of sandboxes that died) can go.
    fn readopt(&self, _node: &NodeInfo, _live_sandboxes: &[String]) {}

    /// The sandbox exists and no container runs yet: wire it up, write the
    /// pod's files. An error fails the sandbox (`FailedCreatePodSandBox`).
    async fn sandbox_created(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _sandbox: &Sandbox<'_>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// The sandbox is gone: release what it held.
    fn sandbox_removed(&self, _node: &NodeInfo, _sandbox_id: &str) {}

    /// Variables for a container, before the image's and the container's
    /// own `env` (which win).
    fn container_env(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _container: &Value,
    ) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The variables of one `envFrom` source (`{configMapRef: …}`), without
    /// its `prefix`; `None` when this plugin does not know the source.
    fn env_from(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _source: &Value,
    ) -> Option<Result<Vec<(String, String)>, NotReady>> {
        None
    }

    /// The value of one `env[].valueFrom` (`{secretKeyRef: …}`); `Ok(None)`
    /// for an optional reference to something missing; `None` when this
    /// plugin does not know the kind of reference.
    fn env_value(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _value_from: &Value,
    ) -> Option<Result<Option<String>, NotReady>> {
        None
    }

    /// Before any container of the pod starts, on every sync: make the
    /// pod's volumes ready (upstream: the volume manager's
    /// `WaitForAttachAndMount`). Must be cheap when nothing changed, and
    /// keep what is already set up. An error holds back the containers not
    /// yet started (`ContainerCreating`), with a `FailedMount` event.
    async fn prepare_pod(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _pod_dir: Option<&Path>,
    ) -> Result<(), NotReady> {
        Ok(())
    }

    /// What to mount into a container; `pod_dir` is [`Sandbox::dir`].
    fn container_mounts(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _container: &Value,
        _pod_dir: &Path,
    ) -> Vec<Mount> {
        Vec::new()
    }

    /// Asked every few seconds for each running pod (upstream: the
    /// eviction manager's local-storage checks): `Some(message)` evicts the
    /// pod — its containers are stopped at once and it fails with reason
    /// `Evicted` and this message.
    fn eviction(&self, _node: &NodeInfo, _pod: &Value, _pod_dir: &Path) -> Option<String> {
        None
    }

    /// The pod's containers and sandbox are gone and `pod_dir` is about to
    /// be removed: undo what is not just files in it (a tmpfs mounted there).
    fn pod_removed(&self, _node: &NodeInfo, _pod_uid: &str, _pod_dir: &Path) {}

    /// Add to the status the kubelet computed (`podIP`, `hostIP`).
    fn pod_status(&self, _node: &NodeInfo, _sandbox_id: Option<&str>, _status: &mut Value) {}

    /// Decide the pod's container steps instead of chapter 02's
    /// [`compute_pod_actions`](crate::actions::compute_pod_actions), which
    /// knows only `spec.containers` (chapter 07: init containers, sidecars,
    /// probes, ephemeral containers). The first plugin that answers wins.
    fn pod_actions(&self, _node: &NodeInfo, _ctx: &PodContext<'_>) -> Option<PodActions> {
        None
    }

    /// A container has just started: run its `postStart` hook. An error
    /// (upstream's `FailedPostStartHook`) kills the container.
    async fn post_start(&self, _node: &NodeInfo, _ctx: &HookContext<'_>) -> Result<(), String> {
        Ok(())
    }

    /// A container is about to get SIGTERM: run its `preStop` hook, within
    /// `ctx.deadline`.
    async fn pre_stop(&self, _node: &NodeInfo, _ctx: &HookContext<'_>) {}

    /// The pod has been marked for deletion: its containers are about to
    /// be stopped (upstream stops liveness and startup probing here).
    fn pod_stopping(&self, _node: &NodeInfo, _pod: &Value) {}

    /// The health of running container `id` (`name` in `pod`) as its
    /// probes say; `None` when this plugin does not probe it.
    fn container_health(
        &self,
        _node: &NodeInfo,
        _pod: &Value,
        _name: &str,
        _id: &str,
    ) -> Option<Health> {
        None
    }
}

/// The plugins of the installed chapters, in chapter order: a slot of the
/// cluster builder that chapters fill and the kubelets read.
#[derive(Default, Clone)]
pub struct KubeletPlugins(pub Vec<Arc<dyn KubeletPlugin>>);

impl KubeletPlugins {
    pub fn add(&mut self, plugin: Arc<dyn KubeletPlugin>) -> &mut Self {
        self.0.push(plugin);
        self
    }
}
