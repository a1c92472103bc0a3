//! Defaulting: the fields the API server fills in when you leave them out.
//!
//! `kubectl apply` a three-line Deployment and read it back with `-o yaml`:
//! it has `replicas: 1`, a `RollingUpdate` strategy with 25 % / 25 %,
//! `restartPolicy: Always`, `terminationGracePeriodSeconds: 30` and more.
//! None of that came from you; upstream's `SetDefaults_*` functions added it
//! before the object was stored, so every controller can rely on the fields
//! being there. This module does the same, on the JSON form, kind by kind.

use serde_json::{Value, json};

/// Sets `obj[key] = value` unless the key is already present (and not null).
fn default(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        let slot = map.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// The object at `obj[key]`, created empty if missing.
fn child<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    default(obj, key, json!({}));
    &mut obj[key]
}

fn each<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

// One function per kind, each called by its kind's strategy in the API
// server (upstream: the `SetDefaults_<Kind>` functions of `pkg/apis/*/v1`).

pub fn pod(obj: &mut Value) {
    pod_spec(child(obj, "spec"));
}

pub fn service(obj: &mut Value) {
    service_spec(child(obj, "spec"));
}

pub fn namespace(obj: &mut Value) {
    // The "kubernetes" finalizer is what makes a namespace wait until
    // its contents are gone before it disappears itself.
    default(child(obj, "spec"), "finalizers", json!(["kubernetes"]));
    default(child(obj, "status"), "phase", json!("Active"));
}

pub fn secret(obj: &mut Value) {
    default(obj, "type", json!("Opaque"));
}

pub fn persistent_volume_claim(obj: &mut Value) {
    default(child(obj, "spec"), "volumeMode", json!("Filesystem"));
    default(child(obj, "status"), "phase", json!("Pending"));
}

pub fn persistent_volume(obj: &mut Value) {
    let spec = child(obj, "spec");
    default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
    default(spec, "volumeMode", json!("Filesystem"));
    default(child(obj, "status"), "phase", json!("Pending"));
}

pub fn deployment(obj: &mut Value) {
    let spec = child(obj, "spec");
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    let strategy = child(spec, "strategy");
    default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        let ru = child(strategy, "rollingUpdate");
        default(ru, "maxUnavailable", json!("25%"));
        default(ru, "maxSurge", json!("25%"));
    }
    pod_template(spec);
}

pub fn replica_set(obj: &mut Value) {
    let spec = child(obj, "spec");
    default(spec, "replicas", json!(1));
    pod_template(spec);
}

/// A ReplicationController (core/v1, the ReplicaSet's ancestor): with no
/// selector it selects its template's labels, and with no labels of its
/// own it takes them from the template too (`SetDefaults_ReplicationController`).
pub fn replication_controller(obj: &mut Value) {
    let template_labels = obj["spec"]["template"]["metadata"]["labels"].clone();
    let has = |v: &Value| v.as_object().is_some_and(|m| !m.is_empty());
    if has(&template_labels) {
        if !has(&obj["spec"]["selector"]) {
            child(obj, "spec")["selector"] = template_labels.clone();
        }
        if !has(&obj["metadata"]["labels"]) {
            child(obj, "metadata")["labels"] = template_labels;
        }
    }
    let spec = child(obj, "spec");
    default(spec, "replicas", json!(1));
    pod_template(spec);
}

pub fn stateful_set(obj: &mut Value) {
    let spec = child(obj, "spec");
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "revisionHistoryLimit", json!(10));
    let strategy = child(spec, "updateStrategy");
    default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        default(child(strategy, "rollingUpdate"), "partition", json!(0));
    }
    pod_template(spec);
}

pub fn daemon_set(obj: &mut Value) {
    let spec = child(obj, "spec");
    default(spec, "revisionHistoryLimit", json!(10));
    let strategy = child(spec, "updateStrategy");
    default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        let ru = child(strategy, "rollingUpdate");
        default(ru, "maxUnavailable", json!(1));
        default(ru, "maxSurge", json!(0));
    }
    pod_template(spec);
}

pub fn job(obj: &mut Value) {
    job_spec(child(obj, "spec"));
}

pub fn cron_job(obj: &mut Value) {
    let spec = child(obj, "spec");
    default(spec, "concurrencyPolicy", json!("Allow"));
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    let job_template = child(spec, "jobTemplate");
    job_spec(child(job_template, "spec"));
}

fn job_spec(spec: &mut Value) {
    // Neither count: one pod, once. Only `parallelism`: a work queue, done
    // when one pod succeeds (no `completions`).
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        default(spec, "completions", json!(1));
    }
    default(spec, "parallelism", json!(1));
    if spec
        .get("backoffLimitPerIndex")
        .is_some_and(|v| !v.is_null())
    {
        default(spec, "backoffLimit", json!(i32::MAX));
    }
    default(spec, "backoffLimit", json!(6));
    let replacement = if spec.get("podFailurePolicy").is_some_and(|v| !v.is_null()) {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default(spec, "podReplacementPolicy", json!(replacement));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    // A Job's pods must not restart forever; the template says so itself,
    // and validation rejects "Always", so there is no default here.
    if let Some(template) = spec.get_mut("template") {
        pod_spec(child(template, "spec"));
    }
}

fn pod_template(spec: &mut Value) {
    if let Some(template) = spec.get_mut("template") {
        pod_spec(child(template, "spec"));
    }
}

/// Defaults of a PodSpec, wherever it appears (pods and pod templates).
pub fn pod_spec(spec: &mut Value) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "enableServiceLinks", json!(true));
    for key in ["initContainers", "containers"] {
        for c in each(spec, key) {
            container(c);
        }
    }
}

fn container(c: &mut Value) {
    // Upstream: "Always" when the tag is `latest` or missing, else "IfNotPresent".
    let image = c["image"].as_str().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    let tag = last.split_once(':').map(|(_, t)| t);
    let pull = if image.contains('@') || tag.is_some_and(|t| t != "latest") {
        "IfNotPresent"
    } else {
        "Always"
    };
    default(c, "imagePullPolicy", json!(pull));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    for p in each(c, "ports") {
        default(p, "protocol", json!("TCP"));
    }
}

fn service_spec(spec: &mut Value) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    if spec["type"] != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if spec["type"] == "NodePort" || spec["type"] == "LoadBalancer" {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    for p in each(spec, "ports") {
        default(p, "protocol", json!("TCP"));
        // targetPort defaults to the service port.
        let port = p["port"].clone();
        default(p, "targetPort", port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults_match_upstream() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "kubelab/web:1.0", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox"}
        ]}}}});
        deployment(&mut d);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["containers"][1]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn defaults_never_override_what_was_given() {
        let mut d = json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}});
        deployment(&mut d);
        assert_eq!(d["spec"]["replicas"], 0);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        let mut s = json!({"spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]}});
        service(&mut s);
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ports"][1]["targetPort"], "http");
    }
}
