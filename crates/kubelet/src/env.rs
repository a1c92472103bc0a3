//! A container's environment, as the kubelet builds it.
//!
//! Upstream's `makeEnvironmentVariables` (pkg/kubelet/kubelet_pods.go), in
//! the same order, each later source overriding the earlier ones:
//!
//! 1. what kubelet plugins add for every container (chapter 03: the
//!    `<NAME>_SERVICE_HOST` variables);
//! 2. `envFrom`: every key of a ConfigMap or Secret (with `prefix`) —
//!    resolved by the plugin that knows the source (chapter 04);
//! 3. `env`, in order: a `value` with `$(VAR)` expanded from what is
//!    defined so far, or a `valueFrom`: the downward API (`fieldRef`,
//!    `resourceFieldRef`) here, a ConfigMap or Secret key by a plugin.
//!
//! The image's own variables come first and lose to all of these
//! ([`crate::spec::container_config`] merges them; upstream, containerd
//! does). Anything that cannot be
//! resolved yet — a missing ConfigMap, say — stops the container from being
//! created: it waits in `CreateContainerConfigError` and the kubelet tries
//! again ([`NotReady`]).

use serde_json::Value;

use crate::plugin::NotReady;

/// Resolves an `envFrom` source to its variables (`None`: no plugin knows
/// this kind of source).
pub type EnvFromFn<'a> = &'a dyn Fn(&Value) -> Option<Result<Vec<(String, String)>, NotReady>>;
/// Resolves a `valueFrom` (`Ok(None)`: an optional reference to something
/// missing — the variable is left out; `None`: no plugin knows it).
pub type ValueFromFn<'a> = &'a dyn Fn(&Value) -> Option<Result<Option<String>, NotReady>>;

/// What `env` needs from the kubelet: the plugins that resolve sources,
/// and the node's facts for the downward API.
pub struct EnvContext<'a> {
    pub node: &'a str,
    /// The pod's addresses, as its status will say (`status.podIP`…).
    pub pod_ips: &'a [String],
    pub host_ip: &'a str,
    /// The node's allocatable CPU (millicores) and memory (bytes): what a
    /// `resourceFieldRef` to an unset limit reads, as upstream.
    pub allocatable: (u64, u64),
    /// The plugins' `envFrom` sources.
    pub env_from: EnvFromFn<'a>,
    /// The plugins' `valueFrom` references (what the kubelet does not know).
    pub value_from: ValueFromFn<'a>,
}

/// The result: the variables, and the `envFrom` keys skipped because they
/// are not valid variable names, with the index of their source (for the
/// kubelet's warning event).
#[derive(Debug, Default, PartialEq)]
pub struct Environment {
    pub vars: Vec<(String, String)>,
    pub skipped: Vec<(usize, String)>,
}

/// A variable name as Kubernetes 1.33 accepts it: any printable ASCII
/// character but `=` (upstream's `IsRelaxedEnvVarName`, the default since
/// 1.32's `RelaxedEnvironmentVariableValidation`; before, names had to look
/// like C identifiers).
pub fn is_env_var_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'=')
}

fn set(vars: &mut Vec<(String, String)>, name: String, value: String) {
    vars.retain(|(k, _)| *k != name);
    vars.push((name, value));
}

/// The container's variables (after the image's), or why not yet.
// ANCHOR: env
pub fn container_env(
    pod: &Value,
    container: &Value,
    plugin_vars: Vec<(String, String)>,
    ctx: &EnvContext<'_>,
) -> Result<Environment, NotReady> {
    let mut env = Environment::default();
    for (k, v) in plugin_vars {
        set(&mut env.vars, k, v);
    }
    for (i, source) in container["envFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let prefix = source["prefix"].as_str().unwrap_or_default();
        let vars = (ctx.env_from)(source).unwrap_or_else(|| Err(no_plugin("envFrom", source)))?;
        for (k, v) in vars {
            let name = format!("{prefix}{k}");
            if is_env_var_name(&name) {
                set(&mut env.vars, name, v);
            } else {
                env.skipped.push((i, name));
            }
        }
    }
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or_default().to_string();
        let value = match (e["value"].as_str(), &e["valueFrom"]) {
            (Some(v), _) => Some(expand(v, &env.vars)),
            (None, Value::Null) => Some(String::new()),
            (None, from) => value_from(pod, container, from, ctx)?,
        };
        if let Some(v) = value {
            set(&mut env.vars, name, v);
        }
    }
    Ok(env)
}
// ANCHOR_END: env

/// A `valueFrom`: the downward API here, anything else by a plugin.
fn value_from(
    pod: &Value,
    container: &Value,
    from: &Value,
    ctx: &EnvContext<'_>,
) -> Result<Option<String>, NotReady> {
    if let Some(path) = from["fieldRef"]["fieldPath"].as_str() {
        return Ok(Some(field(pod, path, ctx)));
    }
    if !from["resourceFieldRef"].is_null() {
        return resource_field(pod, container, &from["resourceFieldRef"], ctx).map(Some);
    }
    (ctx.value_from)(from).unwrap_or_else(|| Err(no_plugin("valueFrom", from)))
}

/// A source no installed chapter knows (a ConfigMap before chapter 04).
fn no_plugin(what: &str, source: &Value) -> NotReady {
    let kind = source
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "prefix" && *k != "optional"))
        .cloned()
        .unwrap_or_default();
    NotReady::config(format!(
        "kubelab: no installed chapter resolves {what}.{kind} (chapter 04 adds ConfigMaps and Secrets)"
    ))
}

/// `$(VAR)` refers to a variable defined earlier; `$$` is a literal `$`;
/// an unknown `$(VAR)` stays as it is, as upstream.
// ANCHOR: expand
pub fn expand(v: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match env.iter().rev().find(|(k, _)| k == name) {
                Some((_, val)) => out.push_str(val),
                None => out.push_str(&format!("$({name})")),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
// ANCHOR_END: expand

/// The downward API's `fieldRef` paths (upstream's `podFieldSelectorRuntimeValue`).
fn field(pod: &Value, path: &str, ctx: &EnvContext<'_>) -> String {
    let m = &pod["metadata"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match path {
        "metadata.name" => s(&m["name"]),
        "metadata.namespace" => s(&m["namespace"]),
        "metadata.uid" => s(&m["uid"]),
        "spec.nodeName" => ctx.node.to_string(),
        "spec.serviceAccountName" => s(&pod["spec"]["serviceAccountName"]),
        "status.podIP" => ctx.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => ctx.pod_ips.join(","),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.to_string(),
        p => {
            let key = |prefix: &str| p.strip_prefix(prefix).and_then(|r| r.strip_suffix("']"));
            if let Some(k) = key("metadata.labels['") {
                return s(&m["labels"][k]);
            }
            if let Some(k) = key("metadata.annotations['") {
                return s(&m["annotations"][k]);
            }
            String::new()
        }
    }
}

/// `resourceFieldRef`: a container's request or limit, divided by
/// `divisor` and rounded up; an unset limit reads the node's allocatable
/// (upstream's `ExtractContainerResourceValue` after
/// `MergeContainerResourceLimits`).
fn resource_field(
    pod: &Value,
    container: &Value,
    r: &Value,
    ctx: &EnvContext<'_>,
) -> Result<String, NotReady> {
    resource_value(pod, container, r, ctx.allocatable)
}

/// The value of a `resourceFieldRef` for `container` (or the container it
/// names), given the node's allocatable `(millicores, bytes)`; also what a
/// `downwardAPI` volume's `resourceFieldRef` file holds.
pub fn resource_value(
    pod: &Value,
    container: &Value,
    r: &Value,
    allocatable: (u64, u64),
) -> Result<String, NotReady> {
    use kubelab_api::quantity;
    let c = match r["containerName"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == name)
            .ok_or_else(|| NotReady::config(format!("container {name} not found")))?,
        None => container,
    };
    let resource = r["resource"].as_str().unwrap_or_default();
    let (kind, name) = resource.split_once('.').unwrap_or(("", resource));
    let set = quantity::of(&c["resources"][kind][name]);
    let (cpu, memory) = (allocatable.0 as f64 / 1000.0, allocatable.1 as f64);
    let value = match (kind, name, set) {
        (_, _, Some(v)) => v,
        ("limits", "cpu", None) => cpu,
        ("limits", "memory", None) => memory,
        ("requests" | "limits", "cpu" | "memory" | "ephemeral-storage", None) => 0.0,
        _ => {
            return Err(NotReady::config(format!(
                "unsupported container resource : {resource}"
            )));
        }
    };
    let divisor = quantity::of(&r["divisor"])
        .filter(|d| *d > 0.0)
        .unwrap_or(1.0);
    // Rounded up, with a margin for the floating point of `0.1 / 0.001`.
    Ok(((value / divisor) - 1e-9).ceil().max(0.0).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx<'a>(env_from: EnvFromFn<'a>, value_from: ValueFromFn<'a>) -> EnvContext<'a> {
        EnvContext {
            node: "node-1",
            pod_ips: &[],
            host_ip: "172.18.0.2",
            allocatable: (2000, 4 << 30),
            env_from,
            value_from,
        }
    }

    fn no_from(_: &Value) -> Option<Result<Vec<(String, String)>, NotReady>> {
        None
    }
    fn no_value(_: &Value) -> Option<Result<Option<String>, NotReady>> {
        None
    }

    fn get(env: &Environment, k: &str) -> Option<String> {
        env.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn values_expand_what_came_before_and_read_the_downward_api() {
        let pod =
            json!({"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}}});
        let c = json!({"env": [
            {"name": "GREETING", "value": "hello"},
            {"name": "MSG", "value": "$(GREETING) from $(POD) $$(GREETING)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        ]});
        let e = container_env(&pod, &c, vec![], &ctx(&no_from, &no_value)).unwrap();
        assert_eq!(get(&e, "MSG").unwrap(), "hello from $(POD) $(GREETING)");
        assert_eq!(get(&e, "POD").unwrap(), "web-1");
        assert_eq!(get(&e, "APP").unwrap(), "web");
        assert_eq!(get(&e, "HOST").unwrap(), "172.18.0.2");
    }

    #[test]
    fn resource_fields_divide_round_up_and_default_to_the_node() {
        let pod = json!({});
        let c = json!({"resources": {"limits": {"memory": "100Mi"}, "requests": {"cpu": "250m"}},
            "env": [
            {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU_REQ_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "CPU_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
            {"name": "CPU_LIM", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ]});
        let e = container_env(&pod, &c, vec![], &ctx(&no_from, &no_value)).unwrap();
        assert_eq!(get(&e, "MEM_MI").unwrap(), "100");
        assert_eq!(get(&e, "CPU_REQ_M").unwrap(), "250");
        assert_eq!(
            get(&e, "CPU_REQ").unwrap(),
            "1",
            "0.25 cores rounds up to 1"
        );
        assert_eq!(
            get(&e, "CPU_LIM").unwrap(),
            "2",
            "no limit: the node's 2 cores"
        );
    }

    #[test]
    fn env_from_takes_a_prefix_skips_bad_names_and_loses_to_env() {
        let from = |s: &Value| -> Option<Result<Vec<(String, String)>, NotReady>> {
            assert_eq!(s["configMapRef"]["name"], "cfg");
            Some(Ok(vec![
                ("color".into(), "teal".into()),
                ("a=b".into(), "x".into()),
                ("size".into(), "m".into()),
            ]))
        };
        let c = json!({"envFrom": [{"configMapRef": {"name": "cfg"}}, {"prefix": "P_", "configMapRef": {"name": "cfg"}}],
                       "env": [{"name": "size", "value": "xl"}]});
        let e = container_env(&json!({}), &c, vec![], &ctx(&from, &no_value)).unwrap();
        assert_eq!(get(&e, "color").unwrap(), "teal");
        assert_eq!(get(&e, "P_a=b"), None, "no prefix makes '=' valid");
        assert_eq!(get(&e, "P_color").unwrap(), "teal");
        assert_eq!(get(&e, "size").unwrap(), "xl");
        assert_eq!(
            e.skipped,
            [(0, "a=b".to_string()), (1, "P_a=b".to_string())]
        );
    }

    #[test]
    fn an_unresolvable_reference_stops_the_container_and_an_optional_one_is_left_out() {
        let value = |f: &Value| -> Option<Result<Option<String>, NotReady>> {
            let r = &f["configMapKeyRef"];
            Some(match r["optional"] == true {
                true => Ok(None),
                false => Err(NotReady::config(format!(
                    "configmap \"{}\" not found",
                    r["name"].as_str().unwrap()
                ))),
            })
        };
        let optional = json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k", "optional": true}}}]});
        let e = container_env(&json!({}), &optional, vec![], &ctx(&no_from, &value)).unwrap();
        assert_eq!(get(&e, "A"), None);
        let required = json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}]});
        let err = container_env(&json!({}), &required, vec![], &ctx(&no_from, &value)).unwrap_err();
        assert_eq!(err.reason, "CreateContainerConfigError");
        assert_eq!(err.message, "configmap \"x\" not found");
        // Without a plugin (before chapter 04) it says so.
        let err =
            container_env(&json!({}), &required, vec![], &ctx(&no_from, &no_value)).unwrap_err();
        assert!(
            err.message.contains("valueFrom.configMapKeyRef"),
            "{}",
            err.message
        );
    }

    #[test]
    fn names() {
        assert!(is_env_var_name("MY_VAR") && is_env_var_name("my.var-1") && is_env_var_name("1x"));
        assert!(is_env_var_name("a b"), "spaces are printable");
        assert!(!is_env_var_name("a=b") && !is_env_var_name("") && !is_env_var_name("tab\t"));
    }
}
