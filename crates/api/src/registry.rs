//! The kind registry: which object kinds exist and how they are addressed.
//!
//! Every request to the API server names a *resource* (`deployments`), in a
//! *group* (`apps`) and *version* (`v1`); every object names its *kind*
//! (`Deployment`) and `apiVersion` (`apps/v1`). The registry ties the two
//! together and records what discovery tells clients: is the resource
//! namespaced, which short names (`deploy`) and categories (`all`) it has,
//! which verbs and subresources it supports. `kubectl api-resources` prints
//! exactly this table.

/// One REST resource, as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; `""` is the core ("legacy") group served under `/api`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The plural, lower-case name used in URLs: `deployments`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// The verbs this resource supports (`get`, `list`, `create` …).
    pub verbs: &'static [&'static str],
    /// Subresources: `status`, `scale`, `log`, `exec`, `binding` …
    pub subresources: &'static [&'static str],
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether a `metadata.generation` bump and a `status` subresource apply:
    /// kinds with a spec that controllers act on.
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    /// Whether a DELETE answers with the deleted object instead of a
    /// `Status`: upstream's storage for these kinds sets
    /// `ReturnDeletedObject`, and clients decode the answer by kind (the
    /// Python client reads a deleted Service as a `V1Service`).
    pub fn returns_deleted_object(&self) -> bool {
        matches!(
            (self.group, self.kind),
            ("", "Pod" | "Namespace" | "Service" | "ServiceAccount")
                | ("storage.k8s.io", "StorageClass")
        )
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

macro_rules! resource {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $ns:expr,
     short: $short:expr, cat: $cat:expr, sub: $sub:expr) => {
        ResourceInfo {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $ns,
            short_names: $short,
            categories: $cat,
            verbs: ALL_VERBS,
            subresources: $sub,
        }
    };
}

/// Every resource kubelab serves, in the order discovery lists them.
pub static RESOURCES: &[ResourceInfo] = &[
    // ---- core (/api/v1) ----
    resource!("", "v1", "Binding", "bindings", "binding", true, short: NONE, cat: NONE, sub: NONE),
    resource!("", "v1", "ConfigMap", "configmaps", "configmap", true, short: &["cm"], cat: NONE, sub: NONE),
    resource!("", "v1", "Endpoints", "endpoints", "endpoints", true, short: &["ep"], cat: NONE, sub: NONE),
    resource!("", "v1", "Event", "events", "event", true, short: &["ev"], cat: NONE, sub: NONE),
    resource!("", "v1", "Namespace", "namespaces", "namespace", false, short: &["ns"], cat: NONE, sub: &["finalize", "status"]),
    resource!("", "v1", "Node", "nodes", "node", false, short: &["no"], cat: NONE, sub: &["proxy", "status"]),
    resource!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true, short: &["pvc"], cat: NONE, sub: &["status"]),
    resource!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false, short: &["pv"], cat: NONE, sub: &["status"]),
    resource!("", "v1", "Pod", "pods", "pod", true, short: &["po"], cat: ALL, sub: &["attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "status"]),
    resource!("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", true, short: &["rc"], cat: ALL, sub: &["scale", "status"]),
    resource!("", "v1", "Secret", "secrets", "secret", true, short: NONE, cat: NONE, sub: NONE),
    resource!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, short: &["sa"], cat: NONE, sub: &["token"]),
    resource!("", "v1", "Service", "services", "service", true, short: &["svc"], cat: ALL, sub: &["proxy", "status"]),
    // ---- apps/v1 ----
    resource!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true, short: NONE, cat: NONE, sub: NONE),
    resource!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, short: &["ds"], cat: ALL, sub: &["status"]),
    resource!("apps", "v1", "Deployment", "deployments", "deployment", true, short: &["deploy"], cat: ALL, sub: &["scale", "status"]),
    resource!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, short: &["rs"], cat: ALL, sub: &["scale", "status"]),
    resource!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, short: &["sts"], cat: ALL, sub: &["scale", "status"]),
    // ---- autoscaling/v2 ----
    resource!("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", true, short: &["hpa"], cat: ALL, sub: &["status"]),
    // ---- batch/v1 ----
    resource!("batch", "v1", "CronJob", "cronjobs", "cronjob", true, short: &["cj"], cat: ALL, sub: &["status"]),
    resource!("batch", "v1", "Job", "jobs", "job", true, short: NONE, cat: ALL, sub: &["status"]),
    // ---- coordination.k8s.io/v1 ----
    resource!("coordination.k8s.io", "v1", "Lease", "leases", "lease", true, short: NONE, cat: NONE, sub: NONE),
    // ---- discovery.k8s.io/v1 ----
    resource!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, short: NONE, cat: NONE, sub: NONE),
    // ---- events.k8s.io/v1 ----
    resource!("events.k8s.io", "v1", "Event", "events", "event", true, short: &["ev"], cat: NONE, sub: NONE),
    // ---- policy/v1 ----
    resource!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true, short: &["pdb"], cat: NONE, sub: &["status"]),
    // ---- rbac.authorization.k8s.io/v1 ----
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", false, short: NONE, cat: NONE, sub: NONE),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", false, short: NONE, cat: NONE, sub: NONE),
    resource!("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", true, short: NONE, cat: NONE, sub: NONE),
    resource!("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", true, short: NONE, cat: NONE, sub: NONE),
    // ---- storage.k8s.io/v1 ----
    resource!("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", false, short: &["sc"], cat: NONE, sub: NONE),
];

/// The API groups, in the order discovery lists them (core first).
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

/// The resource for a URL: group, version and plural name.
pub fn by_resource(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource for an object: its `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let (group, version) = split_api_version(api_version);
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Versions of a group that kubelab serves (one each, today).
pub fn versions(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_and_services_answer_a_delete_with_themselves_configmaps_with_a_status() {
        let returns = |v, k| by_kind(v, k).unwrap().returns_deleted_object();
        assert!(returns("v1", "Pod") && returns("v1", "Service"));
        assert!(returns("storage.k8s.io/v1", "StorageClass"));
        assert!(!returns("v1", "ConfigMap") && !returns("apps/v1", "Deployment"));
    }

    #[test]
    fn lookups_agree_with_each_other() {
        let d = by_resource("apps", "v1", "deployments").unwrap();
        assert_eq!(d.kind, "Deployment");
        assert_eq!(by_kind("apps/v1", "Deployment"), Some(d));
        assert_eq!(by_kind("v1", "Pod").unwrap().plural, "pods");
        assert!(by_kind("v1", "Deployment").is_none());
        assert_eq!(groups()[0], "");
        // Every plural is unique inside its group/version.
        for r in RESOURCES {
            let same = RESOURCES
                .iter()
                .filter(|o| o.group == r.group && o.version == r.version && o.plural == r.plural)
                .count();
            assert_eq!(same, 1, "{} is registered twice", r.plural);
        }
    }
}
