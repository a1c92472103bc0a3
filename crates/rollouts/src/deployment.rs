//! Deployment rollouts: what chapter 09 plugs into chapter 02's
//! Deployment controller ([`kubelab_controllers::deployment::Rollout`]).
//!
//! ```text
//! sync(deployment, its ReplicaSets):
//!     paused?          → Progressing=Unknown DeploymentPaused; only scale
//!     replicas changed while ReplicaSets are mid-rollout
//!                      → scale them all proportionally (a scaling event)
//!     new template     → a new ReplicaSet, revision = highest + 1
//!     RollingUpdate    → rolling_step: grow the new, shrink the old
//!     Recreate         → old ones to 0, wait for their pods, then the new
//!     complete?        → delete old empty ReplicaSets beyond revisionHistoryLimit
//!     status           → Progressing: ReplicaSetUpdated while pods move,
//!                        NewReplicaSetAvailable when done, or False
//!                        ProgressDeadlineExceeded after progressDeadlineSeconds
//!                        without progress
//! ```
//!
//! Revisions live on the ReplicaSets (`deployment.kubernetes.io/revision`):
//! `kubectl rollout history` lists them with the `kubernetes.io/change-cause`
//! annotation copied from the Deployment, and `rollout undo` sends an old
//! template back, which makes its ReplicaSet the new one again with the
//! next revision number (the old number goes to `revision-history`).
//! This is upstream's pkg/controller/deployment (sync.go, rolling.go,
//! recreate.go, progress.go) in one file.

use std::time::Duration;

use serde_json::{Map, Value, json};

use kubelab_client::informer::Informer;
use kubelab_client::rest as client;
use kubelab_client::{Action, Error};
/// Upstream's `MaxSurge`, kept beside `MaxUnavailable` in chapter 02's
/// controller (which resolves both).
pub use kubelab_controllers::deployment::max_surge;
use kubelab_controllers::deployment::{
    DESIRED_REPLICAS, DeploymentController, Rollout, condition, count, max_unavailable,
    push_condition, replicas_of, spec_replicas, split_new, status_int,
};

use crate::rolling::{Bounds, RollingStepFn, Sizes};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// Deployment annotations that are not copied to its ReplicaSets
/// (upstream's `skipCopyAnnotation`).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// `progressDeadlineSeconds` that means "no deadline" (upstream's
/// `math.MaxInt32`).
const NO_DEADLINE: i64 = i32::MAX as i64;

/// Where a Recreate pass got to.
enum Recreate {
    /// Old pods still run (the new ReplicaSet, if it exists already).
    Waiting(Option<Value>),
    Done(Value),
}

pub struct Rollouts {
    pub pods: Informer,
    pub step: RollingStepFn,
}

/// The revision after the highest of `olds`.
fn next_revision(olds: &[Value]) -> i64 {
    olds.iter().map(revision).max().unwrap_or(0) + 1
}

pub fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn is_rolling(d: &Value) -> bool {
    d["spec"]["strategy"]["type"] != "Recreate"
}

fn deadline(d: &Value) -> Option<i64> {
    d["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .filter(|s| *s != NO_DEADLINE)
}

fn sizes(rs: &Value) -> Sizes {
    Sizes {
        replicas: spec_replicas(rs),
        available: status_int(rs, "availableReplicas"),
    }
}

fn annotation<'a>(rs: &'a Value, key: &str) -> Option<&'a str> {
    rs["metadata"]["annotations"][key].as_str()
}

/// The annotations a deployment passes on to its new ReplicaSet.
fn copied_annotations(d: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in d["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if !NOT_COPIED.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Upstream's `IsSaturated`: the new ReplicaSet has every replica, and
/// every one is available.
fn saturated(d: &Value, rs: &Value) -> bool {
    let replicas = replicas_of(d);
    annotation(rs, DESIRED_REPLICAS).and_then(|v| v.parse().ok()) == Some(replicas)
        && spec_replicas(rs) == replicas
        && status_int(rs, "availableReplicas") == replicas
}

/// Upstream's `DeploymentComplete`.
fn complete(d: &Value, status: &Value) -> bool {
    let replicas = replicas_of(d);
    count(status, "updatedReplicas") == replicas
        && count(status, "replicas") == replicas
        && count(status, "availableReplicas") == replicas
        && status["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64()
}

/// Upstream's `DeploymentProgressing`: more pods updated, ready or
/// available than the last status said, or fewer old ones.
fn progressing(d: &Value, status: &Value) -> bool {
    let old = &d["status"];
    let olds = |s: &Value| count(s, "replicas") - count(s, "updatedReplicas");
    olds(status) < olds(old)
        || count(status, "updatedReplicas") > count(old, "updatedReplicas")
        || count(status, "readyReplicas") > count(old, "readyReplicas")
        || count(status, "availableReplicas") > count(old, "availableReplicas")
}

/// How long until the Progressing condition's deadline, `None` when past
/// (or when there is none to watch).
fn time_left(d: &Value, cond: &Value) -> Option<chrono::TimeDelta> {
    let secs = deadline(d)?;
    let from = kubelab_api::meta::time_of(&cond["lastUpdateTime"])?;
    let left = from + chrono::TimeDelta::seconds(secs) - chrono::Utc::now();
    (left > chrono::TimeDelta::zero()).then_some(left)
}

#[async_trait::async_trait]
impl Rollout for Rollouts {
    // ANCHOR: sync
    async fn sync(
        &self,
        c: &DeploymentController,
        d: &Value,
        rss: Vec<Value>,
    ) -> Result<Action, Error> {
        let mut d = d.clone();
        let paused = d["spec"]["paused"] == true;
        self.paused_condition(&mut d, paused);

        let (mut new, mut olds) = split_new(&d, rss);
        olds.sort_by_key(|rs| {
            (
                rs["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(String::from),
                rs["metadata"]["name"].as_str().map(String::from),
            )
        });
        if let Some(rs) = new.as_mut() {
            self.sync_revision(c, &mut d, rs, &olds).await?;
        }

        // Paused, or resized mid-rollout: scale only, no step forward.
        if paused || self.scaling_event(&d, new.as_ref(), &olds) {
            self.scale_proportionally(c, &d, new.as_mut(), &mut olds)
                .await?;
            if paused {
                self.clean_up(c, &d, &olds).await;
            }
            let status = c.status(&d, new.as_ref(), &olds);
            return self.finish(c, &d, new.as_ref(), status).await;
        }

        let new = if is_rolling(&d) {
            let mut new = match new {
                Some(rs) => rs,
                None => self.create(c, &mut d, &olds).await?,
            };
            self.roll(c, &d, &mut new, &mut olds).await?;
            new
        } else {
            match self.recreate(c, &mut d, new, &mut olds).await? {
                Recreate::Done(new) => new,
                Recreate::Waiting(new) => {
                    // This controller does not watch pods: look again soon
                    // for the old ones to be gone (upstream requeues the
                    // deployment when its last old pod is deleted).
                    let status = c.status(&d, new.as_ref(), &olds);
                    self.finish(c, &d, new.as_ref(), status).await?;
                    return Ok(Action::RequeueAfter(Duration::from_secs(1)));
                }
            }
        };
        let status = c.status(&d, Some(&new), &olds);
        if complete(&d, &status) {
            self.clean_up(c, &d, &olds).await;
        }
        self.rollout_status(c, &d, &new, status).await
    }
    // ANCHOR_END: sync
}

impl Rollouts {
    /// `kubectl rollout pause|resume`: Progressing=Unknown with reason
    /// DeploymentPaused, then DeploymentResumed.
    fn paused_condition(&self, d: &mut Value, paused: bool) {
        if deadline(d).is_none() {
            return;
        }
        let reason = kubelab_api::meta::condition(&d["status"]["conditions"], "Progressing")
            .and_then(|c| c["reason"].as_str().map(String::from));
        if reason.as_deref() == Some("ProgressDeadlineExceeded") {
            return; // upstream keeps the verdict while paused
        }
        let cond = if paused && reason.as_deref() != Some("DeploymentPaused") {
            condition(
                d,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
            )
        } else if !paused && reason.as_deref() == Some("DeploymentPaused") {
            condition(
                d,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
            )
        } else {
            return;
        };
        push_condition(&mut d["status"], cond);
    }

    /// An existing new ReplicaSet: becomes the newest revision if it is
    /// not (after `rollout undo`), and gets the deployment's annotations
    /// and `minReadySeconds`.
    async fn sync_revision(
        &self,
        c: &DeploymentController,
        d: &mut Value,
        rs: &mut Value,
        olds: &[Value],
    ) -> Result<(), Error> {
        let next = next_revision(olds);
        let mut updated = rs.clone();
        for (k, v) in copied_annotations(d) {
            updated["metadata"]["annotations"][k] = v;
        }
        let current = revision(rs);
        if current < next {
            updated["metadata"]["annotations"][REVISION] = json!(next.to_string());
            if current > 0 {
                let history = match annotation(rs, REVISION_HISTORY) {
                    Some(h) if !h.is_empty() => format!("{h},{current}"),
                    _ => current.to_string(),
                };
                updated["metadata"]["annotations"][REVISION_HISTORY] = json!(history);
            }
        }
        updated["spec"]["minReadySeconds"] =
            json!(d["spec"]["minReadySeconds"].as_i64().unwrap_or(0));
        if updated != *rs {
            *rs = c
                .client()
                .replace(&client::object_path(rs), &updated)
                .await?;
        }
        let name = rs["metadata"]["name"].as_str().unwrap_or_default();
        if deadline(d).is_some()
            && kubelab_api::meta::condition(&d["status"]["conditions"], "Progressing").is_none()
        {
            let cond = condition(
                d,
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                &format!("Found new replica set \"{name}\""),
            );
            push_condition(&mut d["status"], cond);
        }
        Ok(())
    }

    /// A ReplicaSet for a new template, with the next revision.
    async fn create(
        &self,
        c: &DeploymentController,
        d: &mut Value,
        olds: &[Value],
    ) -> Result<Value, Error> {
        let replicas = replicas_of(d);
        let size = if is_rolling(d) {
            // Upstream's NewRSNewReplicas: as far as the surge allows.
            let total: i64 = olds.iter().map(spec_replicas).sum();
            (replicas + max_surge(d) - total).clamp(0, replicas)
        } else {
            replicas
        };
        let mut annotations = copied_annotations(d);
        let next = next_revision(olds);
        annotations.insert(REVISION.into(), json!(next.to_string()));
        annotations.insert(
            MAX_REPLICAS.into(),
            json!((replicas + max_surge(d)).to_string()),
        );
        let rs = c.create_replicaset(d, size, annotations).await?;
        if deadline(d).is_some() {
            let name = rs["metadata"]["name"].as_str().unwrap_or_default();
            let cond = condition(
                d,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                &format!("Created new replica set \"{name}\""),
            );
            push_condition(&mut d["status"], cond);
        }
        Ok(rs)
    }

    async fn scale(
        &self,
        c: &DeploymentController,
        d: &Value,
        rs: &mut Value,
        to: i64,
    ) -> Result<(), Error> {
        let max = (replicas_of(d) + max_surge(d)).to_string();
        c.scale(d, rs, to, &[(MAX_REPLICAS, max)]).await
    }

    // ANCHOR: roll
    /// RollingUpdate: one step of [`crate::rolling`], applied.
    async fn roll(
        &self,
        c: &DeploymentController,
        d: &Value,
        new: &mut Value,
        olds: &mut [Value],
    ) -> Result<(), Error> {
        let bounds = Bounds {
            replicas: replicas_of(d),
            max_surge: max_surge(d),
            max_unavailable: max_unavailable(d),
        };
        let old_sizes: Vec<Sizes> = olds.iter().map(sizes).collect();
        let step = (self.step)(&bounds, sizes(new), &old_sizes);
        self.scale(c, d, new, step.new).await?;
        for (rs, to) in olds.iter_mut().zip(step.olds) {
            if to != spec_replicas(rs) {
                self.scale(c, d, rs, to.max(0)).await?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: roll

    /// Recreate: every old pod gone before the first new one starts.
    async fn recreate(
        &self,
        c: &DeploymentController,
        d: &mut Value,
        new: Option<Value>,
        olds: &mut [Value],
    ) -> Result<Recreate, Error> {
        let mut scaled_down = false;
        for rs in olds.iter_mut().filter(|rs| spec_replicas(rs) > 0) {
            self.scale(c, d, rs, 0).await?;
            scaled_down = true;
        }
        if scaled_down || self.old_pods_running(d, olds) {
            return Ok(Recreate::Waiting(new));
        }
        let mut new = match new {
            Some(rs) => rs,
            None => self.create(c, d, olds).await?,
        };
        self.scale(c, d, &mut new, replicas_of(d)).await?;
        Ok(Recreate::Done(new))
    }

    /// Upstream's `oldPodsRunning`: pods of old ReplicaSets that have not
    /// finished, terminating ones included.
    fn old_pods_running(&self, d: &Value, olds: &[Value]) -> bool {
        let ns = d["metadata"]["namespace"].as_str();
        let uids: Vec<&str> = olds
            .iter()
            .filter_map(|rs| rs["metadata"]["uid"].as_str())
            .collect();
        self.pods.list(ns).iter().any(|p| {
            kubelab_client::controller_uid(p).is_some_and(|u| uids.contains(&u))
                && !kubelab_api::pod::is_terminal(p)
        })
    }

    /// Upstream's `isScalingEvent`: an active ReplicaSet was sized for a
    /// different `replicas` than the deployment has now.
    fn scaling_event(&self, d: &Value, new: Option<&Value>, olds: &[Value]) -> bool {
        let replicas = replicas_of(d);
        new.into_iter()
            .chain(olds)
            .filter(|rs| spec_replicas(rs) > 0)
            .filter_map(|rs| annotation(rs, DESIRED_REPLICAS)?.parse::<i64>().ok())
            .any(|desired| desired != replicas)
    }

    // ANCHOR: proportional
    /// Upstream's `scale`: with one active ReplicaSet, it gets `replicas`;
    /// with several (a rollout under way), the change is shared out in
    /// proportion to their sizes, so the rollout's progress is kept.
    async fn scale_proportionally(
        &self,
        c: &DeploymentController,
        d: &Value,
        mut new: Option<&mut Value>,
        olds: &mut [Value],
    ) -> Result<(), Error> {
        let replicas = replicas_of(d);
        let active: Vec<usize> = (0..olds.len())
            .filter(|i| spec_replicas(&olds[*i]) > 0)
            .collect();
        let new_active = new.as_ref().is_some_and(|rs| spec_replicas(rs) > 0);
        match (new_active, active.len()) {
            (false, 0) => {
                // Nothing runs: the newest ReplicaSet gets them all.
                if let Some(rs) = new {
                    return self.scale(c, d, rs, replicas).await;
                }
                if let Some(rs) = olds.last_mut() {
                    return self.scale(c, d, rs, replicas).await;
                }
                return Ok(());
            }
            (true, 0) => {
                return self.scale(c, d, new.unwrap(), replicas).await;
            }
            (false, 1) => return self.scale(c, d, &mut olds[active[0]], replicas).await,
            _ => {}
        }
        if let Some(rs) = new.as_deref()
            && saturated(d, rs)
        {
            for rs in olds.iter_mut() {
                self.scale(c, d, rs, 0).await?;
            }
            return Ok(());
        }
        if !is_rolling(d) {
            return Ok(());
        }
        // (size, newest-first order key, where) of every active ReplicaSet.
        let mut all: Vec<(i64, String, Option<usize>)> = active
            .iter()
            .map(|i| (spec_replicas(&olds[*i]), created(&olds[*i]), Some(*i)))
            .collect();
        if let Some(rs) = new.as_deref() {
            all.push((spec_replicas(rs), created(rs), None));
        }
        let allowed = if replicas > 0 {
            replicas + max_surge(d)
        } else {
            0
        };
        let to_add = allowed - all.iter().map(|a| a.0).sum::<i64>();
        // Biggest first; on a tie the newest when growing, the oldest when
        // shrinking.
        all.sort_by(|a, b| {
            b.0.cmp(&a.0).then_with(|| {
                if to_add > 0 {
                    b.1.cmp(&a.1)
                } else {
                    a.1.cmp(&b.1)
                }
            })
        });
        let total_before = d["status"]["replicas"].as_i64().unwrap_or(0);
        let mut added = 0;
        let mut targets: Vec<i64> = Vec::new();
        for (size, _, at) in &all {
            let rs = match at {
                Some(i) => &olds[*i],
                None => new.as_deref().unwrap(),
            };
            let share = proportion(d, rs, *size, allowed, total_before, to_add, added);
            added += share;
            targets.push(size + share);
        }
        if to_add != 0 && !targets.is_empty() {
            targets[0] = (targets[0] + to_add - added).max(0);
        }
        for ((_, _, at), to) in all.iter().zip(targets) {
            match at {
                Some(i) => self.scale(c, d, &mut olds[*i], to).await?,
                None => self.scale(c, d, new.as_deref_mut().unwrap(), to).await?,
            }
        }
        Ok(())
    }
    // ANCHOR_END: proportional

    /// Old, empty ReplicaSets beyond `revisionHistoryLimit` go, oldest
    /// revision first.
    async fn clean_up(&self, c: &DeploymentController, d: &Value, olds: &[Value]) {
        let Some(limit) = d["spec"]["revisionHistoryLimit"].as_i64() else {
            return;
        };
        let mut alive: Vec<&Value> = olds
            .iter()
            .filter(|rs| !kubelab_api::meta::is_being_deleted(rs))
            .collect();
        let extra = alive.len() as i64 - limit.max(0);
        if extra <= 0 {
            return;
        }
        alive.sort_by_key(|rs| revision(rs));
        for rs in alive.into_iter().take(extra as usize) {
            let observed = rs["status"]["observedGeneration"].as_i64().unwrap_or(0);
            if spec_replicas(rs) != 0
                || status_int(rs, "replicas") != 0
                || rs["metadata"]["generation"].as_i64().unwrap_or(0) > observed
            {
                continue;
            }
            let _ = c
                .client()
                .delete(&client::object_path(rs), &json!({}))
                .await;
        }
    }

    // ANCHOR: progress
    /// Upstream's `syncRolloutStatus`: the Progressing condition, and a
    /// wake-up at the deadline.
    async fn rollout_status(
        &self,
        c: &DeploymentController,
        d: &Value,
        new: &Value,
        mut status: Value,
    ) -> Result<Action, Error> {
        let name = new["metadata"]["name"].as_str().unwrap_or_default();
        let current =
            kubelab_api::meta::condition(&d["status"]["conditions"], "Progressing").cloned();
        let mut requeue = None;
        if deadline(d).is_none() {
            if let Some(cs) = status["conditions"].as_array_mut() {
                cs.retain(|c| c["type"] != "Progressing");
            }
        } else {
            let done_before = count(&status, "replicas") == count(&status, "updatedReplicas")
                && current
                    .as_ref()
                    .is_some_and(|c| c["reason"] == "NewReplicaSetAvailable");
            if !done_before {
                if complete(d, &status) {
                    let cond = condition(
                        d,
                        "Progressing",
                        "True",
                        "NewReplicaSetAvailable",
                        &format!("ReplicaSet \"{name}\" has successfully progressed."),
                    );
                    push_condition(&mut status, cond);
                } else if progressing(d, &status) {
                    // Progress: a fresh lastUpdateTime restarts the clock.
                    let now = kubelab_api::meta::now();
                    let transition = current
                        .as_ref()
                        .filter(|c| c["status"] == "True")
                        .map(|c| c["lastTransitionTime"].clone())
                        .unwrap_or(json!(now));
                    let cond = json!({"type": "Progressing", "status": "True",
                        "lastUpdateTime": now, "lastTransitionTime": transition,
                        "reason": "ReplicaSetUpdated",
                        "message": format!("ReplicaSet \"{name}\" is progressing.")});
                    // Removed and added again (upstream does the same), so
                    // the refreshed time is kept even with the same reason.
                    if let Some(cs) = status["conditions"].as_array_mut() {
                        cs.retain(|c| c["type"] != "Progressing");
                    }
                    push_condition(&mut status, cond);
                    requeue = deadline(d).map(|s| Duration::from_secs(s as u64 + 1));
                } else if let Some(cur) = &current {
                    match time_left(d, cur) {
                        Some(left) if cur["reason"] != "ProgressDeadlineExceeded" => {
                            requeue =
                                Some(left.to_std().unwrap_or_default() + Duration::from_secs(1));
                        }
                        _ if cur["reason"] == "NewReplicaSetAvailable" => {}
                        _ => {
                            let cond = condition(
                                d,
                                "Progressing",
                                "False",
                                "ProgressDeadlineExceeded",
                                &format!("ReplicaSet \"{name}\" has timed out progressing."),
                            );
                            push_condition(&mut status, cond);
                        }
                    }
                }
            }
        }
        self.finish(c, d, Some(new), status).await?;
        Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
    }
    // ANCHOR_END: progress

    /// Records the new revision on the deployment, then writes the status.
    async fn finish(
        &self,
        c: &DeploymentController,
        d: &Value,
        new: Option<&Value>,
        status: Value,
    ) -> Result<Action, Error> {
        if let Some(rs) = new {
            let rev = revision(rs).to_string();
            if annotation(d, REVISION) != Some(rev.as_str()) && rev != "0" {
                let patch = json!({"metadata": {"annotations": {REVISION: rev}}});
                c.client()
                    .merge_patch(&client::object_path(d), &patch)
                    .await?;
                // The patch brings another pass, which writes the status.
                return Ok(Action::Done);
            }
        }
        c.write_status(d, status).await?;
        Ok(Action::Done)
    }
}

fn created(rs: &Value) -> String {
    rs["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Upstream's `GetProportion`: a ReplicaSet's share of `to_add`, from its
/// size relative to the deployment's size when it was last scaled
/// (`max-replicas`), capped by what is left to share.
fn proportion(
    d: &Value,
    rs: &Value,
    size: i64,
    allowed: i64,
    total_before: i64,
    to_add: i64,
    added: i64,
) -> i64 {
    if size == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if replicas_of(d) == 0 {
        -size
    } else {
        let before = annotation(rs, MAX_REPLICAS)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(total_before.max(1));
        ((size * allowed) as f64 / before as f64).round() as i64 - size
    };
    let left = to_add - added;
    if to_add > 0 {
        fraction.min(left)
    } else {
        fraction.max(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mid_rollout_resize_is_shared_by_size() {
        // 10 replicas (max 13) split 8 old / 5 new; scaled to 20 (max 25):
        // the old one grows to round(8 × 25 / 13) = 15, the new one
        // to round(5 × 25 / 13) = 10; 25 in all.
        let d = json!({"spec": {"replicas": 20}, "status": {"replicas": 13}});
        let old = json!({"metadata": {"annotations": {MAX_REPLICAS: "13"}}});
        assert_eq!(proportion(&d, &old, 8, 25, 13, 12, 0), 7);
        assert_eq!(proportion(&d, &old, 5, 25, 13, 12, 7), 5);
        // Capped by what is left.
        assert_eq!(proportion(&d, &old, 5, 25, 13, 12, 10), 2);
    }

    #[test]
    fn progress_means_more_updated_ready_or_available_or_fewer_old() {
        let d = json!({"status": {"replicas": 5, "updatedReplicas": 1, "readyReplicas": 4, "availableReplicas": 4}});
        let same = d["status"].clone();
        assert!(!progressing(&d, &same));
        let fewer_old = json!({"replicas": 4, "updatedReplicas": 1, "readyReplicas": 4, "availableReplicas": 4});
        assert!(progressing(&d, &fewer_old));
        let more_ready = json!({"replicas": 5, "updatedReplicas": 1, "readyReplicas": 5, "availableReplicas": 4});
        assert!(progressing(&d, &more_ready));
    }
}
