//! Chapter 04's kubelet plugin: ConfigMaps and Secrets inside pods.
//!
//! It answers four of the kubelet's plugin points
//! ([`kubelab_kubelet::plugin`]):
//!
//! * `env_from` and `env_value` — `envFrom: [{configMapRef: …}]` and
//!   `valueFrom: {secretKeyRef: …}`: read from the cache, or
//!   [`NotReady`] with upstream's message, which leaves the container in
//!   `CreateContainerConfigError` until the object appears;
//! * `prepare_pod` — before any container starts, each configMap and secret
//!   volume is written into the pod's directory by the atomic writer
//!   ([`crate::atomic_writer`]), or the pod waits with `FailedMount`;
//! * `container_mounts` — those directories (or one file of them, for a
//!   `subPath`) are bind-mounted read-only where `volumeMounts` say.
//!
//! And it keeps mounted volumes current: a change to a ConfigMap or Secret
//! rewrites the volumes that show it at once ([`ConfigPlugin::refresh`]),
//! where upstream's kubelet notices on its next periodic sync, 60–90 s
//! later. A `subPath` mount does not change, as upstream: it was bound to
//! the one file that existed when the container started.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use kubelab_kubelet::plugin::{KubeletPlugin, NodeInfo, NotReady, Sandbox};
use kubelab_runtime::Mount;
use serde_json::Value;

use crate::atomic_writer::{Payload, WriteFn};
use crate::sources::{self, Kind, Sources};
use crate::volumes::{self, ConfigVolume};

/// A pod whose volumes this plugin wrote, for live updates.
struct MountedPod {
    namespace: String,
    pod_dir: PathBuf,
    volumes: Vec<ConfigVolume>,
}

pub struct ConfigPlugin {
    /// The caches, set when the cluster starts.
    pub(crate) sources: OnceLock<Sources>,
    /// The atomic writer (lab 04 replaces it).
    writer: WriteFn,
    /// By pod uid.
    mounted: Mutex<HashMap<String, MountedPod>>,
    /// Sandbox id → pod uid, to forget a pod when its sandbox goes.
    sandboxes: Mutex<HashMap<String, String>>,
}

impl ConfigPlugin {
    pub fn new(writer: WriteFn) -> ConfigPlugin {
        ConfigPlugin {
            sources: OnceLock::new(),
            writer,
            mounted: Mutex::default(),
            sandboxes: Mutex::default(),
        }
    }

    fn sources(&self) -> Result<&Sources, NotReady> {
        self.sources
            .get()
            .ok_or_else(|| NotReady::config("the ConfigMap and Secret caches are not ready yet"))
    }

    /// A ConfigMap or Secret changed: rewrite every mounted volume that
    /// shows it. Returns how many volumes changed.
    // ANCHOR: refresh
    pub fn refresh(&self, kind: Kind, namespace: &str, name: &str) -> usize {
        let Some(sources) = self.sources.get() else {
            return 0;
        };
        // What to write, decided under the lock; the writing is done
        // without it, so new pods are not held up by an update.
        let targets: Vec<(PathBuf, Payload)> = {
            let mounted = self.mounted.lock().unwrap();
            mounted
                .values()
                .filter(|p| p.namespace == namespace)
                .flat_map(|pod| {
                    pod.volumes
                        .iter()
                        .filter(|v| v.kind == kind && v.source == name)
                        // A missing object keeps the files it had (as upstream).
                        .filter_map(|v| {
                            Some((v.dir(&pod.pod_dir), v.payload(sources, namespace).ok()?))
                        })
                })
                .collect()
        };
        let mut changed = 0;
        for (dir, payload) in targets {
            match crate::atomic_writer::check_paths(&payload)
                .and_then(|()| (self.writer)(&dir, &payload))
            {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!("updating volume {}: {e}", dir.display()),
            }
        }
        changed
    }
    // ANCHOR_END: refresh
}

fn reference(from: &Value) -> Option<(Kind, &Value)> {
    if from["configMapKeyRef"].is_object() {
        Some((Kind::ConfigMap, &from["configMapKeyRef"]))
    } else if from["secretKeyRef"].is_object() {
        Some((Kind::Secret, &from["secretKeyRef"]))
    } else {
        None
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

#[async_trait::async_trait]
impl KubeletPlugin for ConfigPlugin {
    fn name(&self) -> &'static str {
        "config"
    }

    fn volume_types(&self) -> &'static [&'static str] {
        &["configMap", "secret"]
    }

    // ANCHOR: env_value
    fn env_value(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        from: &Value,
    ) -> Option<Result<Option<String>, NotReady>> {
        let (kind, r) = reference(from)?;
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
        let (name, key) = (
            r["name"].as_str().unwrap_or_default(),
            r["key"].as_str().unwrap_or_default(),
        );
        let optional = r["optional"] == true;
        Some((|| {
            let Some(obj) = self.sources()?.get(kind, ns, name) else {
                return match optional {
                    true => Ok(None),
                    false => Err(NotReady::config(sources::not_found(kind, name))),
                };
            };
            match sources::entries(kind, &obj, false)
                .into_iter()
                .find(|(k, _)| k == key)
            {
                Some((_, v)) => Ok(Some(text(v))),
                None if optional => Ok(None),
                None => Err(NotReady::config(sources::no_key(kind, ns, name, key))),
            }
        })())
    }
    // ANCHOR_END: env_value

    fn env_from(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        source: &Value,
    ) -> Option<Result<Vec<(String, String)>, NotReady>> {
        let (kind, r) = if source["configMapRef"].is_object() {
            (Kind::ConfigMap, &source["configMapRef"])
        } else if source["secretRef"].is_object() {
            (Kind::Secret, &source["secretRef"])
        } else {
            return None;
        };
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
        let name = r["name"].as_str().unwrap_or_default();
        Some((|| match self.sources()?.get(kind, ns, name) {
            Some(obj) => Ok(sources::entries(kind, &obj, false)
                .into_iter()
                .map(|(k, v)| (k, text(v)))
                .collect()),
            None if r["optional"] == true => Ok(Vec::new()),
            None => Err(NotReady::config(sources::not_found(kind, name))),
        })())
    }

    // ANCHOR: prepare_pod
    async fn prepare_pod(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        pod_dir: Option<&Path>,
    ) -> Result<(), NotReady> {
        let volumes = volumes::of_pod(pod);
        if volumes.is_empty() {
            return Ok(());
        }
        let sources = self.sources().map_err(|e| NotReady::mount(e.message))?;
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
        for v in &volumes {
            let written_before = pod_dir.is_some_and(|d| v.dir(d).join("..data").exists());
            let payload = match v.payload(sources, ns) {
                Ok(p) => p,
                // Once set up, a volume keeps its files if the object goes.
                Err(_) if written_before => continue,
                Err(message) => return Err(NotReady::mount(message)),
            };
            // The fake runtime runs no processes: nothing to write.
            if let Some(dir) = pod_dir {
                crate::atomic_writer::check_paths(&payload)
                    .and_then(|()| (self.writer)(&v.dir(dir), &payload))
                    .map_err(|e| {
                        NotReady::mount(format!(
                            "MountVolume.SetUp failed for volume \"{}\" : {e}",
                            v.name
                        ))
                    })?;
            }
        }
        if let Some(dir) = pod_dir {
            let uid = pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.mounted.lock().unwrap().insert(
                uid,
                MountedPod {
                    namespace: ns.to_string(),
                    pod_dir: dir.to_path_buf(),
                    volumes,
                },
            );
        }
        Ok(())
    }
    // ANCHOR_END: prepare_pod

    async fn sandbox_created(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        sandbox: &Sandbox<'_>,
    ) -> Result<(), String> {
        let uid = pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.sandboxes
            .lock()
            .unwrap()
            .insert(sandbox.id.to_string(), uid);
        Ok(())
    }

    fn sandbox_removed(&self, _node: &NodeInfo, sandbox_id: &str) {
        if let Some(uid) = self.sandboxes.lock().unwrap().remove(sandbox_id) {
            self.mounted.lock().unwrap().remove(&uid);
        }
    }

    fn container_mounts(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        container: &Value,
        pod_dir: &Path,
    ) -> Vec<Mount> {
        let volumes = volumes::of_pod(pod);
        container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let v = volumes.iter().find(|v| m["name"] == v.name.as_str())?;
                let mut source = v.dir(pod_dir);
                // A subPath binds the one file it resolves to now: it will
                // not follow later updates (upstream's documented limit).
                if let Some(sub) = m["subPath"].as_str().filter(|s| !s.is_empty()) {
                    source = source.join(sub);
                }
                Some(Mount {
                    source,
                    destination: m["mountPath"].as_str()?.to_string(),
                    // ConfigMap and Secret volumes are always read-only.
                    read_only: true,
                })
            })
            .collect()
    }
}
