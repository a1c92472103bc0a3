//! A pod's volumes of this chapter, and what each one shows.
//!
//! | volume | where its files are | upstream plugin |
//! |---|---|---|
//! | `emptyDir` | `<pod>/volumes/kubernetes.io~empty-dir/<name>` (a tmpfs for `medium: Memory`) | `kubernetes.io/empty-dir` |
//! | `hostPath` | the node's own path | `kubernetes.io/host-path` |
//! | `persistentVolumeClaim` | the bound volume's path | the volume's plugin |
//! | `downwardAPI` | `<pod>/volumes/kubernetes.io~downward-api/<name>` | `kubernetes.io/downward-api` |
//! | `projected` | `<pod>/volumes/kubernetes.io~projected/<name>` | `kubernetes.io/projected` |
//!
//! The last two are written by chapter 04's atomic writer, so a change
//! (a new label, a rotated token) appears in one rename.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kubelab_config::atomic_writer::{FileProjection, Payload};
use kubelab_config::sources::{Kind, Sources};
use kubelab_config::volumes::ConfigVolume;
use serde_json::Value;

/// What a volume of this chapter is.
#[derive(Debug, Clone)]
pub enum Source {
    EmptyDir {
        memory: bool,
        size_limit: Option<(u64, String)>,
    },
    HostPath {
        path: String,
        kind: String,
    },
    Claim {
        name: String,
        read_only: bool,
    },
    DownwardApi(Value),
    Projected(Value),
}

#[derive(Debug, Clone)]
pub struct PodVolume {
    pub name: String,
    pub source: Source,
}

/// The volume types this chapter serves (configMap and secret are chapter 04's).
pub const TYPES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "persistentVolumeClaim",
    "downwardAPI",
    "projected",
];

pub fn of_pod(pod: &Value) -> Vec<PodVolume> {
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let name = v["name"].as_str()?.to_string();
            let source = if v["emptyDir"].is_object() {
                let e = &v["emptyDir"];
                Source::EmptyDir {
                    memory: e["medium"] == "Memory",
                    size_limit: e["sizeLimit"].as_str().and_then(|q| {
                        Some((kubelab_api::quantity::parse(q)? as u64, q.to_string()))
                    }),
                }
            } else if v["hostPath"].is_object() {
                Source::HostPath {
                    path: v["hostPath"]["path"].as_str()?.to_string(),
                    kind: v["hostPath"]["type"].as_str().unwrap_or("").to_string(),
                }
            } else if v["persistentVolumeClaim"].is_object() {
                Source::Claim {
                    name: v["persistentVolumeClaim"]["claimName"]
                        .as_str()?
                        .to_string(),
                    read_only: v["persistentVolumeClaim"]["readOnly"] == true,
                }
            } else if v["downwardAPI"].is_object() {
                Source::DownwardApi(v["downwardAPI"].clone())
            } else if v["projected"].is_object() {
                Source::Projected(v["projected"].clone())
            } else {
                return None;
            };
            Some(PodVolume { name, source })
        })
        .collect()
}

impl PodVolume {
    /// The directory kubelab makes for it in the pod's directory (not for
    /// hostPath and claims, whose files are elsewhere).
    pub fn dir(&self, pod_dir: &Path) -> Option<PathBuf> {
        let plugin = match self.source {
            Source::EmptyDir { .. } => "kubernetes.io~empty-dir",
            Source::DownwardApi(_) => "kubernetes.io~downward-api",
            Source::Projected(_) => "kubernetes.io~projected",
            _ => return None,
        };
        Some(pod_dir.join("volumes").join(plugin).join(&self.name))
    }

    /// Upstream mounts these read-only, whatever the pod says.
    pub fn always_read_only(&self) -> bool {
        matches!(self.source, Source::DownwardApi(_) | Source::Projected(_))
    }
}

/// Upstream's `hostPath` type check (pkg/volume/hostpath): creates what
/// `DirectoryOrCreate` and `FileOrCreate` ask for, and refuses a path of
/// the wrong type.
// ANCHOR: host_path_check
pub fn check_host_path(path: &str, kind: &str) -> Result<(), String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let p = Path::new(path);
    let meta = std::fs::metadata(p);
    let is = |f: fn(&std::fs::FileType) -> bool| meta.as_ref().is_ok_and(|m| f(&m.file_type()));
    let wrong = |what: &str| {
        Err(format!(
            "hostPath type check failed: {path} is not a {what}"
        ))
    };
    match kind {
        // Unset: no check; a missing path becomes a directory, as
        // containerd does for a bind mount's source.
        "" => {
            if meta.is_err() {
                std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "DirectoryOrCreate" if meta.is_err() => {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())
        }
        "DirectoryOrCreate" | "Directory" if !is(|t| t.is_dir()) => wrong("directory"),
        "FileOrCreate" if meta.is_err() => {
            std::fs::File::create(p).map_err(|e| e.to_string())?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| e.to_string())
        }
        "FileOrCreate" | "File" if !is(|t| t.is_file()) => wrong("file"),
        "Socket" if !is(|t| t.is_socket()) => wrong("socket file"),
        "CharDevice" if !is(|t| t.is_char_device()) => wrong("character device"),
        "BlockDevice" if !is(|t| t.is_block_device()) => wrong("block device"),
        _ => Ok(()),
    }
}
// ANCHOR_END: host_path_check

/// `key="value"` lines, sorted, as upstream's `fieldpath.FormatMap`.
pub fn format_map(map: &Value) -> String {
    let sorted: BTreeMap<&String, &Value> = map.as_object().into_iter().flatten().collect();
    sorted
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                Value::String(v.as_str().unwrap_or_default().to_string())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `downwardAPI` volume's files (its `items`), or what is wrong.
// ANCHOR: downward_payload
pub fn downward_payload(
    pod: &Value,
    spec: &Value,
    default_mode: u32,
    allocatable: (u64, u64),
) -> Result<Payload, String> {
    let mut payload = Payload::new();
    let m = &pod["metadata"];
    for item in spec["items"].as_array().into_iter().flatten() {
        let path = item["path"].as_str().unwrap_or_default().to_string();
        let data = if let Some(f) = item["fieldRef"]["fieldPath"].as_str() {
            let key = |prefix: &str| f.strip_prefix(prefix).and_then(|r| r.strip_suffix("']"));
            match f {
                "metadata.name" | "metadata.namespace" | "metadata.uid" => m
                    [&f["metadata.".len()..]]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                "metadata.labels" => format_map(&m["labels"]),
                "metadata.annotations" => format_map(&m["annotations"]),
                _ if key("metadata.labels['").is_some() => m["labels"]
                    [key("metadata.labels['").unwrap()]
                .as_str()
                .unwrap_or_default()
                .to_string(),
                _ if key("metadata.annotations['").is_some() => m["annotations"]
                    [key("metadata.annotations['").unwrap()]
                .as_str()
                .unwrap_or_default()
                .to_string(),
                other => return Err(format!("unsupported fieldPath: {other}")),
            }
        } else if item["resourceFieldRef"].is_object() {
            let r = &item["resourceFieldRef"];
            let name = r["containerName"].as_str().unwrap_or_default();
            let c = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"] == name)
                .ok_or_else(|| format!("container {name} not found"))?;
            kubelab_kubelet::env::resource_value(pod, c, r, allocatable).map_err(|e| e.message)?
        } else {
            continue;
        };
        let mode = item["mode"].as_u64().map_or(default_mode, |m| m as u32);
        payload.insert(
            path,
            FileProjection {
                data: data.into_bytes(),
                mode,
            },
        );
    }
    Ok(payload)
}
// ANCHOR_END: downward_payload

/// One projected ConfigMap or Secret source, as chapter 04 reads it.
pub fn config_payload(
    kind: Kind,
    source: &Value,
    default_mode: u32,
    sources: &Sources,
    namespace: &str,
) -> Result<Payload, String> {
    let mut spec = source.clone();
    if spec["defaultMode"].is_null() {
        spec["defaultMode"] = default_mode.into();
    }
    let v = ConfigVolume {
        name: String::new(),
        kind,
        source: source["name"].as_str().unwrap_or_default().to_string(),
        spec,
    };
    v.payload(sources, namespace)
        // chapter 04's message names the volume; the caller does too.
        .map_err(|e| e.rsplit(" : ").next().unwrap_or(&e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_sorted_quoted_lines() {
        let labels = json!({"tier": "web", "app": "shop \"1\""});
        assert_eq!(format_map(&labels), "app=\"shop \\\"1\\\"\"\ntier=\"web\"");
    }

    #[test]
    fn downward_items_read_the_pod() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]}});
        let spec = json!({"items": [
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}, "mode": 0o600},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
        ]});
        let p = downward_payload(&pod, &spec, 0o644, (1000, 1 << 30)).unwrap();
        assert_eq!(p["name"].data, b"p");
        assert_eq!(p["labels"].data, b"a=\"1\"");
        assert_eq!(p["labels"].mode, 0o600);
        assert_eq!(p["mem"].data, b"64");
    }

    #[test]
    fn host_path_types_are_checked_and_created() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("kubelab-d");
        let f = dir.path().join("kubelab-f");
        assert_eq!(
            check_host_path(d.to_str().unwrap(), "Directory").unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory",
                d.display()
            )
        );
        check_host_path(d.to_str().unwrap(), "DirectoryOrCreate").unwrap();
        assert!(d.is_dir());
        check_host_path(f.to_str().unwrap(), "FileOrCreate").unwrap();
        assert!(f.is_file());
        assert!(check_host_path(f.to_str().unwrap(), "Directory").is_err());
        assert!(check_host_path(d.to_str().unwrap(), "File").is_err());
        assert!(check_host_path(f.to_str().unwrap(), "Socket").is_err());
    }
}
