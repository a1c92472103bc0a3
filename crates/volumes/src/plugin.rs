//! Chapter 05's kubelet plugin: the volume manager and its volume plugins.
//!
//! At four of the kubelet's plugin points ([`kubelab_kubelet::plugin`]):
//!
//! * `prepare_pod` — before any container starts, every volume is made
//!   ready or the pod waits (`ContainerCreating`, a `FailedMount` event):
//!   an emptyDir's directory (or tmpfs), a hostPath's type check, a
//!   claim's bound volume, the files of downwardAPI and projected volumes
//!   (a ServiceAccount token is asked of the API server);
//! * `container_mounts` — each `volumeMounts` entry becomes a bind mount,
//!   with its `subPath` / `subPathExpr` and `readOnly`;
//! * `eviction` — an emptyDir on disk that grew over its `sizeLimit`
//!   evicts the pod;
//! * `pod_removed` — a memory-backed emptyDir is unmounted when the pod goes.
//!
//! A loop keeps projected and downwardAPI files current: ConfigMaps and
//! Secrets that change, tokens that near their expiry (renewed at 80 % of
//! their life, as upstream's token manager does).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kubelab_client::Informer;
use kubelab_client::rest::{self, Client};
use kubelab_config::atomic_writer::{FileProjection, Payload, write_payload};
use kubelab_config::sources::{Kind, Sources};
use kubelab_kubelet::plugin::{KubeletPlugin, NodeInfo, NotReady};
use kubelab_runtime::{Mount, RuntimeKind};
use serde_json::{Value, json};

use crate::pod_volumes::{self, PodVolume, Source};

/// What the plugin reads, set when the cluster starts.
pub struct Caches {
    pub client: Client,
    pub claims: Informer,
    pub volumes: Informer,
    pub config: Sources,
}

/// A token the kubelet holds for a pod's projected volume.
#[derive(Clone)]
struct HeldToken {
    token: String,
    renew_at: Instant,
}

/// A pod whose files this plugin keeps current: as last seen, its
/// directory, its node.
type MountedPod = (Arc<Value>, PathBuf, NodeInfo);

#[derive(Default)]
pub struct VolumePlugin {
    pub caches: OnceLock<Caches>,
    /// Pods with files to keep current, by uid: the pod as last seen, its
    /// directory, its node.
    pods: Mutex<HashMap<String, MountedPod>>,
    /// (pod uid, volume, path) → token.
    tokens: Mutex<HashMap<(String, String, String), HeldToken>>,
    /// Pods whose volumes got their `fsGroup` (once, at set-up, as upstream).
    owned: Mutex<std::collections::HashSet<String>>,
}

fn failed(volume: &str, why: impl std::fmt::Display) -> NotReady {
    NotReady::mount(format!(
        "MountVolume.SetUp failed for volume \"{volume}\" : {why}"
    ))
}

/// Is a file system of its own mounted at `dir` (another device than its
/// parent's)? Not "is it a tmpfs": the pod's directory may itself live on
/// one (`/tmp`).
fn is_mounted(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev());
    match (dev(dir), dir.parent().map(dev)) {
        (Ok(d), Some(Ok(p))) => d != p,
        _ => false,
    }
}

/// Bytes of the files under `dir` (what `du` counts, roughly).
pub fn usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

impl VolumePlugin {
    fn caches(&self) -> Result<&Caches, NotReady> {
        self.caches
            .get()
            .ok_or_else(|| NotReady::mount("the volume manager is not ready yet"))
    }

    /// The PersistentVolume a claim of the pod is bound to.
    fn bound_volume(&self, pod: &Value, claim: &str) -> Result<Arc<Value>, NotReady> {
        let c = self.caches()?;
        let ns = kubelab_api::meta::namespace(pod);
        let Some(pvc) = c.claims.get(&format!("{ns}/{claim}")) else {
            return Err(NotReady::mount(format!(
                "persistentvolumeclaim \"{claim}\" not found"
            )));
        };
        let pv_name = pvc["spec"]["volumeName"].as_str().unwrap_or_default();
        c.volumes
            .get(pv_name)
            .filter(|_| pvc["status"]["phase"] == "Bound")
            .ok_or_else(|| {
                NotReady::mount(format!(
                    "error processing PVC {ns}/{claim}: PVC is not bound"
                ))
            })
    }

    /// The path of the volume a claim is bound to.
    // ANCHOR: claim_path
    fn claim_path(&self, pod: &Value, volume: &str, claim: &str) -> Result<String, NotReady> {
        let pv = self.bound_volume(pod, claim)?;
        let pv_name = kubelab_api::meta::name(&pv);
        let spec = &pv["spec"];
        let (path, kind) = match (
            spec["hostPath"]["path"].as_str(),
            spec["local"]["path"].as_str(),
        ) {
            (Some(p), _) => (p, spec["hostPath"]["type"].as_str().unwrap_or("")),
            (None, Some(p)) => (p, "Directory"),
            _ => {
                return Err(failed(
                    volume,
                    format!("kubelab mounts hostPath and local volumes only; {pv_name} is neither"),
                ));
            }
        };
        pod_volumes::check_host_path(path, kind).map_err(|e| failed(volume, e))?;
        Ok(path.to_string())
    }
    // ANCHOR_END: claim_path

    /// A token for the pod, from the cache or the TokenRequest API.
    async fn token(&self, pod: &Value, volume: &str, source: &Value) -> Result<String, String> {
        let uid = kubelab_api::meta::uid(pod).to_string();
        let path = source["path"].as_str().unwrap_or("token").to_string();
        let key = (uid.clone(), volume.to_string(), path);
        if let Some(t) = self.tokens.lock().unwrap().get(&key)
            && Instant::now() < t.renew_at
        {
            return Ok(t.token.clone());
        }
        let c = self
            .caches
            .get()
            .ok_or("the volume manager is not ready yet")?;
        let ns = kubelab_api::meta::namespace(pod);
        let sa = pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default");
        let seconds = source["expirationSeconds"].as_i64().unwrap_or(3600);
        let mut spec = json!({"expirationSeconds": seconds,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                               "name": kubelab_api::meta::name(pod), "uid": uid}});
        if let Some(aud) = source["audience"].as_str().filter(|a| !a.is_empty()) {
            spec["audiences"] = json!([aud]);
        }
        let body =
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec});
        let url = format!(
            "{}/token",
            rest::path(rest::resource("v1", "ServiceAccount"), Some(ns), Some(sa))
        );
        let answer = c
            .client
            .create(&url, &body)
            .await
            .map_err(|e| e.message.clone())?;
        let token = answer["status"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // (Checked: the API server bounds the lifetime, but a cache must not panic.)
        let renew_at = Instant::now()
            .checked_add(Duration::from_secs(
                seconds.clamp(0, 1 << 32) as u64 * 8 / 10,
            ))
            .unwrap_or_else(Instant::now);
        self.tokens.lock().unwrap().insert(
            key,
            HeldToken {
                token: token.clone(),
                renew_at,
            },
        );
        Ok(token)
    }

    /// The files a projected volume shows now.
    // ANCHOR: projected
    async fn projected_payload(
        &self,
        node: &NodeInfo,
        pod: &Value,
        v: &PodVolume,
        spec: &Value,
    ) -> Result<Payload, NotReady> {
        let default_mode = spec["defaultMode"].as_u64().map_or(0o644, |m| m as u32);
        let ns = kubelab_api::meta::namespace(pod);
        let mut payload = Payload::new();
        for source in spec["sources"].as_array().into_iter().flatten() {
            let part = if source["configMap"].is_object() || source["secret"].is_object() {
                let c = self.caches()?;
                let (kind, s) = match source["configMap"].is_object() {
                    true => (Kind::ConfigMap, &source["configMap"]),
                    false => (Kind::Secret, &source["secret"]),
                };
                pod_volumes::config_payload(kind, s, default_mode, &c.config, ns)
                    .map_err(|e| failed(&v.name, e))?
            } else if source["downwardAPI"].is_object() {
                pod_volumes::downward_payload(
                    pod,
                    &source["downwardAPI"],
                    default_mode,
                    capacity(node),
                )
                .map_err(|e| failed(&v.name, e))?
            } else if source["serviceAccountToken"].is_object() {
                let s = &source["serviceAccountToken"];
                let token = self
                    .token(pod, &v.name, s)
                    .await
                    .map_err(|e| failed(&v.name, e))?;
                let path = s["path"].as_str().unwrap_or("token").to_string();
                // The volume's defaultMode, as for every other file
                // (upstream defaults it to 0644).
                let mode = default_mode;
                Payload::from([(
                    path,
                    FileProjection {
                        data: token.into_bytes(),
                        mode,
                    },
                )])
            } else {
                continue;
            };
            payload.extend(part);
        }
        Ok(payload)
    }
    // ANCHOR_END: projected

    /// Writes the files of a pod's downwardAPI and projected volumes.
    async fn write_files(
        &self,
        node: &NodeInfo,
        pod: &Value,
        pod_dir: &Path,
    ) -> Result<(), NotReady> {
        for v in pod_volumes::of_pod(pod) {
            let payload = match &v.source {
                Source::DownwardApi(spec) => {
                    let mode = spec["defaultMode"].as_u64().map_or(0o644, |m| m as u32);
                    pod_volumes::downward_payload(pod, spec, mode, capacity(node))
                        .map_err(|e| failed(&v.name, e))?
                }
                Source::Projected(spec) => self.projected_payload(node, pod, &v, spec).await?,
                _ => continue,
            };
            let dir = v.dir(pod_dir).expect("files volumes have a directory");
            kubelab_config::atomic_writer::check_paths(&payload)
                .and_then(|()| write_payload(&dir, &payload))
                .map_err(|e| failed(&v.name, e))?;
        }
        Ok(())
    }

    /// `fsGroup`: every volume kubelab set up for the pod (not hostPath)
    /// belongs to the pod's group ([`crate::ownership`]). Chapter 04's
    /// configMap and secret volumes too: their files are in the same
    /// pod directory.
    fn apply_fs_group(&self, pod: &Value, pod_dir: &Path) -> Result<(), NotReady> {
        let sc = &pod["spec"]["securityContext"];
        let Some(gid) = sc["fsGroup"].as_u64() else {
            return Ok(());
        };
        let on_root_mismatch = sc["fsGroupChangePolicy"] == "OnRootMismatch";
        for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            let name = v["name"].as_str().unwrap_or_default();
            let (dir, read_only) = if v["configMap"].is_object() {
                (
                    pod_dir.join("volumes/kubernetes.io~configmap").join(name),
                    true,
                )
            } else if v["secret"].is_object() {
                (
                    pod_dir.join("volumes/kubernetes.io~secret").join(name),
                    true,
                )
            } else if let Some(ours) = pod_volumes::of_pod(&json!({"spec": {"volumes": [v]}})).pop()
            {
                match &ours.source {
                    Source::HostPath { .. } => continue,
                    // A hostPath volume belongs to the node, even behind a
                    // claim (every volume kubelab's provisioner makes).
                    Source::Claim { name: claim, .. } => {
                        let pv = self.bound_volume(pod, claim)?;
                        if pv["spec"]["hostPath"].is_object() {
                            continue;
                        }
                        (PathBuf::from(self.claim_path(pod, name, claim)?), false)
                    }
                    _ => (
                        ours.dir(pod_dir).expect("a volume of the pod's directory"),
                        ours.always_read_only(),
                    ),
                }
            } else {
                continue;
            };
            if dir.exists() {
                crate::ownership::set_ownership(&dir, gid as u32, read_only, on_root_mismatch)
                    .map_err(|e| failed(name, format!("applying fsGroup {gid}: {e}")))?;
            }
        }
        Ok(())
    }

    /// Every few seconds: rewrite what may have changed (ConfigMaps,
    /// Secrets, tokens near their expiry).
    pub async fn keep_files_current(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let pods: Vec<_> = self.pods.lock().unwrap().values().cloned().collect();
            for (pod, dir, node) in pods {
                if let Err(e) = self.write_files(&node, &pod, &dir).await {
                    tracing::debug!(
                        "refreshing volumes of {}: {}",
                        kubelab_api::meta::name(&pod),
                        e.message
                    );
                }
            }
        }
    }
}

fn capacity(_node: &NodeInfo) -> (u64, u64) {
    kubelab_kubelet::nodes::capacity()
}

/// Expands `$(VAR)` in a `subPathExpr` from the container's own `env`
/// (literal values and the pod's metadata fields, the documented uses).
fn sub_path_expr(pod: &Value, container: &Value, expr: &str) -> String {
    let vars: Vec<(String, String)> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e["name"].as_str()?.to_string();
            if let Some(v) = e["value"].as_str() {
                return Some((name, v.to_string()));
            }
            let f = e["valueFrom"]["fieldRef"]["fieldPath"].as_str()?;
            let m = &pod["metadata"];
            let v = match f {
                "metadata.name" | "metadata.namespace" | "metadata.uid" => {
                    m[&f["metadata.".len()..]].as_str()?.to_string()
                }
                "spec.nodeName" | "spec.serviceAccountName" => {
                    pod["spec"][&f["spec.".len()..]].as_str()?.to_string()
                }
                _ => return None,
            };
            Some((name, v))
        })
        .collect();
    kubelab_kubelet::env::expand(expr, &vars)
}

/// A mount's host path with its `subPath` (or expanded `subPathExpr`):
/// relative, without `..`, and — after following symlinks a container may
/// have planted in a writable volume — still inside the volume (upstream's
/// answer to CVE-2017-1002101). A missing subPath becomes a directory.
// ANCHOR: sub_path
fn resolve_sub_path(
    pod: &Value,
    container: &Value,
    mount: &Value,
    volume_root: &Path,
    writable: bool,
) -> Result<PathBuf, String> {
    let sub = match (mount["subPath"].as_str(), mount["subPathExpr"].as_str()) {
        (Some(s), _) if !s.is_empty() => s.to_string(),
        (_, Some(e)) if !e.is_empty() => sub_path_expr(pod, container, e),
        _ => return Ok(volume_root.to_path_buf()),
    };
    let p = Path::new(&sub);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "subPath {sub:?} must be a relative path without '..'"
        ));
    }
    let source = volume_root.join(p);
    if !source.exists() && writable {
        std::fs::create_dir_all(&source).map_err(|e| e.to_string())?;
    }
    let (root, real) = (volume_root.canonicalize(), source.canonicalize());
    match (root, real) {
        (Ok(root), Ok(real)) if real.starts_with(&root) => Ok(source),
        (Ok(_), Ok(real)) => Err(format!(
            "subPath {sub:?} resolves to {}, outside the volume",
            real.display()
        )),
        (_, Err(e)) | (Err(e), _) => Err(format!("subPath {sub:?}: {e}")),
    }
}
// ANCHOR_END: sub_path

#[async_trait::async_trait]
impl KubeletPlugin for VolumePlugin {
    fn name(&self) -> &'static str {
        "volumes"
    }

    fn volume_types(&self) -> &'static [&'static str] {
        pod_volumes::TYPES
    }

    // ANCHOR: prepare_pod
    async fn prepare_pod(
        &self,
        node: &NodeInfo,
        pod: &Value,
        pod_dir: Option<&Path>,
    ) -> Result<(), NotReady> {
        let volumes = pod_volumes::of_pod(pod);
        if volumes.is_empty() {
            return Ok(());
        }
        for v in &volumes {
            match &v.source {
                // Checked on the fake runtime too: a pod waits for its
                // claim. Only a real runtime's pods touch the volume's path.
                Source::Claim { name, .. } if pod_dir.is_none() => {
                    self.bound_volume(pod, name)?;
                }
                Source::Claim { name, .. } => {
                    self.claim_path(pod, &v.name, name)?;
                }
                Source::HostPath { path, kind } if pod_dir.is_some() => {
                    pod_volumes::check_host_path(path, kind).map_err(|e| failed(&v.name, e))?;
                }
                Source::EmptyDir { memory, size_limit } => {
                    let Some(dir) = pod_dir.and_then(|d| v.dir(d)) else {
                        continue;
                    };
                    // Made once, open to every user (upstream's 0777); later
                    // syncs leave its mode alone (fsGroup's setgid stays).
                    if !dir.exists() {
                        std::fs::create_dir_all(&dir).map_err(|e| failed(&v.name, e))?;
                        use std::os::unix::fs::PermissionsExt;
                        let _ =
                            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777));
                    }
                    if *memory && !is_mounted(&dir) {
                        // A tmpfs as big as the limit (else the node's memory).
                        let size = size_limit.as_ref().map_or(capacity(node).1, |(b, _)| *b);
                        nix::mount::mount(
                            Some("tmpfs"),
                            &dir,
                            Some("tmpfs"),
                            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
                            Some(format!("size={size},mode=1777").as_str()),
                        )
                        .map_err(|e| failed(&v.name, format!("mounting a tmpfs: {e}")))?;
                    }
                }
                _ => {}
            }
        }
        let Some(pod_dir) = pod_dir else {
            return Ok(()); // the fake runtime mounts nothing
        };
        for c in ["initContainers", "containers"]
            .iter()
            .flat_map(|k| pod["spec"][k].as_array().into_iter().flatten())
        {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let Some(v) = volumes.iter().find(|v| m["name"] == v.name.as_str()) else {
                    continue;
                };
                let root = match &v.source {
                    Source::HostPath { path, .. } => PathBuf::from(path),
                    Source::Claim { name, .. } => {
                        PathBuf::from(self.claim_path(pod, &v.name, name)?)
                    }
                    Source::EmptyDir { .. } => v.dir(pod_dir).expect("an emptyDir has a directory"),
                    // Files only kubelab writes: no symlink of a container's.
                    Source::DownwardApi(_) | Source::Projected(_) => continue,
                };
                if let Err(e) = resolve_sub_path(pod, c, m, &root, true) {
                    return Err(NotReady::config(format!(
                        "failed to prepare subPath for volumeMount \"{}\" of container \"{}\": {e}",
                        v.name,
                        c["name"].as_str().unwrap_or_default()
                    )));
                }
            }
        }
        self.write_files(node, pod, pod_dir).await?;
        let uid = kubelab_api::meta::uid(pod).to_string();
        if !self.owned.lock().unwrap().contains(&uid) {
            self.apply_fs_group(pod, pod_dir)?;
            self.owned.lock().unwrap().insert(uid);
        }
        self.pods.lock().unwrap().insert(
            kubelab_api::meta::uid(pod).to_string(),
            (Arc::new(pod.clone()), pod_dir.to_path_buf(), node.clone()),
        );
        Ok(())
    }
    // ANCHOR_END: prepare_pod

    // ANCHOR: container_mounts
    fn container_mounts(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        container: &Value,
        pod_dir: &Path,
    ) -> Vec<Mount> {
        let volumes = pod_volumes::of_pod(pod);
        container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let v = volumes.iter().find(|v| m["name"] == v.name.as_str())?;
                let (source, source_read_only) = match &v.source {
                    Source::HostPath { path, .. } => (PathBuf::from(path), false),
                    Source::Claim { name, read_only } => (
                        PathBuf::from(self.claim_path(pod, &v.name, name).ok()?),
                        *read_only,
                    ),
                    _ => (v.dir(pod_dir)?, v.always_read_only()),
                };
                // Checked in `prepare_pod`; a bad one was refused there.
                let source =
                    resolve_sub_path(pod, container, m, &source, !v.always_read_only()).ok()?;
                Some(Mount {
                    source,
                    destination: m["mountPath"].as_str()?.to_string(),
                    read_only: source_read_only || m["readOnly"] == true,
                })
            })
            .collect()
    }
    // ANCHOR_END: container_mounts

    // ANCHOR: eviction
    fn eviction(&self, node: &NodeInfo, pod: &Value, pod_dir: &Path) -> Option<String> {
        if node.runtime == RuntimeKind::Fake {
            return None;
        }
        pod_volumes::of_pod(pod)
            .into_iter()
            .find_map(|v| match &v.source {
                Source::EmptyDir {
                    memory: false,
                    size_limit: Some((limit, text)),
                } => {
                    let used = usage(&v.dir(pod_dir)?);
                    (used > *limit).then(|| {
                        format!(
                            "Usage of EmptyDir volume \"{}\" exceeds the limit \"{text}\". ",
                            v.name
                        )
                    })
                }
                _ => None,
            })
    }
    // ANCHOR_END: eviction

    fn pod_removed(&self, _node: &NodeInfo, pod_uid: &str, pod_dir: &Path) {
        self.pods.lock().unwrap().remove(pod_uid);
        self.tokens
            .lock()
            .unwrap()
            .retain(|(uid, _, _), _| uid != pod_uid);
        self.owned.lock().unwrap().remove(pod_uid);
        let empty_dirs = pod_dir.join("volumes").join("kubernetes.io~empty-dir");
        for e in std::fs::read_dir(&empty_dirs)
            .into_iter()
            .flatten()
            .flatten()
        {
            if is_mounted(&e.path()) {
                let _ = nix::mount::umount2(&e.path(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}
