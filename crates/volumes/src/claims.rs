//! Which PersistentVolume a claim gets: upstream's `findMatchingVolume`
//! (pkg/controller/volume/persistentvolume/index.go), as a pure function.
//!
//! A claim asks for *at least* so much storage, with *these* access
//! modes, of *this* class, perhaps from volumes with *these* labels. A
//! volume fits when it is free (or reserved for this very claim), of the
//! same class and volume mode, offers every mode asked for, is big enough
//! and matches the selector. Of those that fit, the **smallest** wins, so
//! a 1 Gi claim does not take the 100 Gi volume that a later 50 Gi claim
//! needs. A claim that names its volume (`spec.volumeName`) gets that
//! volume or nothing.
//!
//! Lab 05 has you write [`find_best_match`]; the binder
//! ([`crate::binder`]) calls whichever one the [`crate::VolumeOptions`]
//! slot holds.

use kubelab_api::quantity;
use kubelab_api::selector::LabelSelector;
use serde_json::{Value, json};

/// The signature lab 05 implements.
pub type MatchFn = for<'a> fn(&Value, &[&'a Value]) -> Option<&'a Value>;

/// A claim's storage class: `""` asks for a volume of no class.
pub fn class_of_claim(claim: &Value) -> &str {
    claim["spec"]["storageClassName"].as_str().unwrap_or("")
}

/// A volume's storage class (`""`: none).
pub fn class_of_volume(pv: &Value) -> &str {
    pv["spec"]["storageClassName"].as_str().unwrap_or("")
}

/// Bytes asked for (`spec.resources.requests.storage`).
pub fn requested(claim: &Value) -> f64 {
    quantity::of(&claim["spec"]["resources"]["requests"]["storage"]).unwrap_or(0.0)
}

/// Bytes a volume has (`spec.capacity.storage`).
pub fn capacity(pv: &Value) -> f64 {
    quantity::of(&pv["spec"]["capacity"]["storage"]).unwrap_or(0.0)
}

fn modes(v: &Value) -> Vec<&str> {
    v["spec"]["accessModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn volume_mode(v: &Value) -> &str {
    v["spec"]["volumeMode"].as_str().unwrap_or("Filesystem")
}

/// Free, or already promised to this claim (a pre-bound or provisioned
/// volume's `claimRef`).
pub fn is_free_for(pv: &Value, claim: &Value) -> bool {
    let r = &pv["spec"]["claimRef"];
    if kubelab_api::meta::is_being_deleted(pv) {
        return false;
    }
    if r.is_null() {
        return true;
    }
    r["name"] == claim["metadata"]["name"]
        && r["namespace"] == claim["metadata"]["namespace"]
        && (r["uid"].is_null() || r["uid"] == claim["metadata"]["uid"])
}

/// The smallest volume that satisfies the claim, or `None`.
// ANCHOR: find_best_match
pub fn find_best_match<'a>(claim: &Value, volumes: &[&'a Value]) -> Option<&'a Value> {
    let wanted_modes = modes(claim);
    let wanted_bytes = requested(claim);
    let selector = match &claim["spec"]["selector"] {
        Value::Null => None,
        s => Some(LabelSelector::from_object(s).ok()?),
    };
    let named = claim["spec"]["volumeName"]
        .as_str()
        .filter(|n| !n.is_empty());
    volumes
        .iter()
        .copied()
        .filter(|pv| named.is_none_or(|n| pv["metadata"]["name"] == n))
        .filter(|pv| is_free_for(pv, claim))
        .filter(|pv| class_of_volume(pv) == class_of_claim(claim))
        .filter(|pv| volume_mode(pv) == volume_mode(claim))
        .filter(|pv| {
            let offered = modes(pv);
            wanted_modes.iter().all(|m| offered.contains(m))
        })
        .filter(|pv| capacity(pv) >= wanted_bytes)
        .filter(|pv| selector.as_ref().is_none_or(|s| s.matches_object(pv)))
        // Smallest first; the name breaks ties, so the choice is stable.
        .min_by(|a, b| {
            capacity(a)
                .total_cmp(&capacity(b))
                .then_with(|| kubelab_api::meta::name(a).cmp(kubelab_api::meta::name(b)))
        })
}
// ANCHOR_END: find_best_match

/// Can a pod on `node` use this volume? (its `spec.nodeAffinity`: a
/// local volume lives on one node's disk.)
pub fn reachable_from(pv: &Value, node: &Value) -> bool {
    let required = &pv["spec"]["nodeAffinity"]["required"];
    if required.is_null() {
        return true;
    }
    let as_pod = json!({"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": required}}}});
    kubelab_scheduler::filters::node_affinity(&as_pod, node).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn pv(name: &str, size: &str, modes: &[&str], class: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"size": size}},
               "spec": {"capacity": {"storage": size}, "accessModes": modes,
                        "storageClassName": class}})
    }

    fn pvc(size: &str, modes: &[&str], class: &str) -> Value {
        json!({"metadata": {"name": "data", "namespace": "default", "uid": "u1"},
               "spec": {"resources": {"requests": {"storage": size}}, "accessModes": modes,
                        "storageClassName": class}})
    }

    fn names(claim: &Value, pvs: &[Value]) -> Option<String> {
        let refs: Vec<&Value> = pvs.iter().collect();
        find_best_match(claim, &refs).map(|v| v["metadata"]["name"].as_str().unwrap().to_string())
    }

    #[test]
    fn the_smallest_volume_that_fits_wins() {
        let pvs = [
            pv("big", "10Gi", &["ReadWriteOnce"], "manual"),
            pv("small", "1Gi", &["ReadWriteOnce"], "manual"),
            pv("tiny", "100Mi", &["ReadWriteOnce"], "manual"),
        ];
        assert_eq!(
            names(&pvc("500Mi", &["ReadWriteOnce"], "manual"), &pvs).as_deref(),
            Some("small")
        );
        assert_eq!(
            names(&pvc("20Gi", &["ReadWriteOnce"], "manual"), &pvs),
            None
        );
    }

    #[test]
    fn modes_class_selector_and_binding_must_all_agree() {
        let pvs = [
            pv("rwo", "1Gi", &["ReadWriteOnce"], "manual"),
            pv("rwx", "5Gi", &["ReadWriteOnce", "ReadWriteMany"], "manual"),
            pv("other-class", "1Gi", &["ReadWriteMany"], "fast"),
        ];
        assert_eq!(
            names(&pvc("1Gi", &["ReadWriteMany"], "manual"), &pvs).as_deref(),
            Some("rwx")
        );
        assert_eq!(names(&pvc("1Gi", &["ReadWriteOnce"], ""), &pvs), None);
        let mut sel = pvc("1Gi", &["ReadWriteOnce"], "manual");
        sel["spec"]["selector"] = json!({"matchLabels": {"size": "5Gi"}});
        assert_eq!(names(&sel, &pvs).as_deref(), Some("rwx"));
        let mut taken = pvs.clone();
        taken[0]["spec"]["claimRef"] = json!({"name": "other", "namespace": "default"});
        assert_eq!(
            names(&pvc("1Gi", &["ReadWriteOnce"], "manual"), &taken).as_deref(),
            Some("rwx")
        );
        let mut named = pvc("1Gi", &["ReadWriteOnce"], "manual");
        named["spec"]["volumeName"] = json!("rwx");
        assert_eq!(names(&named, &pvs).as_deref(), Some("rwx"));
    }

    #[test]
    fn a_local_volume_is_reachable_from_its_node_only() {
        let mut v = pv("local", "1Gi", &["ReadWriteOnce"], "standard");
        v["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["kubelab-node-1"]}]}]}});
        let node =
            |n: &str| json!({"metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}});
        assert!(reachable_from(&v, &node("kubelab-node-1")));
        assert!(!reachable_from(&v, &node("kubelab-node-2")));
    }
}
