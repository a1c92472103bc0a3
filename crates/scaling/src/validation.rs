//! Chapter 06's rules for the kinds it runs: layers on chapter 01's
//! strategies for HorizontalPodAutoscalers and PodDisruptionBudgets
//! (upstream's `pkg/apis/autoscaling/validation` and
//! `pkg/apis/policy/validation`, and the autoscaler's defaults).

use kubelab_api::validation::Cause;
use kubelab_apiserver::strategy::Strategy;
use serde_json::{Value, json};

/// HorizontalPodAutoscalers (autoscaling/v2).
pub struct AutoscalerRules;

impl Strategy for AutoscalerRules {
    /// `minReplicas` 1, and with no metrics the classic 80 % of CPU.
    fn default(&self, obj: &mut Value) {
        let spec = &mut obj["spec"];
        if !spec.is_object() {
            return;
        }
        if spec["minReplicas"].is_null() {
            spec["minReplicas"] = json!(1);
        }
        if spec["metrics"].as_array().is_none_or(|m| m.is_empty()) {
            spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]);
        }
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        autoscaler(obj, causes);
    }
    fn validate_update(&self, _old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        autoscaler(obj, causes);
    }
}

fn autoscaler(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let min = spec["minReplicas"].as_i64().unwrap_or(1);
    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
    if min < 1 {
        causes.push(Cause::invalid(
            "spec.minReplicas",
            &json!(min),
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        causes.push(Cause::invalid(
            "spec.maxReplicas",
            &json!(max),
            "must be greater than 0",
        ));
    } else if max < min {
        causes.push(Cause::invalid(
            "spec.maxReplicas",
            &json!(max),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    for field in ["kind", "name"] {
        if spec["scaleTargetRef"][field]
            .as_str()
            .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(&format!("spec.scaleTargetRef.{field}")));
        }
    }
    for (i, m) in spec["metrics"].as_array().into_iter().flatten().enumerate() {
        let path = format!("spec.metrics[{i}]");
        match m["type"].as_str().unwrap_or_default() {
            "Resource" => {
                let target = &m["resource"]["target"];
                let name = &m["resource"]["name"];
                if !matches!(name.as_str(), Some("cpu" | "memory")) {
                    causes.push(Cause::not_supported(
                        &format!("{path}.resource.name"),
                        name,
                        &["cpu", "memory"],
                    ));
                }
                match target["type"].as_str().unwrap_or_default() {
                    "Utilization" => {
                        if target["averageUtilization"].as_i64().is_none_or(|u| u < 1) {
                            causes.push(Cause::invalid(
                                &format!("{path}.resource.target.averageUtilization"),
                                &target["averageUtilization"],
                                "must be greater than 0",
                            ));
                        }
                    }
                    "AverageValue" => {
                        if target["averageValue"].is_null() {
                            causes.push(Cause::required(&format!(
                                "{path}.resource.target.averageValue"
                            )));
                        }
                    }
                    _ => causes.push(Cause::not_supported(
                        &format!("{path}.resource.target.type"),
                        &target["type"],
                        &["Utilization", "AverageValue"],
                    )),
                }
            }
            // Pods, Object and External metrics need a custom metrics
            // pipeline kubelab does not have.
            _ => causes.push(Cause::not_supported(
                &format!("{path}.type"),
                &m["type"],
                &["Resource"],
            )),
        }
    }
}

/// PodDisruptionBudgets (policy/v1).
pub struct DisruptionBudgetRules;

impl Strategy for DisruptionBudgetRules {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        budget(obj, causes);
    }
    fn validate_update(&self, _old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        budget(obj, causes);
    }
}

fn budget(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    if !spec["minAvailable"].is_null() && !spec["maxUnavailable"].is_null() {
        // Upstream prints the whole spec (as a Go struct) as the value.
        causes.push(Cause::invalid(
            "spec",
            &json!({"minAvailable": spec["minAvailable"], "maxUnavailable": spec["maxUnavailable"]}),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for field in ["minAvailable", "maxUnavailable"] {
        let v = &spec[field];
        let path = format!("spec.{field}");
        match v {
            Value::Null => {}
            Value::Number(n) if n.as_i64().is_some_and(|n| n < 0) => {
                causes.push(Cause::invalid(&path, v, "must be greater than or equal to 0"));
            }
            Value::String(s) => match s.strip_suffix('%').map(str::parse::<i64>) {
                Some(Ok(p)) if p > 100 => causes.push(Cause::invalid(&path, v, "must not be greater than 100%")),
                Some(Ok(p)) if p < 0 => causes.push(Cause::invalid(&path, v, "must be greater than or equal to 0")),
                Some(Ok(_)) => {}
                _ => causes.push(Cause::invalid(&path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
            },
            _ => {}
        }
    }
    if let Some(p) = spec["unhealthyPodEvictionPolicy"].as_str()
        && !matches!(p, "IfHealthyBudget" | "AlwaysAllow")
    {
        causes.push(Cause::not_supported(
            "spec.unhealthyPodEvictionPolicy",
            &spec["unhealthyPodEvictionPolicy"],
            &["AlwaysAllow", "IfHealthyBudget"],
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: impl Fn(&mut Vec<Cause>)) -> Vec<String> {
        let mut c = Vec::new();
        f(&mut c);
        c.iter().map(Cause::to_line).collect()
    }

    #[test]
    fn bad_autoscalers_and_budgets_say_where() {
        let hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                                  "minReplicas": 5, "maxReplicas": 2}});
        assert_eq!(
            lines(|c| autoscaler(&hpa, c)),
            ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]
        );
        let pdb = json!({"spec": {"minAvailable": 1, "maxUnavailable": "50%"}});
        let got = lines(|c| budget(&pdb, c));
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("spec: Invalid value: "), "{got:?}");
        assert!(got[0].ends_with("minAvailable and maxUnavailable cannot be both set"));
        assert_eq!(
            lines(|c| budget(&json!({"spec": {"maxUnavailable": "150%"}}), c)),
            ["spec.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"]
        );
    }
}
