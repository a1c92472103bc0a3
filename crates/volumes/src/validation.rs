//! This chapter's rules, as strategy layers on the kinds it brings to life.
//!
//! Chapter 01 stores PersistentVolumes, claims and StorageClasses as
//! plain objects. Now they mean something, so they get upstream's
//! validation (pkg/apis/core/validation, pkg/apis/storage/validation),
//! with upstream's field paths and messages, and the in-use protection
//! finalizers on create ([`crate::protection`]). Pods get their volume
//! rules: each volume of one known type, each mount naming a volume.
//!
//! Simplification: volume types kubelab's nodes cannot mount (nfs, iscsi,
//! cloud disks…) are refused with 422 at once; upstream accepts the pod
//! and its kubelet then fails to mount the volume.

use kubelab_api::validation::Cause;
use kubelab_apiserver::strategy::Strategy;
use serde_json::{Value, json};

use crate::protection::{PV_PROTECTION, PVC_PROTECTION};

pub const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
/// Every volume type a pod may name: chapter 04's, this chapter's, and
/// `ephemeral`/`csi`, which kubelab refuses as unsupported.
const ALL_TYPES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];
const SERVED_TYPES: &[&str] = &[
    "configMap",
    "downwardAPI",
    "emptyDir",
    "hostPath",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let f = &mut obj["metadata"]["finalizers"];
    if !f.is_array() {
        *f = json!([]);
    }
    let list = f.as_array_mut().unwrap();
    if !list.iter().any(|x| x == finalizer) {
        list.push(json!(finalizer));
    }
}

fn access_modes(spec: &Value, at: &str, causes: &mut Vec<Cause>) {
    match spec["accessModes"].as_array().filter(|m| !m.is_empty()) {
        None => causes.push(Cause {
            reason: "FieldValueRequired",
            field: format!("{at}.accessModes"),
            message: "Required value: at least 1 access mode is required".into(),
        }),
        Some(modes) => {
            for m in modes {
                if !m.as_str().is_some_and(|m| ACCESS_MODES.contains(&m)) {
                    causes.push(Cause::not_supported(
                        &format!("{at}.accessModes"),
                        m,
                        ACCESS_MODES,
                    ));
                }
            }
        }
    }
}

fn positive_quantity(v: &Value, field: &str, causes: &mut Vec<Cause>) {
    match kubelab_api::quantity::of(v) {
        None => causes.push(Cause::required(field)),
        Some(q) if q <= 0.0 => causes.push(Cause::invalid(field, v, "must be greater than zero")),
        Some(_) => {}
    }
}

/// A hostPath's (or local volume's) path: required, without `..`.
fn host_path(v: &Value, field: &str, causes: &mut Vec<Cause>) {
    match v.as_str() {
        None | Some("") => causes.push(Cause::required(field)),
        Some(p) if p.split('/').any(|part| part == "..") => {
            causes.push(Cause::invalid(field, v, "must not contain '..'"))
        }
        Some(_) => {}
    }
}

/// downwardAPI and projected volumes: every file they write stays inside
/// the volume, and tokens live between 10 minutes and 2^32 seconds.
fn files_volume(v: &Value, at: &str, causes: &mut Vec<Cause>) {
    use kubelab_config::validation::item_path;
    let items = |items: &Value, at: &str, causes: &mut Vec<Cause>| {
        for (j, item) in items.as_array().into_iter().flatten().enumerate() {
            let field = format!("{at}.items[{j}].path");
            if item["path"].as_str().is_none_or(str::is_empty) && item["key"].is_null() {
                causes.push(Cause::required(&field));
            }
            item_path(&item["path"], &field, causes);
        }
    };
    items(
        &v["downwardAPI"]["items"],
        &format!("{at}.downwardAPI"),
        causes,
    );
    for (k, s) in v["projected"]["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{at}.projected.sources[{k}]");
        for kind in ["configMap", "secret", "downwardAPI"] {
            items(&s[kind]["items"], &format!("{at}.{kind}"), causes);
        }
        let token = &s["serviceAccountToken"];
        if token.is_object() {
            item_path(
                &token["path"],
                &format!("{at}.serviceAccountToken.path"),
                causes,
            );
            if let Some(secs) = token["expirationSeconds"].as_i64()
                && let Some(why) = crate::serviceaccounts::token_lifetime_problem(secs)
            {
                causes.push(Cause::invalid(
                    &format!("{at}.serviceAccountToken.expirationSeconds"),
                    &token["expirationSeconds"],
                    why,
                ));
            }
        }
    }
}

/// PersistentVolumeClaims.
pub struct ClaimRules;

impl Strategy for ClaimRules {
    fn prepare_for_create(&self, obj: &mut Value) {
        add_finalizer(obj, PVC_PROTECTION);
        obj["status"] = json!({"phase": "Pending"});
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = &obj["spec"];
        access_modes(spec, "spec", causes);
        positive_quantity(
            &spec["resources"]["requests"]["storage"],
            "spec.resources[storage]",
            causes,
        );
    }

    // ANCHOR: claim_update
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        self.validate(obj, causes);
        // What a claim asked for is fixed; the binder fills in volumeName
        // (and a default class) once, and a bound claim may grow.
        let mut before = old["spec"].clone();
        let mut after = obj["spec"].clone();
        for s in [&mut before, &mut after] {
            if let Some(m) = s.as_object_mut() {
                m.remove("resources");
                m.remove("volumeAttributesClassName");
            }
        }
        for (field, unset) in [
            (
                "volumeName",
                before["volumeName"].as_str().is_none_or(str::is_empty),
            ),
            ("storageClassName", before["storageClassName"].is_null()),
        ] {
            if unset && let Some(m) = before.as_object_mut() {
                m.remove(field);
                if let Some(v) = after.get(field) {
                    m.insert(field.to_string(), v.clone());
                }
            }
        }
        if before != after {
            causes.push(Cause {
                reason: "FieldValueForbidden",
                field: "spec".into(),
                message: "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims".into(),
            });
        }
    }
    // ANCHOR_END: claim_update
}

/// PersistentVolumes.
pub struct VolumeRules;

impl Strategy for VolumeRules {
    fn prepare_for_create(&self, obj: &mut Value) {
        add_finalizer(obj, PV_PROTECTION);
        obj["status"] = json!({"phase": "Pending"});
    }

    fn default(&self, obj: &mut Value) {
        if obj["spec"]["persistentVolumeReclaimPolicy"].is_null() && obj["spec"].is_object() {
            obj["spec"]["persistentVolumeReclaimPolicy"] = json!("Retain");
        }
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = &obj["spec"];
        access_modes(spec, "spec", causes);
        if spec["capacity"].is_null() {
            causes.push(Cause::required("spec.capacity"));
        } else {
            positive_quantity(
                &spec["capacity"]["storage"],
                "spec.capacity[storage]",
                causes,
            );
        }
        if let Some(p) = spec["persistentVolumeReclaimPolicy"].as_str()
            && !RECLAIM_POLICIES.contains(&p)
        {
            causes.push(Cause::not_supported(
                "spec.persistentVolumeReclaimPolicy",
                &json!(p),
                RECLAIM_POLICIES,
            ));
        }
        let kinds: Vec<&String> = spec
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| ALL_TYPES.contains(&k.as_str()) || *k == "local")
            .collect();
        match kinds.as_slice() {
            [] => causes.push(Cause {
                reason: "FieldValueRequired",
                field: "spec".into(),
                message: "Required value: must specify a volume type".into(),
            }),
            [one] if *one == "hostPath" || *one == "local" => {
                host_path(
                    &spec[one.as_str()]["path"],
                    &format!("spec.{one}.path"),
                    causes,
                );
            }
            [one] => causes.push(Cause::not_supported(
                &format!("spec.{one}"),
                &json!(one),
                &["hostPath", "local"],
            )),
            [_, second, ..] => causes.push(Cause {
                reason: "FieldValueForbidden",
                field: format!("spec.{second}"),
                message: "Forbidden: may not specify more than 1 volume type".into(),
            }),
        }
    }
}

/// StorageClasses.
pub struct ClassRules;

impl Strategy for ClassRules {
    fn default(&self, obj: &mut Value) {
        if obj["reclaimPolicy"].is_null() {
            obj["reclaimPolicy"] = json!("Delete");
        }
        if obj["volumeBindingMode"].is_null() {
            obj["volumeBindingMode"] = json!("Immediate");
        }
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        if obj["provisioner"].as_str().is_none_or(str::is_empty) {
            causes.push(Cause::required("provisioner"));
        }
        if let Some(p) = obj["reclaimPolicy"].as_str()
            && !["Delete", "Retain"].contains(&p)
        {
            causes.push(Cause::not_supported(
                "reclaimPolicy",
                &json!(p),
                &["Delete", "Retain"],
            ));
        }
        if let Some(m) = obj["volumeBindingMode"].as_str()
            && !["Immediate", "WaitForFirstConsumer"].contains(&m)
        {
            causes.push(Cause::not_supported(
                "volumeBindingMode",
                &json!(m),
                &["Immediate", "WaitForFirstConsumer"],
            ));
        }
    }
}

/// Pods: their volumes and mounts.
pub struct PodVolumeRules;

impl Strategy for PodVolumeRules {
    /// A volume that names only itself is an emptyDir (upstream's defaulting).
    fn default(&self, obj: &mut Value) {
        // (`get_mut`: indexing would add `volumes: null` to every pod.)
        let volumes = obj
            .get_mut("spec")
            .and_then(|s| s.get_mut("volumes"))
            .and_then(Value::as_array_mut);
        for v in volumes.into_iter().flatten() {
            let named_only = v.as_object().is_some_and(|m| m.keys().all(|k| k == "name"));
            if named_only {
                v["emptyDir"] = json!({});
            }
        }
    }

    // ANCHOR: pod_rules
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let volumes: Vec<&Value> = obj["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for (i, v) in volumes.iter().enumerate() {
            let at = format!("spec.volumes[{i}]");
            if let Some(n) = v["name"].as_str() {
                if names.contains(&n) {
                    causes.push(Cause {
                        reason: "FieldValueDuplicate",
                        field: format!("{at}.name"),
                        message: format!("Duplicate value: \"{n}\""),
                    });
                }
                names.push(n);
            }
            let kinds: Vec<&str> = ALL_TYPES
                .iter()
                .copied()
                .filter(|k| !v[*k].is_null())
                .collect();
            match kinds.as_slice() {
                [] => causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: at.clone(),
                    message: "Required value: must specify a volume type".into(),
                }),
                [k] if !SERVED_TYPES.contains(k) => causes.push(Cause::not_supported(
                    &format!("{at}.{k}"),
                    &json!(k),
                    SERVED_TYPES,
                )),
                [_] => {}
                [_, second, ..] => causes.push(Cause {
                    reason: "FieldValueForbidden",
                    field: format!("{at}.{second}"),
                    message: "Forbidden: may not specify more than 1 volume type".into(),
                }),
            }
            if v["hostPath"].is_object() {
                host_path(
                    &v["hostPath"]["path"],
                    &format!("{at}.hostPath.path"),
                    causes,
                );
                let t = &v["hostPath"]["type"];
                if !t.is_null() && !t.as_str().is_some_and(|t| HOST_PATH_TYPES.contains(&t)) {
                    causes.push(Cause::not_supported(
                        &format!("{at}.hostPath.type"),
                        t,
                        &HOST_PATH_TYPES[1..],
                    ));
                }
            }
            if v["persistentVolumeClaim"].is_object()
                && v["persistentVolumeClaim"]["claimName"]
                    .as_str()
                    .is_none_or(str::is_empty)
            {
                causes.push(Cause::required(&format!(
                    "{at}.persistentVolumeClaim.claimName"
                )));
            }
            files_volume(v, &at, causes);
            let medium = &v["emptyDir"]["medium"];
            if !medium.is_null() && !medium.as_str().is_some_and(|m| ["", "Memory"].contains(&m)) {
                causes.push(Cause::not_supported(
                    &format!("{at}.emptyDir.medium"),
                    medium,
                    &["", "Memory"],
                ));
            }
            let limit = &v["emptyDir"]["sizeLimit"];
            if !limit.is_null() && kubelab_api::quantity::of(limit).is_none_or(|q| q < 0.0) {
                causes.push(Cause::invalid(
                    &format!("{at}.emptyDir.sizeLimit"),
                    limit,
                    "must be greater than or equal to 0",
                ));
            }
        }
        for (list, path) in [
            ("initContainers", "spec.initContainers"),
            ("containers", "spec.containers"),
        ] {
            for (i, c) in obj["spec"][list]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (j, m) in c["volumeMounts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let at = format!("{path}[{i}].volumeMounts[{j}]");
                    match m["name"].as_str() {
                        None | Some("") => causes.push(Cause::required(&format!("{at}.name"))),
                        Some(n) if !names.contains(&n) => causes.push(Cause {
                            reason: "FieldValueNotFound",
                            field: format!("{at}.name"),
                            message: format!("Not found: \"{n}\""),
                        }),
                        Some(_) => {}
                    }
                    if m["mountPath"].as_str().is_none_or(str::is_empty) {
                        causes.push(Cause::required(&format!("{at}.mountPath")));
                    }
                    // The same rule as a volume item's path: relative, no `..`.
                    for key in ["subPath", "subPathExpr"] {
                        kubelab_config::validation::item_path(
                            &m[key],
                            &format!("{at}.{key}"),
                            causes,
                        );
                    }
                    if !m["subPath"].as_str().unwrap_or("").is_empty()
                        && !m["subPathExpr"].as_str().unwrap_or("").is_empty()
                    {
                        causes.push(Cause::invalid(
                            &format!("{at}.subPathExpr"),
                            &m["subPathExpr"],
                            "subPathExpr and subPath are mutually exclusive",
                        ));
                    }
                }
            }
        }
    }
    // ANCHOR_END: pod_rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &dyn Strategy, obj: &Value) -> Vec<String> {
        let mut causes = Vec::new();
        s.validate(obj, &mut causes);
        causes.iter().map(Cause::to_line).collect()
    }

    #[test]
    fn claims_need_a_size_and_known_modes() {
        let pvc = json!({"spec": {"accessModes": ["ReadWriteSometimes"], "resources": {}}});
        assert_eq!(
            lines(&ClaimRules, &pvc),
            [
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Required value",
            ]
        );
        assert_eq!(
            lines(
                &ClaimRules,
                &json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}})
            ),
            ["spec.accessModes: Required value: at least 1 access mode is required",]
        );
    }

    #[test]
    fn a_bound_claim_may_only_grow() {
        let old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard"}});
        let mut grown = old.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        grown["spec"]["volumeName"] = json!("pvc-1");
        let mut causes = Vec::new();
        ClaimRules.validate_update(&old, &grown, &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
        let mut no_class = old.clone();
        no_class["spec"]
            .as_object_mut()
            .unwrap()
            .remove("storageClassName");
        ClaimRules.validate_update(&no_class, &grown, &mut causes);
        assert!(
            causes.is_empty(),
            "the default class is filled in once: {causes:?}"
        );
        let mut other_class = old.clone();
        other_class["spec"]["storageClassName"] = json!("fast");
        ClaimRules.validate_update(&old, &other_class, &mut causes);
        assert_eq!(causes[0].field, "spec");
    }

    #[test]
    fn pod_volumes_have_one_served_type_and_mounts_name_them() {
        let pod = json!({"spec": {"volumes": [
            {"name": "a", "nfs": {"server": "x", "path": "/"}},
            {"name": "b", "hostPath": {"path": "/tmp", "type": "Folder"}},
        ], "containers": [{"name": "c", "volumeMounts": [
            {"name": "nope", "mountPath": "/x"},
            {"name": "b", "mountPath": "/y", "subPath": "../etc"},
        ]}]}});
        let l = lines(&PodVolumeRules, &pod);
        assert!(
            l[0].starts_with(
                "spec.volumes[0].nfs: Unsupported value: \"nfs\": supported values: \"configMap\""
            ),
            "{l:?}"
        );
        assert!(
            l[1].starts_with("spec.volumes[1].hostPath.type: Unsupported value: \"Folder\""),
            "{l:?}"
        );
        assert_eq!(
            l[2],
            "spec.containers[0].volumeMounts[0].name: Not found: \"nope\""
        );
        assert_eq!(
            l[3],
            "spec.containers[0].volumeMounts[1].subPath: Invalid value: \"../etc\": must not contain '..'"
        );
    }

    #[test]
    fn a_volume_with_only_a_name_is_an_empty_dir() {
        let mut pod = json!({"spec": {"volumes": [{"name": "scratch"}]}});
        PodVolumeRules.default(&mut pod);
        assert_eq!(pod["spec"]["volumes"][0]["emptyDir"], json!({}));
        let mut none = json!({"spec": {"containers": []}});
        PodVolumeRules.default(&mut none);
        assert_eq!(none, json!({"spec": {"containers": []}}), "adds nothing");
    }
}
