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
//! The same loop does the kubelet's housekeeping of pod directories: one
//! whose pod is gone from the API and from the kubelet's records (deleted
//! before it got a sandbox, or left by a crash) is removed, after the
//! plugins undid what they mounted there.
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
        // Nothing is judged orphaned or evicted on a half-filled cache.
        self.pods.synced().await;
        loop {
            tokio::time::sleep(INTERVAL).await;
            if self.is_stopping() {
                return;
            }
            if self.is_down() {
                continue;
            }
            self.remove_orphaned_pod_dirs();
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

    /// Housekeeping (upstream's `cleanupOrphanedPodDirs`): the directory of
    /// a pod this kubelet no longer runs and the API no longer has — deleted
    /// before it ever got a sandbox, or left by a crash — goes, with what
    /// plugins mounted under it (a memory-backed emptyDir's tmpfs).
    fn remove_orphaned_pod_dirs(&self) {
        let entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(&self.config.pod_dir) {
            Ok(rd) => rd.flatten().collect(),
            Err(_) => return,
        };
        if entries.is_empty() {
            return; // the usual case, and always on the fake runtime
        }
        let mut known: std::collections::HashSet<String> = self
            .state
            .lock()
            .unwrap()
            .values()
            .map(|r| r.uid.clone())
            .collect();
        known.extend(
            self.pods
                .list(None)
                .iter()
                .filter(|p| p["spec"]["nodeName"] == self.config.node.name.as_str())
                .filter_map(|p| p["metadata"]["uid"].as_str().map(String::from)),
        );
        for e in entries {
            let uid = e.file_name().to_string_lossy().to_string();
            // Young directories may belong to a pod the cache has not shown yet.
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|a| a > Duration::from_secs(30)));
            if known.contains(&uid) || !old {
                continue;
            }
            for p in &self.config.plugins.0 {
                p.pod_removed(&self.config.node, &uid, &e.path());
            }
            crate::nodes::unmount_under(&e.path());
            let _ = std::fs::remove_dir_all(e.path());
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
