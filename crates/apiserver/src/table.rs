//! Server-side printing: the columns of `kubectl get`.
//!
//! kubectl does not know how to print a Deployment. It asks the server for
//! a `Table` (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) and
//! prints whatever columns come back; `-o wide` shows the `priority: 1`
//! ones too. So the columns you see are the server's choice — upstream's
//! `printers.go`, mirrored here kind by kind. Each row also carries the
//! object's metadata, from which kubectl fills `-A`'s NAMESPACE column,
//! `--show-labels` and `-L`.

use chrono::{DateTime, Utc};
use kubelab_api::ResourceInfo;
use serde_json::{Value, json};

/// (name, type, priority, description)
type Column = (&'static str, &'static str, u8, &'static str);

fn columns(kind: &str) -> Vec<Column> {
    const NAME: Column = (
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    const AGE: Column = (
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    let mut c = vec![NAME];
    c.extend(match kind {
        "Pod" => vec![
            ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            ("Status", "string", 0, "The aggregate status of the containers in this pod."),
            ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            AGE,
            ("IP", "string", 1, "IP address allocated to the pod."),
            ("Node", "string", 1, "Name of the Node this pod is assigned to."),
            ("Nominated Node", "string", 1, "Name of the node nominated for preemption."),
            ("Readiness Gates", "string", 1, "The readiness gates of this pod."),
        ],
        "Deployment" => vec![
            ("Ready", "string", 0, "Number of the pod with ready state"),
            ("Up-to-date", "integer", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            ("Available", "integer", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
            ("Selector", "string", 1, "Label selector for pods."),
        ],
        "ReplicaSet" => vec![
            ("Desired", "integer", 0, "Number of desired pods."),
            ("Current", "integer", 0, "Number of actual replicas."),
            ("Ready", "integer", 0, "The number of ready replicas for this replica set."),
            AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
            ("Selector", "string", 1, "Label selector for pods."),
        ],
        "StatefulSet" => vec![
            ("Ready", "string", 0, "Number of the pod with ready state"),
            AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
        ],
        "DaemonSet" => vec![
            ("Desired", "integer", 0, "The desired number of nodes."),
            ("Current", "integer", 0, "The number of nodes running the daemon pod."),
            ("Ready", "integer", 0, "The number of nodes with a ready daemon pod."),
            ("Up-to-date", "integer", 0, "The number of nodes running the updated daemon pod."),
            ("Available", "integer", 0, "The number of nodes with an available daemon pod."),
            ("Node Selector", "string", 0, "The node selector of the daemon pods."),
            AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
            ("Selector", "string", 1, "Label selector for pods."),
        ],
        "Service" => vec![
            ("Type", "string", 0, "The type of the service."),
            ("Cluster-IP", "string", 0, "The cluster IP of the service."),
            ("External-IP", "string", 0, "The external IPs of the service."),
            ("Port(s)", "string", 0, "The ports of the service."),
            AGE,
            ("Selector", "string", 1, "The label selector of the service."),
        ],
        "ConfigMap" => vec![("Data", "integer", 0, "Number of keys in the config map."), AGE],
        "Secret" => vec![
            ("Type", "string", 0, "The type of the secret."),
            ("Data", "integer", 0, "Number of keys in the secret."),
            AGE,
        ],
        "Namespace" => vec![("Status", "string", 0, "The status of the namespace."), AGE],
        "Node" => vec![
            ("Status", "string", 0, "The status of the node."),
            ("Roles", "string", 0, "The roles of the node."),
            AGE,
            ("Version", "string", 0, "Kubelet Version reported by the node."),
            ("Internal-IP", "string", 1, "List of internal IPs."),
            ("External-IP", "string", 1, "List of external IPs."),
            ("OS-Image", "string", 1, "OS image reported by the node."),
            ("Kernel-Version", "string", 1, "Kernel version reported by the node."),
            ("Container-Runtime", "string", 1, "Container runtime and version reported by the node."),
        ],
        "Event" => {
            return vec![
                ("Last Seen", "string", 0, "Time when last event was seen."),
                ("Type", "string", 0, "Type of the event."),
                ("Reason", "string", 0, "Reason of the event."),
                ("Object", "string", 0, "The object that the event was about."),
                ("Message", "string", 0, "A human-readable description of the status of this operation."),
                ("Name", "string", 1, "Name must be unique within a namespace."),
            ];
        }
        "Endpoints" => vec![("Endpoints", "string", 0, "Endpoints of the object."), AGE],
        "ServiceAccount" => vec![("Secrets", "integer", 0, "Number of secrets."), AGE],
        "Job" => vec![
            ("Status", "string", 0, "Status of the job."),
            ("Completions", "string", 0, "The completion status of the job."),
            ("Duration", "string", 0, "Time required to complete the job."),
            AGE,
        ],
        "CronJob" => vec![
            ("Schedule", "string", 0, "The schedule of the cron job."),
            ("Timezone", "string", 0, "The timezone of the cron job."),
            ("Suspend", "boolean", 0, "Whether the cron job is suspended."),
            ("Active", "integer", 0, "Number of running jobs."),
            ("Last Schedule", "string", 0, "When the last job was scheduled."),
            AGE,
        ],
        "PersistentVolumeClaim" => vec![
            ("Status", "string", 0, "The phase of the claim."),
            ("Volume", "string", 0, "The bound volume."),
            ("Capacity", "string", 0, "The capacity of the bound volume."),
            ("Access Modes", "string", 0, "The access modes of the claim."),
            ("StorageClass", "string", 0, "The storage class of the claim."),
            ("VolumeAttributesClass", "string", 0, "The volume attributes class of the claim."),
            AGE,
        ],
        "PersistentVolume" => vec![
            ("Capacity", "string", 0, "The capacity of the volume."),
            ("Access Modes", "string", 0, "The access modes of the volume."),
            ("Reclaim Policy", "string", 0, "What happens to the volume when its claim goes."),
            ("Status", "string", 0, "The phase of the volume."),
            ("Claim", "string", 0, "The claim bound to the volume."),
            ("StorageClass", "string", 0, "The storage class of the volume."),
            ("VolumeAttributesClass", "string", 0, "The volume attributes class."),
            ("Reason", "string", 0, "Why the volume is in its phase."),
            AGE,
        ],
        "Lease" => vec![("Holder", "string", 0, "The holder of the lease."), AGE],
        "Role" | "ClusterRole" => vec![("Created At", "date", 0, "When the role was created.")],
        "RoleBinding" | "ClusterRoleBinding" => vec![
            ("Role", "string", 0, "The role this binding grants."),
            AGE,
            ("Users", "string", 1, "Users in the binding."),
            ("Groups", "string", 1, "Groups in the binding."),
            ("ServiceAccounts", "string", 1, "ServiceAccounts in the binding."),
        ],
        "StorageClass" => vec![
            ("Provisioner", "string", 0, "The provisioner of the class."),
            ("ReclaimPolicy", "string", 0, "What happens to volumes of this class when released."),
            ("VolumeBindingMode", "string", 0, "When volumes are bound."),
            ("AllowVolumeExpansion", "string", 0, "Whether volumes can grow."),
            AGE,
        ],
        "ControllerRevision" => vec![
            ("Controller", "string", 0, "The controller that owns this revision."),
            ("Revision", "integer", 0, "The revision number."),
            AGE,
        ],
        "EndpointSlice" => vec![
            ("AddressType", "string", 0, "The type of the addresses."),
            ("Ports", "string", 0, "The ports of the slice."),
            ("Endpoints", "string", 0, "The addresses of the slice."),
            AGE,
        ],
        "HorizontalPodAutoscaler" => vec![
            ("Reference", "string", 0, "What the autoscaler scales."),
            ("Targets", "string", 0, "Current and target metric values."),
            ("MinPods", "string", 0, "The lower replica limit."),
            ("MaxPods", "integer", 0, "The upper replica limit."),
            ("Replicas", "integer", 0, "The current number of replicas."),
            AGE,
        ],
        _ => vec![AGE],
    });
    c
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn or_none(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

/// `kubectl`'s human durations: 45s, 5m30s, 150m, 5h30m, 36h, 5d3h, 400d, 3y20d.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        if secs % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", secs % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        let y = d / 365;
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{}y", d / 365)
    }
}

fn age(ts: &Value) -> String {
    match ts
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => human_duration((Utc::now() - t.with_timezone(&Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

fn template_containers(spec: &Value) -> (String, String) {
    let cs = spec["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

fn selector_string(sel: &Value) -> String {
    or_none(kubelab_api::selector::to_selector_string(sel))
}

fn pod_status_reason(pod: &Value) -> String {
    if pod["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return "Terminating".into();
    }
    let st = &pod["status"];
    let mut reason = if st["reason"].is_string() {
        s(&st["reason"])
    } else {
        s(&st["phase"])
    };
    for c in st["containerStatuses"].as_array().into_iter().flatten() {
        let state = &c["state"];
        if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        } else if let Some(r) = state["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        }
    }
    reason
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let (meta, spec, st) = (&o["metadata"], &o["spec"], &o["status"]);
    let name = json!(s(&meta["name"]));
    let created = age(&meta["creationTimestamp"]);
    match kind {
        "Pod" => {
            let total = spec["containers"].as_array().map_or(0, Vec::len);
            let statuses = st["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| int(&c["restartCount"])).sum();
            let gates = spec["readinessGates"]
                .as_array()
                .map_or("<none>".to_string(), |g| format!("0/{}", g.len()));
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status_reason(o)),
                json!(restarts.to_string()),
                json!(created),
                json!(or_none(s(&st["podIP"]))),
                json!(or_none(s(&spec["nodeName"]))),
                json!(or_none(s(&st["nominatedNodeName"]))),
                json!(gates),
            ]
        }
        "Deployment" => {
            let (c, i) = template_containers(spec);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(&st["readyReplicas"]),
                    int(&spec["replicas"])
                )),
                json!(int(&st["updatedReplicas"])),
                json!(int(&st["availableReplicas"])),
                json!(created),
                json!(c),
                json!(i),
                json!(selector_string(&spec["selector"])),
            ]
        }
        "ReplicaSet" => {
            let (c, i) = template_containers(spec);
            vec![
                name,
                json!(int(&spec["replicas"])),
                json!(int(&st["replicas"])),
                json!(int(&st["readyReplicas"])),
                json!(created),
                json!(c),
                json!(i),
                json!(selector_string(&spec["selector"])),
            ]
        }
        "StatefulSet" => {
            let (c, i) = template_containers(spec);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(&st["readyReplicas"]),
                    int(&spec["replicas"])
                )),
                json!(created),
                json!(c),
                json!(i),
            ]
        }
        "DaemonSet" => {
            let (c, i) = template_containers(spec);
            let ns: Vec<String> = spec["template"]["spec"]["nodeSelector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", s(v)))
                .collect();
            vec![
                name,
                json!(int(&st["desiredNumberScheduled"])),
                json!(int(&st["currentNumberScheduled"])),
                json!(int(&st["numberReady"])),
                json!(int(&st["updatedNumberScheduled"])),
                json!(int(&st["numberAvailable"])),
                json!(or_none(ns.join(","))),
                json!(created),
                json!(c),
                json!(i),
                json!(selector_string(&spec["selector"])),
            ]
        }
        "Service" => {
            let ty = s(&spec["type"]);
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["nodePort"].as_i64() {
                    Some(np) => format!("{}:{np}/{}", int(&p["port"]), s(&p["protocol"])),
                    None => format!("{}/{}", int(&p["port"]), s(&p["protocol"])),
                })
                .collect();
            let mut external: Vec<String> = spec["externalIPs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect();
            for ing in st["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
            {
                external.push(if ing["ip"].is_string() {
                    s(&ing["ip"])
                } else {
                    s(&ing["hostname"])
                });
            }
            let external = match ty.as_str() {
                "ExternalName" => s(&spec["externalName"]),
                "LoadBalancer" if external.is_empty() => "<pending>".into(),
                _ => or_none(external.join(",")),
            };
            let selector: Vec<String> = spec["selector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", s(v)))
                .collect();
            vec![
                name,
                json!(ty),
                json!(or_none(s(&spec["clusterIP"]))),
                json!(external),
                json!(or_none(ports.join(","))),
                json!(created),
                json!(or_none(selector.join(","))),
            ]
        }
        "ConfigMap" => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(n), json!(created)]
        }
        "Secret" => vec![
            name,
            json!(s(&o["type"])),
            json!(o["data"].as_object().map_or(0, |m| m.len())),
            json!(created),
        ],
        "Namespace" => vec![name, json!(s(&st["phase"])), json!(created)],
        "Node" => {
            let ready = st["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready");
            let mut status = match ready.map(|c| s(&c["status"])) {
                Some(r) if r == "True" => "Ready".to_string(),
                _ => "NotReady".to_string(),
            };
            if spec["unschedulable"] == true {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = meta["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
                .collect();
            let addr = |t: &str| {
                or_none(
                    st["addresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|a| a["type"] == t)
                        .map(|a| s(&a["address"]))
                        .collect::<Vec<_>>()
                        .join(","),
                )
            };
            let info = &st["nodeInfo"];
            vec![
                name,
                json!(status),
                json!(or_none(roles.join(","))),
                json!(created),
                json!(s(&info["kubeletVersion"])),
                json!(addr("InternalIP")),
                json!(addr("ExternalIP")),
                json!(s(&info["osImage"])),
                json!(s(&info["kernelVersion"])),
                json!(s(&info["containerRuntimeVersion"])),
            ]
        }
        "Event" => {
            let last = [
                &o["lastTimestamp"],
                &o["eventTime"],
                &meta["creationTimestamp"],
            ]
            .into_iter()
            .find(|t| t.is_string())
            .cloned()
            .unwrap_or(Value::Null);
            let io = &o["involvedObject"];
            let note = if o["note"].is_string() {
                &o["note"]
            } else {
                &o["message"]
            };
            let regarding = if io.is_object() { io } else { &o["regarding"] };
            vec![
                json!(age(&last)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!(
                    "{}/{}",
                    s(&regarding["kind"]).to_lowercase(),
                    s(&regarding["name"])
                )),
                json!(s(note)),
                name,
            ]
        }
        "Endpoints" => {
            let mut eps = Vec::new();
            for sub in o["subsets"].as_array().into_iter().flatten() {
                for a in sub["addresses"].as_array().into_iter().flatten() {
                    for p in sub["ports"].as_array().into_iter().flatten() {
                        eps.push(format!("{}:{}", s(&a["ip"]), int(&p["port"])));
                    }
                }
            }
            let shown = if eps.len() > 3 {
                format!("{} + {} more...", eps[..3].join(","), eps.len() - 3)
            } else {
                eps.join(",")
            };
            vec![name, json!(or_none(shown)), json!(created)]
        }
        "ServiceAccount" => vec![
            name,
            json!(o["secrets"].as_array().map_or(0, Vec::len)),
            json!(created),
        ],
        "Job" => {
            let status = if st["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True")
            {
                "Complete"
            } else if st["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Failed" && c["status"] == "True")
            {
                "Failed"
            } else {
                "Running"
            };
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    int(&st["succeeded"]),
                    int(&spec["completions"]).max(1)
                )),
                json!(""),
                json!(created),
            ]
        }
        "CronJob" => vec![
            name,
            json!(s(&spec["schedule"])),
            json!(or_none(s(&spec["timeZone"]))),
            json!(spec["suspend"] == true),
            json!(st["active"].as_array().map_or(0, Vec::len)),
            json!(if st["lastScheduleTime"].is_string() {
                age(&st["lastScheduleTime"])
            } else {
                "<none>".into()
            }),
            json!(created),
        ],
        "PersistentVolumeClaim" => {
            let modes: Vec<String> = st["accessModes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| short_mode(&s(m)))
                .collect();
            vec![
                name,
                json!(s(&st["phase"])),
                json!(s(&spec["volumeName"])),
                json!(s(&st["capacity"]["storage"])),
                json!(modes.join(",")),
                json!(or_none(s(&spec["storageClassName"]))),
                json!(or_none(s(&spec["volumeAttributesClassName"]))),
                json!(created),
            ]
        }
        "PersistentVolume" => {
            let modes: Vec<String> = spec["accessModes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| short_mode(&s(m)))
                .collect();
            let claim = if spec["claimRef"].is_object() {
                format!(
                    "{}/{}",
                    s(&spec["claimRef"]["namespace"]),
                    s(&spec["claimRef"]["name"])
                )
            } else {
                String::new()
            };
            vec![
                name,
                json!(s(&spec["capacity"]["storage"])),
                json!(modes.join(",")),
                json!(s(&spec["persistentVolumeReclaimPolicy"])),
                json!(s(&st["phase"])),
                json!(claim),
                json!(s(&spec["storageClassName"])),
                json!(or_none(s(&spec["volumeAttributesClassName"]))),
                json!(s(&st["reason"])),
                json!(created),
            ]
        }
        "Lease" => vec![name, json!(s(&spec["holderIdentity"])), json!(created)],
        "Role" | "ClusterRole" => vec![name, json!(s(&meta["creationTimestamp"]))],
        "RoleBinding" | "ClusterRoleBinding" => {
            let subjects = |kind: &str| {
                let v: Vec<String> = o["subjects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| x["kind"] == kind)
                    .map(|x| match x["namespace"].as_str() {
                        Some(ns) if kind == "ServiceAccount" => format!("{ns}/{}", s(&x["name"])),
                        _ => s(&x["name"]),
                    })
                    .collect();
                v.join(", ")
            };
            let role = format!("{}/{}", s(&o["roleRef"]["kind"]), s(&o["roleRef"]["name"]));
            vec![
                name,
                json!(role),
                json!(created),
                json!(subjects("User")),
                json!(subjects("Group")),
                json!(subjects("ServiceAccount")),
            ]
        }
        "StorageClass" => {
            let expand = if o["allowVolumeExpansion"] == true {
                "true"
            } else {
                "false"
            };
            let policy = if o["reclaimPolicy"].is_string() {
                s(&o["reclaimPolicy"])
            } else {
                "Delete".into()
            };
            let mode = if o["volumeBindingMode"].is_string() {
                s(&o["volumeBindingMode"])
            } else {
                "Immediate".into()
            };
            let mut n = s(&meta["name"]);
            if meta["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true" {
                n.push_str(" (default)");
            }
            vec![
                json!(n),
                json!(s(&o["provisioner"])),
                json!(policy),
                json!(mode),
                json!(expand),
                json!(created),
            ]
        }
        "ControllerRevision" => {
            let controller = meta["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["controller"] == true)
                .map_or("<none>".to_string(), |r| {
                    let kind = s(&r["kind"]).to_lowercase();
                    let group = s(&r["apiVersion"])
                        .split_once('/')
                        .map(|(g, _)| g.to_string())
                        .unwrap_or_default();
                    if group.is_empty() {
                        format!("{kind}/{}", s(&r["name"]))
                    } else {
                        format!("{kind}.{group}/{}", s(&r["name"]))
                    }
                });
            vec![
                name,
                json!(controller),
                json!(int(&o["revision"])),
                json!(created),
            ]
        }
        "EndpointSlice" => {
            let ports: Vec<String> = o["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| int(&p["port"]).to_string())
                .collect();
            let addrs: Vec<String> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .map(|a| s(&a))
                .collect();
            let shown = if addrs.len() > 3 {
                format!("{} + {} more...", addrs[..3].join(","), addrs.len() - 3)
            } else {
                addrs.join(",")
            };
            vec![
                name,
                json!(s(&o["addressType"])),
                json!(if ports.is_empty() {
                    "<unset>".into()
                } else {
                    ports.join(",")
                }),
                json!(if shown.is_empty() {
                    "<unset>".into()
                } else {
                    shown
                }),
                json!(created),
            ]
        }
        "HorizontalPodAutoscaler" => {
            let target = &spec["scaleTargetRef"];
            let min = if spec["minReplicas"].is_i64() {
                int(&spec["minReplicas"]).to_string()
            } else {
                "<unset>".into()
            };
            vec![
                name,
                json!(format!("{}/{}", s(&target["kind"]), s(&target["name"]))),
                json!("<unknown>"),
                json!(min),
                json!(int(&spec["maxReplicas"])),
                json!(int(&st["currentReplicas"])),
                json!(created),
            ]
        }
        _ => vec![name, json!(created)],
    }
}

fn short_mode(m: &str) -> String {
    match m {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        other => other,
    }
    .to_string()
}

/// Which form each row's `object` takes (`?includeObject=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// A `meta.k8s.io/v1` Table for these objects.
pub fn table(
    info: &ResourceInfo,
    items: &[Value],
    list_meta: Value,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let column_definitions: Vec<Value> = if with_columns {
        columns(info.kind)
            .into_iter()
            .map(|(name, ty, priority, description)| {
                json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": description, "priority": priority})
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let object = match include {
                IncludeObject::None => Value::Null,
                IncludeObject::Object => o.clone(),
                IncludeObject::Metadata => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
            };
            json!({"cells": cells(info.kind, o), "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": column_definitions, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_kubectl() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (330, "5m30s"),
            (600, "10m"),
            (9000, "150m"),
            (19800, "5h30m"),
            (36 * 3600, "36h"),
            (5 * 86400 + 3 * 3600, "5d3h"),
            (400 * 86400, "400d"),
            (3 * 365 * 86400 + 20 * 86400, "3y20d"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn rows_have_one_cell_per_column() {
        for info in kubelab_api::RESOURCES {
            let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"}, "spec": {}, "status": {}});
            let t = table(info, &[obj], json!({}), IncludeObject::Metadata, true);
            assert_eq!(
                t["columnDefinitions"].as_array().unwrap().len(),
                t["rows"][0]["cells"].as_array().unwrap().len(),
                "{}",
                info.kind
            );
        }
    }

    #[test]
    fn pod_and_service_cells() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.244.1.2", "containerStatuses": [{"ready": true, "restartCount": 2}, {"ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let c = cells("Pod", &pod);
        assert_eq!(
            &c[1..4],
            &[json!("1/2"), json!("CrashLoopBackOff"), json!("3")]
        );
        assert_eq!(c[6], "node-1");
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        let c = cells("Service", &svc);
        assert_eq!(
            &c[1..5],
            &[
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP")
            ]
        );
    }
}
