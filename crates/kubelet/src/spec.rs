//! From a pod's spec to what the runtime needs for each container.

use std::path::Path;

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
    services: Vec<(String, String)>,
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
    for (k, v) in services {
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
    pod_dir: &Path,
    services: Vec<(String, String)>,
) -> ContainerConfig {
    let mut mounts = vec![Mount {
        source: pod_dir.join("etc-hosts"),
        destination: "/etc/hosts".into(),
        read_only: false,
    }];
    // Written only when the cluster has DNS and the pod's dnsPolicy uses it.
    if pod_dir.join("resolv.conf").exists() {
        mounts.push(Mount {
            source: pod_dir.join("resolv.conf"),
            destination: "/etc/resolv.conf".into(),
            read_only: false,
        });
    }
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
        env: env(pod, container, image, node, services),
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

/// The pod's `/etc/hosts`, as the kubelet writes it: localhost, and the
/// pod's own name at its IP (with its DNS name when it sets `subdomain`).
pub fn etc_hosts(pod: &Value, ip: Option<std::net::Ipv4Addr>) -> String {
    let m = &pod["metadata"];
    let name = m["name"].as_str().unwrap_or_default();
    let hostname = pod["spec"]["hostname"].as_str().unwrap_or(name);
    let ip = ip.map_or("127.0.1.1".to_string(), |i| i.to_string());
    let names = match pod["spec"]["subdomain"].as_str().filter(|s| !s.is_empty()) {
        Some(sub) => format!(
            "{hostname}.{sub}.{}.svc.{}\t{hostname}",
            m["namespace"].as_str().unwrap_or("default"),
            kubelab_api::network::CLUSTER_DOMAIN
        ),
        None => hostname.to_string(),
    };
    format!(
        "# Kubernetes-managed hosts file (kubelab).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{names}\n"
    )
}

// ANCHOR: resolv_conf
/// The pod's `/etc/resolv.conf` for `dnsPolicy: ClusterFirst` (the
/// default): the cluster DNS server, and search domains so that `web`,
/// `web.other-ns` and `web.other-ns.svc` all resolve. `ndots:5` makes a
/// name with fewer than five dots try the search domains first.
/// `dnsPolicy: None` takes everything from `dnsConfig`, which otherwise
/// adds to these.
pub fn resolv_conf(pod: &Value, dns: std::net::Ipv4Addr) -> String {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let domain = kubelab_api::network::CLUSTER_DOMAIN;
    let config = &pod["spec"]["dnsConfig"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let (mut servers, mut search, mut options) = if pod["spec"]["dnsPolicy"] == "None" {
        (vec![], vec![], vec![])
    } else {
        (
            vec![dns.to_string()],
            vec![
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.to_string(),
            ],
            vec!["ndots:5".to_string()],
        )
    };
    servers.extend(strings(&config["nameservers"]));
    search.extend(strings(&config["searches"]));
    for o in config["options"].as_array().into_iter().flatten() {
        let name = o["name"].as_str().unwrap_or_default();
        options.retain(|x| x.split(':').next() != Some(name));
        options.push(match o["value"].as_str() {
            Some(v) => format!("{name}:{v}"),
            None => name.to_string(),
        });
    }
    let mut out = String::new();
    if !search.is_empty() {
        out += &format!("search {}\n", search.join(" "));
    }
    for s in servers {
        out += &format!("nameserver {s}\n");
    }
    if !options.is_empty() {
        out += &format!("options {}\n", options.join(" "));
    }
    out
}
// ANCHOR_END: resolv_conf

// ANCHOR: service_env
/// The variables a container gets for each Service of its namespace, as
/// upstream (and Docker links before it) names them, for `web` on
/// 10.96.0.20 port 80:
/// `WEB_SERVICE_HOST=10.96.0.20`, `WEB_SERVICE_PORT=80`,
/// `WEB_PORT=tcp://10.96.0.20:80`, `WEB_PORT_80_TCP=tcp://10.96.0.20:80`,
/// `WEB_PORT_80_TCP_PROTO=tcp`, `…_PORT=80`, `…_ADDR=10.96.0.20`, and
/// `WEB_SERVICE_PORT_<NAME>` for named ports. The `kubernetes` Service of
/// `default` is always included; `enableServiceLinks: false` leaves out
/// the others. Only Services that existed when the container started
/// count — the reason DNS names are the better way to find a Service.
pub fn service_env(pod: &Value, services: &[std::sync::Arc<Value>]) -> Vec<(String, String)> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let links = pod["spec"]["enableServiceLinks"] != false;
    let mut chosen: Vec<&Value> = services
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| {
            let (sns, name) = (&s["metadata"]["namespace"], &s["metadata"]["name"]);
            let master = sns == "default" && name == "kubernetes";
            (links && sns == ns) || master
        })
        .filter(|s| {
            s["spec"]["clusterIP"]
                .as_str()
                .is_some_and(|ip| !ip.is_empty() && ip != "None")
        })
        .collect();
    chosen.sort_by_key(|s| {
        s["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    chosen.dedup_by_key(|s| s["metadata"]["name"].clone());
    let mut out = Vec::new();
    for s in chosen {
        let name = s["metadata"]["name"].as_str().unwrap_or_default();
        let n = name.to_uppercase().replace('-', "_");
        let ip = s["spec"]["clusterIP"].as_str().unwrap_or_default();
        let ports = s["spec"]["ports"].as_array().map_or(&[][..], Vec::as_slice);
        let Some(first) = ports.first() else { continue };
        out.push((format!("{n}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{n}_SERVICE_PORT"), first["port"].to_string()));
        for p in ports {
            if let Some(pn) = p["name"].as_str().filter(|s| !s.is_empty()) {
                out.push((
                    format!("{n}_SERVICE_PORT_{}", pn.to_uppercase().replace('-', "_")),
                    p["port"].to_string(),
                ));
            }
        }
        let proto = |p: &Value| p["protocol"].as_str().unwrap_or("TCP").to_string();
        out.push((
            format!("{n}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), first["port"]),
        ));
        for p in ports {
            let (pr, port) = (proto(p), &p["port"]);
            let prefix = format!("{n}_PORT_{port}_{pr}");
            out.push((
                prefix.clone(),
                format!("{}://{ip}:{port}", pr.to_lowercase()),
            ));
            out.push((format!("{prefix}_PROTO"), pr.to_lowercase()));
            out.push((format!("{prefix}_PORT"), port.to_string()));
            out.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    out
}
// ANCHOR_END: service_env

/// `status.qosClass`: Guaranteed (limits = requests for all), BestEffort
/// (none set), else Burstable.
pub fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let set = |c: &Value, k: &str| c["resources"][k].as_object().is_some_and(|m| !m.is_empty());
    if containers
        .iter()
        .all(|c| !set(c, "requests") && !set(c, "limits"))
    {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let (l, r) = (&c["resources"]["limits"], &c["resources"]["requests"]);
        ["cpu", "memory"].iter().all(|k| {
            !l[k].is_null()
                && (r[k].is_null()
                    || kubelab_api::quantity::of(&l[k]) == kubelab_api::quantity::of(&r[k]))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
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

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(&json!({"spec": {"containers": [{}]}})),
            "BestEffort"
        );
        let g = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
