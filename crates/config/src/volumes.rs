//! configMap and secret volumes: which files a pod sees.
//!
//! Upstream's `MakePayload` (pkg/volume/configmap, pkg/volume/secret): every
//! key becomes a file named after it, or only the listed `items`, each at
//! its `path`; files get `defaultMode` (0644 unless set) or the item's own
//! `mode`. A missing object fails the mount — unless the volume is
//! `optional`, which mounts an empty directory. The files live in the pod's
//! directory, where upstream keeps them too:
//! `<pod>/volumes/kubernetes.io~configmap/<volume>/`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::atomic_writer::{FileProjection, Payload};
use crate::sources::{self, Kind, Sources};

/// The default `defaultMode`: 0644 (upstream's `ConfigMapVolumeSourceDefaultMode`).
pub const DEFAULT_MODE: u32 = 0o644;

/// A pod volume this chapter serves.
#[derive(Debug, Clone)]
pub struct ConfigVolume {
    /// The volume's name in the pod.
    pub name: String,
    pub kind: Kind,
    /// The ConfigMap's or Secret's name.
    pub source: String,
    /// `spec.volumes[i].configMap` (or `.secret`) as written.
    pub spec: Value,
}

/// The pod's configMap and secret volumes.
pub fn of_pod(pod: &Value) -> Vec<ConfigVolume> {
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let (kind, spec, name_field) = if v["configMap"].is_object() {
                (Kind::ConfigMap, &v["configMap"], "name")
            } else if v["secret"].is_object() {
                (Kind::Secret, &v["secret"], "secretName")
            } else {
                return None;
            };
            Some(ConfigVolume {
                name: v["name"].as_str()?.to_string(),
                kind,
                source: spec[name_field].as_str().unwrap_or_default().to_string(),
                spec: spec.clone(),
            })
        })
        .collect()
}

impl ConfigVolume {
    /// Where its files are: `<pod dir>/volumes/kubernetes.io~configmap/<name>`.
    pub fn dir(&self, pod_dir: &Path) -> PathBuf {
        let plugin = match self.kind {
            Kind::ConfigMap => "kubernetes.io~configmap",
            Kind::Secret => "kubernetes.io~secret",
        };
        pod_dir.join("volumes").join(plugin).join(&self.name)
    }

    /// The files the volume should show now, or what is missing (upstream's
    /// `MountVolume.SetUp failed …` message).
    // ANCHOR: payload
    pub fn payload(&self, sources: &Sources, namespace: &str) -> Result<Payload, String> {
        let failed = |why: String| {
            format!(
                "MountVolume.SetUp failed for volume \"{}\" : {why}",
                self.name
            )
        };
        let optional = self.spec["optional"] == true;
        let Some(obj) = sources.get(self.kind, namespace, &self.source) else {
            return match optional {
                true => Ok(Payload::new()),
                false => Err(failed(sources::not_found(self.kind, &self.source))),
            };
        };
        let default_mode = self.spec["defaultMode"]
            .as_u64()
            .map_or(DEFAULT_MODE, |m| m as u32);
        let entries = sources::entries(self.kind, &obj, true);
        let mut payload = Payload::new();
        let items = self.spec["items"].as_array().filter(|i| !i.is_empty());
        let Some(items) = items else {
            for (key, data) in entries {
                let mode = default_mode;
                payload.insert(key, FileProjection { data, mode });
            }
            return Ok(payload);
        };
        for item in items {
            let key = item["key"].as_str().unwrap_or_default();
            let Some((_, data)) = entries.iter().find(|(k, _)| k == key) else {
                if optional {
                    continue;
                }
                return Err(failed(format!(
                    "{} references non-existent config key: {key}",
                    self.kind.lower()
                )));
            };
            let path = item["path"].as_str().unwrap_or(key).to_string();
            let mode = item["mode"].as_u64().map_or(default_mode, |m| m as u32);
            payload.insert(
                path,
                FileProjection {
                    data: data.clone(),
                    mode,
                },
            );
        }
        Ok(payload)
    }
    // ANCHOR_END: payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(volumes: Value) -> Value {
        json!({"metadata": {"namespace": "default"}, "spec": {"volumes": volumes}})
    }

    #[test]
    fn finds_configmap_and_secret_volumes_only() {
        let p = pod(json!([
            {"name": "a", "configMap": {"name": "cfg"}},
            {"name": "b", "secret": {"secretName": "creds"}},
            {"name": "c", "emptyDir": {}},
        ]));
        let v = of_pod(&p);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].kind, v[0].source.as_str()), (Kind::ConfigMap, "cfg"));
        assert_eq!((v[1].kind, v[1].source.as_str()), (Kind::Secret, "creds"));
        assert!(
            v[1].dir(Path::new("/p"))
                .ends_with("volumes/kubernetes.io~secret/b")
        );
    }
}
