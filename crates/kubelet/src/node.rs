//! The Node object and its Lease: how the control plane knows a kubelet
//! is alive.
//!
//! At start the kubelet creates (or updates) its `Node`: what the machine
//! has (`capacity`), what pods may use (`allocatable`), its addresses,
//! versions, and conditions (`Ready`, `MemoryPressure`, …). Then, every
//! 10 seconds, it renews a `Lease` named after the node in the
//! `kube-node-lease` namespace — a tiny object, so heartbeats are cheap —
//! and refreshes the Node's status every minute or when it changes.

use std::time::Duration;

use kubelab_client::rest as client;
use serde_json::{Value, json};

use crate::Kubelet;

/// How often the Lease is renewed (upstream: every 10 s, 40 s duration).
pub const LEASE_RENEW: Duration = Duration::from_secs(10);
pub const LEASE_DURATION_SECONDS: i64 = 40;

/// The kubelet version we report (upstream's form, with our suffix).
pub const KUBELET_VERSION: &str = "v1.33.0-kubelab";

impl Kubelet {
    fn node_status(&self, heartbeat: &str, transitions: &Value) -> Value {
        let c = &self.config;
        let cap = json!({
            "cpu": format!("{}m", c.cpu_millis),
            "memory": format!("{}Ki", c.memory / 1024),
            "pods": c.max_pods.to_string(),
            "ephemeral-storage": "10Gi",
        });
        let condition = |t: &str, status: &str, reason: &str, msg: &str| {
            let since = kubelab_api::meta::transition_time(transitions, t, status, heartbeat);
            json!({"type": t, "status": status, "lastHeartbeatTime": heartbeat, "lastTransitionTime": since, "reason": reason, "message": msg})
        };
        let uname = nix::sys::utsname::uname().ok();
        let kernel = uname
            .as_ref()
            .map(|u| u.release().to_string_lossy().to_string())
            .unwrap_or_default();
        let os_image = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("PRETTY_NAME=")
                        .map(|v| v.trim_matches('"').to_string())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        let images: Vec<Value> = c
            .runtime
            .images()
            .list()
            .into_iter()
            .map(|(name, img)| json!({"names": [name], "sizeBytes": img.size}))
            .collect();
        json!({
            "capacity": cap, "allocatable": cap,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                // Without a pod network (chapter 03) a node has only its loopback.
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": c.node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": c.node.name, "systemUUID": c.node.name, "bootID": self.boot_id,
                "kernelVersion": kernel, "osImage": os_image,
                "containerRuntimeVersion": c.runtime.kind().version_string(),
                "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux", "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
            },
            "images": images,
        })
    }

    /// What the kubelet plugins add to the Node (chapter 03: its address
    /// and pod range); remembers the address pods report as `hostIP`.
    fn with_plugins(&self, mut node: Value) -> Value {
        for p in &self.config.plugins.0 {
            p.node(&self.config.node, &mut node);
        }
        let internal = node["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == "InternalIP")
            .and_then(|a| a["address"].as_str());
        if let Some(ip) = internal {
            *self.node_ip.lock().unwrap() = ip.to_string();
        }
        node
    }

    /// Creates our Node, or brings an existing one up to date.
    pub(crate) async fn register(&self) -> Result<(), client::ApiError> {
        let nodes = client::resource("v1", "Node");
        let path = client::path(nodes, None, Some(&self.config.node.name));
        let now = kubelab_api::meta::now();
        let c = &self.config;
        let mut annotations = json!({"node.alpha.kubernetes.io/ttl": "0"});
        if c.runtime.kind() == kubelab_runtime::RuntimeKind::Process {
            annotations["kubelab.dev/isolation"] = json!(
                "none: the process runtime runs containers as plain processes of this host: no namespaces, no cgroups (no limits), no mounts (no volumes, /etc/hosts, /etc/hostname, readOnlyRootFilesystem or masked /proc); of a securityContext it applies capabilities (as root), seccompProfile, allowPrivilegeEscalation, and runAsUser/runAsGroup/supplementalGroups when kubelab runs as root"
            );
        }
        match self.client.get(&path).await {
            Ok(existing) => {
                let mut n = existing.clone();
                n["status"] = self.node_status(&now, &existing["status"]["conditions"]);
                let n = self.with_plugins(n);
                self.client.replace(&format!("{path}/status"), &n).await?;
            }
            Err(e) if e.is_not_found() => {
                let arch = std::env::consts::ARCH
                    .replace("x86_64", "amd64")
                    .replace("aarch64", "arm64");
                let node = json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {
                        "name": c.node.name,
                        "labels": {
                            "kubernetes.io/hostname": c.node.name, "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                            "beta.kubernetes.io/arch": arch, "kubelab.dev/runtime": c.runtime.kind().as_str(),
                        },
                        "annotations": annotations,
                    },
                    "spec": {},
                });
                let node = self.with_plugins(node);
                let created = self
                    .client
                    .create(&client::path(nodes, None, None), &node)
                    .await?;
                let mut n = created.clone();
                n["status"] = self.node_status(&now, &Value::Null);
                let n = self.with_plugins(n);
                self.client.replace(&format!("{path}/status"), &n).await?;
                self.events
                    .normal(&created, "Starting", "Starting kubelet.");
                self.events.normal(
                    &created,
                    "NodeReady",
                    format!("Node {} status is now: NodeReady", c.node.name),
                );
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Renews the Lease (creating it the first time).
    pub(crate) async fn renew_lease(&self) -> Result<(), client::ApiError> {
        let leases = client::resource("coordination.k8s.io/v1", "Lease");
        let path = client::path(
            leases,
            Some("kube-node-lease"),
            Some(&self.config.node.name),
        );
        let now = kubelab_api::meta::now_micro();
        match self.client.get(&path).await {
            Ok(mut lease) => {
                lease["spec"]["renewTime"] = json!(now);
                lease["spec"]["holderIdentity"] = json!(self.config.node.name);
                self.client.replace(&path, &lease).await?;
            }
            Err(e) if e.is_not_found() => {
                let node = self
                    .client
                    .get(&client::path(
                        client::resource("v1", "Node"),
                        None,
                        Some(&self.config.node.name),
                    ))
                    .await?;
                let lease = json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.config.node.name, "namespace": "kube-node-lease",
                                 "ownerReferences": [client::owner_reference(&node, false)]},
                    "spec": {"holderIdentity": self.config.node.name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now},
                });
                self.client
                    .create(&client::path(leases, Some("kube-node-lease"), None), &lease)
                    .await?;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Heartbeats until the kubelet stops.
    pub(crate) async fn heartbeat(self: std::sync::Arc<Self>) {
        let mut tick = 0u64;
        loop {
            tokio::time::sleep(LEASE_RENEW).await;
            if self.is_down() {
                continue;
            }
            if let Err(e) = self.renew_lease().await {
                tracing::debug!("{}: lease: {e}", self.config.node.name);
            }
            tick += 1;
            if tick.is_multiple_of(6)
                && let Err(e) = self.register().await
            {
                tracing::debug!("{}: node status: {e}", self.config.node.name);
            }
        }
    }
}

/// The file `kubelab node stop` creates in the node's folder.
pub const STOPPED_MARKER: &str = "stopped";
/// Where the kubelet says it is down or up (`down` / `up`), for
/// `kubelab node stop|start` to wait on.
pub const POWER_STATE: &str = "power";

impl Kubelet {
    /// The node's folder, `<data>/nodes/<node>`.
    fn node_dir(&self) -> std::path::PathBuf {
        self.config
            .pod_dir
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| self.config.pod_dir.clone())
    }

    /// Chapter 06's power switch: a machine dying and coming back.
    ///
    /// `kubelab node stop NAME` leaves a `stopped` file in the node's
    /// folder; within half a second the kubelet kills every container of
    /// the node and goes silent — no Lease renewals, no status — as a
    /// machine that lost power would. The control plane only notices
    /// through the missing heartbeats (the node lifecycle controller).
    /// `kubelab node start` removes the file: the kubelet registers and
    /// heartbeats again and looks at each of its pods afresh: those deleted
    /// meanwhile are finished off, the others get their containers back.
    pub(crate) async fn power_switch(self: std::sync::Arc<Self>) {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = self.node_dir();
        let _ = std::fs::write(dir.join(POWER_STATE), "up");
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if self.is_stopping() {
                return;
            }
            let stopped = dir.join(STOPPED_MARKER).exists();
            if stopped == self.is_down() {
                continue;
            }
            if stopped {
                self.down.store(true, SeqCst);
                let records: Vec<(String, crate::PodRecord)> = self
                    .state
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(k, r)| (k.clone(), r.clone()))
                    .collect();
                for (key, rec) in &records {
                    self.kill_pod(key, rec, Duration::ZERO).await;
                }
                tracing::info!(
                    "{}: powered off ({} pods' containers killed)",
                    self.config.node.name,
                    records.len()
                );
                let _ = std::fs::write(dir.join(POWER_STATE), "down");
            } else {
                self.down.store(false, SeqCst);
                if let Err(e) = self.register().await {
                    tracing::warn!("{}: registering: {e}", self.config.node.name);
                }
                let _ = self.renew_lease().await;
                for pod in self.pods.list(None) {
                    if pod["spec"]["nodeName"].as_str() == Some(&self.config.node.name) {
                        self.queue.add(&kubelab_client::informer::key_of(&pod));
                    }
                }
                tracing::info!("{}: powered on", self.config.node.name);
                let _ = std::fs::write(dir.join(POWER_STATE), "up");
            }
        }
    }
}
