//! Protobuf request bodies: what `kubectl create <kind>` sends.
//!
//! Kubernetes speaks protobuf as well as JSON (it is faster for the
//! control plane's own components). kubectl uses it for its generators —
//! `kubectl create deployment|configmap|secret|namespace|job|service …` —
//! and offers no JSON fallback, so a server that only reads JSON breaks them.
//!
//! The wire format: the magic bytes `k8s\0`, then a `runtime.Unknown`
//! envelope holding `apiVersion`, `kind` and the object's own protobuf
//! bytes (`raw`). We decode `raw` with the `k8s-pb` crate's generated types
//! and convert the result to the JSON form the rest of the server uses.
//!
//! Simplification (said in the book): only the kinds and fields that
//! kubectl's generators fill in are converted — metadata, ConfigMap, Secret,
//! Namespace, ServiceAccount, Service, Deployment, Job, CronJob, RBAC
//! roles and bindings, PodDisruptionBudget, HorizontalPodAutoscaler (resource metrics) (with the pod template fields kubectl sets), and
//! the TokenRequest of `kubectl create token`. Any other
//! kind sent as protobuf gets a 415 asking for JSON.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_pb::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, core::v1 as core,
    policy::v1 as policy, rbac::v1 as rbac,
};
use k8s_pb::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Value, json};

use crate::status::ApiError;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// Decodes a protobuf body into the object's JSON form.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let raw = body.strip_prefix(MAGIC).ok_or_else(|| {
        ApiError::bad_request("protobuf body does not start with the k8s\\0 prefix")
    })?;
    let unknown = Unknown::decode(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid protobuf envelope: {e}")))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let (api_version, kind) = (
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
    );
    let bytes = unknown.raw.unwrap_or_default();
    let bad =
        |e: prost::DecodeError| ApiError::bad_request(format!("invalid protobuf {kind}: {e}"));
    let mut obj = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            let n = core::Namespace::decode(&bytes[..]).map_err(bad)?;
            with_meta(n.metadata)
        }
        ("v1", "ServiceAccount") => {
            let n = core::ServiceAccount::decode(&bytes[..]).map_err(bad)?;
            with_meta(n.metadata)
        }
        ("v1", "ConfigMap") => {
            let c = core::ConfigMap::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(c.metadata);
            put(&mut o, "data", strings(&c.data));
            put(&mut o, "binaryData", bytes_map(&c.binary_data));
            put(&mut o, "immutable", c.immutable.map(Value::from));
            o
        }
        ("v1", "Secret") => {
            let s = core::Secret::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(s.metadata);
            put(&mut o, "data", bytes_map(&s.data));
            put(&mut o, "stringData", strings(&s.string_data));
            put(&mut o, "type", s.r#type.map(Value::from));
            put(&mut o, "immutable", s.immutable.map(Value::from));
            o
        }
        ("v1", "Service") => {
            let s = core::Service::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(s.metadata);
            put(&mut o, "spec", s.spec.map(service_spec));
            o
        }
        ("apps/v1", "Deployment") => {
            let d = apps::Deployment::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(d.metadata);
            if let Some(spec) = d.spec {
                let mut sp = Map::new();
                put(&mut sp, "replicas", spec.replicas.map(Value::from));
                put(&mut sp, "selector", spec.selector.map(label_selector));
                put(&mut sp, "template", spec.template.map(pod_template));
                o.insert("spec".into(), Value::Object(sp));
            }
            o
        }
        ("batch/v1", "Job") => {
            let j = batch::Job::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(j.metadata);
            put(&mut o, "spec", j.spec.map(job_spec));
            o
        }
        ("batch/v1", "CronJob") => {
            let c = batch::CronJob::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(c.metadata);
            if let Some(spec) = c.spec {
                let mut sp = Map::new();
                put(&mut sp, "schedule", spec.schedule.map(Value::from));
                put(&mut sp, "timeZone", spec.time_zone.map(Value::from));
                put(&mut sp, "suspend", spec.suspend.map(Value::from));
                if let Some(jt) = spec.job_template {
                    let mut t = with_meta(jt.metadata);
                    put(&mut t, "spec", jt.spec.map(job_spec));
                    sp.insert("jobTemplate".into(), Value::Object(t));
                }
                o.insert("spec".into(), Value::Object(sp));
            }
            o
        }
        // `kubectl create poddisruptionbudget`.
        ("policy/v1", "PodDisruptionBudget") => {
            let p = policy::PodDisruptionBudget::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(p.metadata);
            if let Some(spec) = p.spec {
                let mut sp = Map::new();
                put(
                    &mut sp,
                    "minAvailable",
                    spec.min_available.map(int_or_string),
                );
                put(
                    &mut sp,
                    "maxUnavailable",
                    spec.max_unavailable.map(int_or_string),
                );
                put(&mut sp, "selector", spec.selector.map(label_selector));
                put(
                    &mut sp,
                    "unhealthyPodEvictionPolicy",
                    spec.unhealthy_pod_eviction_policy.map(Value::from),
                );
                o.insert("spec".into(), Value::Object(sp));
            }
            o
        }
        // `kubectl autoscale`: target, bounds and resource metrics.
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            let h = autoscaling::HorizontalPodAutoscaler::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(h.metadata);
            if let Some(spec) = h.spec {
                let mut sp = Map::new();
                if let Some(t) = spec.scale_target_ref {
                    let mut r = Map::new();
                    put(&mut r, "apiVersion", t.api_version.map(Value::from));
                    put(&mut r, "kind", t.kind.map(Value::from));
                    put(&mut r, "name", t.name.map(Value::from));
                    sp.insert("scaleTargetRef".into(), Value::Object(r));
                }
                put(&mut sp, "minReplicas", spec.min_replicas.map(Value::from));
                put(&mut sp, "maxReplicas", spec.max_replicas.map(Value::from));
                let metrics: Vec<Value> = spec
                    .metrics
                    .into_iter()
                    .map(|m| {
                        let mut mm = Map::new();
                        put(&mut mm, "type", m.r#type.map(Value::from));
                        if let Some(r) = m.resource {
                            let mut t = Map::new();
                            if let Some(target) = r.target {
                                put(&mut t, "type", target.r#type.map(Value::from));
                                put(
                                    &mut t,
                                    "averageUtilization",
                                    target.average_utilization.map(Value::from),
                                );
                                put(
                                    &mut t,
                                    "averageValue",
                                    target.average_value.and_then(|q| q.string).map(Value::from),
                                );
                                put(
                                    &mut t,
                                    "value",
                                    target.value.and_then(|q| q.string).map(Value::from),
                                );
                            }
                            mm.insert("resource".into(), json!({"name": r.name, "target": t}));
                        }
                        Value::Object(mm)
                    })
                    .collect();
                if !metrics.is_empty() {
                    sp.insert("metrics".into(), Value::Array(metrics));
                }
                o.insert("spec".into(), Value::Object(sp));
            }
            o
        }
        ("rbac.authorization.k8s.io/v1", "Role") => {
            let r = rbac::Role::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(r.metadata);
            o.insert(
                "rules".into(),
                r.rules.into_iter().map(policy_rule).collect(),
            );
            o
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            let r = rbac::ClusterRole::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(r.metadata);
            o.insert(
                "rules".into(),
                r.rules.into_iter().map(policy_rule).collect(),
            );
            o
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            let b = rbac::RoleBinding::decode(&bytes[..]).map_err(bad)?;
            binding(with_meta(b.metadata), b.role_ref, b.subjects)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            let b = rbac::ClusterRoleBinding::decode(&bytes[..]).map_err(bad)?;
            binding(with_meta(b.metadata), b.role_ref, b.subjects)
        }
        // `kubectl create token` (chapter 05's TokenRequest).
        ("authentication.k8s.io/v1", "TokenRequest") => {
            let t =
                k8s_pb::api::authentication::v1::TokenRequest::decode(&bytes[..]).map_err(bad)?;
            let mut o = with_meta(t.metadata);
            let spec = t.spec.unwrap_or_default();
            let mut s = Map::new();
            put(&mut s, "audiences", string_list(spec.audiences));
            put(
                &mut s,
                "expirationSeconds",
                spec.expiration_seconds.map(|e| json!(e)),
            );
            if let Some(b) = spec.bound_object_ref {
                let mut r = Map::new();
                put(&mut r, "kind", b.kind.map(Value::from));
                put(&mut r, "apiVersion", b.api_version.map(Value::from));
                put(&mut r, "name", b.name.map(Value::from));
                put(&mut r, "uid", b.u_id.map(Value::from));
                s.insert("boundObjectRef".into(), Value::Object(r));
            }
            o.insert("spec".into(), Value::Object(s));
            o
        }
        _ => {
            return Err(ApiError::unsupported_media_type(&format!(
                "{MEDIA_TYPE} for {api_version} {kind} (send JSON: --dry-run=client -o yaml | kubectl apply -f -)"
            )));
        }
    };
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    Ok(Value::Object(obj))
}

/// Inserts `value` under `key` unless it is absent or empty. Go writes
/// non-pointer strings even when empty, and `""` means "not set" there
/// (JSON's `omitempty`), so empty strings are dropped too.
fn put(obj: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::Object(m)) if m.is_empty() && key != "resources" && key != "strategy" => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(v) => {
            obj.insert(key.into(), v);
        }
    }
}

fn strings(m: &BTreeMap<String, String>) -> Option<Value> {
    (!m.is_empty()).then(|| json!(m))
}

fn string_list(v: Vec<String>) -> Option<Value> {
    (!v.is_empty()).then(|| json!(v))
}

/// `bytes` fields are base64 strings in JSON.
fn bytes_map(m: &BTreeMap<String, Vec<u8>>) -> Option<Value> {
    (!m.is_empty()).then(|| {
        Value::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!(base64::engine::general_purpose::STANDARD.encode(v)),
                    )
                })
                .collect(),
        )
    })
}

fn with_meta(meta: Option<metav1::ObjectMeta>) -> Map<String, Value> {
    let mut o = Map::new();
    if let Some(m) = meta {
        let mut md = Map::new();
        put(&mut md, "name", m.name.map(Value::from));
        put(&mut md, "generateName", m.generate_name.map(Value::from));
        put(&mut md, "namespace", m.namespace.map(Value::from));
        put(&mut md, "labels", strings(&m.labels));
        put(&mut md, "annotations", strings(&m.annotations));
        put(&mut md, "finalizers", string_list(m.finalizers));
        let owners: Vec<Value> = m
            .owner_references
            .into_iter()
            .map(|r| json!({"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid, "controller": r.controller, "blockOwnerDeletion": r.block_owner_deletion}))
            .collect();
        put(&mut md, "ownerReferences", Some(Value::Array(owners)));
        o.insert("metadata".into(), Value::Object(md));
    }
    o
}

fn label_selector(s: metav1::LabelSelector) -> Value {
    let mut o = Map::new();
    put(&mut o, "matchLabels", strings(&s.match_labels));
    let exprs: Vec<Value> = s
        .match_expressions
        .into_iter()
        .map(|e| json!({"key": e.key, "operator": e.operator, "values": e.values}))
        .collect();
    put(&mut o, "matchExpressions", Some(Value::Array(exprs)));
    Value::Object(o)
}

fn int_or_string(v: IntOrString) -> Value {
    match v.r#type {
        Some(1) => json!(v.str_val.unwrap_or_default()),
        _ => json!(v.int_val.unwrap_or_default()),
    }
}

fn pod_template(t: core::PodTemplateSpec) -> Value {
    let mut o = with_meta(t.metadata);
    put(&mut o, "spec", t.spec.map(pod_spec));
    Value::Object(o)
}

fn pod_spec(s: core::PodSpec) -> Value {
    let mut o = Map::new();
    put(
        &mut o,
        "containers",
        Some(s.containers.into_iter().map(container).collect()),
    );
    put(
        &mut o,
        "initContainers",
        Some(s.init_containers.into_iter().map(container).collect()),
    );
    put(&mut o, "restartPolicy", s.restart_policy.map(Value::from));
    put(
        &mut o,
        "terminationGracePeriodSeconds",
        s.termination_grace_period_seconds.map(Value::from),
    );
    put(
        &mut o,
        "activeDeadlineSeconds",
        s.active_deadline_seconds.map(Value::from),
    );
    put(&mut o, "nodeSelector", strings(&s.node_selector));
    put(
        &mut o,
        "serviceAccountName",
        s.service_account_name.map(Value::from),
    );
    put(&mut o, "nodeName", s.node_name.map(Value::from));
    put(&mut o, "hostname", s.hostname.map(Value::from));
    put(&mut o, "subdomain", s.subdomain.map(Value::from));
    Value::Object(o)
}

fn container(c: core::Container) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", c.name.map(Value::from));
    put(&mut o, "image", c.image.map(Value::from));
    put(&mut o, "command", string_list(c.command));
    put(&mut o, "args", string_list(c.args));
    put(&mut o, "workingDir", c.working_dir.map(Value::from));
    put(
        &mut o,
        "imagePullPolicy",
        c.image_pull_policy.map(Value::from),
    );
    let ports: Vec<Value> = c
        .ports
        .into_iter()
        .map(|p| {
            let mut m = Map::new();
            put(&mut m, "name", p.name.map(Value::from));
            put(&mut m, "containerPort", p.container_port.map(Value::from));
            put(
                &mut m,
                "hostPort",
                p.host_port.filter(|h| *h != 0).map(Value::from),
            );
            put(&mut m, "protocol", p.protocol.map(Value::from));
            Value::Object(m)
        })
        .collect();
    put(&mut o, "ports", Some(Value::Array(ports)));
    let env: Vec<Value> = c
        .env
        .into_iter()
        .map(|e| json!({"name": e.name, "value": e.value}))
        .collect();
    put(&mut o, "env", Some(Value::Array(env)));
    if let Some(r) = c.resources {
        let q = |m: &BTreeMap<String, k8s_pb::apimachinery::pkg::api::resource::Quantity>| {
            (!m.is_empty()).then(|| {
                Value::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), json!(v.string.clone().unwrap_or_default())))
                        .collect(),
                )
            })
        };
        let mut rr = Map::new();
        put(&mut rr, "limits", q(&r.limits));
        put(&mut rr, "requests", q(&r.requests));
        o.insert("resources".into(), Value::Object(rr));
    }
    // Non-pointer Go bools: `false` is "not set".
    put(&mut o, "stdin", c.stdin.filter(|b| *b).map(Value::from));
    put(&mut o, "tty", c.tty.filter(|b| *b).map(Value::from));
    Value::Object(o)
}

fn service_spec(s: core::ServiceSpec) -> Value {
    let mut o = Map::new();
    let ports: Vec<Value> = s
        .ports
        .into_iter()
        .map(|p| {
            let mut m = Map::new();
            put(&mut m, "name", p.name.map(Value::from));
            put(&mut m, "protocol", p.protocol.map(Value::from));
            put(&mut m, "port", p.port.map(Value::from));
            put(&mut m, "targetPort", p.target_port.map(int_or_string));
            put(
                &mut m,
                "nodePort",
                p.node_port.filter(|n| *n != 0).map(Value::from),
            );
            Value::Object(m)
        })
        .collect();
    put(&mut o, "ports", Some(Value::Array(ports)));
    put(&mut o, "selector", strings(&s.selector));
    put(&mut o, "type", s.r#type.map(Value::from));
    put(
        &mut o,
        "clusterIP",
        s.cluster_ip.filter(|c| !c.is_empty()).map(Value::from),
    );
    put(&mut o, "externalName", s.external_name.map(Value::from));
    Value::Object(o)
}

fn job_spec(s: batch::JobSpec) -> Value {
    let mut o = Map::new();
    put(&mut o, "parallelism", s.parallelism.map(Value::from));
    put(&mut o, "completions", s.completions.map(Value::from));
    put(&mut o, "backoffLimit", s.backoff_limit.map(Value::from));
    put(
        &mut o,
        "activeDeadlineSeconds",
        s.active_deadline_seconds.map(Value::from),
    );
    put(&mut o, "template", s.template.map(pod_template));
    Value::Object(o)
}

fn policy_rule(r: rbac::PolicyRule) -> Value {
    let mut o = Map::new();
    put(&mut o, "verbs", Some(json!(r.verbs)));
    put(&mut o, "apiGroups", Some(json!(r.api_groups)));
    put(&mut o, "resources", string_list(r.resources));
    put(&mut o, "resourceNames", string_list(r.resource_names));
    put(&mut o, "nonResourceURLs", string_list(r.non_resource_ur_ls));
    Value::Object(o)
}

fn binding(
    mut o: Map<String, Value>,
    role_ref: Option<rbac::RoleRef>,
    subjects: Vec<rbac::Subject>,
) -> Map<String, Value> {
    if let Some(r) = role_ref {
        o.insert(
            "roleRef".into(),
            json!({"apiGroup": r.api_group, "kind": r.kind, "name": r.name}),
        );
    }
    let subjects: Vec<Value> = subjects
        .into_iter()
        .map(|s| {
            let mut m = Map::new();
            put(&mut m, "kind", s.kind.map(Value::from));
            put(
                &mut m,
                "apiGroup",
                s.api_group.filter(|g| !g.is_empty()).map(Value::from),
            );
            put(&mut m, "name", s.name.map(Value::from));
            put(
                &mut m,
                "namespace",
                s.namespace.filter(|n| !n.is_empty()).map(Value::from),
            );
            Value::Object(m)
        })
        .collect();
    put(&mut o, "subjects", Some(Value::Array(subjects)));
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a body exactly as kubectl frames it.
    fn frame(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        [MAGIC, &unknown.encode_to_vec()[..]].concat()
    }

    #[test]
    fn configmap_and_secret_round_trip_to_json() {
        let cm = core::ConfigMap {
            metadata: Some(metav1::ObjectMeta {
                name: Some("cfg".into()),
                ..Default::default()
            }),
            data: BTreeMap::from([("a".to_string(), "1".to_string())]),
            ..Default::default()
        };
        let v = decode(&frame("v1", "ConfigMap", cm.encode_to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"name": "cfg"}, "data": {"a": "1"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
        let s = core::Secret {
            data: BTreeMap::from([("pw".to_string(), b"hunter2".to_vec())]),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode(&frame("v1", "Secret", s.encode_to_vec())).unwrap();
        assert_eq!(v["data"]["pw"], "aHVudGVyMg==");
    }

    #[test]
    fn deployments_keep_selector_template_and_ports() {
        let d = apps::Deployment {
            metadata: Some(metav1::ObjectMeta {
                name: Some("web".into()),
                labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
                ..Default::default()
            }),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(2),
                selector: Some(metav1::LabelSelector {
                    match_labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
                    ..Default::default()
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: None,
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: Some("web".into()),
                            image: Some("kubelab/web:1.0".into()),
                            ports: vec![core::ContainerPort {
                                container_port: Some(80),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let v = decode(&frame("apps/v1", "Deployment", d.encode_to_vec())).unwrap();
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(v["spec"]["selector"]["matchLabels"]["app"], "web");
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
            80
        );
    }

    #[test]
    fn bad_frames_and_unknown_kinds_are_refused() {
        assert_eq!(decode(b"nope").unwrap_err().code.as_u16(), 400);
        assert_eq!(
            decode(&frame("v1", "Pod", vec![]))
                .unwrap_err()
                .code
                .as_u16(),
            415
        );
        assert_eq!(
            decode(&[MAGIC, &[0xff, 0xff][..]].concat())
                .unwrap_err()
                .code
                .as_u16(),
            400
        );
    }
}
