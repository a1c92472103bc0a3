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
//! create container ─▶ container_env(), container_mounts()
//! write status ─▶ pod_status()                  (podIP, hostIP)
//! remove sandbox ─▶ sandbox_removed()          (network DEL)
//! ```
//!
//! Every method has a default that adds nothing, so a plugin implements
//! only its own points. A plugin serves every node of the process; the
//! [`NodeInfo`] says which node is asking.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubelab_runtime::{Mount, RuntimeKind};
use serde_json::Value;

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

    /// Add to the status the kubelet computed (`podIP`, `hostIP`).
    fn pod_status(&self, _node: &NodeInfo, _sandbox_id: Option<&str>, _status: &mut Value) {}
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
