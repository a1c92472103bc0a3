//! What the API server refuses in this chapter's fields (upstream:
//! `validateContainers`, `validateInitContainers`,
//! `validateEphemeralContainers`, `validateProbe`, `validateLifecycle` in
//! `pkg/apis/core/validation`), with upstream's field paths and words.

use kubelab_api::validation::Cause;
use kubelab_apiserver::strategy::Strategy;
use serde_json::Value;

use crate::probe::PROBE_HANDLERS;

const PROBES: &[&str] = &["livenessProbe", "readinessProbe", "startupProbe"];
const HOOK_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "sleep"];
/// What an ephemeral container may not have.
const NOT_EPHEMERAL: &[&str] = &[
    "ports",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "resizePolicy",
    "restartPolicy",
];

fn forbidden(field: String, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueForbidden",
        field,
        message: format!("Forbidden: {detail}"),
    }
}

fn required(field: String, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired",
        field,
        message: format!("Required value: {detail}"),
    }
}

fn duplicate(field: String, value: &str) -> Cause {
    Cause {
        reason: "FieldValueDuplicate",
        field,
        message: format!("Duplicate value: \"{value}\""),
    }
}

/// One handler and only one: `Required value: must specify a handler
/// type`, or `Forbidden: may not specify more than 1 handler type` on the
/// second and later ones.
fn handler(h: &Value, at: &str, kinds: &[&str], causes: &mut Vec<Cause>) {
    let set: Vec<&str> = kinds.iter().copied().filter(|k| !h[*k].is_null()).collect();
    if set.is_empty() {
        causes.push(required(at.to_string(), "must specify a handler type"));
    }
    for k in set.iter().skip(1) {
        causes.push(forbidden(
            format!("{at}.{k}"),
            "may not specify more than 1 handler type",
        ));
    }
    if h["exec"].is_object() && h["exec"]["command"].as_array().is_none_or(|c| c.is_empty()) {
        causes.push(Cause::required(&format!("{at}.exec.command")));
    }
    for k in ["httpGet", "tcpSocket", "grpc"] {
        let port = &h[k]["port"];
        if h[k].is_object() {
            let ok = match port {
                Value::Number(n) => n.as_u64().is_some_and(|p| (1..=65535).contains(&p)),
                Value::String(s) => !s.is_empty(),
                _ => false,
            };
            if !ok {
                causes.push(Cause::invalid(
                    &format!("{at}.{k}.port"),
                    port,
                    "must contain a valid port number or name",
                ));
            }
        }
    }
}

fn probe(p: &Value, at: &str, which: &str, causes: &mut Vec<Cause>) {
    handler(p, at, PROBE_HANDLERS, causes);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if p[f].as_i64().is_some_and(|n| n < 0) {
            causes.push(Cause::invalid(
                &format!("{at}.{f}"),
                &p[f],
                "must be greater than or equal to 0",
            ));
        }
    }
    let st = &p["successThreshold"];
    if which != "readinessProbe" && st.as_i64().is_some_and(|n| n != 1) {
        causes.push(Cause::invalid(
            &format!("{at}.successThreshold"),
            st,
            "must be 1",
        ));
    }
}

fn lifecycle(l: &Value, at: &str, grace: i64, causes: &mut Vec<Cause>) {
    for hook in ["postStart", "preStop"] {
        let h = &l[hook];
        if h.is_null() {
            continue;
        }
        let at = format!("{at}.{hook}");
        handler(h, &at, HOOK_HANDLERS, causes);
        let secs = &h["sleep"]["seconds"];
        if !secs.is_null() && !secs.as_i64().is_some_and(|s| (0..=grace).contains(&s)) {
            causes.push(Cause::invalid(
                &format!("{at}.sleep.seconds"),
                secs,
                &format!(
                    "must be non-negative and less than terminationGracePeriodSeconds ({grace})"
                ),
            ));
        }
    }
}

/// The rules of a pod spec at `path` (`spec`, `spec.template.spec`).
// ANCHOR: rules
pub fn pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let grace = spec["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
    let list = |k: &str| spec[k].as_array().cloned().unwrap_or_default();
    let mut host_ports: Vec<String> = Vec::new();
    for (key, c_list) in [
        ("containers", list("containers")),
        ("initContainers", list("initContainers")),
    ] {
        for (i, c) in c_list.iter().enumerate() {
            let at = format!("{path}.{key}[{i}]");
            let sidecar = key == "initContainers" && c["restartPolicy"] == "Always";
            let rp = &c["restartPolicy"];
            match key {
                "containers" if !rp.is_null() => causes.push(forbidden(
                    format!("{at}.restartPolicy"),
                    "may not be set for non-init containers",
                )),
                "initContainers" if !rp.is_null() && !sidecar => causes.push(Cause::not_supported(
                    &format!("{at}.restartPolicy"),
                    rp,
                    &["Always"],
                )),
                _ => {}
            }
            let plain_init = key == "initContainers" && !sidecar;
            for p in PROBES {
                if c[*p].is_null() {
                    continue;
                }
                if plain_init {
                    causes.push(forbidden(
                        format!("{at}.{p}"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                } else {
                    probe(&c[*p], &format!("{at}.{p}"), p, causes);
                }
            }
            if !c["lifecycle"].is_null() {
                if plain_init {
                    causes.push(forbidden(
                        format!("{at}.lifecycle"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                } else {
                    lifecycle(&c["lifecycle"], &format!("{at}.lifecycle"), grace, causes);
                }
            }
            // Port names are unique in a container; host ports in the pod
            // (upstream checks init containers one by one).
            let mut names = Vec::new();
            if key == "initContainers" {
                host_ports.clear();
            }
            for (j, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
                if let Some(n) = p["name"].as_str().filter(|n| !n.is_empty()) {
                    if names.contains(&n) {
                        causes.push(duplicate(format!("{at}.ports[{j}].name"), n));
                    }
                    names.push(n);
                }
                if let Some(hp) = p["hostPort"].as_i64().filter(|h| *h != 0) {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    let ip = p["hostIP"].as_str().unwrap_or_default();
                    let k = format!("{proto}/{ip}/{hp}");
                    if host_ports.contains(&k) {
                        causes.push(duplicate(format!("{at}.ports[{j}].hostPort"), &k));
                    }
                    host_ports.push(k);
                }
            }
        }
    }
    ephemeral(spec, path, causes);
}
// ANCHOR_END: rules

/// Ephemeral containers: unique names, a real target, none of the fields
/// that make no sense for a container added to a running pod.
fn ephemeral(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let names = |k: &str| -> Vec<String> {
        spec[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    let mut taken = names("containers");
    taken.extend(names("initContainers"));
    let targets = taken.clone();
    for (i, c) in spec["ephemeralContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{path}.ephemeralContainers[{i}]");
        match c["name"].as_str().filter(|n| !n.is_empty()) {
            Some(n) if taken.iter().any(|t| t == n) => {
                causes.push(duplicate(format!("{at}.name"), n))
            }
            Some(n) => taken.push(n.to_string()),
            None => causes.push(Cause::required(&format!("{at}.name"))),
        }
        if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
            causes.push(Cause::required(&format!("{at}.image")));
        }
        for f in NOT_EPHEMERAL {
            let v = &c[*f];
            let empty = v.is_null() || v.as_object().is_some_and(|o| o.is_empty());
            if !empty {
                causes.push(forbidden(
                    format!("{at}.{f}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        let target = &c["targetContainerName"];
        if let Some(t) = target.as_str().filter(|t| !t.is_empty())
            && !targets.iter().any(|n| n == t)
        {
            causes.push(Cause {
                reason: "FieldValueNotFound",
                field: format!("{at}.targetContainerName"),
                message: format!("Not found: \"{t}\""),
            });
        }
    }
}

/// Upstream's probe defaults (`SetDefaults_Probe`, `SetDefaults_HTTPGetAction`):
/// a missing or zero `timeoutSeconds` is 1, `periodSeconds` 10,
/// `successThreshold` 1, `failureThreshold` 3; an HTTP check's `path` is
/// `/` and its `scheme` `HTTP`. `kubectl describe` shows them.
// ANCHOR: probe_defaults
pub fn default_probes(spec: &mut Value) {
    for list in ["initContainers", "containers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            for p in PROBES {
                let Some(probe) = c.get_mut(*p).filter(|p| p.is_object()) else {
                    continue;
                };
                for (field, value) in [
                    ("timeoutSeconds", 1),
                    ("periodSeconds", 10),
                    ("successThreshold", 1),
                    ("failureThreshold", 3),
                ] {
                    if probe[field].as_i64().unwrap_or(0) == 0 {
                        probe[field] = value.into();
                    }
                }
                if let Some(h) = probe.get_mut("httpGet").filter(|h| h.is_object()) {
                    if h["path"].as_str().is_none_or(str::is_empty) {
                        h["path"] = "/".into();
                    }
                    if h["scheme"].as_str().is_none_or(str::is_empty) {
                        h["scheme"] = "HTTP".into();
                    }
                }
            }
        }
    }
}
// ANCHOR_END: probe_defaults

/// Pods: the rules above, and ephemeral containers only through their
/// subresource, only added.
pub struct PodLifecycleRules;

impl Strategy for PodLifecycleRules {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec") {
            default_probes(spec);
        }
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        pod_spec(&obj["spec"], "spec", causes);
        if obj["spec"]["ephemeralContainers"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            causes.push(forbidden(
                "spec.ephemeralContainers".into(),
                "cannot be set on create",
            ));
        }
    }

    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        pod_spec(&obj["spec"], "spec", causes);
        let list = |v: &Value| {
            v["spec"]["ephemeralContainers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        let new = list(obj);
        for o in list(old) {
            let name = o["name"].as_str().unwrap_or_default();
            match new.iter().find(|n| n["name"] == name) {
                None => causes.push(forbidden(
                    "spec.ephemeralContainers".into(),
                    &format!("existing ephemeral containers \"{name}\" may not be removed\n"),
                )),
                Some(n) if *n != o => causes.push(forbidden(
                    "spec.ephemeralContainers".into(),
                    &format!("existing ephemeral containers \"{name}\" may not be changed\n"),
                )),
                Some(_) => {}
            }
        }
    }
}

/// Workloads' pod templates.
/// The same rules for the pod template of a workload, at `pointer` (JSON
/// pointer) / `path` (field path): `spec.template.spec` for Deployments,
/// ReplicaSets, StatefulSets, DaemonSets and Jobs,
/// `spec.jobTemplate.spec.template.spec` for CronJobs.
#[derive(Clone, Copy)]
pub struct TemplateLifecycleRules {
    pub pointer: &'static str,
    pub path: &'static str,
}

/// Where each kind with a pod template keeps it.
pub const TEMPLATES: &[(&str, &str, TemplateLifecycleRules)] = &[
    ("apps", "Deployment", TemplateLifecycleRules::SPEC_TEMPLATE),
    ("apps", "ReplicaSet", TemplateLifecycleRules::SPEC_TEMPLATE),
    ("apps", "StatefulSet", TemplateLifecycleRules::SPEC_TEMPLATE),
    ("apps", "DaemonSet", TemplateLifecycleRules::SPEC_TEMPLATE),
    ("batch", "Job", TemplateLifecycleRules::SPEC_TEMPLATE),
    (
        "batch",
        "CronJob",
        TemplateLifecycleRules {
            pointer: "/spec/jobTemplate/spec/template/spec",
            path: "spec.jobTemplate.spec.template.spec",
        },
    ),
];

impl TemplateLifecycleRules {
    pub const SPEC_TEMPLATE: TemplateLifecycleRules = TemplateLifecycleRules {
        pointer: "/spec/template/spec",
        path: "spec.template.spec",
    };
}

impl Strategy for TemplateLifecycleRules {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.pointer_mut(self.pointer) {
            default_probes(spec);
        }
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = obj.pointer(self.pointer).unwrap_or(&Value::Null);
        pod_spec(spec, self.path, causes);
        if spec["ephemeralContainers"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            causes.push(forbidden(
                format!("{}.ephemeralContainers", self.path),
                "ephemeral containers not allowed in pod template",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(spec: Value) -> Vec<String> {
        let mut causes = Vec::new();
        PodLifecycleRules.validate(&json!({"spec": spec}), &mut causes);
        causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn probes_get_upstreams_defaults() {
        let mut spec = json!({"containers": [{"name": "a", "image": "x",
            "livenessProbe": {"httpGet": {"port": 80}, "successThreshold": 0},
            "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 2}}]});
        default_probes(&mut spec);
        let c = &spec["containers"][0];
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "successThreshold": 1,
                   "timeoutSeconds": 1, "periodSeconds": 10, "failureThreshold": 3})
        );
        assert_eq!(c["readinessProbe"]["periodSeconds"], 2);
        // A zero success threshold is defaulted, so it passes "must be 1".
        assert!(check(spec).is_empty());
    }

    #[test]
    fn probes_need_exactly_one_handler() {
        let got = check(json!({"containers": [{"name": "a", "image": "x",
            "livenessProbe": {"periodSeconds": 1},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]}));
        assert_eq!(
            got,
            [
                "spec.containers[0].livenessProbe: Required value: must specify a handler type",
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ]
        );
    }

    #[test]
    fn init_containers_restart_always_or_not_at_all() {
        let got = check(json!({"initContainers": [
                {"name": "i", "image": "x", "restartPolicy": "OnFailure", "readinessProbe": {"tcpSocket": {"port": 1}}}],
            "containers": [{"name": "a", "image": "x", "restartPolicy": "Always"}]}));
        assert_eq!(
            got,
            [
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
                "spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ]
        );
    }

    #[test]
    fn a_host_port_is_taken_once() {
        let got = check(json!({"containers": [
            {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080, "name": "http"}, {"containerPort": 81, "name": "http"}]},
            {"name": "b", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}));
        assert_eq!(
            got,
            [
                "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
                "spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"",
            ]
        );
    }

    #[test]
    fn ephemeral_containers_are_only_added() {
        let old = json!({"spec": {"containers": [{"name": "a", "image": "x"}],
            "ephemeralContainers": [{"name": "d1", "image": "busybox"}]}});
        let mut new = old.clone();
        new["spec"]["ephemeralContainers"] = json!([{"name": "d2", "image": "busybox", "targetContainerName": "zz", "ports": [{"containerPort": 1}]}]);
        let mut causes = Vec::new();
        PodLifecycleRules.validate_update(&old, &new, &mut causes);
        let got: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(
            got,
            [
                "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[0].targetContainerName: Not found: \"zz\"",
                "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"d1\" may not be removed\n",
            ]
        );
    }
}
