//! The rules for the update fields of Deployments, StatefulSets and
//! DaemonSets (upstream's `ValidateDeploymentSpec`,
//! `ValidateStatefulSetUpdateStrategy`, `ValidateDaemonSetUpdateStrategy`),
//! with upstream's field paths and messages.
//!
//! Kubernetes 1.33 prints an int-or-string value that breaks a rule as
//! the Go struct it is (`intstr.IntOrString{Type:0, IntVal:0, StrVal:""}`);
//! we print it the same way so the message reads as upstream's.

use kubelab_api::validation::Cause;
use kubelab_apiserver::strategy::Strategy;
use serde_json::{Value, json};

/// An `IntOrString` as Go's `%#v` prints it.
fn go_intstr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:\"{s}\"}}"),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    }
}

fn invalid_intstr(field: &str, v: &Value, why: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("Invalid value: {}: {why}", go_intstr(v)),
    }
}

/// A non-negative int or a valid percentage; `cap_100` adds the 100% cap.
fn int_or_percent(v: &Value, field: &str, cap_100: bool, causes: &mut Vec<Cause>) {
    match v {
        Value::Null => {}
        Value::Number(n) if n.as_i64().is_some_and(|n| n < 0) => {
            causes.push(invalid_intstr(field, v, "must be greater than or equal to 0"));
        }
        Value::String(s) => match kubelab_api::intstr::percent(v) {
            Some(p) if p < 0 => {
                causes.push(invalid_intstr(field, v, "must be greater than or equal to 0"))
            }
            Some(p) if cap_100 && p > 100 => {
                causes.push(invalid_intstr(field, v, "must not be greater than 100%"))
            }
            Some(_) => {}
            None => causes.push(Cause::invalid(
                field,
                &json!(s),
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )),
        },
        _ => {}
    }
}

/// 0, or 0%.
fn is_zero(v: &Value) -> bool {
    v.as_i64() == Some(0) || kubelab_api::intstr::percent(v) == Some(0)
}

fn non_negative(spec: &Value, field: &str, causes: &mut Vec<Cause>) {
    if let Some(v) = spec[field].as_i64().filter(|v| *v < 0) {
        causes.push(Cause::invalid(
            &format!("spec.{field}"),
            &json!(v),
            "must be greater than or equal to 0",
        ));
    }
}

pub struct DeploymentRules;

impl Strategy for DeploymentRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = &obj["spec"];
        non_negative(spec, "revisionHistoryLimit", causes);
        non_negative(spec, "minReadySeconds", causes);
        non_negative(spec, "progressDeadlineSeconds", causes);
        let strategy = &spec["strategy"];
        let ru = &strategy["rollingUpdate"];
        if strategy["type"] == "Recreate" && !ru.is_null() {
            causes.push(Cause {
                reason: "FieldValueForbidden",
                field: "spec.strategy.rollingUpdate".into(),
                message: "Forbidden: may not be specified when strategy `type` is 'Recreate'"
                    .into(),
            });
        }
        if strategy["type"] == "RollingUpdate" {
            let path = "spec.strategy.rollingUpdate";
            int_or_percent(
                &ru["maxUnavailable"],
                &format!("{path}.maxUnavailable"),
                true,
                causes,
            );
            int_or_percent(&ru["maxSurge"], &format!("{path}.maxSurge"), false, causes);
            if is_zero(&ru["maxSurge"]) && is_zero(&ru["maxUnavailable"]) {
                causes.push(invalid_intstr(
                    &format!("{path}.maxUnavailable"),
                    &ru["maxUnavailable"],
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        if let Some(deadline) = spec["progressDeadlineSeconds"].as_i64()
            && deadline <= spec["minReadySeconds"].as_i64().unwrap_or(0)
        {
            causes.push(Cause::invalid(
                "spec.progressDeadlineSeconds",
                &json!(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

pub struct StatefulSetRules;

impl Strategy for StatefulSetRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = &obj["spec"];
        non_negative(spec, "revisionHistoryLimit", causes);
        let strategy = &spec["updateStrategy"];
        let ru = &strategy["rollingUpdate"];
        let path = "spec.updateStrategy.rollingUpdate";
        match strategy["type"].as_str() {
            Some("OnDelete") if !ru.is_null() => causes.push(Cause::invalid(
                path,
                ru,
                "only allowed for updateStrategy 'RollingUpdate'",
            )),
            Some("RollingUpdate") => {
                if let Some(p) = ru["partition"].as_i64().filter(|p| *p < 0) {
                    causes.push(Cause::invalid(
                        &format!("{path}.partition"),
                        &json!(p),
                        "must be greater than or equal to 0",
                    ));
                }
                let field = format!("{path}.maxUnavailable");
                int_or_percent(&ru["maxUnavailable"], &field, true, causes);
                if is_zero(&ru["maxUnavailable"]) {
                    causes.push(invalid_intstr(&field, &ru["maxUnavailable"], "cannot be 0"));
                }
            }
            _ => {}
        }
    }
}

pub struct DaemonSetRules;

impl Strategy for DaemonSetRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let spec = &obj["spec"];
        non_negative(spec, "revisionHistoryLimit", causes);
        let strategy = &spec["updateStrategy"];
        if strategy["type"] != "RollingUpdate" {
            return;
        }
        let ru = &strategy["rollingUpdate"];
        let path = "spec.updateStrategy.rollingUpdate";
        int_or_percent(
            &ru["maxUnavailable"],
            &format!("{path}.maxUnavailable"),
            true,
            causes,
        );
        int_or_percent(&ru["maxSurge"], &format!("{path}.maxSurge"), true, causes);
        let (surge, unavailable) = (&ru["maxSurge"], &ru["maxUnavailable"]);
        let set = |v: &Value| !v.is_null() && !is_zero(v);
        if set(surge) && set(unavailable) {
            causes.push(invalid_intstr(
                &format!("{path}.maxSurge"),
                surge,
                "may not be set when maxUnavailable is non-zero",
            ));
        }
        if !set(surge) && !set(unavailable) {
            causes.push(Cause {
                reason: "FieldValueRequired",
                field: format!("{path}.maxUnavailable"),
                message: "Required value: cannot be 0 when maxSurge is 0".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &dyn Strategy, obj: Value) -> Vec<String> {
        let mut causes = Vec::new();
        s.validate(&obj, &mut causes);
        causes.iter().map(Cause::to_line).collect()
    }

    #[test]
    fn deployments_need_room_to_move_and_a_history_that_is_not_negative() {
        let d = json!({"spec": {"revisionHistoryLimit": -1, "strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}});
        assert_eq!(
            lines(&DeploymentRules, d),
            [
                "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
            ]
        );
        let ok = json!({"spec": {"strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}, "progressDeadlineSeconds": 600}});
        assert!(lines(&DeploymentRules, ok).is_empty());
        let deadline = json!({"spec": {"minReadySeconds": 10, "progressDeadlineSeconds": 10}});
        assert_eq!(
            lines(&DeploymentRules, deadline),
            [
                "spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"
            ]
        );
    }

    #[test]
    fn statefulset_partitions_are_not_negative_and_daemonsets_pick_surge_or_unavailable() {
        let s = json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}}});
        assert_eq!(
            lines(&StatefulSetRules, s),
            [
                "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        let both = json!({"spec": {"updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}});
        assert_eq!(
            lines(&DaemonSetRules, both),
            [
                "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when maxUnavailable is non-zero"
            ]
        );
        let none = json!({"spec": {"updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}});
        assert_eq!(
            lines(&DaemonSetRules, none),
            [
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
            ]
        );
    }
}
