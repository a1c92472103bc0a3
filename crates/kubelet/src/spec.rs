//! From a pod's spec to what the runtime needs for each container.

use kubelab_runtime::{ContainerConfig, Image, Limits, Mount};
use serde_json::Value;

/// The argv a container runs, merging the image and the pod spec as
/// upstream does:
///
/// | pod spec | runs |
/// |---|---|
/// | neither `command` nor `args` | image `Entrypoint` + image `Cmd` |
/// | `args` only | image `Entrypoint` + `args` |
/// | `command` (± `args`) | `command` + `args` |
// ANCHOR: argv
pub fn argv(container: &Value, image: &Image) -> Vec<String> {
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
    };
    let command = strings(&container["command"]);
    let args = strings(&container["args"]);
    let entrypoint = image.config.entrypoint.clone().unwrap_or_default();
    match (command, args) {
        (Some(c), a) => [c, a.unwrap_or_default()].concat(),
        (None, Some(a)) => [entrypoint, a].concat(),
        (None, None) => [entrypoint, image.config.cmd.clone().unwrap_or_default()].concat(),
    }
}
// ANCHOR_END: argv

/// `env`: the image's variables, then the container's (which win).
/// `valueFrom.fieldRef` (the downward API) is resolved here;
/// `configMapKeyRef` and `secretKeyRef` arrive with chapter 04.
pub fn env(
    pod: &Value,
    container: &Value,
    image: &Image,
    node: &str,
    plugins: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = image
        .config
        .env
        .iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    // What kubelet plugins add (chapter 03's Service variables …).
    for (k, v) in plugins {
        out.retain(|(name, _)| *name != k);
        out.push((k, v));
    }
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or_default().to_string();
        let value = if let Some(v) = e["value"].as_str() {
            expand(v, &out)
        } else if let Some(path) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            field(pod, path, node)
        } else {
            String::new()
        };
        out.retain(|(k, _)| *k != name);
        out.push((name, value));
    }
    out
}

/// `$(VAR)` refers to a variable defined earlier; `$$` is a literal `$`.
fn expand(v: &str, env: &[(String, String)]) -> String {
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

fn field(pod: &Value, path: &str, node: &str) -> String {
    let m = &pod["metadata"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match path {
        "metadata.name" => s(&m["name"]),
        "metadata.namespace" => s(&m["namespace"]),
        "metadata.uid" => s(&m["uid"]),
        "spec.nodeName" => node.to_string(),
        "spec.serviceAccountName" => s(&pod["spec"]["serviceAccountName"]),
        "status.podIP" => s(&pod["status"]["podIP"]),
        "status.hostIP" => s(&pod["status"]["hostIP"]),
        p => {
            if let Some(k) = p
                .strip_prefix("metadata.labels['")
                .and_then(|r| r.strip_suffix("']"))
            {
                return s(&m["labels"][k]);
            }
            if let Some(k) = p
                .strip_prefix("metadata.annotations['")
                .and_then(|r| r.strip_suffix("']"))
            {
                return s(&m["annotations"][k]);
            }
            String::new()
        }
    }
}

/// `resources.limits` → cgroup limits.
pub fn limits(container: &Value) -> Limits {
    let l = &container["resources"]["limits"];
    Limits {
        memory_bytes: kubelab_api::quantity::bytes(&l["memory"]),
        cpu_millis: kubelab_api::quantity::cpu_millis(&l["cpu"]),
        pids: None,
    }
}

/// Everything the runtime needs to create one container.
pub fn container_config(
    pod: &Value,
    container: &Value,
    image: &Image,
    node: &str,
    attempt: u32,
    plugin_env: Vec<(String, String)>,
    mounts: Vec<Mount>,
) -> ContainerConfig {
    let m = &pod["metadata"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    ContainerConfig {
        pod_uid: s(&m["uid"]),
        pod_name: s(&m["name"]),
        pod_namespace: s(&m["namespace"]),
        name: s(&container["name"]),
        attempt,
        image: kubelab_runtime::image::normalize(container["image"].as_str().unwrap_or_default()),
        argv: argv(container, image),
        env: env(pod, container, image, node, plugin_env),
        working_dir: container["workingDir"]
            .as_str()
            .map(String::from)
            .or_else(|| image.config.working_dir.clone())
            .filter(|w| !w.is_empty()),
        limits: limits(container),
        mounts,
        stdin: container["stdin"] == true,
        stdin_once: container["stdinOnce"] == true,
        tty: container["tty"] == true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image() -> Image {
        Image {
            id: "sha256:x".into(),
            names: vec![],
            rootfs: "/".into(),
            config: kubelab_runtime::image::ImageConfig {
                env: vec!["PATH=/bin".into(), "GREETING=hi".into()],
                entrypoint: Some(vec!["/bin/web".into()]),
                cmd: Some(vec!["--port".into(), "80".into()]),
                working_dir: None,
            },
            size: 0,
        }
    }

    #[test]
    fn command_and_args_merge_with_the_image_as_upstream() {
        let i = image();
        assert_eq!(argv(&json!({}), &i), ["/bin/web", "--port", "80"]);
        assert_eq!(argv(&json!({"args": ["-v"]}), &i), ["/bin/web", "-v"]);
        assert_eq!(
            argv(&json!({"command": ["sh"], "args": ["-c", "x"]}), &i),
            ["sh", "-c", "x"]
        );
        assert_eq!(argv(&json!({"command": ["sh"]}), &i), ["sh"]);
    }

    #[test]
    fn env_overrides_the_image_expands_and_reads_fields() {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "shop"}});
        let c = json!({"env": [
            {"name": "GREETING", "value": "hello"},
            {"name": "MSG", "value": "$(GREETING) from $(POD) $$(GREETING)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ]});
        let e = env(&pod, &c, &image(), "node-1", Vec::new());
        let get = |k: &str| {
            e.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("GREETING"), "hello");
        assert_eq!(get("MSG"), "hello from $(POD) $(GREETING)");
        assert_eq!(get("POD"), "web-1");
        assert_eq!(get("PATH"), "/bin");
    }
}
