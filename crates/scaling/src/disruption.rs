//! Voluntary disruptions: PodDisruptionBudgets and the eviction API.
//!
//! A node dying is an *involuntary* disruption. Draining a node for an
//! upgrade is a *voluntary* one, and for those Kubernetes lets an
//! application say how much it can take: a PodDisruptionBudget —
//! "keep at least 2 of my pods (`minAvailable`)" or "never more than 1
//! down (`maxUnavailable`)".
//!
//! ```text
//! disruption controller, per budget:
//!     pods         = the namespace's pods its selector matches
//!     expectedPods = minAvailable as a number: len(pods)
//!                    otherwise: the replicas their controllers want (the scale)
//!     desiredHealthy = minAvailable (ceil of the % of expectedPods)
//!                      or expectedPods - maxUnavailable (ceil of the %)
//!     currentHealthy = Ready pods, not being deleted, not just evicted
//!     disruptionsAllowed = max(0, currentHealthy - desiredHealthy)
//!
//! POST pods/x/eviction (what `kubectl drain` sends instead of DELETE):
//!     pod Pending, finished or already deleting → delete it
//!     no budget matches → delete it
//!     budget not yet looked at (observedGeneration) or disruptionsAllowed = 0
//!           → 429 TooManyRequests (drain waits 5 s and asks again)
//!     else  → disruptionsAllowed - 1, the pod noted in disruptedPods, delete it
//! ```
//!
//! The decrement is written to the budget's status *before* the pod goes,
//! with the budget's resourceVersion as precondition: two evictions at
//! once cannot both spend the last allowed disruption.
//!
//! **Simplifications.** Budgets count pods of ReplicationControllers,
//! ReplicaSets, Deployments and StatefulSets; upstream also asks any
//! custom resource's `scale` subresource. Of the eviction's
//! `deleteOptions`, only `gracePeriodSeconds` is used.

use std::sync::Arc;
use std::time::Duration;

use kubelab_api::selector::LabelSelector;
use kubelab_apiserver::extensions::SubresourceHandler;
use kubelab_apiserver::objects::{ListOptions, Objects, WriteOptions};
use kubelab_apiserver::status::ApiError;
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue};

/// How long an eviction counts against a budget before the pod must be
/// gone (upstream's `DeletionTimeout`).
const DELETION_TIMEOUT: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// `n` or `"n%"` of `total`, rounded up.
pub fn scaled(v: &Value, total: i64) -> Option<i64> {
    kubelab_api::intstr::scaled(v, total, true)
}

fn selector_of(pdb: &Value) -> Option<LabelSelector> {
    LabelSelector::from_object(&pdb["spec"]["selector"]).ok()
}

pub struct DisruptionController {
    client: Client,
    budgets: Informer,
    pods: Informer,
    events: EventRecorder,
}

impl DisruptionController {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<DisruptionController> {
        let client = client.named("kube-controller-manager/disruption-controller");
        let c = Arc::new(DisruptionController {
            events: EventRecorder::new(&client, "controllermanager", None),
            client,
            budgets: informers.of("policy/v1", "PodDisruptionBudget"),
            pods: informers.of("v1", "Pod"),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.budgets, &queue, |ch| vec![key_of(ch.object())]);
        let me = c.clone();
        kubelab_client::feed(&c.pods, &queue, move |ch| {
            let mut pods = vec![ch.object().clone()];
            if let Change::Modified { old, .. } = ch {
                pods.push(old.clone());
            }
            let mut keys = Vec::new();
            for pod in pods {
                let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
                for b in me.budgets.list(Some(ns)) {
                    if selector_of(&b).is_some_and(|s| s.matches_object(&pod)) {
                        keys.push(key_of(&b));
                    }
                }
            }
            keys
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![c.budgets.clone(), c.pods.clone()],
        ));
        c
    }

    /// The replicas the pods' controllers want: a Deployment's for pods
    /// of its ReplicaSets, else the ReplicaSet's, StatefulSet's or
    /// ReplicationController's (upstream's `getExpectedScale`).
    async fn expected_scale(&self, pods: &[Arc<Value>]) -> Result<i64, String> {
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for pod in pods {
            // A pod without a controller has no scale to count: it is
            // left out (the controller warns with UnmanagedPods).
            let Some(owner) = kubelab_api::meta::controller_of(pod) else {
                continue;
            };
            let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
            let (api, kind) = (
                owner["apiVersion"].as_str().unwrap_or_default(),
                owner["kind"].as_str().unwrap_or_default(),
            );
            if !matches!(kind, "ReplicaSet" | "StatefulSet" | "ReplicationController") {
                return Err(format!("{kind} does not implement the scale subresource"));
            }
            let path = client::path(
                client::resource(api, kind),
                Some(ns),
                owner["name"].as_str(),
            );
            let mut obj = self.client.get(&path).await.map_err(|e| e.message)?;
            if kind == "ReplicaSet"
                && let Some(d) =
                    kubelab_api::meta::controller_of(&obj).filter(|o| o["kind"] == "Deployment")
            {
                let path = client::path(
                    client::resource("apps/v1", "Deployment"),
                    Some(ns),
                    d["name"].as_str(),
                );
                obj = self.client.get(&path).await.map_err(|e| e.message)?;
            }
            if seen.insert(
                obj["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ) {
                total += obj["spec"]["replicas"].as_i64().unwrap_or(1);
            }
        }
        Ok(total)
    }
}

#[async_trait::async_trait]
impl Reconciler for DisruptionController {
    fn name(&self) -> &'static str {
        "disruption-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(pdb) = self.budgets.get(key) else {
            return Ok(Action::Done);
        };
        let ns = pdb["metadata"]["namespace"].as_str().unwrap_or_default();
        let selector = selector_of(&pdb);
        let pods: Vec<Arc<Value>> = self
            .pods
            .list(Some(ns))
            .into_iter()
            .filter(|p| selector.as_ref().is_some_and(|s| s.matches_object(p)))
            .collect();
        if pods.is_empty() {
            self.events.normal(&pdb, "NoPods", "No matching pods found");
        }
        let spec = &pdb["spec"];
        let unmanaged = pods
            .iter()
            .any(|p| kubelab_api::meta::controller_of(p).is_none());
        if unmanaged && spec["minAvailable"].as_i64().is_none() {
            self.events.warning(
                &pdb,
                "UnmanagedPods",
                format!(
                    "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                    kubelab_api::selector::to_selector_string(&spec["selector"])
                ),
            );
        }
        let (expected, desired) = if let Some(n) = spec["minAvailable"].as_i64() {
            (Ok(pods.len() as i64), n)
        } else {
            let expected = self.expected_scale(&pods).await;
            let scale = *expected.as_ref().unwrap_or(&0);
            let desired = if !spec["minAvailable"].is_null() {
                scaled(&spec["minAvailable"], scale).unwrap_or(0)
            } else {
                (scale - scaled(&spec["maxUnavailable"], scale).unwrap_or(0)).max(0)
            };
            (expected, desired)
        };
        // Evictions not yet followed by the pod's deletion still count,
        // for two minutes.
        let now = chrono::Utc::now();
        let mut disrupted = serde_json::Map::new();
        for (name, at) in pdb["status"]["disruptedPods"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let fresh = kubelab_api::meta::time_of(at).is_some_and(|t| t + DELETION_TIMEOUT > now);
            let pending = pods.iter().any(|p| {
                p["metadata"]["name"] == name.as_str() && !kubelab_api::meta::is_being_deleted(p)
            });
            if fresh && pending {
                disrupted.insert(name.clone(), at.clone());
            }
        }
        let healthy = pods
            .iter()
            .filter(|p| {
                !kubelab_api::meta::is_being_deleted(p)
                    && !disrupted.contains_key(p["metadata"]["name"].as_str().unwrap_or_default())
                    && kubelab_api::pod::is_ready(p)
            })
            .count() as i64;
        let (expected, allowed, reason, message) = match &expected {
            Ok(e) => {
                let allowed = if *e <= 0 {
                    0
                } else {
                    (healthy - desired).max(0)
                };
                let reason = if allowed > 0 {
                    "SufficientPods"
                } else {
                    "InsufficientPods"
                };
                (*e, allowed, reason, String::new())
            }
            Err(why) => {
                self.events.warning(
                    &pdb,
                    "CalculateExpectedPodCountFailed",
                    format!("Failed to calculate the number of expected pods: {why}"),
                );
                (0, 0, "SyncFailed", why.clone())
            }
        };
        let generation = pdb["metadata"]["generation"].clone();
        let status_value = if allowed > 0 { "True" } else { "False" };
        let transition = kubelab_api::meta::transition_time(
            &pdb["status"]["conditions"],
            "DisruptionAllowed",
            status_value,
            &kubelab_api::meta::now(),
        );
        let status = json!({
            "observedGeneration": generation,
            "disruptedPods": if disrupted.is_empty() { Value::Null } else { Value::Object(disrupted) },
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [{"type": "DisruptionAllowed", "status": status_value, "reason": reason,
                            "message": message, "observedGeneration": generation,
                            "lastTransitionTime": transition}],
        });
        let mut wanted = status.clone();
        if wanted["disruptedPods"].is_null() {
            wanted.as_object_mut().unwrap().remove("disruptedPods");
        }
        if pdb["status"] != wanted {
            let mut updated = (*pdb).clone();
            updated["status"] = wanted;
            let path = format!("{}/status", client::object_path(&pdb));
            match self.client.replace(&path, &updated).await {
                Ok(_) => {}
                Err(e) if e.is_conflict() || e.is_not_found() => {
                    return Ok(Action::RequeueAfter(Duration::from_millis(50)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Look again when the oldest eviction expires.
        if status["disruptedPods"].is_object() {
            return Ok(Action::RequeueAfter(Duration::from_secs(30)));
        }
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}

// ---- the eviction subresource ----------------------------------------------

/// `POST /api/v1/namespaces/<ns>/pods/<name>/eviction`.
pub struct Eviction;

fn budget_violation(cause: String) -> ApiError {
    ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        json!([{"reason": "DisruptionBudget", "message": cause}]),
    )
}

#[async_trait::async_trait]
impl SubresourceHandler for Eviction {
    // ANCHOR: eviction
    async fn create(&self, objects: &Objects, pod: &Value, body: Value) -> Result<Value, ApiError> {
        let ns = kubelab_api::meta::namespace(pod).to_string();
        let name = kubelab_api::meta::name(pod).to_string();
        // Upstream compares even an empty name: the body must name its pod.
        if body["metadata"]["name"].as_str().unwrap_or_default() != name {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let pods = kubelab_api::registry::by_kind("v1", "Pod").unwrap();
        let pdbs = kubelab_api::registry::by_kind("policy/v1", "PodDisruptionBudget").unwrap();
        let phase = pod["status"]["phase"].as_str().unwrap_or_default();
        let ignore_budgets = matches!(phase, "Succeeded" | "Failed" | "Pending")
            || kubelab_api::meta::is_being_deleted(pod);
        if !ignore_budgets {
            let budgets: Vec<Value> = objects
                .list(pdbs, Some(&ns), &ListOptions::default())
                .await?
                .items
                .into_iter()
                .filter(|b| selector_of(b).is_some_and(|s| s.matches_object(pod)))
                .collect();
            if budgets.len() > 1 {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
            if let Some(budget) = budgets.first() {
                let st = &budget["status"];
                let unready_may_go = !kubelab_api::pod::is_ready(pod)
                    && (budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
                        || (st["currentHealthy"].as_i64() >= st["desiredHealthy"].as_i64()
                            && st["desiredHealthy"].as_i64().unwrap_or(0) > 0));
                if !unready_may_go {
                    let bname = kubelab_api::meta::name(budget).to_string();
                    objects
                        .update_with(pdbs, Some(&ns), &bname, Some("status"), WriteOptions::default(), |cur| {
                            let st = &cur["status"];
                            if st["observedGeneration"].as_i64().unwrap_or(0)
                                < cur["metadata"]["generation"].as_i64().unwrap_or(0)
                            {
                                let mut e = budget_violation(format!(
                                    "The disruption budget {bname} is still being processed by the server."
                                ));
                                if let Some(d) = e.details.as_mut() {
                                    d["retryAfterSeconds"] = json!(10);
                                }
                                return Err(e);
                            }
                            let allowed = st["disruptionsAllowed"].as_i64().unwrap_or(0);
                            if allowed < 0 {
                                return Err(ApiError::forbidden("pdb disruptions allowed is negative"));
                            }
                            if allowed == 0 {
                                return Err(budget_violation(format!(
                                    "The disruption budget {bname} needs {} healthy pods and has {} currently",
                                    st["desiredHealthy"].as_i64().unwrap_or(0),
                                    st["currentHealthy"].as_i64().unwrap_or(0)
                                )));
                            }
                            let mut next = cur.clone();
                            // No resourceVersion of ours: a conflict means
                            // another eviction got there first; read again.
                            kubelab_api::meta::metadata_mut(&mut next).remove("resourceVersion");
                            next["status"]["disruptionsAllowed"] = json!(allowed - 1);
                            if allowed == 1
                                && let Some(c) = next["status"]["conditions"]
                                    .as_array_mut()
                                    .and_then(|c| c.iter_mut().find(|c| c["type"] == "DisruptionAllowed"))
                            {
                                c["status"] = json!("False");
                                c["reason"] = json!("InsufficientPods");
                                c["lastTransitionTime"] = json!(kubelab_api::meta::now());
                            }
                            if !next["status"]["disruptedPods"].is_object() {
                                next["status"]["disruptedPods"] = json!({});
                            }
                            next["status"]["disruptedPods"][&name] = json!(kubelab_api::meta::now());
                            Ok(next)
                        })
                        .await?;
                }
            }
        }
        // The pod says why it goes, then goes (gracefully).
        let _ = objects
            .update_with(
                pods,
                Some(&ns),
                &name,
                Some("status"),
                WriteOptions::default(),
                |cur| {
                    let mut next = cur.clone();
                    kubelab_api::meta::metadata_mut(&mut next).remove("resourceVersion");
                    let mut conditions = next["status"]["conditions"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    conditions.retain(|c| c["type"] != "DisruptionTarget");
                    conditions.push(json!({"type": "DisruptionTarget", "status": "True",
                    "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
                    "lastTransitionTime": kubelab_api::meta::now()}));
                    next["status"]["conditions"] = json!(conditions);
                    Ok(next)
                },
            )
            .await;
        // As DELETE does: a pod on a node is only marked, and its kubelet
        // stops it within its grace period (or the eviction's).
        let grace = body["deleteOptions"]["gracePeriodSeconds"].as_i64();
        if objects
            .begin_graceful_deletion(pods, Some(&ns), &name, grace, false)
            .await?
            .is_none()
        {
            objects
                .delete(pods, Some(&ns), &name, None, None, false)
                .await?;
        }
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )
    }
    // ANCHOR_END: eviction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!("34%"), 3), Some(2));
        assert_eq!(scaled(&json!(1), 3), Some(1));
        assert_eq!(scaled(&json!("1"), 3), Some(1));
        assert_eq!(scaled(&json!("0%"), 3), Some(0));
    }
}
