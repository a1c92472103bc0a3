//! Facts about a pod that several parts of the cluster need, defined once.
//!
//! The API server writes `status.qosClass` when a pod is created, the
//! kubelet sizes the pod's cgroups by the same class, the ReplicaSet
//! controller counts ready pods, the endpoints controller publishes only
//! ready ones, and the scheduler stops counting a pod's requests once it
//! has finished. If each computed these on its own they would drift apart
//! (they did: for a pod whose CPU request is `1000m` and limit `1`, the API
//! server once said Burstable and the kubelet Guaranteed). Upstream keeps
//! them in shared helper packages too (`pkg/apis/core/helper/qos`,
//! `pkg/api/v1/pod`).

use serde_json::Value;

use crate::quantity;

/// Is the pod's `Ready` condition true?
pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Ready for at least `min_ready_seconds` (upstream's `IsPodAvailable`):
/// what a ReplicaSet counts as available, and what a rollout waits for.
pub fn is_available(pod: &Value, min_ready_seconds: i64) -> bool {
    let Some(since) = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")
        .and_then(|c| c["lastTransitionTime"].as_str())
    else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    chrono::DateTime::parse_from_rfc3339(since)
        .map(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds() >= min_ready_seconds
        })
        .unwrap_or(true)
}

/// Succeeded or Failed: the pod will never run again.
pub fn is_terminal(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

/// `status.qosClass` of a pod spec, by upstream's rules (`GetPodQOS`):
///
/// - **BestEffort**: no container (init containers included) requests or
///   limits CPU or memory;
/// - **Guaranteed**: every container limits both CPU and memory, and for
///   each of the two the summed requests equal the summed limits — compared
///   as amounts, so `1000m` equals `1` and `1Gi` equals `1073741824`;
///   a request left out counts as equal to its limit (the API server's
///   defaulting copies limits into missing requests);
/// - **Burstable**: anything else.
///
/// Zero amounts count as unset, as upstream.
// ANCHOR: qos_class
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten());
    // Summed (requests, limits) of cpu and memory; None = never set.
    let mut sums: [(Option<f64>, Option<f64>); 2] = [(None, None); 2];
    let mut guaranteed = true;
    let mut any_container = false;
    for c in containers {
        any_container = true;
        let r = &c["resources"];
        for (i, res) in ["cpu", "memory"].into_iter().enumerate() {
            let amount = |v: &Value| quantity::of(v).filter(|q| *q != 0.0);
            let limit = amount(&r["limits"][res]);
            let request = amount(&r["requests"][res]).or(limit);
            guaranteed &= limit.is_some();
            let add = |sum: &mut Option<f64>, q: Option<f64>| {
                if let Some(q) = q {
                    *sum = Some(sum.unwrap_or(0.0) + q);
                }
            };
            add(&mut sums[i].0, request);
            add(&mut sums[i].1, limit);
        }
    }
    if sums.iter().all(|(req, lim)| req.is_none() && lim.is_none()) {
        return "BestEffort";
    }
    // Sums of quantities parsed as floating point: compare with a margin far
    // below the smallest unit (1m CPU, 1 byte).
    let equal = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(1.0),
        _ => false,
    };
    if any_container && guaranteed && sums.iter().all(|(req, lim)| equal(*req, *lim)) {
        "Guaranteed"
    } else {
        "Burstable"
    }
}
// ANCHOR_END: qos_class

/// The Linux capabilities, by number (`linux/capability.h`), as a pod's
/// `securityContext.capabilities` names them: without the `CAP_` prefix.
pub const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability's number: `NET_ADMIN`, and also `CAP_NET_ADMIN` (the
/// runtime adds the prefix when it is missing).
pub fn capability(name: &str) -> Option<u8> {
    let bare = name.strip_prefix("CAP_").unwrap_or(name);
    CAPABILITIES
        .iter()
        .position(|c| *c == bare)
        .map(|n| n as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(resources: Value) -> Value {
        json!({"containers": [{"name": "a", "resources": resources}]})
    }

    #[test]
    fn qos_compares_amounts_not_spellings() {
        // The case the API server and the kubelet used to disagree on.
        let s = spec(json!({"requests": {"cpu": "1000m", "memory": "1Gi"},
                            "limits": {"cpu": "1", "memory": "1073741824"}}));
        assert_eq!(qos_class(&s), "Guaranteed");
    }

    #[test]
    fn qos_classes_by_upstream_rules() {
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        // A limit on one resource only: Burstable.
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "1"}}))),
            "Burstable"
        );
        // Requests below limits: Burstable.
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "500m", "memory": "1Gi"},
                                   "limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Burstable"
        );
        // One guaranteed container and one without limits: Burstable.
        let two = json!({"containers": [
            {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
            {"resources": {}},
        ]});
        assert_eq!(qos_class(&two), "Burstable");
        // Init containers count too.
        let init = json!({"initContainers": [{"resources": {"requests": {"memory": "1Mi"}}}],
                          "containers": [{}]});
        assert_eq!(qos_class(&init), "Burstable");
        // Zero amounts are as good as unset.
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "0"}}))),
            "BestEffort"
        );
    }

    #[test]
    fn available_after_min_ready_seconds() {
        let ready_at = |t: &str| json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]}});
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert!(is_available(&ready_at(&now), 0));
        assert!(!is_available(&ready_at(&now), 30));
        assert!(is_available(&ready_at("2020-01-01T00:00:00Z"), 30));
        assert!(!is_available(&json!({}), 0), "not ready: not available");
    }

    #[test]
    fn ready_and_terminal() {
        let ready = json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(is_ready(&ready) && !is_terminal(&ready));
        let done = json!({"status": {"phase": "Succeeded",
            "conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(!is_ready(&done) && is_terminal(&done));
    }
}
