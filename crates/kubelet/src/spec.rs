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
/// the image's `/etc/passwd` entry of the user it runs as (`uid`), else
/// `/` (runc).
// ANCHOR: runtime_env
pub fn runtime_env(
    pod: &Value,
    container: &Value,
    image: &Image,
    pod_env: Vec<(String, String)>,
    uid: u32,
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
        let home = passwd_entry(&image.rootfs, uid)
            .and_then(|e| e.get(5).cloned())
            .unwrap_or_else(|| "/".into());
        set(&mut all, "HOME", &home);
    }
    all
}
// ANCHOR_END: runtime_env

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

/// The lines of one of the image's account files (`/etc/passwd`,
/// `/etc/group`), split at `:`.
fn entries(rootfs: &std::path::Path, file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(rootfs.join(file))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(':').map(String::from).collect())
        .collect()
}

/// Who the image's `User` says to run as — `uid`, `uid:gid`, `name` or
/// `name:group`, names looked up in the image's `/etc/passwd` and
/// `/etc/group` as containerd does — or `(None, None)` when it names
/// nobody. A name without an entry is containerd's error.
// ANCHOR: image_user
pub fn image_user(image: &Image) -> Result<(Option<u32>, Option<u32>), String> {
    let spec = image.config.user.as_deref().unwrap_or("").trim();
    if spec.is_empty() {
        return Ok((None, None));
    }
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = entries(&image.rootfs, "etc/passwd");
    let field = |e: &Vec<String>, i: usize| e.get(i).and_then(|f| f.parse::<u32>().ok());
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => {
            let line = passwd.iter().find(|e| field(e, 2) == Some(uid));
            (uid, line.and_then(|e| field(e, 3)))
        }
        Err(_) => {
            let line = passwd
                .iter()
                .find(|e| e.first().is_some_and(|n| n == user))
                .ok_or("no users found")?;
            (field(line, 2).ok_or("no users found")?, field(line, 3))
        }
    };
    let gid = match group {
        None => primary.unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => entries(&image.rootfs, "etc/group")
                .iter()
                .find(|e| e.first().is_some_and(|n| n == g))
                .and_then(|e| field(e, 2))
                .ok_or("no groups found")?,
        },
    };
    Ok((Some(uid), Some(gid)))
}
// ANCHOR_END: image_user

/// What the runtime must apply of the pod's and container's
/// `securityContext` and the image's `User`: the user and groups (the
/// image's, unless `runAsUser`/`runAsGroup` say otherwise; without a
/// group, the user's primary group in the image's `/etc/passwd`, else 0,
/// as containerd does), `no_new_privs`, a read-only root, the
/// capabilities (containerd's default set with `add` and `drop`; all of
/// them for `privileged`) and the seccomp filter.
// ANCHOR: security
pub fn security(
    pod: &Value,
    container: &Value,
    image: &Image,
) -> Result<kubelab_runtime::Security, String> {
    let id = |v: &Value| v.as_u64().map(|n| n as u32);
    let run_as_user = id(security_field(pod, container, "runAsUser"));
    // The image's user matters only when runAsUser does not say (containerd
    // does not look it up otherwise, so a missing name is no error then).
    let (image_uid, image_gid) = match run_as_user {
        Some(_) => (None, None),
        None => image_user(image)?,
    };
    let uid = run_as_user.or(image_uid);
    let gid = id(security_field(pod, container, "runAsGroup")).or(match run_as_user {
        Some(u) => Some(primary_group(&image.rootfs, u).unwrap_or(0)),
        None => image_gid,
    });
    let pod_sc = &pod["spec"]["securityContext"];
    let mut groups: Vec<u32> = pod_sc["supplementalGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(id)
        .collect();
    groups.extend(id(&pod_sc["fsGroup"]));
    let sc = &container["securityContext"];
    let privileged = sc["privileged"] == true;
    let names = |list: &str| -> Vec<String> {
        sc["capabilities"][list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect()
    };
    let capabilities = match privileged {
        true => (0..kubelab_api::pod::CAPABILITIES.len() as u8).collect(),
        false => capabilities(&names("add"), &names("drop")),
    };
    let seccomp = match security_field(pod, container, "seccompProfile")["type"].as_str() {
        Some("RuntimeDefault") => true,
        None | Some("Unconfined") => false,
        Some(other) => {
            return Err(format!(
                "seccomp profile type {other} is not supported by kubelab's runtime (RuntimeDefault and Unconfined are)"
            ));
        }
    };
    Ok(kubelab_runtime::Security {
        uid,
        gid,
        groups,
        no_new_privs: sc["allowPrivilegeEscalation"] == false,
        read_only_rootfs: sc["readOnlyRootFilesystem"] == true,
        capabilities: Some(capabilities),
        privileged,
        seccomp_default: seccomp && !privileged,
    })
}
// ANCHOR_END: security

/// containerd's default capabilities (its `defaultUnixCaps`).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// The capabilities a container keeps, by number, in containerd's order:
/// its default set; every one if `add` says `ALL`; none if `drop` says
/// `ALL`; then the named adds; then the named drops, which win (`add: [ALL],
/// drop: [CHOWN]` is everything but CHOWN).
// ANCHOR: capabilities
pub fn capabilities(add: &[String], drop: &[String]) -> Vec<u8> {
    use kubelab_api::pod::{CAPABILITIES, capability};
    let all = |l: &[String]| l.iter().any(|c| c == "ALL");
    let mut keep: Vec<u8> = DEFAULT_CAPABILITIES
        .iter()
        .filter_map(|c| capability(c))
        .collect();
    if all(add) {
        keep = (0..CAPABILITIES.len() as u8).collect();
    }
    if all(drop) {
        keep.clear();
    }
    keep.extend(add.iter().filter_map(|a| capability(a)));
    let dropped: Vec<u8> = drop.iter().filter_map(|d| capability(d)).collect();
    keep.retain(|c| !dropped.contains(c));
    keep.sort();
    keep.dedup();
    keep
}
// ANCHOR_END: capabilities

/// The primary group of user `uid` in the image's `/etc/passwd`.
fn primary_group(rootfs: &std::path::Path, uid: u32) -> Option<u32> {
    passwd_entry(rootfs, uid)?.get(3)?.parse().ok()
}

/// `runAsNonRoot: true` and the container would run as root, or as a
/// user name that cannot be checked: upstream's reason for refusing to
/// start it (the kubelet adds which pod and container).
pub fn non_root_violation(pod: &Value, container: &Value, image: &Image) -> Option<String> {
    if security_field(pod, container, "runAsNonRoot") != true {
        return None;
    }
    match security_field(pod, container, "runAsUser").as_u64() {
        Some(0) => return Some("container's runAsUser breaks non-root policy".into()),
        Some(_) => return None,
        None => {}
    }
    let user = image.config.user.as_deref().unwrap_or("").trim();
    let name = user.split(':').next().unwrap_or("");
    match name.parse::<u32>() {
        Ok(0) => Some("container has runAsNonRoot and image will run as root".into()),
        Ok(_) => None,
        Err(_) if name.is_empty() => {
            Some("container has runAsNonRoot and image will run as root".into())
        }
        Err(_) => Some(format!(
            "container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is non-root"
        )),
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
) -> Result<ContainerConfig, String> {
    let m = &pod["metadata"];
    let security = security(pod, container, image)?;
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
    let all = runtime_env(pod, container, image, env, security.uid.unwrap_or(0));
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Ok(ContainerConfig {
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
        security,
        stdin: container["stdin"] == true,
        stdin_once: container["stdinOnce"] == true,
        tty: container["tty"] == true,
        // The kubelet fills it in: it knows the target's runtime id.
        pid_namespace: Default::default(),
    })
}

/// Which list of the pod spec a container comes from, and so how the
/// kubelet runs it (chapter 07).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// `initContainers[]`: runs to completion, in order, before the rest.
    Init,
    /// `initContainers[]` with `restartPolicy: Always`: a native sidecar,
    /// started in order and kept running beside the app containers.
    Sidecar,
    /// `containers[]`.
    App,
    /// `ephemeralContainers[]`: added to a running pod (`kubectl debug`),
    /// never restarted.
    Ephemeral,
}

/// Every container of the pod with its kind, in the spec's order: init
/// containers (and sidecars), app containers, ephemeral containers.
pub fn all_containers(pod: &Value) -> impl Iterator<Item = (&Value, ContainerKind)> {
    let list = |key: &'static str| pod["spec"][key].as_array().into_iter().flatten();
    let init = list("initContainers").map(|c| {
        let kind = match c["restartPolicy"] == "Always" {
            true => ContainerKind::Sidecar,
            false => ContainerKind::Init,
        };
        (c, kind)
    });
    init.chain(list("containers").map(|c| (c, ContainerKind::App)))
        .chain(list("ephemeralContainers").map(|c| (c, ContainerKind::Ephemeral)))
}

/// Whether the pod has init containers (sidecars included).
pub fn has_init_containers(pod: &Value) -> bool {
    pod["spec"]["initContainers"]
        .as_array()
        .is_some_and(|i| !i.is_empty())
}

/// The spec of container `name` (of any kind) and its kind.
pub fn find_container<'a>(pod: &'a Value, name: &str) -> Option<(&'a Value, ContainerKind)> {
    all_containers(pod).find(|(c, _)| c["name"] == name)
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
                user: None,
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
        let cfg = container_config(&json!({}), &c, &image(), 0, env, vec![]).unwrap();
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
            0,
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
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        i.rootfs = rootfs.path().to_path_buf();
        let env = runtime_env(
            &json!({"metadata": {"name": "p"}}),
            &json!({}),
            &i,
            vec![],
            0,
        );
        assert!(env.contains(&("HOME".to_string(), "/root".to_string())));
        let env = runtime_env(
            &json!({"metadata": {"name": "p"}}),
            &json!({}),
            &i,
            vec![],
            1000,
        );
        assert!(
            env.contains(&("HOME".to_string(), "/home/app".to_string())),
            "the user's own home"
        );
        assert!(env.contains(&("HOSTNAME".to_string(), "p".to_string())));
        assert!(!env.iter().any(|(k, _)| k == "TERM"), "no tty, no TERM");
    }

    fn with_accounts(user: &str) -> (Image, tempfile::TempDir) {
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(rootfs.path().join("etc")).unwrap();
        std::fs::write(
            rootfs.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:101:102::/srv:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(rootfs.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let mut i = image();
        i.rootfs = rootfs.path().to_path_buf();
        i.config.user = Some(user.into());
        (i, rootfs)
    }

    #[test]
    fn the_images_user_by_number_or_name_as_containerd_reads_it() {
        let user = |u: &str| image_user(&with_accounts(u).0);
        assert_eq!(user(""), Ok((None, None)));
        assert_eq!(user("web"), Ok((Some(101), Some(102))), "the primary group");
        assert_eq!(user("web:staff"), Ok((Some(101), Some(50))));
        assert_eq!(user("101"), Ok((Some(101), Some(102))));
        assert_eq!(
            user("4242"),
            Ok((Some(4242), Some(0))),
            "a number needs no entry"
        );
        assert_eq!(user("1000:2000"), Ok((Some(1000), Some(2000))));
        assert_eq!(user("nobody"), Err("no users found".into()));
        assert_eq!(user("web:nogroup"), Err("no groups found".into()));
        // runAsUser wins over the image, with its own primary group.
        let (i, _dir) = with_accounts("web");
        let pod = json!({"spec": {"securityContext": {"runAsUser": 0}}});
        let s = security(&pod, &json!({}), &i).unwrap();
        assert_eq!((s.uid, s.gid), (Some(0), Some(0)));
        let s = security(&json!({}), &json!({}), &i).unwrap();
        assert_eq!((s.uid, s.gid), (Some(101), Some(102)));
    }

    #[test]
    fn run_as_non_root_is_checked_against_the_image_too() {
        let pod = json!({"spec": {"securityContext": {"runAsNonRoot": true}}});
        let (web, _a) = with_accounts("web");
        let (numeric, _b) = with_accounts("1000");
        let (root, _c) = with_accounts("");
        assert_eq!(
            non_root_violation(&pod, &json!({}), &web).as_deref(),
            Some(
                "container has runAsNonRoot and image has non-numeric user (web), cannot verify user is non-root"
            )
        );
        assert_eq!(non_root_violation(&pod, &json!({}), &numeric), None);
        assert_eq!(
            non_root_violation(&pod, &json!({}), &root).as_deref(),
            Some("container has runAsNonRoot and image will run as root")
        );
        let explicit_root = json!({"securityContext": {"runAsUser": 0}});
        assert_eq!(
            non_root_violation(&pod, &explicit_root, &numeric).as_deref(),
            Some("container's runAsUser breaks non-root policy")
        );
    }

    #[test]
    fn capabilities_start_from_containerds_set() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // The mask /proc/self/status shows as CapEff in a default container.
        let mask = |caps: Vec<u8>| caps.iter().fold(0u64, |m, c| m | 1 << c);
        assert_eq!(mask(capabilities(&[], &[])), 0xa80425fb);
        assert_eq!(capabilities(&s(&["NET_BIND_SERVICE"]), &s(&["ALL"])), [10]);
        let c = capabilities(&s(&["NET_ADMIN", "CAP_SYS_TIME"]), &s(&["CHOWN"]));
        assert!(c.contains(&12) && c.contains(&25) && !c.contains(&0));
        assert_eq!(
            capabilities(&s(&["ALL"]), &s(&["CHOWN"])).len(),
            kubelab_api::pod::CAPABILITIES.len() - 1,
            "the drop wins"
        );
        assert!(capabilities(&s(&["ALL"]), &s(&["ALL"])).is_empty());
        assert!(!capabilities(&s(&["KILL"]), &s(&["KILL"])).contains(&5));
        assert_eq!(
            capabilities(&s(&["ALL"]), &[]).len(),
            kubelab_api::pod::CAPABILITIES.len()
        );
        let privileged =
            json!({"securityContext": {"privileged": true, "capabilities": {"drop": ["ALL"]}}});
        let s = security(&json!({}), &privileged, &image()).unwrap();
        assert_eq!(
            mask(s.capabilities.unwrap()),
            0x1ff_ffff_ffff,
            "privileged: every one"
        );
    }
}
