//! Chapter 01's strategies: what each built-in kind adds to the generic
//! create / update / delete path ([`crate::strategy`]).
//!
//! Chapter 01 serves every built-in kind — a Deployment can be stored and
//! read back long before anything runs it — so it knows each kind's
//! defaults, rules and server-set fields. What needs more of the cluster
//! comes with the chapter that builds it: chapter 03's network crate adds
//! a Service's cluster IP and node ports to the Service strategy here.
//!
//! Each strategy is upstream's `pkg/registry/<group>/<kind>/strategy.go`
//! in a few lines; the defaults and rules themselves live with the object
//! model (`kubelab_api::defaults`, `kubelab_api::validation`).

use base64::Engine as _;
use kubelab_api::validation::{self, Cause};
use kubelab_api::{defaults, pod};
use serde_json::{Value, json};

use std::sync::Arc;

use crate::strategy::{Columns, Strategies, Strategy};

/// Registers chapter 01's strategies.
// ANCHOR: register
pub fn register(s: &mut Strategies) {
    s.register("", "Pod", PodStrategy);
    s.register("", "Service", ServiceStrategy);
    s.register("", "Namespace", NamespaceStrategy);
    s.register("", "Node", KeepsStatus);
    s.register("", "ConfigMap", ConfigMapStrategy);
    s.register("", "Secret", SecretStrategy);
    s.register("", "PersistentVolume", PersistentVolumeStrategy);
    s.register("", "PersistentVolumeClaim", ClaimStrategy);
    s.register("", "ReplicationController", ReplicationControllerStrategy);
    s.register("policy", "PodDisruptionBudget", PodDisruptionBudgetStrategy);
    s.register(
        "apps",
        "Deployment",
        Workload("Deployment", defaults::deployment),
    );
    s.register(
        "apps",
        "ReplicaSet",
        Workload("ReplicaSet", defaults::replica_set),
    );
    s.register(
        "apps",
        "StatefulSet",
        Workload("StatefulSet", defaults::stateful_set),
    );
    s.register(
        "apps",
        "DaemonSet",
        Workload("DaemonSet", defaults::daemon_set),
    );
    s.register("batch", "Job", JobStrategy);
    s.register("batch", "CronJob", CronJobStrategy);
    // The columns of `kubectl get`, kind by kind (crate::printers).
    for (group, kind, printer) in crate::printers::builtin() {
        s.register(group, kind, Columns(Arc::new(printer)));
    }
}
// ANCHOR_END: register

/// Pods: a new pod is Pending with its QoS class; almost nothing of its
/// spec may change; a pod on a node is deleted gracefully.
// ANCHOR: pod_strategy
struct PodStrategy;

impl Strategy for PodStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Pending", "qosClass": pod::qos_class(&obj["spec"])});
    }
    /// Ephemeral containers change only through their own subresource
    /// (`pods/x/ephemeralcontainers`, what `kubectl debug` patches).
    fn prepare_for_update(&self, old: &Value, obj: &mut Value) {
        match old["spec"].get("ephemeralContainers") {
            Some(e) => obj["spec"]["ephemeralContainers"] = e.clone(),
            None => {
                if let Some(s) = obj["spec"].as_object_mut() {
                    s.remove("ephemeralContainers");
                }
            }
        }
    }
    fn default(&self, obj: &mut Value) {
        defaults::pod(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::pod(obj, causes);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::pod(obj, causes);
        validation::pod_update(old, obj, causes);
    }
    /// A pod that a node runs is only marked; its kubelet stops the
    /// containers and then deletes it for good. A pod on no node, or one
    /// that has finished, or a grace period of 0, goes at once.
    fn graceful_delete(&self, pod: &Value, requested: Option<i64>) -> Option<i64> {
        let on_node = pod["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let grace = requested
            .or(pod["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
            .max(0);
        (on_node && !pod::is_terminal(pod) && grace > 0).then_some(grace)
    }
}
// ANCHOR_END: pod_strategy

/// Services: defaults, ports and types; the cluster IP may not change.
/// (Chapter 03 adds the allocation of addresses and node ports.)
struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"loadBalancer": {}});
    }
    fn default(&self, obj: &mut Value) {
        defaults::service(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::service(obj, causes);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::service(obj, causes);
        validation::immutable(old, obj, validation::SERVICE_IMMUTABLE, causes);
    }
}

/// Namespaces: deleting one only marks it `Terminating`; it goes when the
/// namespace controller has emptied it and removed `spec.finalizers`.
struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn default(&self, obj: &mut Value) {
        defaults::namespace(obj);
    }
    fn mark_for_deletion(&self, obj: &mut Value) -> bool {
        obj["status"]["phase"] = json!("Terminating");
        true
    }
    fn holds_deletion(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    }
    fn keeps_status_on_create(&self) -> Option<bool> {
        Some(true)
    }
    fn status_only_via_subresource(&self) -> Option<bool> {
        Some(false)
    }
    fn tracks_generation(&self) -> Option<bool> {
        Some(true)
    }
}

/// Kinds whose creator may set the status (a kubelet registers its Node
/// with its capacity and addresses).
struct KeepsStatus;

impl Strategy for KeepsStatus {
    fn keeps_status_on_create(&self) -> Option<bool> {
        Some(true)
    }
}

struct ConfigMapStrategy;

impl Strategy for ConfigMapStrategy {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::config_data(obj, causes);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::config_data(obj, causes);
        validation::immutable_data(old, obj, causes);
    }
}

/// Secrets: `stringData` is a write-only convenience, merged into `data`
/// base64-encoded.
struct SecretStrategy;

impl SecretStrategy {
    fn merge_string_data(obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else { return };
        if let Some(Value::Object(sd)) = o.remove("stringData") {
            let data = o.entry("data").or_insert(json!({}));
            for (k, v) in sd {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(v.as_str().unwrap_or_default());
                data[k] = json!(encoded);
            }
        }
    }
}

impl Strategy for SecretStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        Self::merge_string_data(obj);
    }
    fn prepare_for_update(&self, _old: &Value, obj: &mut Value) {
        Self::merge_string_data(obj);
    }
    fn default(&self, obj: &mut Value) {
        defaults::secret(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::config_data(obj, causes);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::config_data(obj, causes);
        validation::immutable_data(old, obj, causes);
    }
}

struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn default(&self, obj: &mut Value) {
        defaults::persistent_volume(obj);
    }
    fn keeps_status_on_create(&self) -> Option<bool> {
        Some(true)
    }
}

struct ClaimStrategy;

impl Strategy for ClaimStrategy {
    fn default(&self, obj: &mut Value) {
        defaults::persistent_volume_claim(obj);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::immutable(old, obj, validation::CLAIM_IMMUTABLE, causes);
    }
    fn keeps_status_on_create(&self) -> Option<bool> {
        Some(true)
    }
}

/// Deployments, ReplicaSets, StatefulSets, DaemonSets: a pod template and
/// a selector that matches it and never changes.
struct Workload(&'static str, fn(&mut Value));

impl Strategy for Workload {
    fn default(&self, obj: &mut Value) {
        (self.1)(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::pod_workload(self.0, obj, causes);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::pod_workload(self.0, obj, causes);
        validation::immutable(old, obj, validation::WORKLOAD_IMMUTABLE, causes);
    }
}

/// ReplicationControllers: a ReplicaSet whose selector is a plain map.
struct ReplicationControllerStrategy;

impl Strategy for ReplicationControllerStrategy {
    fn default(&self, obj: &mut Value) {
        defaults::replication_controller(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::replication_controller(obj, causes);
    }
}

/// PodDisruptionBudgets: stored with an empty status; chapter 06's
/// disruption controller fills it and validates the spec.
struct PodDisruptionBudgetStrategy;

impl Strategy for PodDisruptionBudgetStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
    }
}

struct JobStrategy;

impl Strategy for JobStrategy {
    fn default(&self, obj: &mut Value) {
        defaults::job(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validation::job(obj, causes);
    }
    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        validation::job(obj, causes);
        validation::immutable(old, obj, validation::JOB_IMMUTABLE, causes);
    }
}

struct CronJobStrategy;

impl Strategy for CronJobStrategy {
    fn default(&self, obj: &mut Value) {
        defaults::cron_job(obj);
    }
}
