//! The `kubectl get` columns of every built-in kind, one [`Printer`] each.
//!
//! This is kubelab's `pkg/printers/internalversion/printers.go`. Upstream's
//! `AddHandlers` registers, per kind, the column definitions together with
//! the function that fills them (`printPod`, `printDeployment`, …); here
//! each kind is one function that builds its [`Printer`] column by column,
//! the header and the code of each cell side by side. The names,
//! descriptions and cell formats follow upstream's, so `kubectl get` looks
//! as it does against a real cluster (`1/2`, `CrashLoopBackOff`,
//! `80:30080/TCP`, `<none>`).
//!
//! Where to start reading: [`pod`], then [`lookup`], which the server
//! calls for every Table it sends. A kind listed in no printer here gets
//! [`Printer::fallback`].
//!
//! Simplification: kubelab prints a subset of upstream's columns (no
//! Event Source or Count), and an autoscaler's Targets only for resource
//! metrics (the only kind chapter 06 measures). Some descriptions are
//! kubelab's own wording.

use serde_json::{Value, json};

use crate::table::{NAME_DESCRIPTION, Printer, age, name, text};

/// (API group, kind, the function that builds its printer).
type Entry = (&'static str, &'static str, fn() -> Printer);

/// The built-in printers by (API group, kind). A kind served by two groups
/// (the core `Event` and `events.k8s.io`'s) is listed under both.
const BUILTIN: &[Entry] = &[
    ("", "ConfigMap", config_map),
    ("", "Endpoints", endpoints),
    ("", "Event", event),
    ("", "Namespace", namespace),
    ("", "Node", node),
    ("", "PersistentVolumeClaim", persistent_volume_claim),
    ("", "PersistentVolume", persistent_volume),
    ("", "Pod", pod),
    ("", "ReplicationController", replication_controller),
    ("", "Secret", secret),
    ("", "ServiceAccount", service_account),
    ("", "Service", service),
    ("apps", "ControllerRevision", controller_revision),
    ("apps", "DaemonSet", daemon_set),
    ("apps", "Deployment", deployment),
    ("apps", "ReplicaSet", replica_set),
    ("apps", "StatefulSet", stateful_set),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        horizontal_pod_autoscaler,
    ),
    ("batch", "CronJob", cron_job),
    ("batch", "Job", job),
    ("coordination.k8s.io", "Lease", lease),
    ("discovery.k8s.io", "EndpointSlice", endpoint_slice),
    ("events.k8s.io", "Event", event),
    ("policy", "PodDisruptionBudget", pod_disruption_budget),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        role_binding,
    ),
    ("rbac.authorization.k8s.io", "ClusterRole", role),
    ("rbac.authorization.k8s.io", "RoleBinding", role_binding),
    ("rbac.authorization.k8s.io", "Role", role),
    ("storage.k8s.io", "StorageClass", storage_class),
];

/// Every built-in printer with the (group, kind) it prints.
pub fn builtin() -> Vec<(&'static str, &'static str, Printer)> {
    BUILTIN
        .iter()
        .map(|&(group, kind, printer)| (group, kind, printer()))
        .collect()
}

/// The printer for a kind: its own, or the fallback (Name, Age).
pub fn lookup(group: &str, kind: &str) -> Printer {
    BUILTIN
        .iter()
        .find(|&&(g, k, _)| g == group && k == kind)
        .map_or_else(Printer::fallback, |&(_, _, printer)| printer())
}

// ---- core workloads -------------------------------------------------------

/// Upstream's `podColumnDefinitions` / `printPod`.
pub fn pod() -> Printer {
    Printer::new()
        .column(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
            |o| {
                let s = pod_summary(o);
                json!(format!("{}/{}", s.ready, s.total))
            },
        )
        .column(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
            |o| json!(pod_summary(o).status),
        )
        .column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            |o| json!(pod_summary(o).restarts),
        )
        .age()
        .wide("IP", "string", "IP address allocated to the pod.", field_or_none(".status.podIP"))
        .wide(
            "Node",
            "string",
            "Name of the Node this pod is assigned to.",
            field_or_none(".spec.nodeName"),
        )
        .wide(
            "Nominated Node",
            "string",
            "Name of the node nominated for preemption.",
            field_or_none(".status.nominatedNodeName"),
        )
        .wide(
            "Readiness Gates",
            "string",
            "The readiness gates of this pod.",
            // Upstream counts the gates whose condition is True; kubelab
            // does not look at the conditions and prints 0 met of N.
            |o| {
                json!(
                    o["spec"]["readinessGates"]
                        .as_array()
                        .map_or("<none>".to_string(), |g| format!("0/{}", g.len()))
                )
            },
        )
}

/// The READY, STATUS and RESTARTS cells of a pod.
struct PodSummary {
    ready: usize,
    total: usize,
    status: String,
    restarts: String,
}

/// `kubectl get pods`' STATUS is not the phase alone. As upstream's
/// `printPod`: while init containers run it is `Init:1/2`, or
/// `Init:<reason>` when one is failing (`Init:Error`,
/// `Init:CrashLoopBackOff`); after them, the reason of the last app
/// container that is waiting or terminated (`PodInitializing`,
/// `CrashLoopBackOff`, `Completed`) wins over the phase; a pod being
/// deleted is `Terminating`. READY counts app containers and sidecars;
/// RESTARTS adds how long ago the last restart was.
fn pod_summary(pod: &Value) -> PodSummary {
    let st = &pod["status"];
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let init_specs = list(&pod["spec"]["initContainers"]);
    let sidecar = |name: &Value| {
        init_specs
            .iter()
            .any(|c| c["name"] == *name && c["restartPolicy"] == "Always")
    };
    let mut reason = if st["reason"].is_string() {
        text(&st["reason"])
    } else {
        text(&st["phase"])
    };
    let (mut restarts, mut sidecar_restarts, mut ready) = (0i64, 0i64, 0usize);
    let (mut last_restart, mut last_sidecar_restart) = (String::new(), String::new());
    let later = |a: &mut String, t: &Value| {
        if let Some(t) = t.as_str()
            && t > a.as_str()
        {
            *a = t.to_string();
        }
    };
    let exit_text = |t: &Value, prefix: &str| match t["signal"].as_i64().filter(|s| *s != 0) {
        Some(sig) => format!("{prefix}Signal:{sig}"),
        None => format!("{prefix}ExitCode:{}", int(&t["exitCode"])),
    };
    let mut initializing = false;
    let init = list(&st["initContainerStatuses"]);
    for (i, c) in init.iter().enumerate() {
        restarts += int(&c["restartCount"]);
        later(
            &mut last_restart,
            &c["lastState"]["terminated"]["finishedAt"],
        );
        let is_sidecar = sidecar(&c["name"]);
        if is_sidecar {
            sidecar_restarts += int(&c["restartCount"]);
            later(
                &mut last_sidecar_restart,
                &c["lastState"]["terminated"]["finishedAt"],
            );
        }
        let (terminated, waiting) = (&c["state"]["terminated"], &c["state"]["waiting"]);
        if terminated.is_object() && int(&terminated["exitCode"]) == 0 {
            continue;
        }
        if is_sidecar && c["started"] == true {
            if c["ready"] == true {
                ready += 1;
            }
            continue;
        }
        initializing = true;
        reason = if terminated.is_object() {
            match terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => exit_text(terminated, "Init:"),
            }
        } else {
            match waiting["reason"]
                .as_str()
                .filter(|r| !r.is_empty() && *r != "PodInitializing")
            {
                Some(r) => format!("Init:{r}"),
                None => format!("Init:{i}/{}", init_specs.len()),
            }
        };
        break;
    }
    let initialized = st["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Initialized" && c["status"] == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in list(&st["containerStatuses"]).iter().rev() {
            restarts += int(&c["restartCount"]);
            later(
                &mut last_restart,
                &c["lastState"]["terminated"]["finishedAt"],
            );
            let (terminated, waiting) = (&c["state"]["terminated"], &c["state"]["waiting"]);
            if let Some(r) = waiting["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if let Some(r) = terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if terminated.is_object() {
                reason = exit_text(terminated, "");
            } else if c["state"]["running"].is_object() && c["ready"] == true {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose last container completed but another still runs.
        if reason == "Completed" && has_running {
            let pod_ready = st["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }
    let phase = st["phase"].as_str().unwrap_or_default();
    let deleting = pod["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    if deleting && st["reason"] == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len)
        + init_specs
            .iter()
            .filter(|c| c["restartPolicy"] == "Always")
            .count();
    let restarts = match restarts == 0 || last_restart.is_empty() {
        true => restarts.to_string(),
        false => format!(
            "{restarts} ({} ago)",
            crate::table::age(&json!(last_restart))
        ),
    };
    PodSummary {
        ready,
        total,
        status: reason,
        restarts,
    }
}

/// Upstream's `deploymentColumnDefinitions` / `printDeployment`.
pub fn deployment() -> Printer {
    Printer::new()
        .column(
            "Ready",
            "string",
            "Number of the pod with ready state",
            ready_of_replicas,
        )
        .column(
            "Up-to-date",
            "integer",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            integer(".status.updatedReplicas"),
        )
        .column(
            "Available",
            "integer",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            integer(".status.availableReplicas"),
        )
        .age()
        .with(template_containers)
        .with(pod_selector)
}

/// Upstream's `replicaSetColumnDefinitions` / `printReplicaSet`.
pub fn replica_set() -> Printer {
    replicated_pods("The number of ready replicas for this replica set.").with(pod_selector)
}

/// The columns ReplicaSets and ReplicationControllers share.
fn replicated_pods(ready: &'static str) -> Printer {
    Printer::new()
        .column(
            "Desired",
            "integer",
            "Number of desired pods.",
            integer(".spec.replicas"),
        )
        .column(
            "Current",
            "integer",
            "Number of actual replicas.",
            integer(".status.replicas"),
        )
        .column("Ready", "integer", ready, integer(".status.readyReplicas"))
        .age()
        .with(template_containers)
}

/// Upstream's `replicationControllerColumnDefinitions`: a ReplicaSet's
/// columns; the wide selector is the plain map (`app=web`).
pub fn replication_controller() -> Printer {
    replicated_pods("The number of ready replicas for this replication controller.").wide(
        "Selector",
        "string",
        "Label selector for pods.",
        |o| {
            json!(or_none(kubelab_api::selector::to_selector_string(
                &json!({"matchLabels": o["spec"]["selector"]})
            )))
        },
    )
}

/// Upstream's `podDisruptionBudgetColumnDefinitions` /
/// `printPodDisruptionBudget`: `N/A` for the bound that is not set.
pub fn pod_disruption_budget() -> Printer {
    let bound = |field: &'static str| {
        move |o: &Value| {
            let v = &o["spec"][field];
            json!(match v {
                Value::Null => "N/A".to_string(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
        }
    };
    Printer::new()
        .column(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
            bound("minAvailable"),
        )
        .column(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
            bound("maxUnavailable"),
        )
        .column(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
            integer(".status.disruptionsAllowed"),
        )
        .age()
}

/// Upstream's `statefulSetColumnDefinitions` / `printStatefulSet`.
pub fn stateful_set() -> Printer {
    Printer::new()
        .column(
            "Ready",
            "string",
            "Number of the pod with ready state",
            ready_of_replicas,
        )
        .age()
        .with(template_containers)
}

/// Upstream's `daemonSetColumnDefinitions` / `printDaemonSet`: counts of
/// nodes, since a DaemonSet has one pod per node and no replica count.
pub fn daemon_set() -> Printer {
    Printer::new()
        .column(
            "Desired",
            "integer",
            "The desired number of nodes.",
            integer(".status.desiredNumberScheduled"),
        )
        .column(
            "Current",
            "integer",
            "The number of nodes running the daemon pod.",
            integer(".status.currentNumberScheduled"),
        )
        .column(
            "Ready",
            "integer",
            "The number of nodes with a ready daemon pod.",
            integer(".status.numberReady"),
        )
        .column(
            "Up-to-date",
            "integer",
            "The number of nodes running the updated daemon pod.",
            integer(".status.updatedNumberScheduled"),
        )
        .column(
            "Available",
            "integer",
            "The number of nodes with an available daemon pod.",
            integer(".status.numberAvailable"),
        )
        .column(
            "Node Selector",
            "string",
            "The node selector of the daemon pods.",
            |o| {
                json!(or_none(key_values(
                    &o["spec"]["template"]["spec"]["nodeSelector"]
                )))
            },
        )
        .age()
        .with(template_containers)
        .with(pod_selector)
}

/// `ready/desired`, as Deployments and StatefulSets print READY.
fn ready_of_replicas(o: &Value) -> Value {
    json!(format!(
        "{}/{}",
        int(&o["status"]["readyReplicas"]),
        int(&o["spec"]["replicas"])
    ))
}

/// The `-o wide` Containers and Images columns of every kind with a pod
/// template: comma-separated, in the template's order.
fn template_containers(p: Printer) -> Printer {
    let list = |field: &'static str| {
        move |o: &Value| {
            let containers = o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten();
            json!(
                containers
                    .map(|c| text(&c[field]))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    };
    p.wide(
        "Containers",
        "string",
        "Names of each container in the template.",
        list("name"),
    )
    .wide(
        "Images",
        "string",
        "Images referenced by each container in the template.",
        list("image"),
    )
}

/// The `-o wide` Selector column of a workload: its `spec.selector` in
/// `kubectl -l` syntax (`app=web,tier in (front)`).
fn pod_selector(p: Printer) -> Printer {
    p.wide("Selector", "string", "Label selector for pods.", |o| {
        json!(or_none(kubelab_api::selector::to_selector_string(
            &o["spec"]["selector"]
        )))
    })
}

// ---- batch ----------------------------------------------------------------

/// Upstream's `jobColumnDefinitions` / `printJob`.
pub fn job() -> Printer {
    Printer::new()
        .column("Status", "string", "Status of the job.", |o| {
            let holds = |ty: &str| {
                o["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == ty)
                    .is_some_and(|c| c["status"] == "True")
            };
            json!(if holds("Complete") {
                "Complete"
            } else if holds("Failed") {
                "Failed"
            } else if o["metadata"]["deletionTimestamp"].is_string() {
                "Terminating"
            } else if holds("Suspended") {
                "Suspended"
            } else if holds("FailureTarget") {
                "FailureTarget"
            } else {
                "Running"
            })
        })
        .column(
            "Completions",
            "string",
            "The completion status of the job.",
            // Without `completions`, a work queue: done after one success.
            |o| {
                let done = int(&o["status"]["succeeded"]);
                let parallelism = int(&o["spec"]["parallelism"]);
                json!(match o["spec"]["completions"].as_i64() {
                    Some(c) => format!("{done}/{c}"),
                    None if parallelism > 1 => format!("{done}/1 of {parallelism}"),
                    None => format!("{done}/1"),
                })
            },
        )
        .column(
            "Duration",
            "string",
            "Time required to complete the job.",
            |o| {
                let time = |v: &Value| {
                    v.as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&chrono::Utc))
                };
                let Some(start) = time(&o["status"]["startTime"]) else {
                    return json!("");
                };
                let end = time(&o["status"]["completionTime"]).unwrap_or_else(chrono::Utc::now);
                json!(crate::table::human_duration((end - start).num_seconds()))
            },
        )
        .age()
        .with(template_containers)
        .with(pod_selector)
}

/// Upstream's `cronJobColumnDefinitions` / `printCronJob`.
pub fn cron_job() -> Printer {
    Printer::new()
        .column(
            "Schedule",
            "string",
            "The schedule of the cron job.",
            field(".spec.schedule"),
        )
        .column(
            "Timezone",
            "string",
            "The timezone of the cron job.",
            field_or_none(".spec.timeZone"),
        )
        .column(
            "Suspend",
            "boolean",
            "Whether the cron job is suspended.",
            |o| json!(o["spec"]["suspend"] == true),
        )
        .column("Active", "integer", "Number of running jobs.", |o| {
            json!(o["status"]["active"].as_array().map_or(0, Vec::len))
        })
        .column(
            "Last Schedule",
            "string",
            "When the last job was scheduled.",
            |o| {
                let last = &o["status"]["lastScheduleTime"];
                json!(if last.is_string() {
                    age(last)
                } else {
                    "<none>".into()
                })
            },
        )
        .age()
        .wide(
            "Containers",
            "string",
            "Names of each container in the template.",
            |o| json!(job_template_containers(o, "name")),
        )
        .wide(
            "Images",
            "string",
            "Images referenced by each container in the template.",
            |o| json!(job_template_containers(o, "image")),
        )
        .wide("Selector", "string", "Selector of the job template.", |o| {
            json!(or_none(kubelab_api::selector::to_selector_string(
                &o["spec"]["jobTemplate"]["spec"]["selector"]
            )))
        })
}

/// `field` of each container of a CronJob's Job template, comma-separated.
fn job_template_containers(o: &Value, field: &str) -> String {
    o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| text(&c[field]))
        .collect::<Vec<_>>()
        .join(",")
}

/// Upstream's `formatHPAMetrics`: `cpu: 85%/50%` for a utilization
/// target, `memory: 12582912/100Mi` for an average value, `<unknown>`
/// for a current value not measured yet; more than two metrics end in
/// ` + N more...`.
fn autoscaler_targets(o: &Value) -> String {
    let specs: Vec<&Value> = o["spec"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if specs.is_empty() {
        return "<none>".into();
    }
    let current = o["status"]["currentMetrics"].as_array();
    let parts: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let now = current.and_then(|c| c.get(i));
            match m["type"].as_str() {
                Some("Resource") => {
                    let name = text(&m["resource"]["name"]);
                    let target = &m["resource"]["target"];
                    let cur = now.map(|n| &n["resource"]["current"]);
                    if target["type"] == "Utilization" {
                        let have = cur
                            .and_then(|c| c["averageUtilization"].as_i64())
                            .map_or("<unknown>".to_string(), |u| format!("{u}%"));
                        let want = target["averageUtilization"]
                            .as_i64()
                            .map_or("<auto>".to_string(), |u| format!("{u}%"));
                        format!("{name}: {have}/{want}")
                    } else {
                        let have = cur
                            .and_then(|c| c["averageValue"].as_str())
                            .unwrap_or("<unknown>");
                        format!("{name}: {have}/{}", text(&target["averageValue"]))
                    }
                }
                _ => "<unknown>/<unknown>".into(),
            }
        })
        .collect();
    match parts.len() {
        0..=2 => parts.join(", "),
        n => format!("{} + {} more...", parts[..2].join(", "), n - 2),
    }
}

/// Upstream's `horizontalPodAutoscalerColumnDefinitions` /
/// `printHorizontalPodAutoscaler`.
pub fn horizontal_pod_autoscaler() -> Printer {
    Printer::new()
        .column("Reference", "string", "What the autoscaler scales.", |o| {
            let target = &o["spec"]["scaleTargetRef"];
            json!(format!(
                "{}/{}",
                text(&target["kind"]),
                text(&target["name"])
            ))
        })
        .column(
            "Targets",
            "string",
            "Current and target metric values.",
            |o| json!(autoscaler_targets(o)),
        )
        .column("MinPods", "string", "The lower replica limit.", |o| {
            let min = &o["spec"]["minReplicas"];
            json!(if min.is_i64() {
                int(min).to_string()
            } else {
                "<unset>".into()
            })
        })
        .column(
            "MaxPods",
            "integer",
            "The upper replica limit.",
            integer(".spec.maxReplicas"),
        )
        .column(
            "Replicas",
            "integer",
            "The current number of replicas.",
            integer(".status.currentReplicas"),
        )
        .age()
}

/// Upstream's `controllerRevisionColumnDefinition` /
/// `printControllerRevision`: the owner as `kind.group/name`.
pub fn controller_revision() -> Printer {
    Printer::new()
        .column(
            "Controller",
            "string",
            "The controller that owns this revision.",
            |o| {
                let owner = o["metadata"]["ownerReferences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| r["controller"] == true);
                json!(owner.map_or("<none>".to_string(), |r| {
                    let kind = text(&r["kind"]).to_lowercase();
                    match text(&r["apiVersion"]).split_once('/') {
                        Some((group, _)) if !group.is_empty() => {
                            format!("{kind}.{group}/{}", text(&r["name"]))
                        }
                        _ => format!("{kind}/{}", text(&r["name"])),
                    }
                }))
            },
        )
        .column(
            "Revision",
            "integer",
            "The revision number.",
            integer(".revision"),
        )
        .age()
}

// ---- services and networking ----------------------------------------------

/// Upstream's `serviceColumnDefinitions` / `printService`.
pub fn service() -> Printer {
    Printer::new()
        .column(
            "Type",
            "string",
            "The type of the service.",
            field(".spec.type"),
        )
        .column(
            "Cluster-IP",
            "string",
            "The cluster IP of the service.",
            field_or_none(".spec.clusterIP"),
        )
        .column(
            "External-IP",
            "string",
            "The external IPs of the service.",
            |o| json!(service_external_ip(o)),
        )
        .column("Port(s)", "string", "The ports of the service.", |o| {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["nodePort"].as_i64() {
                    Some(np) => format!("{}:{np}/{}", int(&p["port"]), text(&p["protocol"])),
                    None => format!("{}/{}", int(&p["port"]), text(&p["protocol"])),
                })
                .collect();
            json!(or_none(ports.join(",")))
        })
        .age()
        .wide(
            "Selector",
            "string",
            "The label selector of the service.",
            |o| json!(or_none(key_values(&o["spec"]["selector"]))),
        )
}

/// EXTERNAL-IP as upstream's `getServiceExternalIP`: the external name of
/// an ExternalName service; else `spec.externalIPs` then the load
/// balancer's addresses; a LoadBalancer still waiting for one is `<pending>`.
fn service_external_ip(o: &Value) -> String {
    let spec = &o["spec"];
    let mut external: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    let ingress = o["status"]["loadBalancer"]["ingress"].as_array();
    for ing in ingress.into_iter().flatten() {
        external.push(if ing["ip"].is_string() {
            text(&ing["ip"])
        } else {
            text(&ing["hostname"])
        });
    }
    match text(&spec["type"]).as_str() {
        "ExternalName" => text(&spec["externalName"]),
        "LoadBalancer" if external.is_empty() => "<pending>".into(),
        _ => or_none(external.join(",")),
    }
}

/// Upstream's `endpointColumnDefinitions` / `printEndpoints`: every
/// ready `ip:port`, the first three of them.
pub fn endpoints() -> Printer {
    Printer::new()
        .column("Endpoints", "string", "Endpoints of the object.", |o| {
            let mut eps = Vec::new();
            for sub in o["subsets"].as_array().into_iter().flatten() {
                for a in sub["addresses"].as_array().into_iter().flatten() {
                    for p in sub["ports"].as_array().into_iter().flatten() {
                        eps.push(format!("{}:{}", text(&a["ip"]), int(&p["port"])));
                    }
                }
            }
            json!(or_none(first_three(eps)))
        })
        .age()
}

/// Upstream's `endpointSliceColumnDefinitions` / `printEndpointSlice`.
pub fn endpoint_slice() -> Printer {
    Printer::new()
        .column(
            "AddressType",
            "string",
            "The type of the addresses.",
            field(".addressType"),
        )
        .column("Ports", "string", "The ports of the slice.", |o| {
            let ports: Vec<String> = o["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| int(&p["port"]).to_string())
                .collect();
            json!(or_unset(ports.join(",")))
        })
        .column("Endpoints", "string", "The addresses of the slice.", |o| {
            let addresses: Vec<String> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
                .map(text)
                .collect();
            json!(or_unset(first_three(addresses)))
        })
        .age()
}

/// Upstream shortens long address lists: `a,b,c + 2 more...`.
fn first_three(items: Vec<String>) -> String {
    if items.len() > 3 {
        format!("{} + {} more...", items[..3].join(","), items.len() - 3)
    } else {
        items.join(",")
    }
}

// ---- configuration --------------------------------------------------------

/// Upstream's `configMapColumnDefinitions` / `printConfigMap`: DATA counts
/// the keys of both `data` and `binaryData`.
pub fn config_map() -> Printer {
    Printer::new()
        .column(
            "Data",
            "integer",
            "Number of keys in the config map.",
            |o| json!(keys(&o["data"]) + keys(&o["binaryData"])),
        )
        .age()
}

/// Upstream's `secretColumnDefinitions` / `printSecret`.
pub fn secret() -> Printer {
    Printer::new()
        .column("Type", "string", "The type of the secret.", field(".type"))
        .column("Data", "integer", "Number of keys in the secret.", |o| {
            json!(keys(&o["data"]))
        })
        .age()
}

/// Upstream's `serviceAccountColumnDefinitions` / `printServiceAccount`.
pub fn service_account() -> Printer {
    Printer::new()
        .column("Secrets", "integer", "Number of secrets.", |o| {
            json!(o["secrets"].as_array().map_or(0, Vec::len))
        })
        .age()
}

// ---- cluster --------------------------------------------------------------

/// Upstream's `namespaceColumnDefinitions` / `printNamespace`.
pub fn namespace() -> Printer {
    Printer::new()
        .column(
            "Status",
            "string",
            "The status of the namespace.",
            field(".status.phase"),
        )
        .age()
}

/// Upstream's `nodeColumnDefinitions` / `printNode`. Note VERSION comes
/// after AGE there too.
pub fn node() -> Printer {
    let address = |ty: &'static str| {
        move |o: &Value| {
            let matching: Vec<String> = o["status"]["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["type"] == ty)
                .map(|a| text(&a["address"]))
                .collect();
            json!(or_none(matching.join(",")))
        }
    };
    Printer::new()
        .column("Status", "string", "The status of the node.", |o| {
            json!(node_status(o))
        })
        // A role is a label `node-role.kubernetes.io/<role>`, as kubeadm sets.
        .column("Roles", "string", "The roles of the node.", |o| {
            let roles: Vec<&str> = o["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            json!(or_none(roles.join(",")))
        })
        .age()
        .column(
            "Version",
            "string",
            "Kubelet Version reported by the node.",
            field(".status.nodeInfo.kubeletVersion"),
        )
        .wide(
            "Internal-IP",
            "string",
            "List of internal IPs.",
            address("InternalIP"),
        )
        .wide(
            "External-IP",
            "string",
            "List of external IPs.",
            address("ExternalIP"),
        )
        .wide(
            "OS-Image",
            "string",
            "OS image reported by the node.",
            field(".status.nodeInfo.osImage"),
        )
        .wide(
            "Kernel-Version",
            "string",
            "Kernel version reported by the node.",
            field(".status.nodeInfo.kernelVersion"),
        )
        .wide(
            "Container-Runtime",
            "string",
            "Container runtime and version reported by the node.",
            field(".status.nodeInfo.containerRuntimeVersion"),
        )
}

/// `Ready` only if the Ready condition is True (`Unknown` when the node
/// stopped reporting is NotReady too), plus `SchedulingDisabled` for a
/// cordoned node.
fn node_status(o: &Value) -> String {
    let ready = o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let mut status = match ready.map(|c| text(&c["status"])) {
        Some(r) if r == "True" => "Ready".to_string(),
        _ => "NotReady".to_string(),
    };
    if o["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Upstream's `eventColumnDefinitions` / `printEvent`, for both Event
/// APIs: the core one (`involvedObject`, `message`, `lastTimestamp`) and
/// `events.k8s.io`'s (`regarding`, `note`, `eventTime`). An event is read
/// by what happened, so the row starts with when; the name is a generated
/// one and shown only with `-o wide`.
pub fn event() -> Printer {
    Printer::empty()
        .column(
            "Last Seen",
            "string",
            "Time when last event was seen.",
            |o| {
                let last = [
                    &o["lastTimestamp"],
                    &o["eventTime"],
                    &o["metadata"]["creationTimestamp"],
                ]
                .into_iter()
                .find(|t| t.is_string())
                .unwrap_or(&Value::Null);
                json!(age(last))
            },
        )
        .column("Type", "string", "Type of the event.", field(".type"))
        .column("Reason", "string", "Reason of the event.", field(".reason"))
        .column(
            "Object",
            "string",
            "The object that the event was about.",
            |o| {
                let io = &o["involvedObject"];
                let regarding = if io.is_object() { io } else { &o["regarding"] };
                json!(format!(
                    "{}/{}",
                    text(&regarding["kind"]).to_lowercase(),
                    text(&regarding["name"])
                ))
            },
        )
        .column(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
            |o| {
                let note = if o["note"].is_string() {
                    &o["note"]
                } else {
                    &o["message"]
                };
                json!(text(note))
            },
        )
        .wide("Name", "string", NAME_DESCRIPTION, name)
}

/// Upstream's `leaseColumnDefinitions` / `printLease`: who holds it (the
/// leader, for a leader-election lease).
pub fn lease() -> Printer {
    Printer::new()
        .column(
            "Holder",
            "string",
            "The holder of the lease.",
            field(".spec.holderIdentity"),
        )
        .age()
}

// ---- storage --------------------------------------------------------------

/// Upstream's `persistentVolumeClaimColumnDefinitions` /
/// `printPersistentVolumeClaim`: the access modes the bound volume gives
/// (`status`), not those asked for.
pub fn persistent_volume_claim() -> Printer {
    // Capacity and modes are shown once the claim has a volume.
    let bound = |o: &Value| {
        o["spec"]["volumeName"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    };
    Printer::new()
        .column(
            "Status",
            "string",
            "The phase of the claim.",
            phase_or_terminating,
        )
        .column(
            "Volume",
            "string",
            "The bound volume.",
            field(".spec.volumeName"),
        )
        .column(
            "Capacity",
            "string",
            "The capacity of the bound volume.",
            move |o| {
                json!(if bound(o) {
                    text(&o["status"]["capacity"]["storage"])
                } else {
                    String::new()
                })
            },
        )
        .column(
            "Access Modes",
            "string",
            "The access modes of the claim.",
            move |o| {
                json!(if bound(o) {
                    access_modes(&o["status"]["accessModes"])
                } else {
                    String::new()
                })
            },
        )
        .column(
            "StorageClass",
            "string",
            "The storage class of the claim.",
            field(".spec.storageClassName"),
        )
        .column(
            "VolumeAttributesClass",
            "string",
            "The volume attributes class of the claim.",
            |o| json!(text_or(&o["spec"]["volumeAttributesClassName"], "<unset>")),
        )
        .age()
        .wide(
            "VolumeMode",
            "string",
            "The volume mode of the claim.",
            |o| json!(text_or(&o["spec"]["volumeMode"], "<unset>")),
        )
}

/// `Terminating` once deletion has begun, else `.status.phase`.
fn phase_or_terminating(o: &Value) -> Value {
    if o["metadata"]["deletionTimestamp"].is_string() {
        json!("Terminating")
    } else {
        json!(text(&o["status"]["phase"]))
    }
}

/// Upstream's `persistentVolumeColumnDefinitions` / `printPersistentVolume`.
pub fn persistent_volume() -> Printer {
    Printer::new()
        .column(
            "Capacity",
            "string",
            "The capacity of the volume.",
            field(".spec.capacity.storage"),
        )
        .column(
            "Access Modes",
            "string",
            "The access modes of the volume.",
            |o| json!(access_modes(&o["spec"]["accessModes"])),
        )
        .column(
            "Reclaim Policy",
            "string",
            "What happens to the volume when its claim goes.",
            field(".spec.persistentVolumeReclaimPolicy"),
        )
        .column(
            "Status",
            "string",
            "The phase of the volume.",
            phase_or_terminating,
        )
        .column("Claim", "string", "The claim bound to the volume.", |o| {
            let claim = &o["spec"]["claimRef"];
            json!(if claim.is_object() {
                format!("{}/{}", text(&claim["namespace"]), text(&claim["name"]))
            } else {
                String::new()
            })
        })
        .column(
            "StorageClass",
            "string",
            "The storage class of the volume.",
            field(".spec.storageClassName"),
        )
        .column(
            "VolumeAttributesClass",
            "string",
            "The volume attributes class.",
            |o| json!(text_or(&o["spec"]["volumeAttributesClassName"], "<unset>")),
        )
        .column(
            "Reason",
            "string",
            "Why the volume is in its phase.",
            field(".status.reason"),
        )
        .age()
        .wide(
            "VolumeMode",
            "string",
            "The volume mode of the volume.",
            |o| json!(text_or(&o["spec"]["volumeMode"], "<unset>")),
        )
}

/// Access modes as kubectl abbreviates them, in upstream's fixed order
/// (`GetAccessModesAsString`): `RWO,ROX,RWX,RWOP`.
fn access_modes(modes: &Value) -> String {
    let has = |m: &str| modes.as_array().is_some_and(|a| a.iter().any(|x| x == m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// Upstream's `storageClassColumnDefinitions` / `printStorageClass`, with
/// the API's defaults filled in for fields left out (Delete, Immediate),
/// and `(default)` after the name of the cluster's default class.
pub fn storage_class() -> Printer {
    Printer::named(|o| {
        let mut n = text(&o["metadata"]["name"]);
        if o["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true" {
            n.push_str(" (default)");
        }
        json!(n)
    })
    .column(
        "Provisioner",
        "string",
        "The provisioner of the class.",
        field(".provisioner"),
    )
    .column(
        "ReclaimPolicy",
        "string",
        "What happens to volumes of this class when released.",
        |o| json!(text_or(&o["reclaimPolicy"], "Delete")),
    )
    .column(
        "VolumeBindingMode",
        "string",
        "When volumes are bound.",
        |o| json!(text_or(&o["volumeBindingMode"], "Immediate")),
    )
    .column(
        "AllowVolumeExpansion",
        "string",
        "Whether volumes can grow.",
        |o| {
            json!(if o["allowVolumeExpansion"] == true {
                "true"
            } else {
                "false"
            })
        },
    )
    .age()
}

// ---- RBAC -----------------------------------------------------------------

/// Role and ClusterRole. Upstream has no printer for them: they get the
/// API server's default table (`rest.NewDefaultTableConvertor`), whose
/// second column is "Created At", a timestamp rather than an age.
pub fn role() -> Printer {
    Printer::new().column(
        "Created At",
        "date",
        "When the role was created.",
        field(".metadata.creationTimestamp"),
    )
}

/// RoleBinding and ClusterRoleBinding: upstream's
/// `roleBindingsColumnDefinitions` / `printRoleBinding` and their
/// `clusterRoleBindings…` twins; `-o wide` lists the subjects by kind,
/// service accounts as `namespace/name`.
pub fn role_binding() -> Printer {
    let subjects = |kind: &'static str| {
        move |o: &Value| {
            let names: Vec<String> = o["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["kind"] == kind)
                .map(|x| match x["namespace"].as_str() {
                    Some(ns) if kind == "ServiceAccount" => format!("{ns}/{}", text(&x["name"])),
                    _ => text(&x["name"]),
                })
                .collect();
            json!(names.join(", "))
        }
    };
    Printer::new()
        .column("Role", "string", "The role this binding grants.", |o| {
            let role = &o["roleRef"];
            json!(format!("{}/{}", text(&role["kind"]), text(&role["name"])))
        })
        .age()
        .wide("Users", "string", "Users in the binding.", subjects("User"))
        .wide(
            "Groups",
            "string",
            "Groups in the binding.",
            subjects("Group"),
        )
        .wide(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the binding.",
            subjects("ServiceAccount"),
        )
}

// ---- reading fields -------------------------------------------------------

/// A cell that is just one field, named by its path as a CRD's
/// `additionalPrinterColumns` name it (`.status.phase`): a string as it
/// is, a missing field empty.
fn field(path: &'static str) -> impl Fn(&Value) -> Value + Send + Sync {
    move |o| json!(text(at(o, path)))
}

/// [`field`], printing a missing or empty one as `<none>`.
fn field_or_none(path: &'static str) -> impl Fn(&Value) -> Value + Send + Sync {
    move |o| json!(or_none(text(at(o, path))))
}

/// A cell that is one integer field, 0 if missing.
fn integer(path: &'static str) -> impl Fn(&Value) -> Value + Send + Sync {
    move |o| json!(int(at(o, path)))
}

/// The value at `.a.b.c` (JSON null if any step is missing).
fn at<'a>(o: &'a Value, path: &str) -> &'a Value {
    path.split('.').skip(1).fold(o, |v, key| &v[key])
}

/// An integer field; a missing one is 0, as Go's zero value prints.
fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// The number of keys of a map field (0 if missing).
fn keys(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}

/// A string field, or `default` (the API's default) if it is left out.
fn text_or(v: &Value, default: &str) -> String {
    if v.is_string() {
        text(v)
    } else {
        default.into()
    }
}

/// Upstream prints an empty value as `<none>`…
fn or_none(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

/// …or, for an EndpointSlice's unset lists, `<unset>`.
fn or_unset(v: String) -> String {
    if v.is_empty() { "<unset>".into() } else { v }
}

/// A map as `k=v,k=v` (a Service's selector, a node selector).
fn key_values(map: &Value) -> String {
    let pairs: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{IncludeObject, table};

    #[test]
    fn rows_have_one_cell_per_column() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"}, "spec": {}, "status": {}});
        let printers = builtin()
            .into_iter()
            .map(|(_, kind, p)| (kind, p))
            .chain([("(fallback)", Printer::fallback())]);
        for (kind, p) in printers {
            let t = table(
                &p,
                std::slice::from_ref(&obj),
                json!({}),
                IncludeObject::Metadata,
                true,
            );
            assert_eq!(
                t["columnDefinitions"].as_array().unwrap().len(),
                t["rows"][0]["cells"].as_array().unwrap().len(),
                "{kind}"
            );
        }
    }

    #[test]
    fn every_builtin_printer_prints_a_served_resource() {
        for (group, kind, _) in builtin() {
            assert!(
                kubelab_api::RESOURCES
                    .iter()
                    .any(|r| r.group == group && r.kind == kind),
                "{group}/{kind} is not served"
            );
        }
    }

    #[test]
    fn init_containers_and_sidecars_in_ready_and_status() {
        let cells = |init: Value, containers: Value, conditions: Value| {
            let pod = json!({"metadata": {"name": "p"},
                "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "a"}, {"name": "b"}],
                         "containers": [{"name": "app"}]},
                "status": {"phase": "Pending", "initContainerStatuses": init,
                           "containerStatuses": containers, "conditions": conditions}});
            let c = super::pod().cells(&pod);
            (
                c[1].as_str().unwrap().to_string(),
                c[2].as_str().unwrap().to_string(),
            )
        };
        let waiting = |r: &str| json!({"state": {"waiting": {"reason": r}}, "restartCount": 0});
        let running_sidecar = json!({"name": "proxy", "state": {"running": {}}, "started": true, "ready": true, "restartCount": 0});
        let done = json!({"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "restartCount": 0});
        let app = json!([{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}, "restartCount": 0}]);
        // The sidecar runs, `a` has not started: the second init step of 3.
        let got = cells(
            json!([
                running_sidecar,
                waiting("PodInitializing"),
                waiting("PodInitializing")
            ]),
            app.clone(),
            json!([]),
        );
        assert_eq!(got, ("1/2".to_string(), "Init:1/3".to_string()));
        // `a` failed and backs off.
        let got = cells(
            json!([
                running_sidecar,
                waiting("CrashLoopBackOff"),
                waiting("PodInitializing")
            ]),
            app.clone(),
            json!([]),
        );
        assert_eq!(got.1, "Init:CrashLoopBackOff");
        let failed =
            json!({"state": {"terminated": {"exitCode": 1, "reason": "Error"}}, "restartCount": 0});
        let got = cells(
            json!([running_sidecar, failed, waiting("PodInitializing")]),
            app.clone(),
            json!([]),
        );
        assert_eq!(got.1, "Init:Error");
        // Init done, the app not created yet.
        let init_done = json!([{"type": "Initialized", "status": "True"}]);
        let got = cells(json!([running_sidecar, done, done]), app, init_done.clone());
        assert_eq!(got, ("1/2".to_string(), "PodInitializing".to_string()));
        let app =
            json!([{"name": "app", "state": {"running": {}}, "ready": true, "restartCount": 0}]);
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]},
            "status": {"phase": "Running", "initContainerStatuses": [running_sidecar, done, done], "containerStatuses": app, "conditions": init_done}});
        let c = super::pod().cells(&pod);
        assert_eq!(&c[1..4], &[json!("2/2"), json!("Running"), json!("0")]);
        // A restart shows how long ago it was.
        pod["status"]["containerStatuses"][0]["restartCount"] = json!(2);
        pod["status"]["containerStatuses"][0]["lastState"] =
            json!({"terminated": {"finishedAt": "2000-01-01T00:00:00Z"}});
        let restarts = super::pod().cells(&pod)[3].as_str().unwrap().to_string();
        assert!(
            restarts.starts_with("2 (") && restarts.ends_with(" ago)"),
            "{restarts}"
        );
    }

    #[test]
    fn pod_and_service_cells() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.244.1.2", "containerStatuses": [{"ready": true, "restartCount": 2, "state": {"running": {}}}, {"ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let c = super::pod().cells(&pod);
        assert_eq!(
            &c[1..4],
            &[json!("1/2"), json!("CrashLoopBackOff"), json!("3")]
        );
        assert_eq!(c[6], "node-1");
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        let c = service().cells(&svc);
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

    /// Placeholders in `testdata/table_objects.json` and how long ago each is:
    /// ages print relative to now, so the objects are dated relative to now,
    /// each far enough inside its printed unit (5d3h, 36h, 45m) that a slow
    /// test run still prints the same.
    fn timestamps() -> Vec<(&'static str, String)> {
        let ago = |secs: i64| {
            (chrono::Utc::now() - chrono::Duration::seconds(secs))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        vec![
            ("CREATED", ago(((5 * 24 + 3) * 60 + 30) * 60)),
            ("36H_AGO", ago((36 * 60 + 30) * 60)),
            ("45M_AGO", ago(45 * 60 + 30)),
        ]
    }

    /// Every resource's Table for its objects in `testdata/table_objects.json`
    /// plus two bare ones, compared with `testdata/tables.json` — the output
    /// kubectl sees, pinned (it was first written by the code before
    /// printers were split per kind). `KUBELAB_UPDATE_TABLES=1` rewrites the
    /// file; review its diff like code.
    #[test]
    fn tables_match_snapshot() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testdata");
        let mut objects = std::fs::read_to_string(dir.join("table_objects.json")).unwrap();
        let stamps = timestamps();
        for (placeholder, at) in &stamps {
            objects = objects.replace(&format!("\"{placeholder}\""), &format!("\"{at}\""));
        }
        let objects: Value = serde_json::from_str(&objects).unwrap();
        let mut tables = serde_json::Map::new();
        for info in kubelab_api::RESOURCES {
            let mut items = objects[info.kind].as_array().cloned().unwrap_or_default();
            assert!(!items.is_empty(), "no {} in table_objects.json", info.kind);
            items.push(json!({"metadata": {"name": "bare"}, "spec": {}, "status": {}}));
            items.push(json!({}));
            let t = table(
                &lookup(info.group, info.kind),
                &items,
                json!({"resourceVersion": "7"}),
                IncludeObject::Metadata,
                true,
            );
            tables.insert(format!("{} {}", info.api_version(), info.kind), t);
        }
        let mut got = serde_json::to_string_pretty(&Value::Object(tables)).unwrap() + "\n";
        for (placeholder, at) in &stamps {
            got = got.replace(at.as_str(), placeholder);
        }
        let file = dir.join("tables.json");
        if std::env::var_os("KUBELAB_UPDATE_TABLES").is_some() {
            std::fs::write(&file, &got).unwrap();
        }
        let want = std::fs::read_to_string(&file).unwrap();
        assert!(
            got == want,
            "Table output differs from {}: rerun with KUBELAB_UPDATE_TABLES=1 and review its git diff",
            file.display()
        );
    }
}
