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

/// runc's `PATH` when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The pod's hostname: `spec.hostname`, else its name (what the sandbox's
/// UTS namespace is given, and what `/etc/hostname` holds).
pub fn hostname(pod: &Value) -> &str {
    pod["spec"]["hostname"]
        .as_str()
        .filter(|h| !h.is_empty())
        .or(pod["metadata"]["name"].as_str())
        .unwrap_or_default()
}

/// The variables the container's process starts with, as containerd and
/// runc put them together: `HOSTNAME` (containerd), the image's `Env`
/// (`PATH` defaulted as runc does), `TERM=xterm` for a tty (containerd),
/// then the pod's variables, which win; and `HOME`, if nobody set it, from
/// the image's `/etc/passwd` entry for root, else `/` (runc).
// ANCHOR: runtime_env
pub fn runtime_env(
    pod: &Value,
    container: &Value,
    image: &Image,
    pod_env: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = vec![("HOSTNAME".into(), hostname(pod).into())];
    let set = |all: &mut Vec<(String, String)>, k: &str, v: &str| {
        all.retain(|(n, _)| n != k);
        all.push((k.to_string(), v.to_string()));
    };
    for kv in &image.config.env {
        if let Some((k, v)) = kv.split_once('=') {
            set(&mut all, k, v);
        }
    }
    if !all.iter().any(|(k, _)| k == "PATH") {
        set(&mut all, "PATH", DEFAULT_PATH);
    }
    if container["tty"] == true {
        set(&mut all, "TERM", "xterm");
    }
    for (k, v) in pod_env {
        set(&mut all, &k, &v);
    }
    if !all.iter().any(|(k, _)| k == "HOME") {
        let home = root_home(&image.rootfs).unwrap_or_else(|| "/".into());
        set(&mut all, "HOME", &home);
    }
    all
}
// ANCHOR_END: runtime_env

/// Root's home in the image's `/etc/passwd` (containers run as root).
fn root_home(rootfs: &std::path::Path) -> Option<String> {
    passwd_entry(rootfs, 0)?.get(5).cloned()
}

/// The fields of user `uid`'s line in the image's `/etc/passwd`
/// (`name:password:uid:gid:gecos:home:shell`).
fn passwd_entry(rootfs: &std::path::Path, uid: u32) -> Option<Vec<String>> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).ok()?;
    let uid = uid.to_string();
    passwd.lines().find_map(|l| {
        let f: Vec<String> = l.split(':').map(String::from).collect();
        (f.get(2) == Some(&uid)).then_some(f)
    })
}

/// A `securityContext` field: the container's, else the pod's (upstream's
/// rule: the container's setting wins).
fn security_field<'a>(pod: &'a Value, container: &'a Value, field: &str) -> &'a Value {
    match &container["securityContext"][field] {
        Value::Null => &pod["spec"]["securityContext"][field],
        v => v,
    }
}

/// What the runtime must apply of the pod's and container's
/// `securityContext`: the user and groups, `no_new_privs`, a read-only root.
/// Without `runAsGroup` the group is the user's primary group in the
/// image's `/etc/passwd`, else 0 (as containerd does).
// ANCHOR: security
pub fn security(pod: &Value, container: &Value, image: &Image) -> kubelab_runtime::Security {
    let id = |v: &Value| v.as_u64().map(|n| n as u32);
    let uid = id(security_field(pod, container, "runAsUser"));
    let gid = id(security_field(pod, container, "runAsGroup"))
        .or_else(|| uid.map(|u| primary_group(&image.rootfs, u).unwrap_or(0)));
    let pod_sc = &pod["spec"]["securityContext"];
    let mut groups: Vec<u32> = pod_sc["supplementalGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(id)
        .collect();
    groups.extend(id(&pod_sc["fsGroup"]));
    let sc = &container["securityContext"];
    kubelab_runtime::Security {
        uid,
        gid,
        groups,
        no_new_privs: sc["allowPrivilegeEscalation"] == false,
        read_only_rootfs: sc["readOnlyRootFilesystem"] == true,
    }
}
// ANCHOR_END: security

/// The primary group of user `uid` in the image's `/etc/passwd`.
fn primary_group(rootfs: &std::path::Path, uid: u32) -> Option<u32> {
    passwd_entry(rootfs, uid)?.get(3)?.parse().ok()
}

/// `runAsNonRoot: true` and nothing says another user: upstream refuses to
/// start the container (kubelab's images have no `User`, so they run as root).
pub fn refuses_root(pod: &Value, container: &Value) -> bool {
    security_field(pod, container, "runAsNonRoot") == true
        && security_field(pod, container, "runAsUser")
            .as_u64()
            .is_none_or(|u| u == 0)
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
    let all = runtime_env(pod, container, image, env);
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
        security: security(pod, container, image),
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
            rootfs: "/nonexistent".into(),
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
        let names: Vec<&str> = cfg.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["HOSTNAME", "PATH", "GREETING", "HOME"]);
        assert_eq!(cfg.env[1].1, "/bin", "the image's PATH");
        assert_eq!(cfg.env[2].1, "hello", "the pod's variable wins");
        assert_eq!(cfg.env[3].1, "/", "no passwd in this image: HOME=/");
    }

    #[test]
    fn containerd_and_runc_defaults() {
        let mut i = image();
        i.config.env = vec![];
        let pod = json!({"metadata": {"name": "web-1"}, "spec": {"hostname": "front"}});
        let env = runtime_env(
            &pod,
            &json!({"tty": true}),
            &i,
            vec![("HOME".into(), "/srv".into())],
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HOSTNAME"), Some("front"));
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(get("TERM"), Some("xterm"));
        assert_eq!(get("HOME"), Some("/srv"), "the pod's HOME wins");
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(rootfs.path().join("etc")).unwrap();
        std::fs::write(
            rootfs.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n",
        )
        .unwrap();
        i.rootfs = rootfs.path().to_path_buf();
        let env = runtime_env(&json!({"metadata": {"name": "p"}}), &json!({}), &i, vec![]);
        assert!(env.contains(&("HOME".to_string(), "/root".to_string())));
        assert!(env.contains(&("HOSTNAME".to_string(), "p".to_string())));
        assert!(!env.iter().any(|(k, _)| k == "TERM"), "no tty, no TERM");
    }
}
