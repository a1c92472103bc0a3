//! Lab 05's checks of the function alone: each rule of its doc comment,
//! one at a time.

use lab_05_volume_matching::find_best_match;
use serde_json::{Value, json};

fn pv(name: &str, size: &str, modes: &[&str], class: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"disk": name}},
           "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class}})
}

fn pvc(size: &str, modes: &[&str], class: &str) -> Value {
    json!({"metadata": {"name": "data", "namespace": "shop", "uid": "claim-uid"},
           "spec": {"resources": {"requests": {"storage": size}}, "accessModes": modes,
                    "storageClassName": class}})
}

fn pick(claim: &Value, pvs: &[Value]) -> Option<String> {
    let refs: Vec<&Value> = pvs.iter().collect();
    find_best_match(claim, &refs).map(|v| v["metadata"]["name"].as_str().unwrap().to_string())
}

const RWO: &[&str] = &["ReadWriteOnce"];

#[test]
fn the_smallest_volume_that_is_big_enough() {
    let pvs = [
        pv("ten", "10Gi", RWO, "manual"),
        pv("one", "1Gi", RWO, "manual"),
        pv("half", "512Mi", RWO, "manual"),
    ];
    assert_eq!(
        pick(&pvc("600Mi", RWO, "manual"), &pvs).as_deref(),
        Some("one"),
        "512Mi < 600Mi ≤ 1Gi"
    );
    assert_eq!(
        pick(&pvc("512Mi", RWO, "manual"), &pvs).as_deref(),
        Some("half"),
        "exactly as big fits"
    );
    assert_eq!(
        pick(&pvc("11Gi", RWO, "manual"), &pvs),
        None,
        "nothing is big enough"
    );
    assert_eq!(
        pick(&pvc("1Mi", RWO, "manual"), &[]),
        None,
        "no volumes at all"
    );
}

#[test]
fn equal_sizes_are_decided_by_name() {
    let pvs = [
        pv("b", "1Gi", RWO, "manual"),
        pv("a", "1Gi", RWO, "manual"),
        pv("c", "1Gi", RWO, "manual"),
    ];
    assert_eq!(pick(&pvc("1Gi", RWO, "manual"), &pvs).as_deref(), Some("a"));
}

#[test]
fn the_class_must_be_the_same_and_absent_means_none() {
    let pvs = [
        pv("fast", "1Gi", RWO, "fast"),
        pv("slow", "5Gi", RWO, "slow"),
    ];
    assert_eq!(
        pick(&pvc("1Gi", RWO, "slow"), &pvs).as_deref(),
        Some("slow")
    );
    assert_eq!(
        pick(&pvc("1Gi", RWO, ""), &pvs),
        None,
        "a claim of no class takes no classed volume"
    );
    let mut classless = pv("plain", "1Gi", RWO, "");
    classless["spec"]
        .as_object_mut()
        .unwrap()
        .remove("storageClassName");
    let mut claim = pvc("1Gi", RWO, "");
    claim["spec"]
        .as_object_mut()
        .unwrap()
        .remove("storageClassName");
    assert_eq!(
        pick(&claim, &[classless]).as_deref(),
        Some("plain"),
        "absent on both sides is the same class"
    );
}

#[test]
fn every_access_mode_asked_for_is_offered() {
    let pvs = [
        pv("rwo", "1Gi", RWO, "manual"),
        pv("rwx", "2Gi", &["ReadWriteOnce", "ReadWriteMany"], "manual"),
        pv("rox", "3Gi", &["ReadOnlyMany"], "manual"),
    ];
    assert_eq!(
        pick(&pvc("1Gi", &["ReadWriteMany"], "manual"), &pvs).as_deref(),
        Some("rwx")
    );
    assert_eq!(
        pick(
            &pvc("1Gi", &["ReadWriteMany", "ReadWriteOnce"], "manual"),
            &pvs
        )
        .as_deref(),
        Some("rwx")
    );
    assert_eq!(
        pick(&pvc("1Gi", &["ReadOnlyMany"], "manual"), &pvs).as_deref(),
        Some("rox")
    );
    assert_eq!(
        pick(&pvc("1Gi", &["ReadWriteOncePod"], "manual"), &pvs),
        None
    );
}

#[test]
fn the_volume_mode_must_agree() {
    let mut block = pv("block", "1Gi", RWO, "manual");
    block["spec"]["volumeMode"] = json!("Block");
    let pvs = [block, pv("files", "5Gi", RWO, "manual")];
    assert_eq!(
        pick(&pvc("1Gi", RWO, "manual"), &pvs).as_deref(),
        Some("files"),
        "Filesystem by default"
    );
    let mut wants_block = pvc("1Gi", RWO, "manual");
    wants_block["spec"]["volumeMode"] = json!("Block");
    assert_eq!(pick(&wants_block, &pvs).as_deref(), Some("block"));
}

#[test]
fn a_volume_taken_by_another_claim_or_being_deleted_is_not_free() {
    let mut other = pv("other", "1Gi", RWO, "manual");
    other["spec"]["claimRef"] = json!({"name": "logs", "namespace": "shop", "uid": "u2"});
    let mut same_name_other_ns = pv("elsewhere", "2Gi", RWO, "manual");
    same_name_other_ns["spec"]["claimRef"] = json!({"name": "data", "namespace": "web"});
    let mut going = pv("going", "3Gi", RWO, "manual");
    going["metadata"]["deletionTimestamp"] = json!("2026-11-29T10:00:00Z");
    let mut ours = pv("ours", "9Gi", RWO, "manual");
    ours["spec"]["claimRef"] = json!({"name": "data", "namespace": "shop", "uid": "claim-uid"});
    let pvs = [other, same_name_other_ns, going, ours.clone()];
    assert_eq!(
        pick(&pvc("1Gi", RWO, "manual"), &pvs).as_deref(),
        Some("ours"),
        "reserved for this claim"
    );
    let mut stale = ours;
    stale["spec"]["claimRef"]["uid"] = json!("an-older-claim");
    assert_eq!(
        pick(&pvc("1Gi", RWO, "manual"), &[stale.clone()]),
        None,
        "same name, another uid: a claim that was deleted"
    );
    stale["spec"]["claimRef"]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    assert_eq!(
        pick(&pvc("1Gi", RWO, "manual"), &[stale]).as_deref(),
        Some("ours"),
        "pre-bound by name, no uid yet"
    );
}

#[test]
fn a_selector_limits_the_volumes_by_their_labels() {
    let pvs = [
        pv("small", "1Gi", RWO, "manual"),
        pv("large", "5Gi", RWO, "manual"),
    ];
    let mut claim = pvc("1Gi", RWO, "manual");
    claim["spec"]["selector"] = json!({"matchLabels": {"disk": "large"}});
    assert_eq!(pick(&claim, &pvs).as_deref(), Some("large"));
    claim["spec"]["selector"] =
        json!({"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["small"]}]});
    assert_eq!(pick(&claim, &pvs).as_deref(), Some("large"));
    claim["spec"]["selector"] = json!({"matchLabels": {"disk": "none"}});
    assert_eq!(pick(&claim, &pvs), None);
}

#[test]
fn a_claim_that_names_its_volume_gets_that_one_or_nothing() {
    let pvs = [
        pv("small", "1Gi", RWO, "manual"),
        pv("large", "5Gi", RWO, "manual"),
    ];
    let mut claim = pvc("1Gi", RWO, "manual");
    claim["spec"]["volumeName"] = json!("large");
    assert_eq!(pick(&claim, &pvs).as_deref(), Some("large"));
    claim["spec"]["volumeName"] = json!("missing");
    assert_eq!(pick(&claim, &pvs), None);
    claim["spec"]["volumeName"] = json!("");
    assert_eq!(
        pick(&claim, &pvs).as_deref(),
        Some("small"),
        "an empty name names nothing"
    );
}
