//! Validation: the rules a well-typed object must still obey.
//!
//! Decoding into the real type ([`crate::schema`]) catches wrong types and
//! missing required fields. What remains are the rules upstream's
//! `ValidateX` functions check: names that must be DNS labels, label syntax,
//! a Deployment selector that must match its template, immutable fields.
//! Every problem is reported as a [`Cause`] with a field path and a message
//! worded as upstream words it, so `kubectl` prints the familiar
//! `The Deployment "web" is invalid: spec.selector: Required value`.

use serde_json::Value;

use crate::selector::LabelSelector;

/// One reason an object is invalid (`metav1.StatusCause`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`…
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub fn required(field: &str) -> Self {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }
    pub fn invalid(field: &str, value: &Value, why: &str) -> Self {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {}: {why}", show(value)),
        }
    }
    pub fn not_supported(field: &str, value: &Value, allowed: &[&str]) -> Self {
        let allowed: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                show(value),
                allowed.join(", ")
            ),
        }
    }
    /// `field: message`, as upstream prints one cause.
    pub fn to_line(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// RFC 1035 label: an RFC 1123 label that starts with a letter.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// Which rule a kind's names follow (upstream's `ValidateNameFunc`s).
pub fn name_problem(kind: &str, name: &str) -> Option<String> {
    let (ok, msg) = match kind {
        "Namespace" => (is_dns1123_label(name), DNS1123_LABEL_MSG),
        "Service" => (is_dns1035_label(name), DNS1035_LABEL_MSG),
        _ => (is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG),
    };
    if ok {
        return None;
    }
    if name.len() > 63 && kind != "Namespace" && kind != "Service" && name.len() <= 253 {
        return Some(msg.to_string());
    }
    if (kind == "Namespace" || kind == "Service") && name.len() > 63 {
        return Some("must be no more than 63 characters".into());
    }
    Some(msg.to_string())
}

/// A label/annotation key's name part: `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `prefix/name` or `name`, as label and annotation keys are.
pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty() && is_dns1123_subdomain(prefix) && is_qualified_name_part(name)
        }
        None => is_qualified_name_part(s),
    }
}

pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name_part(s)
}

/// Validates `metadata` for every kind.
pub fn validate_metadata(kind: &str, namespaced: bool, obj: &Value, causes: &mut Vec<Cause>) {
    let meta = &obj["metadata"];
    match meta["name"].as_str() {
        None | Some("") => causes.push(Cause {
            reason: "FieldValueRequired",
            field: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        }),
        Some(name) => {
            if let Some(why) = name_problem(kind, name) {
                causes.push(Cause::invalid("metadata.name", &meta["name"], &why));
            }
        }
    }
    if !namespaced
        && meta
            .get("namespace")
            .is_some_and(|n| n.as_str().is_some_and(|s| !s.is_empty()))
    {
        causes.push(Cause {
            reason: "FieldValueForbidden",
            field: "metadata.namespace".into(),
            message: "Forbidden: not allowed on this type".into(),
        });
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            let field = "metadata.labels".to_string();
            if !is_qualified_name(k) {
                causes.push(Cause::invalid(&field, &Value::String(k.clone()), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
            }
            if !v.as_str().is_some_and(is_label_value) {
                causes.push(Cause::invalid(&field, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
            }
        }
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        let total: usize = annotations
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        for k in annotations.keys() {
            if !is_qualified_name(k) {
                causes.push(Cause::invalid("metadata.annotations", &Value::String(k.clone()), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }
        }
        if total > 256 * 1024 {
            causes.push(Cause {
                reason: "FieldValueTooLong",
                field: "metadata.annotations".into(),
                message: "Too long: must have at most 262144 bytes".into(),
            });
        }
    }
}

// One function per kind, each called by its kind's strategy in the API
// server (upstream: `ValidateX` and `ValidateXUpdate` of
// `pkg/apis/*/validation`).

pub fn pod(obj: &Value, causes: &mut Vec<Cause>) {
    pod_spec(&obj["spec"], "spec", causes);
}

/// Almost all of a pod's spec is immutable; the image is the famous exception.
pub fn pod_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let strip = |v: &Value| {
        let mut s = v["spec"].clone();
        for list in ["containers", "initContainers"] {
            for c in s
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                c.as_object_mut().map(|c| c.remove("image"));
            }
        }
        if let Some(m) = s.as_object_mut() {
            for k in [
                // Changed through `pods/x/ephemeralcontainers` (chapter 07
                // checks those changes).
                "ephemeralContainers",
                "nodeName",
                "activeDeadlineSeconds",
                "tolerations",
                "terminationGracePeriodSeconds",
            ] {
                m.remove(k);
            }
        }
        s
    };
    if strip(old) != strip(new) {
        causes.push(Cause {
            reason: "FieldValueForbidden",
            field: "spec".into(),
            message: "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)".into(),
        });
    }
}

/// The keys of a ConfigMap's or Secret's `data`.
pub fn config_data(obj: &Value, causes: &mut Vec<Cause>) {
    data_keys(obj, causes);
}

/// Deployments, ReplicaSets, StatefulSets and DaemonSets: a selector that
/// matches the pod template, and a valid pod template.
pub fn pod_workload(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    workload(kind, &obj["spec"], causes);
}

/// ReplicationControllers: as a ReplicaSet, but the selector is a plain
/// map of labels (no expressions), which is what `spec.selector` is here.
pub fn replication_controller(obj: &Value, causes: &mut Vec<Cause>) {
    let mut spec = obj["spec"].clone();
    let selector = spec["selector"].take();
    if selector.as_object().is_some_and(|m| !m.is_empty()) {
        spec["selector"] = serde_json::json!({ "matchLabels": selector });
    }
    workload("ReplicationController", &spec, causes);
}

pub fn job(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    pod_spec(&spec["template"]["spec"], "spec.template.spec", causes);
    let rp = &spec["template"]["spec"]["restartPolicy"];
    if !matches!(rp.as_str(), Some("OnFailure" | "Never")) {
        causes.push(Cause::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["OnFailure", "Never"],
        ));
    }
}

/// `(JSON pointer, field path)` of fields that may not change once set.
pub type Immutable = &'static [(&'static str, &'static str)];
pub const WORKLOAD_IMMUTABLE: Immutable = &[("/spec/selector", "spec.selector")];
pub const JOB_IMMUTABLE: Immutable = &[
    ("/spec/selector", "spec.selector"),
    ("/spec/completions", "spec.completions"),
];
pub const SERVICE_IMMUTABLE: Immutable = &[("/spec/clusterIP", "spec.clusterIP")];
pub const CLAIM_IMMUTABLE: Immutable = &[("/spec/storageClassName", "spec.storageClassName")];

/// The fields of `fields` that changed between `old` and `new`.
pub fn immutable(old: &Value, new: &Value, fields: Immutable, causes: &mut Vec<Cause>) {
    for (pointer, field) in fields {
        let (o, n) = (old.pointer(pointer), new.pointer(pointer));
        // Setting a field the old object did not have yet is allowed for
        // the clusterIP, which the allocator fills in on create.
        if o.is_some() && o != n {
            causes.push(Cause::invalid(
                field,
                n.unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
    }
}

/// `immutable: true` (ConfigMaps, Secrets): the data may no longer change.
pub fn immutable_data(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if old["immutable"] == true && new["immutable"] != true {
        causes.push(Cause {
            reason: "FieldValueForbidden",
            field: "immutable".into(),
            message: "Forbidden: field is immutable when `immutable` is set".into(),
        });
    }
    if old["immutable"] == true {
        for key in ["data", "binaryData", "stringData"] {
            if old[key] != new[key] {
                causes.push(Cause {
                    reason: "FieldValueForbidden",
                    field: key.into(),
                    message: "Forbidden: field is immutable when `immutable` is set".into(),
                });
            }
        }
    }
}

/// User and group ids of a `securityContext`: 0 to 2^31-1, as upstream.
fn ids(sc: &Value, at: &str, fields: &[&str], causes: &mut Vec<Cause>) {
    for f in fields {
        let v = &sc[*f];
        if !v.is_null() && !v.as_i64().is_some_and(|n| (0..=2147483647).contains(&n)) {
            causes.push(Cause::invalid(
                &format!("{at}.{f}"),
                v,
                "must be between 0 and 2147483647, inclusive",
            ));
        }
    }
}

/// `capabilities.add` and `.drop`: Linux capabilities, or `ALL`.
/// Simplification: upstream's API server accepts any name and the runtime
/// fails the container; kubelab refuses an unknown name at once.
fn capabilities(caps: &Value, at: &str, causes: &mut Vec<Cause>) {
    for list in ["add", "drop"] {
        for (i, c) in caps[list].as_array().into_iter().flatten().enumerate() {
            let known = c
                .as_str()
                .is_some_and(|n| n == "ALL" || crate::pod::capability(n).is_some());
            if !known {
                causes.push(Cause::invalid(
                    &format!("{at}.{list}[{i}]"),
                    c,
                    "not a Linux capability: see capabilities(7) for the names (without the CAP_ prefix), or ALL",
                ));
            }
        }
    }
}

fn pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let containers = spec["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push(Cause::required(&format!("{path}.containers")));
    }
    let mut seen = Vec::new();
    // App containers first, as upstream: a name an init container shares
    // with an app container is reported on the init container.
    for key in ["containers", "initContainers"] {
        for (i, c) in spec[key].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{key}[{i}]");
            match c["name"].as_str().filter(|n| !n.is_empty()) {
                Some(n) if !is_dns1123_label(n) => causes.push(Cause::invalid(
                    &format!("{at}.name"),
                    &c["name"],
                    DNS1123_LABEL_MSG,
                )),
                Some(n) if seen.contains(&n) => causes.push(Cause {
                    reason: "FieldValueDuplicate",
                    field: format!("{at}.name"),
                    message: format!("Duplicate value: \"{n}\""),
                }),
                Some(n) => seen.push(n),
                None => causes.push(Cause::required(&format!("{at}.name"))),
            }
            if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
                causes.push(Cause::required(&format!("{at}.image")));
            }
            for (j, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
                let port = p["containerPort"].as_i64().unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    causes.push(Cause::invalid(
                        &format!("{at}.ports[{j}].containerPort"),
                        &p["containerPort"],
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
            ids(
                &c["securityContext"],
                &format!("{at}.securityContext"),
                &["runAsUser", "runAsGroup"],
                causes,
            );
            capabilities(
                &c["securityContext"]["capabilities"],
                &format!("{at}.securityContext.capabilities"),
                causes,
            );
        }
    }
    ids(
        &spec["securityContext"],
        &format!("{path}.securityContext"),
        &["runAsUser", "runAsGroup", "fsGroup"],
        causes,
    );
    let rp = &spec["restartPolicy"];
    if !rp.is_null() && !matches!(rp.as_str(), Some("Always" | "OnFailure" | "Never")) {
        causes.push(Cause::not_supported(
            &format!("{path}.restartPolicy"),
            rp,
            &["Always", "OnFailure", "Never"],
        ));
    }
}

fn workload(kind: &str, spec: &Value, causes: &mut Vec<Cause>) {
    if let Some(r) = spec["replicas"].as_i64().filter(|r| *r < 0) {
        causes.push(Cause::invalid(
            "spec.replicas",
            &Value::from(r),
            "must be greater than or equal to 0",
        ));
    }
    let selector = &spec["selector"];
    let template_labels = &spec["template"]["metadata"]["labels"];
    // k8s-openapi decodes a missing selector as `{}`: both mean "none given".
    if selector.is_null()
        || selector
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_null))
    {
        causes.push(Cause::required("spec.selector"));
    } else {
        match LabelSelector::from_object(selector) {
            Ok(s) if s.is_empty() => causes.push(Cause::invalid(
                "spec.selector",
                selector,
                &format!("empty selector is invalid for {}", kind.to_lowercase()),
            )),
            Ok(s) => {
                let obj = serde_json::json!({"metadata": {"labels": template_labels}});
                if !s.matches_object(&obj) {
                    causes.push(Cause::invalid(
                        "spec.template.metadata.labels",
                        template_labels,
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            Err(e) => causes.push(Cause::invalid("spec.selector", selector, &e.to_string())),
        }
    }
    pod_spec(&spec["template"]["spec"], "spec.template.spec", causes);
    let rp = &spec["template"]["spec"]["restartPolicy"];
    // Controllers restart pods forever; other values are wrong here (invalid
    // ones were already reported by pod_spec).
    if matches!(rp.as_str(), Some("OnFailure" | "Never")) {
        causes.push(Cause::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
}

pub fn service(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let ty = &spec["type"];
    const TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
    if !ty.as_str().is_some_and(|t| TYPES.contains(&t)) {
        causes.push(Cause::not_supported("spec.type", ty, TYPES));
    }
    let headless = spec["clusterIP"] == "None";
    let ports = spec["ports"].as_array().map_or(&[][..], Vec::as_slice);
    if ty == "ExternalName" {
        if spec["externalName"].as_str().is_none_or(str::is_empty) {
            causes.push(Cause::required("spec.externalName"));
        }
    } else if ports.is_empty() && !headless {
        causes.push(Cause::required("spec.ports"));
    }
    let mut names = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let port = p["port"].as_i64().unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push(Cause::invalid(
                &format!("spec.ports[{i}].port"),
                &p["port"],
                "must be between 1 and 65535, inclusive",
            ));
        }
        if ports.len() > 1 && p["name"].as_str().is_none_or(str::is_empty) {
            causes.push(Cause::required(&format!("spec.ports[{i}].name")));
        }
        if let Some(n) = p["name"].as_str() {
            if names.contains(&n) {
                causes.push(Cause {
                    reason: "FieldValueDuplicate",
                    field: format!("spec.ports[{i}].name"),
                    message: format!("Duplicate value: \"{n}\""),
                });
            }
            names.push(n);
        }
        if let Some(np) = p["nodePort"].as_i64()
            && !(30000..=32767).contains(&np)
        {
            causes.push(Cause::invalid(
                &format!("spec.ports[{i}].nodePort"),
                &p["nodePort"],
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            ));
        }
        // Only Services published on the nodes have node ports.
        let node_ports = matches!(ty.as_str(), Some("NodePort" | "LoadBalancer"));
        if !p["nodePort"].is_null() && !node_ports {
            causes.push(Cause::invalid(
                &format!("spec.ports[{i}].nodePort"),
                &p["nodePort"],
                &format!(
                    "may not be used when `type` is '{}'",
                    ty.as_str().unwrap_or("ClusterIP")
                ),
            ));
        }
    }
    // A requested address must be one; whether it is in range and free is
    // the allocator's question (chapter 03).
    if let Some(ip) = spec["clusterIP"].as_str()
        && !ip.is_empty()
        && ip != "None"
        && ty != "ExternalName"
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        causes.push(Cause::invalid(
            "spec.clusterIPs[0]",
            &spec["clusterIP"],
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
}

fn data_keys(obj: &Value, causes: &mut Vec<Cause>) {
    for field in ["data", "binaryData", "stringData"] {
        for k in obj[field].as_object().into_iter().flatten().map(|(k, _)| k) {
            let ok = !k.is_empty()
                && k.len() <= 253
                && k.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
            if !ok {
                causes.push(Cause::invalid(&format!("{field}[{k}]"), &Value::String(k.clone()), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(c: Vec<Cause>) -> Vec<String> {
        c.into_iter().map(|c| c.to_line()).collect()
    }

    #[test]
    fn names_follow_each_kinds_rule() {
        assert!(name_problem("ConfigMap", "web.config-1").is_none());
        assert!(name_problem("Namespace", "web.config").is_some());
        assert!(name_problem("Service", "1web").is_some());
        assert!(name_problem("Pod", "Web").is_some());
        assert!(name_problem("Pod", &"a".repeat(254)).is_some());
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(!is_qualified_name("-bad"));
        assert!(is_label_value(""));
        assert!(!is_label_value("has space"));
    }

    fn create_deployment(d: &Value) -> Vec<Cause> {
        let mut causes = Vec::new();
        pod_workload("Deployment", d, &mut causes);
        causes
    }

    #[test]
    fn deployments_need_a_selector_that_matches_the_template() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert_eq!(
            fields(create_deployment(&d)),
            vec![
                "spec.template.metadata.labels: Invalid value: {\"app\":\"api\"}: `selector` does not match template `labels`"
            ]
        );
        let no_sel = json!({"spec": {"template": {"spec": {"containers": []}}}});
        assert_eq!(
            fields(create_deployment(&no_sel)),
            vec![
                "spec.selector: Required value",
                "spec.template.spec.containers: Required value"
            ]
        );
    }

    #[test]
    fn selector_is_immutable_on_update() {
        let old = json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let mut new = old.clone();
        new["spec"]["selector"]["matchLabels"]["app"] = json!("web2");
        new["spec"]["template"]["metadata"]["labels"]["app"] = json!("web2");
        let mut causes = Vec::new();
        immutable(&old, &new, WORKLOAD_IMMUTABLE, &mut causes);
        assert_eq!(causes.len(), 1);
        assert!(
            causes[0]
                .to_line()
                .starts_with("spec.selector: Invalid value")
        );
        assert!(causes[0].message.ends_with("field is immutable"));
    }

    #[test]
    fn services_check_ports_and_types() {
        let s =
            json!({"spec": {"type": "Magic", "ports": [{"port": 0}, {"port": 80, "name": "a"}]}});
        let mut causes = Vec::new();
        service(&s, &mut causes);
        let lines = fields(causes);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("spec.type: Unsupported value: \"Magic\""));
        assert!(lines[1].starts_with("spec.ports[0].port: Invalid value: 0"));
        assert_eq!(lines[2], "spec.ports[0].name: Required value");
    }
}
