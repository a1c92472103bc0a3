//! Reading ConfigMaps and Secrets for a pod: the kubelet's
//! `configMapManager` and `secretManager`.
//!
//! Upstream's kubelet keeps a watch on every ConfigMap and Secret its pods
//! use; kubelab's config plugin reads them from two shared informers. A
//! reference to something missing gets upstream's words, which is what
//! `kubectl describe pod` then shows:
//!
//! | what is missing | message |
//! |---|---|
//! | the object | `configmap "web-config" not found` |
//! | a key (`configMapKeyRef`) | `couldn't find key color in ConfigMap default/web-config` |
//! | a key (volume `items`) | `configmap references non-existent config key: color` |

use std::sync::Arc;

use base64::Engine as _;
use kubelab_client::Informer;
use serde_json::Value;

/// Which of the two kinds a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    /// `configmap` / `secret`, as upstream's messages write it.
    pub fn lower(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
        }
    }

    /// `ConfigMap` / `Secret`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }
}

/// The two caches.
#[derive(Clone)]
pub struct Sources {
    pub configmaps: Informer,
    pub secrets: Informer,
}

impl Sources {
    /// The object, from the cache.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let cache = match kind {
            Kind::ConfigMap => &self.configmaps,
            Kind::Secret => &self.secrets,
        };
        cache.get(&format!("{namespace}/{name}"))
    }
}

/// Every key of the object, decoded: a ConfigMap's `data` (and, for
/// volumes, `binaryData`), a Secret's `data` (base64) and `stringData`.
pub fn entries(kind: Kind, obj: &Value, binary: bool) -> Vec<(String, Vec<u8>)> {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let map = |field: &str| obj[field].as_object().into_iter().flatten();
    match kind {
        Kind::ConfigMap => {
            for (k, v) in map("data") {
                out.push((
                    k.clone(),
                    v.as_str().unwrap_or_default().as_bytes().to_vec(),
                ));
            }
            if binary {
                for (k, v) in map("binaryData") {
                    out.push((k.clone(), b64(v)));
                }
            }
        }
        Kind::Secret => {
            for (k, v) in map("data") {
                out.push((k.clone(), b64(v)));
            }
        }
    }
    out
}

/// `configmap "x" not found`.
pub fn not_found(kind: Kind, name: &str) -> String {
    format!("{} \"{name}\" not found", kind.lower())
}

/// `couldn't find key k in ConfigMap ns/x`.
pub fn no_key(kind: Kind, namespace: &str, name: &str, key: &str) -> String {
    format!(
        "couldn't find key {key} in {} {namespace}/{name}",
        kind.title()
    )
}
