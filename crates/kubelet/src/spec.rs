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
    attempt: u32,
    env: Vec<(String, String)>,
    mounts: Vec<Mount>,
) -> ContainerConfig {
    let m = &pod["metadata"];
    // `$(VAR)` in the pod's command and args reads the container's
    // variables (not the image's entrypoint, which is taken as it is).
    let mut argv = argv(container, image);
    let from_spec = container["command"].is_array() || container["args"].is_array();
    if from_spec {
        let skip = match container["command"].is_array() {
            true => 0,
            false => image.config.entrypoint.as_ref().map_or(0, Vec::len),
        };
        for a in argv.iter_mut().skip(skip) {
            *a = crate::env::expand(a, &env);
        }
    }
    // The image's variables first; the container's win.
    let mut all: Vec<(String, String)> = image
        .config
        .env
        .iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .filter(|(k, _)| !env.iter().any(|(n, _)| n == k))
        .collect();
    all.extend(env);
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    ContainerConfig {
        pod_uid: s(&m["uid"]),
        pod_name: s(&m["name"]),
        pod_namespace: s(&m["namespace"]),
        name: s(&container["name"]),
        attempt,
        image: kubelab_runtime::image::normalize(container["image"].as_str().unwrap_or_default()),
        argv,
        env: all,
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
    fn the_pods_args_expand_variables_and_the_container_env_wins_over_the_images() {
        let c = json!({"name": "c", "args": ["--greet", "$(GREETING)", "$$(GREETING)"]});
        let env = vec![("GREETING".to_string(), "hello".to_string())];
        let cfg = container_config(&json!({}), &c, &image(), 0, env, vec![]);
        assert_eq!(cfg.argv, ["/bin/web", "--greet", "hello", "$(GREETING)"]);
        assert_eq!(
            cfg.env,
            [
                ("PATH".to_string(), "/bin".to_string()),
                ("GREETING".to_string(), "hello".to_string())
            ]
        );
    }
}
