//! The kubelet's eviction manager, the part later chapters need first:
//! a pod that breaks a limit of its own is stopped and fails.
//!
//! Upstream's eviction manager (`pkg/kubelet/eviction`) wakes every 10 s
//! and evicts pods for two kinds of reason: the node runs short of memory
//! or disk (node pressure), or one pod uses more local storage than it
//! may — an `emptyDir` over its `sizeLimit`, a container over its
//! `ephemeral-storage` limit. Here the plugins say which pods break a
//! limit ([`crate::KubeletPlugin::eviction`]; chapter 05's volumes plugin
//! measures emptyDirs) and this loop does the evicting, the way upstream
//! does it for local storage: the containers get one second to stop
//! (upstream's `immediateEvictionGracePeriodSeconds`), nothing is
//! restarted whatever the restart policy, and the pod fails:
//!
//! ```text
//! status.phase: Failed   reason: Evicted   message: Usage of EmptyDir volume "cache" exceeds the limit "1Mi".
//! event: Warning Evicted (same message)
//! ```
//!
//! Simplification: the loop runs every 2 s, not 10 s, so that a learner
//! sees the eviction while still looking.

use std::sync::Arc;
use std::time::Duration;

use crate::Kubelet;

/// How often the pods are checked.
pub const INTERVAL: Duration = Duration::from_secs(2);

impl Kubelet {
    pub(crate) async fn eviction_manager(self: Arc<Self>) {
        if self.config.plugins.0.is_empty() {
            return;
        }
        loop {
            tokio::time::sleep(INTERVAL).await;
            if self.is_stopping() {
                return;
            }
            let running: Vec<(String, String)> = {
                let state = self.state.lock().unwrap();
                state
                    .iter()
                    .filter(|(_, r)| r.sandbox.is_some() && !r.terminating && r.evicted.is_none())
                    .map(|(k, r)| (k.clone(), r.uid.clone()))
                    .collect()
            };
            for (key, uid) in running {
                let Some(pod) = self.pods.get(&key) else {
                    continue;
                };
                if pod["metadata"]["uid"] != uid.as_str() {
                    continue;
                }
                let dir = self.pod_dir(&uid);
                let reason = self
                    .config
                    .plugins
                    .0
                    .iter()
                    .find_map(|p| p.eviction(&self.config.node, &pod, &dir));
                if let Some(message) = reason {
                    self.evict(&key, &pod, message).await;
                }
            }
        }
    }

    /// Stops every container of the pod now and marks it failed.
    async fn evict(&self, key: &str, pod: &serde_json::Value, message: String) {
        tracing::info!("{}: evicting {key}: {message}", self.config.node.name);
        self.events.warning(pod, "Evicted", message.clone());
        let ids: Vec<String> = {
            let mut state = self.state.lock().unwrap();
            let Some(rec) = state.get_mut(key) else {
                return;
            };
            rec.evicted = Some(message);
            rec.containers
                .values()
                .filter_map(|c| c.id.clone())
                .collect()
        };
        for id in ids {
            let _ = self
                .config
                .runtime
                .stop_container(&id, Duration::from_secs(1))
                .await;
        }
        if let Err(e) = self.write_status(key, pod).await {
            tracing::warn!("{key}: writing the evicted status: {e}");
        }
    }
}
