//! What chapter 04 adds to the API server's rules (strategy layers on
//! chapter 01's ConfigMap, Secret and Pod strategies).
//!
//! - **Secrets** are typed: `kubernetes.io/tls` needs `tls.crt` and
//!   `tls.key`, `kubernetes.io/dockerconfigjson` a `.dockerconfigjson` that
//!   is JSON, `kubernetes.io/basic-auth` a `username` or `password`,
//!   `kubernetes.io/ssh-auth` an `ssh-privatekey`; the type never changes.
//! - **ConfigMaps and Secrets** hold at most 1 MiB (etcd's request limit
//!   leaves room for no more); a key is in `data` or `binaryData`, not both.
//! - **Pods** may only reference them sensibly: every `env` entry has a
//!   name (1.33: printable ASCII but `=`), a `value` or one `valueFrom`
//!   source, a `key` for a ConfigMap or Secret key reference, a known
//!   `fieldRef` path; a volume's `defaultMode` and items' `mode` fit 0777.
//!
//! Upstream: `ValidateSecret`, `ValidateConfigMap` and `validateEnv` /
//! `validateVolumes` in pkg/apis/core/validation. Messages and field paths
//! are theirs.

use base64::Engine as _;
use kubelab_api::validation::Cause;
use kubelab_apiserver::strategy::Strategy;
use serde_json::{Value, json};

/// etcd's limit that Kubernetes applies to ConfigMaps and Secrets.
pub const MAX_SIZE: usize = 1024 * 1024;

/// The size of `data` + `binaryData` (+ `stringData`), decoded.
fn total_size(obj: &Value, secret: bool) -> usize {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_or(0, |b| b.len())
    };
    let map = |f: &str| obj[f].as_object().into_iter().flatten();
    let mut n = 0;
    for (k, v) in map("data") {
        n += k.len()
            + if secret {
                b64(v)
            } else {
                v.as_str().map_or(0, str::len)
            };
    }
    for (k, v) in map("binaryData") {
        n += k.len() + b64(v);
    }
    for (k, v) in map("stringData") {
        n += k.len() + v.as_str().map_or(0, str::len);
    }
    n
}

fn too_long(field: &str, causes: &mut Vec<Cause>) {
    causes.push(Cause {
        reason: "FieldValueTooLong",
        field: field.into(),
        message: format!("Too long: must have at most {MAX_SIZE} bytes"),
    });
}

/// ConfigMaps: size, and no key in both maps.
pub struct ConfigMapRules;

impl Strategy for ConfigMapRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        if total_size(obj, false) > MAX_SIZE {
            too_long("[]", causes);
        }
        for (k, _) in obj["binaryData"].as_object().into_iter().flatten() {
            if !obj["data"][k].is_null() {
                causes.push(Cause::invalid(
                    &format!("binaryData[{k}]"),
                    &json!(k),
                    "duplicate of key present in data",
                ));
            }
        }
    }
}

/// Secrets: size and type.
pub struct SecretRules;

impl Strategy for SecretRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        if total_size(obj, true) > MAX_SIZE {
            too_long("data", causes);
        }
        // `stringData` is merged into `data` before validation.
        let has = |k: &str| !obj["data"][k].is_null();
        let required = |k: &str, causes: &mut Vec<Cause>| {
            if !has(k) {
                causes.push(Cause::required(&format!("data[{k}]")));
            }
        };
        match obj["type"].as_str().unwrap_or("Opaque") {
            "kubernetes.io/tls" => {
                required("tls.crt", causes);
                required("tls.key", causes);
            }
            "kubernetes.io/ssh-auth" => required("ssh-privatekey", causes),
            "kubernetes.io/dockerconfigjson" => {
                required(".dockerconfigjson", causes);
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(
                        obj["data"][".dockerconfigjson"]
                            .as_str()
                            .unwrap_or_default(),
                    )
                    .unwrap_or_default();
                if has(".dockerconfigjson") && serde_json::from_slice::<Value>(&raw).is_err() {
                    causes.push(Cause::invalid(
                        "data[.dockerconfigjson]",
                        &json!("<secret contents redacted>"),
                        "invalid character in JSON",
                    ));
                }
            }
            "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
                causes.push(Cause::required("data[username]"));
                causes.push(Cause::required("data[password]"));
            }
            _ => {}
        }
    }

    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        self.validate(obj, causes);
        if old["type"] != obj["type"] {
            causes.push(Cause::invalid("type", &obj["type"], "field is immutable"));
        }
    }
}

/// Pods: env references and volume modes.
pub struct PodRules;

/// The `fieldRef` paths an env variable may read (upstream's
/// `validEnvDownwardAPIFieldPathExpressions`).
const FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

impl Strategy for PodRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        for (list, at) in [
            ("initContainers", "spec.initContainers"),
            ("containers", "spec.containers"),
        ] {
            for (i, c) in obj["spec"][list]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (j, e) in c["env"].as_array().into_iter().flatten().enumerate() {
                    env_var(e, &format!("{at}[{i}].env[{j}]"), causes);
                }
                for (j, e) in c["envFrom"].as_array().into_iter().flatten().enumerate() {
                    if let Some(p) = e["prefix"].as_str().filter(|p| !p.is_empty())
                        && !kubelab_kubelet::env::is_env_var_name(p)
                    {
                        causes.push(Cause::invalid(
                            &format!("{at}[{i}].envFrom[{j}].prefix"),
                            &e["prefix"],
                            ENV_NAME,
                        ));
                    }
                }
            }
        }
        for (i, v) in obj["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for kind in ["configMap", "secret"] {
                let s = &v[kind];
                if s.is_null() {
                    continue;
                }
                let at = format!("spec.volumes[{i}].{kind}");
                mode(&s["defaultMode"], &format!("{at}.defaultMode"), causes);
                for (j, item) in s["items"].as_array().into_iter().flatten().enumerate() {
                    mode(&item["mode"], &format!("{at}.items[{j}].mode"), causes);
                    item_path(&item["path"], &format!("{at}.items[{j}].path"), causes);
                    if item["key"].as_str().is_none_or(str::is_empty) {
                        causes.push(Cause::required(&format!("{at}.items[{j}].key")));
                    }
                }
            }
        }
    }
}

const ENV_NAME: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";

// ANCHOR: env_var
fn env_var(e: &Value, at: &str, causes: &mut Vec<Cause>) {
    match e["name"].as_str() {
        None | Some("") => causes.push(Cause::required(&format!("{at}.name"))),
        Some(n) if !kubelab_kubelet::env::is_env_var_name(n) => {
            causes.push(Cause::invalid(&format!("{at}.name"), &e["name"], ENV_NAME))
        }
        Some(_) => {}
    }
    let from = &e["valueFrom"];
    if from.is_null() {
        return;
    }
    if e["value"].as_str().is_some_and(|v| !v.is_empty()) {
        causes.push(Cause::invalid(
            &format!("{at}.valueFrom"),
            &json!(""),
            "may not be specified when `value` is not empty",
        ));
        return;
    }
    let sources = [
        "fieldRef",
        "resourceFieldRef",
        "configMapKeyRef",
        "secretKeyRef",
    ];
    let set: Vec<&str> = sources
        .into_iter()
        .filter(|s| !from[*s].is_null())
        .collect();
    if set.len() != 1 {
        let why = match set.len() {
            0 => {
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
            }
            _ => "may not have more than one field specified at a time",
        };
        causes.push(Cause::invalid(&format!("{at}.valueFrom"), &json!(""), why));
        return;
    }
    let r = &from[set[0]];
    match set[0] {
        "fieldRef" => {
            let path = r["fieldPath"].as_str().unwrap_or_default();
            let labelled = ["metadata.labels['", "metadata.annotations['"]
                .iter()
                .any(|p| path.starts_with(p) && path.ends_with("']"));
            if path.is_empty() {
                causes.push(Cause::required(&format!(
                    "{at}.valueFrom.fieldRef.fieldPath"
                )));
            } else if !labelled && !FIELD_PATHS.contains(&path) {
                causes.push(Cause::not_supported(
                    &format!("{at}.valueFrom.fieldRef.fieldPath"),
                    &r["fieldPath"],
                    FIELD_PATHS,
                ));
            }
        }
        "resourceFieldRef" => {
            if r["resource"].as_str().is_none_or(str::is_empty) {
                causes.push(Cause::required(&format!(
                    "{at}.valueFrom.resourceFieldRef.resource"
                )));
            }
        }
        kind => {
            for field in ["name", "key"] {
                if r[field].as_str().is_none_or(str::is_empty) {
                    causes.push(Cause::required(&format!("{at}.valueFrom.{kind}.{field}")));
                }
            }
        }
    }
}
// ANCHOR_END: env_var

/// A volume item's `path`: relative, without `..` (upstream's
/// `validateLocalDescendingPath`); absent means the key's name.
pub fn item_path(v: &Value, field: &str, causes: &mut Vec<Cause>) {
    let Some(p) = v.as_str() else { return };
    if p.starts_with('/') {
        causes.push(Cause::invalid(field, v, "must be a relative path"));
    } else if p.split('/').any(|part| part == "..") {
        causes.push(Cause::invalid(field, v, "must not contain '..'"));
    }
}

fn mode(v: &Value, field: &str, causes: &mut Vec<Cause>) {
    if v.is_null() {
        return;
    }
    if !v.as_i64().is_some_and(|m| (0..=0o777).contains(&m)) {
        causes.push(Cause::invalid(
            field,
            v,
            "must be a number between 0 and 0777 (octal), both inclusive",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &dyn Strategy, obj: Value) -> Vec<String> {
        let mut causes = Vec::new();
        s.validate(&obj, &mut causes);
        causes.iter().map(Cause::to_line).collect()
    }

    #[test]
    fn secrets_are_typed() {
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(lines(&SecretRules, tls), ["data[tls.key]: Required value"]);
        let ok = json!({"type": "kubernetes.io/basic-auth", "data": {"password": "eA=="}});
        assert!(lines(&SecretRules, ok).is_empty());
        let docker = json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "bm90IGpzb24="}});
        assert_eq!(lines(&SecretRules, docker).len(), 1);
        let mut causes = Vec::new();
        SecretRules.validate_update(
            &json!({"type": "Opaque"}),
            &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
            &mut causes,
        );
        assert!(causes[0].to_line().ends_with("field is immutable"));
    }

    #[test]
    fn a_configmap_holds_at_most_one_mebibyte() {
        let big = json!({"data": {"k": "x".repeat(MAX_SIZE)}});
        assert_eq!(
            lines(&ConfigMapRules, big),
            ["[]: Too long: must have at most 1048576 bytes"]
        );
        assert!(lines(&ConfigMapRules, json!({"data": {"k": "x".repeat(1000)}})).is_empty());
    }

    #[test]
    fn env_references_are_checked_with_field_paths() {
        let pod = json!({"spec": {"containers": [{"env": [
            {"name": "A=B", "value": "x"},
            {"name": "B", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cfg"}}},
            {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}},
            {"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        ]}], "volumes": [{"name": "v", "configMap": {"name": "cfg", "defaultMode": 1000}}]}});
        let got = lines(&PodRules, pod);
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with("spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name"));
        assert_eq!(
            got[1],
            "spec.containers[0].env[1].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"
        );
        assert_eq!(
            got[2],
            "spec.containers[0].env[2].valueFrom.configMapKeyRef.key: Required value"
        );
        assert!(got[3].starts_with("spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.foo\""));
        assert_eq!(
            got[4],
            "spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive"
        );
    }
}
