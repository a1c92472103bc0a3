//! What chapter 08 adds to the API server's strategies for its kinds.
//!
//! Chapter 01 already stores StatefulSets, Jobs and CronJobs with their
//! defaults and the rules every pod template shares. This chapter runs
//! them, so it adds the rules that make running them safe (upstream's
//! `pkg/apis/{apps,batch}/validation`), and the Job's generated selector:
//! a Job's pods are found by the Job's own uid, never by labels a user
//! might reuse in another Job.

use kubelab_api::validation::Cause;
use kubelab_apiserver::strategy::Strategy;
use serde_json::{Value, json};

use crate::job::{CONTROLLER_UID_LABEL, JOB_NAME_LABEL};
use crate::schedule::{self, Schedule};

fn non_negative(spec: &Value, path: &str, field: &str, causes: &mut Vec<Cause>) {
    if let Some(v) = spec[field].as_i64().filter(|v| *v < 0) {
        causes.push(Cause::invalid(
            &format!("{path}.{field}"),
            &json!(v),
            "must be greater than or equal to 0",
        ));
    }
}

/// The rules of a Job spec at `path` (`spec`, or a CronJob's
/// `spec.jobTemplate.spec`).
pub fn job_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    for f in [
        "completions",
        "parallelism",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        non_negative(spec, path, f, causes);
    }
    if let Some(v) = spec["activeDeadlineSeconds"].as_i64().filter(|v| *v <= 0) {
        causes.push(Cause::invalid(
            &format!("{path}.activeDeadlineSeconds"),
            &json!(v),
            "must be greater than 0",
        ));
    }
    let mode = &spec["completionMode"];
    match mode.as_str() {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            if spec["completions"].is_null() {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: format!("{path}.completions"),
                    message: "Required value: when completion mode is Indexed".into(),
                });
            }
        }
        Some(_) => causes.push(Cause::not_supported(
            &format!("{path}.completionMode"),
            mode,
            &["NonIndexed", "Indexed"],
        )),
    }
    if let Some(rules) = spec["podFailurePolicy"]["rules"].as_array() {
        let rp = &spec["template"]["spec"]["restartPolicy"];
        if rp != "Never" {
            causes.push(Cause::invalid(
                &format!("{path}.template.spec.restartPolicy"),
                rp,
                "only \"Never\" is supported when podFailurePolicy is specified",
            ));
        }
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("{path}.podFailurePolicy.rules[{i}]");
            let action = &rule["action"];
            match action.as_str() {
                Some("FailJob" | "Ignore" | "Count") => {}
                Some("FailIndex") if !spec["backoffLimitPerIndex"].is_null() => {}
                Some("FailIndex") => causes.push(Cause::invalid(
                    &format!("{at}.action"),
                    action,
                    "requires the backoffLimitPerIndex to be set",
                )),
                None => causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: format!("{at}.action"),
                    message: "Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]".into(),
                }),
                Some(_) => causes.push(Cause::not_supported(
                    &format!("{at}.action"),
                    action,
                    &["Count", "FailIndex", "FailJob", "Ignore"],
                )),
            }
            let codes = rule.get("onExitCodes").is_some_and(|v| !v.is_null());
            let conds = rule.get("onPodConditions").is_some_and(|v| !v.is_null());
            if codes == conds {
                causes.push(Cause::invalid(
                    &at,
                    &Value::String(String::new()),
                    if codes {
                        "specifying both OnExitCodes and OnPodConditions is not supported"
                    } else {
                        "specifying one of OnExitCodes and OnPodConditions is required"
                    },
                ));
            }
            if codes {
                let op = &rule["onExitCodes"]["operator"];
                if !matches!(op.as_str(), Some("In" | "NotIn")) {
                    causes.push(Cause::not_supported(
                        &format!("{at}.onExitCodes.operator"),
                        op,
                        &["In", "NotIn"],
                    ));
                }
                let values = &rule["onExitCodes"]["values"];
                if values.as_array().is_none_or(|v| v.is_empty()) {
                    causes.push(Cause {
                        reason: "FieldValueRequired",
                        field: format!("{at}.onExitCodes.values"),
                        message: "Required value: at least one value is required".into(),
                    });
                }
            }
        }
    }
}

/// Jobs: a generated selector (the Job's uid) and the rules above.
pub struct JobRules;

impl Strategy for JobRules {
    // ANCHOR: generate_selector
    /// Upstream's `generateSelector`: unless `manualSelector`, the template
    /// gets the Job's name and uid as labels and the selector matches the
    /// uid alone, so two Jobs can never claim each other's pods.
    fn prepare_for_create(&self, obj: &mut Value) {
        if obj["spec"]["manualSelector"] == true {
            return;
        }
        let uid = obj["metadata"]["uid"].clone();
        let name = obj["metadata"]["name"].clone();
        if !obj["spec"].is_object() {
            obj["spec"] = json!({});
        }
        obj["spec"]["manualSelector"] = json!(false);
        let t = &mut obj["spec"]["template"];
        if !t.is_object() {
            return; // validation reports the missing template
        }
        if !t["metadata"].is_object() {
            t["metadata"] = json!({});
        }
        if !t["metadata"]["labels"].is_object() {
            t["metadata"]["labels"] = json!({});
        }
        let labels = &mut t["metadata"]["labels"];
        for (k, v) in [
            ("controller-uid", &uid),
            (CONTROLLER_UID_LABEL, &uid),
            ("job-name", &name),
            (JOB_NAME_LABEL, &name),
        ] {
            if labels.get(k).is_none() {
                labels[k] = v.clone();
            }
        }
        let labels = labels.clone();
        obj["spec"]["selector"] = json!({"matchLabels": {CONTROLLER_UID_LABEL: uid}});
        // A Job without labels of its own wears its pods' (upstream's defaulter).
        if obj["metadata"]["labels"]
            .as_object()
            .is_none_or(|l| l.is_empty())
        {
            obj["metadata"]["labels"] = labels;
        }
    }
    // ANCHOR_END: generate_selector

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        job_spec(&obj["spec"], "spec", causes);
        let spec = &obj["spec"];
        if spec["selector"].is_null() {
            causes.push(Cause::required("spec.selector"));
        } else if let Ok(s) = kubelab_api::selector::LabelSelector::from_object(&spec["selector"]) {
            let labels = &spec["template"]["metadata"]["labels"];
            if !s.matches_object(&json!({"metadata": {"labels": labels}})) {
                causes.push(Cause::invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }

    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        job_spec(&obj["spec"], "spec", causes);
        kubelab_api::validation::immutable(
            old,
            obj,
            &[
                ("/spec/completionMode", "spec.completionMode"),
                ("/spec/podFailurePolicy", "spec.podFailurePolicy"),
                ("/spec/template", "spec.template"),
            ],
            causes,
        );
    }
}

/// StatefulSets: claims that say how big, ordinals that start at 0 or more.
pub struct StatefulSetRules;

impl Strategy for StatefulSetRules {
    fn default(&self, obj: &mut Value) {
        let spec = &mut obj["spec"];
        if spec.is_object() && spec["persistentVolumeClaimRetentionPolicy"].is_null() {
            spec["persistentVolumeClaimRetentionPolicy"] =
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"});
        }
        for t in spec["volumeClaimTemplates"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if t["spec"].is_object() && t["spec"]["volumeMode"].is_null() {
                t["spec"]["volumeMode"] = json!("Filesystem");
            }
        }
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = &obj["spec"];
        if let Some(v) = spec["ordinals"]["start"].as_i64().filter(|v| *v < 0) {
            causes.push(Cause::invalid(
                "spec.ordinals.start",
                &json!(v),
                "must be greater than or equal to 0",
            ));
        }
        non_negative(spec, "spec", "minReadySeconds", causes);
        let policy = &spec["podManagementPolicy"];
        if !policy.is_null() && !matches!(policy.as_str(), Some("OrderedReady" | "Parallel")) {
            causes.push(Cause::invalid(
                "spec.podManagementPolicy",
                policy,
                "must be 'OrderedReady' or 'Parallel'",
            ));
        }
        for field in ["whenDeleted", "whenScaled"] {
            let v = &spec["persistentVolumeClaimRetentionPolicy"][field];
            if !v.is_null() && !matches!(v.as_str(), Some("Retain" | "Delete")) {
                causes.push(Cause::not_supported(
                    &format!("spec.persistentVolumeClaimRetentionPolicy.{field}"),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
        if let Some(svc) = spec["serviceName"].as_str().filter(|s| !s.is_empty())
            && !kubelab_api::validation::is_dns1123_label(svc)
        {
            causes.push(Cause::invalid(
                "spec.serviceName",
                &spec["serviceName"],
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ));
        }
        for (i, t) in spec["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("spec.volumeClaimTemplates[{i}]");
            if t["metadata"]["name"].as_str().is_none_or(str::is_empty) {
                causes.push(Cause::required(&format!("{at}.metadata.name")));
            }
            if t["spec"]["accessModes"]
                .as_array()
                .is_none_or(|a| a.is_empty())
            {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: format!("{at}.spec.accessModes"),
                    message: "Required value: at least 1 access mode is required".into(),
                });
            }
            if t["spec"]["resources"]["requests"]["storage"].is_null() {
                causes.push(Cause::required(&format!("{at}.spec.resources[storage]")));
            }
        }
    }

    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        self.validate(obj, causes);
        // Upstream forbids changing anything but these once created.
        let mut a = old["spec"].clone();
        let mut b = obj["spec"].clone();
        for f in [
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
            "revisionHistoryLimit",
        ] {
            if let Some(m) = a.as_object_mut() {
                m.remove(f);
            }
            if let Some(m) = b.as_object_mut() {
                m.remove(f);
            }
        }
        if a != b {
            causes.push(Cause {
                reason: "FieldValueForbidden",
                field: "spec".into(),
                message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
            });
        }
    }
}

/// CronJobs: a schedule and a time zone that parse, sane limits, and a
/// Job template that would make a valid Job.
pub struct CronJobRules;

impl Strategy for CronJobRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        cron_job(obj, causes, None);
    }

    fn validate_update(&self, old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        cron_job(obj, causes, Some(old));
    }
}

fn cron_job(obj: &Value, causes: &mut Vec<Cause>, old: Option<&Value>) {
    let spec = &obj["spec"];
    let sched = &spec["schedule"];
    match sched.as_str() {
        None | Some("") => causes.push(Cause::required("spec.schedule")),
        Some(s) => {
            let had_tz = old.is_some_and(|o| {
                o["spec"]["schedule"]
                    .as_str()
                    .is_some_and(|s| s.contains("TZ"))
            });
            if s.contains("TZ") && !had_tz {
                causes.push(Cause::invalid(
                    "spec.schedule",
                    sched,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            } else if let Err(e) = Schedule::parse(s) {
                causes.push(Cause::invalid("spec.schedule", sched, &e));
            }
        }
    }
    let tz = &spec["timeZone"];
    let changed = old.is_none_or(|o| o["spec"]["timeZone"] != *tz);
    if let Some(name) = tz.as_str().filter(|_| changed) {
        let err = if name.is_empty() {
            Some("timeZone must be nil or non-empty string".to_string())
        } else if name == "Local" {
            Some(
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                    .to_string(),
            )
        } else {
            schedule::time_zone(Some(name)).err()
        };
        if let Some(e) = err {
            causes.push(Cause::invalid("spec.timeZone", tz, &e));
        }
    }
    let policy = &spec["concurrencyPolicy"];
    if !matches!(policy.as_str(), Some("Allow" | "Forbid" | "Replace")) {
        causes.push(Cause::not_supported(
            "spec.concurrencyPolicy",
            policy,
            &["Allow", "Forbid", "Replace"],
        ));
    }
    for f in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        non_negative(spec, "spec", f, causes);
    }
    let job = &spec["jobTemplate"]["spec"];
    if !job["selector"].is_null() {
        causes.push(Cause::invalid(
            "spec.jobTemplate.spec.selector",
            &job["selector"],
            "`selector` will be auto-generated",
        ));
    }
    if job["manualSelector"] == true {
        causes.push(Cause::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            &json!(true),
            &["nil", "false"],
        ));
    }
    job_spec(job, "spec.jobTemplate.spec", causes);
    let rp = &job["template"]["spec"]["restartPolicy"];
    if !matches!(rp.as_str(), Some("OnFailure" | "Never")) {
        causes.push(Cause::not_supported(
            "spec.jobTemplate.spec.template.spec.restartPolicy",
            rp,
            &["OnFailure", "Never"],
        ));
    }
    // Job names are `<name>-<11 digits>`: 52 characters leave room.
    if let Some(n) = obj["metadata"]["name"].as_str().filter(|n| n.len() > 52) {
        causes.push(Cause::invalid(
            "metadata.name",
            &json!(n),
            "must be no more than 52 characters",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: impl Fn(&mut Vec<Cause>)) -> Vec<String> {
        let mut causes = Vec::new();
        f(&mut causes);
        causes.iter().map(Cause::to_line).collect()
    }

    #[test]
    fn a_job_gets_its_uid_as_selector() {
        let mut job = json!({"metadata": {"name": "pi", "uid": "u-1"},
            "spec": {"template": {"spec": {"containers": []}}}});
        JobRules.prepare_for_create(&mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["job-name"], "pi");
        assert_eq!(labels["batch.kubernetes.io/job-name"], "pi");
        assert_eq!(labels["controller-uid"], "u-1");
        assert_eq!(job["metadata"]["labels"], *labels);
        assert!(lines(|c| JobRules.validate(&job, c)).is_empty());
    }

    #[test]
    fn bad_jobs_statefulsets_and_cronjobs_say_where() {
        let job = json!({"spec": {"completions": -1, "completionMode": "Indexed",
            "template": {"spec": {"restartPolicy": "Never"}}}});
        assert_eq!(
            lines(|c| job_spec(&job["spec"], "spec", c)),
            ["spec.completions: Invalid value: -1: must be greater than or equal to 0"]
        );
        let sts = json!({"spec": {"ordinals": {"start": -1}, "volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}});
        assert_eq!(
            lines(|c| StatefulSetRules.validate(&sts, c)),
            [
                "spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0",
                "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value",
            ]
        );
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "bad",
            "timeZone": "Mars/Olympus", "concurrencyPolicy": "Allow",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}}}}});
        assert_eq!(
            lines(|c| CronJobRules.validate(&cj, c)),
            [
                "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]",
                "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus",
            ]
        );
    }
}
