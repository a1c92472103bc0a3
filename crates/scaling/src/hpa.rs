//! The HorizontalPodAutoscaler controller (autoscaling/v2).
//!
//! ```text
//! every 15 s, per autoscaler:
//!     scale   = GET <target>/scale                    (replicas and the pods' selector)
//!     metrics = GET metrics.k8s.io pods?labelSelector  (chapter 06's metrics pipeline)
//!     for each metric: desired = replicas::desired_replicas(...)      take the largest
//!     stabilise: scaling down, use the highest recommendation of the last 5 minutes
//!     limit:     no faster than the behavior's policies; within min..max
//!     desired ≠ current → PUT <target>/scale, event SuccessfulRescale
//!     write status: currentMetrics, desired/current replicas, conditions
//! ```
//!
//! The autoscaler never touches pods: it writes the `scale` subresource
//! of a Deployment, ReplicaSet, StatefulSet or ReplicationController, and
//! their own controllers do the rest.
//!
//! **Simplifications.** Resource metrics only (CPU and memory); the
//! `Pods`, `Object` and `External` kinds need a custom metrics API.
//! Pods in their first 30 s count as unready for CPU (upstream's
//! readiness rules around `--horizontal-pod-autoscaler-cpu-initialization-period`
//! are finer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubelab_api::selector::LabelSelector;
use serde_json::{Value, json};

use kubelab_client::informer::{Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue};

use crate::replicas::{DesiredReplicasFn, PodUsage, TOLERANCE};

/// Upstream's `--horizontal-pod-autoscaler-sync-period`.
pub const SYNC_PERIOD: Duration = Duration::from_secs(15);
/// Upstream's `--horizontal-pod-autoscaler-downscale-stabilization`.
pub const DOWNSCALE_STABILIZATION: Duration = Duration::from_secs(300);

pub struct AutoscalerController {
    client: Client,
    autoscalers: Informer,
    pods: Informer,
    events: EventRecorder,
    desired_replicas: DesiredReplicasFn,
    /// Per autoscaler: recent recommendations and recent scale changes.
    history: Mutex<HashMap<String, History>>,
}

#[derive(Default)]
struct History {
    recommendations: Vec<(Instant, i64)>,
    /// (when, replicas added (+) or removed (-)).
    changes: Vec<(Instant, i64)>,
}

fn quantity(v: &Value) -> u64 {
    kubelab_api::quantity::of(v).unwrap_or(0.0).max(0.0) as u64
}

/// A resource in the unit the calculator uses: millicores or bytes.
fn amount(resource: &str, v: &Value) -> u64 {
    match resource {
        "cpu" => kubelab_api::quantity::cpu_millis(v).unwrap_or(0),
        _ => quantity(v),
    }
}

fn condition(ty: &str, ok: bool, reason: &str, message: impl Into<String>) -> Value {
    json!({"type": ty, "status": if ok { "True" } else { "False" }, "reason": reason, "message": message.into()})
}

impl AutoscalerController {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        desired_replicas: DesiredReplicasFn,
    ) -> Arc<AutoscalerController> {
        let client = client.named("kube-controller-manager/horizontal-pod-autoscaler");
        let c = Arc::new(AutoscalerController {
            events: EventRecorder::new(&client, "horizontal-pod-autoscaler", None),
            client,
            autoscalers: informers.of("autoscaling/v2", "HorizontalPodAutoscaler"),
            pods: informers.of("v1", "Pod"),
            desired_replicas,
            history: Mutex::default(),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.autoscalers, &queue, |ch| match ch {
            // Our own status writes must not make the loop spin faster
            // than its period: only spec changes count.
            kubelab_client::informer::Change::Modified { old, new }
                if old["spec"] == new["spec"] =>
            {
                vec![]
            }
            _ => vec![key_of(ch.object())],
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![c.autoscalers.clone(), c.pods.clone()],
        ));
        c
    }

    fn scale_path(&self, ns: &str, target: &Value) -> Result<String, String> {
        let api = target["apiVersion"].as_str().unwrap_or("apps/v1");
        let kind = target["kind"].as_str().unwrap_or_default();
        let info = kubelab_api::registry::by_kind(api, kind)
            .filter(|r| r.subresources.contains(&"scale"))
            .ok_or_else(|| format!("no scale subresource for {api} {kind}"))?;
        Ok(format!(
            "{}/scale",
            client::path(info, Some(ns), target["name"].as_str())
        ))
    }

    /// Desired replicas for one metric, and its `currentMetrics` entry.
    async fn for_metric(
        &self,
        ns: &str,
        selector: &LabelSelector,
        selector_text: &str,
        current: i64,
        metric: &Value,
    ) -> Result<(i64, Value, String), String> {
        let resource = metric["resource"]["name"].as_str().unwrap_or("cpu");
        let target = &metric["resource"]["target"];
        let by_average = target["type"] == "AverageValue";
        let fail = |e: String| {
            if by_average {
                format!("failed to get {resource} usage: {e}")
            } else {
                format!("failed to get {resource} utilization: {e}")
            }
        };
        let path = format!(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector={}",
            client::query_value(selector_text)
        );
        let list = self.client.get(&path).await.map_err(|e| {
            fail(format!("unable to get metrics for resource {resource}: unable to fetch metrics from resource metrics API: {}", e.message))
        })?;
        let mut usage: HashMap<String, u64> = HashMap::new();
        for m in list["items"].as_array().into_iter().flatten() {
            let total = m["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| amount(resource, &c["usage"][resource]))
                .sum();
            usage.insert(
                m["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                total,
            );
        }
        if usage.is_empty() {
            return Err(fail(format!(
                "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
            )));
        }
        let now = chrono::Utc::now();
        let mut pods = Vec::new();
        for pod in self.pods.list(Some(ns)) {
            if !selector.matches_object(&pod)
                || kubelab_api::meta::is_being_deleted(&pod)
                || pod["status"]["phase"] == "Failed"
            {
                continue;
            }
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let request = if by_average {
                amount(resource, &target["averageValue"])
            } else {
                let mut sum = 0;
                // App containers and sidecars (restartable init containers).
                let sidecars = pod["spec"]["initContainers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["restartPolicy"] == "Always");
                for c in pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(sidecars)
                {
                    let r = &c["resources"]["requests"][resource];
                    if r.is_null() {
                        return Err(fail(format!(
                            "missing request for {resource} in container {} of Pod {name}",
                            c["name"].as_str().unwrap_or_default()
                        )));
                    }
                    sum += amount(resource, r);
                }
                sum
            };
            let young = kubelab_api::meta::time_of(&pod["status"]["startTime"])
                .is_none_or(|t| now - t < chrono::TimeDelta::seconds(30));
            let ready = pod["status"]["phase"] == "Running"
                && (resource != "cpu" || (kubelab_api::pod::is_ready(&pod) && !young));
            pods.push(PodUsage {
                usage: usage.get(name).copied(),
                request,
                ready,
            });
        }
        if pods.is_empty() {
            return Err(fail(
                "no pods returned by selector while calculating replica count".into(),
            ));
        }
        let (desired, used) = if by_average {
            (self.desired_replicas)(current, &pods, 100, TOLERANCE).map_err(&fail)?
        } else {
            let t = target["averageUtilization"].as_i64().unwrap_or(80);
            (self.desired_replicas)(current, &pods, t, TOLERANCE).map_err(&fail)?
        };
        let measured: Vec<u64> = pods.iter().filter_map(|p| p.usage).collect();
        let average = measured.iter().sum::<u64>() / measured.len().max(1) as u64;
        let average = if resource == "cpu" {
            format!("{average}m")
        } else {
            average.to_string()
        };
        let mut current_value = json!({"averageValue": average});
        if !by_average {
            current_value["averageUtilization"] = json!(used);
        }
        let name = if by_average {
            format!("{resource} resource")
        } else {
            format!("{resource} resource utilization (percentage of request)")
        };
        Ok((
            desired,
            json!({"type": "Resource", "resource": {"name": resource, "current": current_value}}),
            name,
        ))
    }
}

#[async_trait::async_trait]
impl Reconciler for AutoscalerController {
    fn name(&self) -> &'static str {
        "horizontal-pod-autoscaler"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(hpa) = self.autoscalers.get(key) else {
            self.history.lock().unwrap().remove(key);
            return Ok(Action::Done);
        };
        let ns = split_key(key).0.unwrap_or("default");
        let spec = &hpa["spec"];
        let (min, max) = (
            spec["minReplicas"].as_i64().unwrap_or(1),
            spec["maxReplicas"].as_i64().unwrap_or(1),
        );
        let mut status = json!({"currentReplicas": hpa["status"]["currentReplicas"].as_i64().unwrap_or(0),
                                "desiredReplicas": hpa["status"]["desiredReplicas"].as_i64().unwrap_or(0),
                                "currentMetrics": hpa["status"]["currentMetrics"].clone(),
                                "lastScaleTime": hpa["status"]["lastScaleTime"].clone(),
                                "observedGeneration": hpa["metadata"]["generation"].clone()});

        // 1. The target's scale: its replicas and its pods' selector.
        let (scale_path, scale) = match self.get_scale(ns, &hpa).await {
            Ok(s) => s,
            Err(condition) => {
                self.write_status(&hpa, status, vec![condition]).await?;
                return Ok(Action::RequeueAfter(SYNC_PERIOD));
            }
        };
        let current = scale["spec"]["replicas"].as_i64().unwrap_or(0);
        status["currentReplicas"] = json!(scale["status"]["replicas"].as_i64().unwrap_or(current));

        // 2. What the metrics ask for (or why they cannot say).
        let proposal = self.recommend(&hpa, ns, &scale, current).await;
        if let Some(metrics) = &proposal.current_metrics {
            status["currentMetrics"] = json!(metrics);
        }
        let mut conditions = proposal.conditions;
        let Some((wanted, reason)) = proposal.replicas else {
            status["desiredReplicas"] = json!(current);
            self.write_status(&hpa, status, conditions).await?;
            return Ok(Action::RequeueAfter(SYNC_PERIOD));
        };

        // 3. Stabilise and limit.
        let (desired, able, limited) = self.normalize(key, &hpa, current, wanted, min, max);
        tracing::debug!(
            "{key}: {current} replicas, the metrics ask for {wanted}, {desired} after stabilisation and limits"
        );
        conditions.insert(0, able);
        conditions.push(limited);

        // 4. Rescale: write the target's scale subresource.
        if desired != current {
            conditions[0] = self
                .rescale(key, &hpa, (&scale_path, &scale), current, desired, &reason)
                .await;
            if conditions[0]["reason"] == "SucceededRescale" {
                status["lastScaleTime"] = json!(kubelab_api::meta::now());
            }
        }
        status["desiredReplicas"] = json!(desired);
        self.write_status(&hpa, status, conditions).await?;
        Ok(Action::RequeueAfter(SYNC_PERIOD))
    }
    // ANCHOR_END: reconcile
}

/// What [`AutoscalerController::recommend`] found.
struct Proposal {
    /// The replicas the metrics ask for and why; `None`: no change now.
    replicas: Option<(i64, String)>,
    current_metrics: Option<Vec<Value>>,
    conditions: Vec<Value>,
}

impl AutoscalerController {
    /// GETs the target's `scale`; on failure, the AbleToScale condition
    /// that says why (and a FailedGetScale event).
    async fn get_scale(&self, ns: &str, hpa: &Value) -> Result<(String, Value), Value> {
        let scale = match self.scale_path(ns, &hpa["spec"]["scaleTargetRef"]) {
            Ok(path) => self
                .client
                .get(&path)
                .await
                .map(|s| (path, s))
                .map_err(|e| e.message),
            Err(e) => Err(e),
        };
        scale.map_err(|e| {
            self.events.warning(hpa, "FailedGetScale", e.clone());
            condition(
                "AbleToScale",
                false,
                "FailedGetScale",
                format!("the HPA controller was unable to get the target's current scale: {e}"),
            )
        })
    }

    /// Outside min..max the bounds decide; otherwise the largest of the
    /// metrics' proposals (upstream's `computeReplicasForMetrics`).
    async fn recommend(&self, hpa: &Value, ns: &str, scale: &Value, current: i64) -> Proposal {
        let spec = &hpa["spec"];
        let (min, max) = (
            spec["minReplicas"].as_i64().unwrap_or(1),
            spec["maxReplicas"].as_i64().unwrap_or(1),
        );
        let got_scale = || {
            condition(
                "AbleToScale",
                true,
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale",
            )
        };
        let stop = |conditions: Vec<Value>, current_metrics| Proposal {
            replicas: None,
            current_metrics,
            conditions,
        };
        if current == 0 && min != 0 {
            return stop(
                vec![
                    got_scale(),
                    condition(
                        "ScalingActive",
                        false,
                        "ScalingDisabled",
                        "scaling is disabled since the replica count of the target is zero",
                    ),
                ],
                None,
            );
        }
        if current > max || current < min {
            let (bound, why) = if current > max {
                (max, "above Spec.MaxReplicas")
            } else {
                (min, "below Spec.MinReplicas")
            };
            return Proposal {
                replicas: Some((bound, format!("Current number of replicas {why}"))),
                current_metrics: None,
                conditions: Vec::new(),
            };
        }
        let selector_text = scale["status"]["selector"].as_str().unwrap_or_default();
        let Some(selector) = LabelSelector::parse(selector_text)
            .ok()
            .filter(|s| !s.is_empty())
        else {
            self.events
                .warning(hpa, "SelectorRequired", "selector is required");
            let invalid = condition(
                "ScalingActive",
                false,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            );
            return stop(vec![invalid], None);
        };
        let mut current_metrics = Vec::new();
        let mut best: Option<(i64, String)> = None;
        let mut failures = Vec::new();
        for metric in spec["metrics"].as_array().into_iter().flatten() {
            match self
                .for_metric(ns, &selector, selector_text, current, metric)
                .await
            {
                Ok((desired, current_metric, name)) => {
                    current_metrics.push(current_metric);
                    if best.as_ref().is_none_or(|(b, _)| desired > *b) {
                        best = Some((desired, name));
                    }
                }
                Err(e) => {
                    self.events
                        .warning(hpa, "FailedGetResourceMetric", e.clone());
                    failures.push(condition(
                        "ScalingActive",
                        false,
                        "FailedGetResourceMetric",
                        format!("the HPA was unable to compute the replica count: {e}"),
                    ));
                    current_metrics.push(json!({"type": "Resource",
                        "resource": {"name": metric["resource"]["name"], "current": {}}}));
                }
            }
        }
        match best {
            Some((desired, name)) if failures.is_empty() => Proposal {
                replicas: Some((
                    desired,
                    if desired > current {
                        format!("{name} above target")
                    } else {
                        "All metrics below target".into()
                    },
                )),
                current_metrics: Some(current_metrics),
                conditions: vec![condition(
                    "ScalingActive",
                    true,
                    "ValidMetricFound",
                    format!(
                        "the HPA was able to successfully calculate a replica count from {name}"
                    ),
                )],
            },
            _ => {
                let mut conditions = vec![got_scale()];
                conditions.extend(failures.into_iter().take(1));
                stop(conditions, Some(current_metrics))
            }
        }
    }

    /// PUTs the new replicas into the target's scale; the AbleToScale
    /// condition that says how it went, and the event.
    async fn rescale(
        &self,
        key: &str,
        hpa: &Value,
        (path, scale): (&str, &Value),
        current: i64,
        desired: i64,
        reason: &str,
    ) -> Value {
        let mut s = scale.clone();
        s["spec"]["replicas"] = json!(desired);
        match self.client.replace(path, &s).await {
            Ok(_) => {
                self.events.normal(
                    hpa,
                    "SuccessfulRescale",
                    format!("New size: {desired}; reason: {reason}"),
                );
                if let Some(h) = self.history.lock().unwrap().get_mut(key) {
                    h.changes.push((Instant::now(), desired - current));
                }
                condition(
                    "AbleToScale",
                    true,
                    "SucceededRescale",
                    format!("the HPA controller was able to update the target scale to {desired}"),
                )
            }
            Err(e) => {
                self.events.warning(
                    hpa,
                    "FailedRescale",
                    format!(
                        "New size: {desired}; reason: {reason}; error: {}",
                        e.message
                    ),
                );
                condition(
                    "AbleToScale",
                    false,
                    "FailedUpdateScale",
                    format!(
                        "the HPA controller was unable to update the target scale: {}",
                        e.message
                    ),
                )
            }
        }
    }
}

impl AutoscalerController {
    /// Stabilisation windows and rate limits, then min/max: upstream's
    /// `normalizeDesiredReplicas` (no `behavior`) or
    /// `normalizeDesiredReplicasWithBehaviors`. Returns the replicas and
    /// the AbleToScale and ScalingLimited conditions.
    fn normalize(
        &self,
        key: &str,
        hpa: &Value,
        current: i64,
        proposal: i64,
        min: i64,
        max: i64,
    ) -> (i64, Value, Value) {
        let behavior = &hpa["spec"]["behavior"];
        let now = Instant::now();
        let mut all = self.history.lock().unwrap();
        // The first time an autoscaler is seen, the current size counts as
        // a recent recommendation (upstream's recordInitialRecommendation):
        // a new autoscaler does not scale down before the window has passed.
        let h = all.entry(key.to_string()).or_insert_with(|| History {
            recommendations: vec![(now, current)],
            changes: Vec::new(),
        });
        let window = |rules: &Value, default: Duration| {
            rules["stabilizationWindowSeconds"]
                .as_u64()
                .map(Duration::from_secs)
                .unwrap_or(default)
        };
        let up_window = window(&behavior["scaleUp"], Duration::ZERO);
        let down_window = window(&behavior["scaleDown"], DOWNSCALE_STABILIZATION);
        h.recommendations.push((now, proposal));
        let keep = up_window.max(down_window);
        h.recommendations
            .retain(|(t, _)| now.duration_since(*t) <= keep);
        let up = h
            .recommendations
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= up_window)
            .map(|r| r.1)
            .min()
            .unwrap_or(proposal);
        let down = h
            .recommendations
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= down_window)
            .map(|r| r.1)
            .max()
            .unwrap_or(proposal);
        let mut stabilized = current.max(up).min(down);
        let able = if stabilized != proposal && stabilized > proposal {
            condition(
                "AbleToScale",
                true,
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        } else if stabilized != proposal {
            condition(
                "AbleToScale",
                true,
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        } else {
            condition(
                "AbleToScale",
                true,
                "ReadyForNewScale",
                "recommended size matches current size",
            )
        };
        // Rate limits from the scale changes of each policy's period.
        h.changes
            .retain(|(t, _)| now.duration_since(*t) <= Duration::from_secs(1800));
        let changed_within = |secs: u64, up: bool| -> i64 {
            h.changes
                .iter()
                .filter(|(t, c)| {
                    now.duration_since(*t) <= Duration::from_secs(secs) && (*c > 0) == up
                })
                .map(|(_, c)| c.abs())
                .sum()
        };
        let limit = |rules: &Value, up: bool| -> Option<i64> {
            let policies = rules["policies"].as_array()?;
            let select = rules["selectPolicy"].as_str().unwrap_or("Max");
            if select == "Disabled" {
                return Some(current);
            }
            let proposals = policies.iter().map(|p| {
                let period = p["periodSeconds"].as_u64().unwrap_or(15);
                let value = p["value"].as_i64().unwrap_or(0);
                let start = if up {
                    current - changed_within(period, true)
                } else {
                    current + changed_within(period, false)
                };
                match (p["type"].as_str(), up) {
                    (Some("Pods"), true) => start + value,
                    (Some("Pods"), false) => start - value,
                    (_, true) => (start as f64 * (1.0 + value as f64 / 100.0)).ceil() as i64,
                    (_, false) => (start as f64 * (1.0 - value as f64 / 100.0)).floor() as i64,
                }
            });
            let pick_max = (select == "Max") == up;
            Some(if pick_max {
                proposals.max()?
            } else {
                proposals.min()?
            })
        };
        let (up_limit, down_limit) = if behavior.is_null() {
            // No behavior: at most double (or 4) up, no limit down.
            ((2 * current).max(4), 0)
        } else {
            (
                limit(&behavior["scaleUp"], true).unwrap_or((2 * current).max(4)),
                limit(&behavior["scaleDown"], false).unwrap_or(0),
            )
        };
        drop(all);
        let mut limited = condition(
            "ScalingLimited",
            false,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        );
        if stabilized > current && stabilized > up_limit.min(max) {
            limited = if up_limit < max {
                condition(
                    "ScalingLimited",
                    true,
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )
            } else {
                condition(
                    "ScalingLimited",
                    true,
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            };
            stabilized = up_limit.min(max);
        } else if stabilized < current && stabilized < down_limit.max(min) {
            limited = if down_limit > min {
                condition(
                    "ScalingLimited",
                    true,
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            } else {
                condition(
                    "ScalingLimited",
                    true,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            };
            stabilized = down_limit.max(min);
        } else if stabilized > max {
            limited = condition(
                "ScalingLimited",
                true,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            );
            stabilized = max;
        } else if stabilized < min {
            limited = condition(
                "ScalingLimited",
                true,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            );
            stabilized = min;
        }
        (stabilized, able, limited)
    }

    /// Writes the status; a condition keeps its transition time while its
    /// status stays the same.
    async fn write_status(
        &self,
        hpa: &Value,
        mut status: Value,
        conditions: Vec<Value>,
    ) -> Result<(), Error> {
        let now = kubelab_api::meta::now();
        let conditions: Vec<Value> = conditions
            .into_iter()
            .map(|mut c| {
                c["lastTransitionTime"] = kubelab_api::meta::transition_time(
                    &hpa["status"]["conditions"],
                    c["type"].as_str().unwrap_or_default(),
                    c["status"].as_str().unwrap_or_default(),
                    &now,
                );
                c
            })
            .collect();
        status["conditions"] = json!(conditions);
        for k in ["lastScaleTime", "currentMetrics"] {
            if status[k].is_null() {
                status.as_object_mut().unwrap().remove(k);
            }
        }
        if hpa["status"] == status {
            return Ok(());
        }
        let mut updated = hpa.clone();
        updated["status"] = status;
        let path = format!("{}/status", client::object_path(hpa));
        match self.client.replace(&path, &updated).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() || e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
