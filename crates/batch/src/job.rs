//! The Job controller: run pods until enough of them succeed.
//!
//! A Deployment's pods should run forever; a Job's should *finish*. The
//! controller keeps `parallelism` pods running until `completions` of them
//! have succeeded, replaces failed ones after a growing back-off, and gives
//! up after `backoffLimit` failures or `activeDeadlineSeconds`.
//!
//! ```text
//! reconcile(job):
//!     finished?              → release pods, honour ttlSecondsAfterFinished, stop
//!     1. count what finished, exactly once (the tracking finalizer, below)
//!     2. suspended?          → delete active pods, condition Suspended
//!     3. failed?  (backoffLimit, activeDeadlineSeconds, a podFailurePolicy FailJob rule)
//!                            → delete active pods, FailureTarget, then Failed
//!     4. succeeded? (completions reached; Indexed: every index)
//!                            → SuccessCriteriaMet, then Complete
//!     5. otherwise           → create pods up to parallelism (after the back-off
//!                              10 s · 2^(failures−1), at most 10 min), or delete extra
//!     write status (active, ready, succeeded, failed, terminating, conditions)
//! ```
//!
//! **Counting exactly once.** Pods are created with the finalizer
//! `batch.kubernetes.io/job-tracking`, so a finished pod cannot vanish
//! before it is counted. Counting is three writes, each safe to crash
//! after (upstream's `trackJobStatusAndRemoveFinalizers`):
//!
//! 1. the finished pods' uids go into `status.uncountedTerminatedPods`;
//! 2. their finalizers are removed;
//! 3. the uids move from `uncountedTerminatedPods` into `succeeded`/`failed`.
//!
//! A pod with the finalizer whose uid is not yet listed is new; a pod
//! without it was counted. Stop kubelab anywhere in between and start it
//! again: nothing is lost or counted twice.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kubelab_api::meta::time_of;
use kubelab_api::selector::LabelSelector;
use kubelab_controllers::replicaset::Expectations;
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{
    Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue, controller_uid,
};

pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// Upstream's `DefaultJobPodFailureBackOff` and `MaxJobPodFailureBackOff`.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// Most pods created in one reconcile.
const BURST: usize = 500;
/// API writes in flight at once for one Job (pod creations, finalizers).
const PARALLEL_WRITES: usize = 32;

pub struct JobController {
    client: Client,
    jobs: Informer,
    pods: Informer,
    events: EventRecorder,
    expectations: Expectations,
    /// The resourceVersion of each Job's last status write: a cached copy
    /// older than that would count from stale numbers (and create pods
    /// for completions already counted).
    written: Mutex<HashMap<String, u64>>,
    /// Pods whose finalizer we removed, until the cache shows it gone:
    /// a cached copy that still has it must not be counted again
    /// (upstream's `expectedRmFinalizers`). Pruned against each
    /// reconcile's own snapshot of the pods, never from events, which
    /// may be newer than that snapshot.
    released: Mutex<HashMap<String, HashSet<String>>>,
}

fn revision_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Why a Job failed: `(reason, message)` of its Failed condition.
type Failure = (&'static str, String);

impl JobController {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<JobController> {
        let client = client.named("kube-controller-manager/job-controller");
        let c = Arc::new(JobController {
            events: EventRecorder::new(&client, "job-controller", None),
            client,
            jobs: informers.of("batch/v1", "Job"),
            pods: informers.of("v1", "Pod"),
            expectations: Expectations::default(),
            written: Mutex::default(),
            released: Mutex::default(),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.jobs, &queue, |ch| vec![key_of(ch.object())]);
        let me = c.clone();
        kubelab_client::feed(&c.pods, &queue, move |ch| me.keys_for_pod(ch));
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            4,
            vec![c.jobs.clone(), c.pods.clone()],
        ));
        c
    }

    fn keys_for_pod(&self, change: &Change) -> Vec<String> {
        let pod = change.object();
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let Some(owner) = kubelab_api::meta::controller_of(pod).filter(|o| o["kind"] == "Job")
        else {
            return vec![];
        };
        let key = format!("{ns}/{}", owner["name"].as_str().unwrap_or_default());
        match change {
            Change::Added(_) => self.expectations.observed(&key, true),
            Change::Deleted(_) => self.expectations.observed(&key, false),
            Change::Modified { .. } => {}
        }
        vec![key]
    }
}

/// `namespace/name` of the Job that controls `pod`.
fn key_of_owner(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        kubelab_api::meta::controller_of(pod)
            .and_then(|o| o["name"].as_str())
            .unwrap_or_default()
    )
}

fn has_finalizer(pod: &Value) -> bool {
    kubelab_api::meta::finalizers(pod)
        .iter()
        .any(|f| f == TRACKING_FINALIZER)
}

/// Does the Job's condition `ty` hold (`status: "True"`)?
pub fn condition_true(job: &Value, ty: &str) -> bool {
    kubelab_api::meta::condition(&job["status"]["conditions"], ty)
        .is_some_and(|c| c["status"] == "True")
}

/// Complete or Failed: nothing more will run.
pub fn is_finished(job: &Value) -> bool {
    condition_true(job, "Complete") || condition_true(job, "Failed")
}

/// Upstream's `isPodFailed` (podReplacementPolicy TerminatingOrFailed):
/// Failed, or deleted before it succeeded.
fn pod_failed(pod: &Value, job: &Value) -> bool {
    if pod["status"]["phase"] == "Failed" {
        return true;
    }
    if job["spec"]["podReplacementPolicy"] == "Failed" {
        return false;
    }
    kubelab_api::meta::is_being_deleted(pod) && pod["status"]["phase"] != "Succeeded"
}

/// `"0-2,4"` → {0, 1, 2, 4}.
pub fn parse_indexes(s: &str) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<i64>().ok()),
        }
    }
    out
}

/// {0, 1, 2, 4, 6, 7} → `"0-2,4,6,7"` (`status.completedIndexes`): runs
/// of three or more as ranges.
pub fn format_indexes(set: &BTreeSet<i64>) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last = iter.next().unwrap_or(last);
        }
        match last - first {
            0 => parts.push(first.to_string()),
            1 => parts.push(format!("{first},{last}")),
            _ => parts.push(format!("{first}-{last}")),
        }
    }
    parts.join(",")
}

fn pod_index(pod: &Value) -> Option<i64> {
    pod["metadata"]["annotations"][INDEX_ANNOTATION]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// When a pod finished: its containers' latest `finishedAt`.
fn finished_at(pod: &Value) -> Option<DateTime<Utc>> {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| time_of(&c["state"]["terminated"]["finishedAt"]))
        .max()
}

// ANCHOR: pod_failure_policy
/// The first `podFailurePolicy` rule that a failed pod matches:
/// `(action, message)`. Exit codes are those of its containers that ended
/// non-zero; conditions are the pod's own (`DisruptionTarget`, …).
pub fn match_failure_policy(job: &Value, pod: &Value) -> Option<(String, String)> {
    let rules = job["spec"]["podFailurePolicy"]["rules"].as_array()?;
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let pname = pod["metadata"]["name"].as_str().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let action = rule["action"].as_str().unwrap_or_default();
        if let Some(req) = rule.get("onExitCodes").filter(|r| r.is_object()) {
            let values: Vec<i64> = req["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .collect();
            let statuses = ["initContainerStatuses", "containerStatuses"]
                .iter()
                .flat_map(|k| pod["status"][k].as_array().cloned().unwrap_or_default());
            for c in statuses {
                let Some(code) = c["state"]["terminated"]["exitCode"].as_i64() else {
                    continue;
                };
                let named = req["containerName"].as_str().is_none_or(|n| c["name"] == n);
                let listed = values.contains(&code);
                let hit = match req["operator"].as_str() {
                    Some("In") => listed,
                    Some("NotIn") => !listed,
                    _ => false,
                };
                if code != 0 && named && hit {
                    return Some((
                        action.to_string(),
                        format!(
                            "Container {} for pod {ns}/{pname} failed with exit code {code} matching {action} rule at index {i}",
                            c["name"].as_str().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        for pattern in rule["onPodConditions"].as_array().into_iter().flatten() {
            let ty = pattern["type"].as_str().unwrap_or_default();
            let want = pattern["status"].as_str().unwrap_or("True");
            if kubelab_api::meta::condition(&pod["status"]["conditions"], ty)
                .is_some_and(|c| c["status"] == want)
            {
                return Some((
                    action.to_string(),
                    format!(
                        "Pod {ns}/{pname} has condition {ty} matching {action} rule at index {i}"
                    ),
                ));
            }
        }
    }
    None
}
// ANCHOR_END: pod_failure_policy

/// The delay before a replacement after `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let d = BACKOFF_BASE.saturating_mul(1u32 << (failures - 1).min(16));
    d.min(BACKOFF_MAX)
}

#[async_trait::async_trait]
impl Reconciler for JobController {
    fn name(&self) -> &'static str {
        "job-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(mut job) = self.jobs.get(key) else {
            self.written.lock().unwrap().remove(key);
            self.released.lock().unwrap().remove(key);
            self.release_orphans(key).await?;
            return Ok(Action::Done);
        };
        // Our own last write has not reached the cache yet: its event will
        // bring us back with the numbers it wrote.
        if self
            .written
            .lock()
            .unwrap()
            .get(key)
            .is_some_and(|w| revision_of(&job) < *w)
        {
            return Ok(Action::RequeueAfter(Duration::from_millis(50)));
        }
        let uid = job["metadata"]["uid"].as_str().unwrap_or_default();
        let Ok(selector) = LabelSelector::from_object(&job["spec"]["selector"]) else {
            return Ok(Action::Done);
        };
        // Before the snapshot of the pods, as upstream does: expectations
        // met *after* it would let us create pods it does not show yet.
        let may_create = self.expectations.satisfied(key);
        let pods: Vec<Arc<Value>> = self
            .pods
            .list(split_key(key).0)
            .into_iter()
            .filter(|p| controller_uid(p) == Some(uid) && selector.matches_object(p))
            .collect();
        // Forget released pods once this snapshot shows them without the
        // finalizer (or without them at all, for this Job's pods).
        {
            let holding: HashSet<&str> = pods
                .iter()
                .filter(|p| has_finalizer(p))
                .filter_map(|p| p["metadata"]["uid"].as_str())
                .collect();
            if let Some(set) = self.released.lock().unwrap().get_mut(key) {
                set.retain(|u| holding.contains(u.as_str()));
            }
        }
        let released: HashSet<String> = self
            .released
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default();
        if is_finished(&job) {
            let held: Vec<&Arc<Value>> = pods.iter().filter(|p| has_finalizer(p)).collect();
            self.remove_finalizers(&held).await?;
            return self.after_finished(&job).await;
        }
        let now = Utc::now();
        let indexed = job["spec"]["completionMode"] == "Indexed";
        let suspended = job["spec"]["suspend"] == true;
        let mut status = job["status"].clone();
        if !status.is_object() {
            status = json!({});
        }

        // 1. Count the pods that finished since the last time, exactly once.
        let mut counted_ok: Vec<String> = uids(&status, "succeeded");
        let mut counted_failed: Vec<String> = uids(&status, "failed");
        let mut completed = parse_indexes(status["completedIndexes"].as_str().unwrap_or(""));
        let mut failure: Option<Failure> = None;
        let mut ignored = Vec::new();
        let mut fresh = false;
        let known: HashSet<String> = counted_ok.iter().chain(&counted_failed).cloned().collect();
        for p in pods.iter().filter(|p| has_finalizer(p)) {
            let puid = p["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if known.contains(&puid) || released.contains(&puid) {
                continue;
            }
            if p["status"]["phase"] == "Succeeded" {
                if let Some(i) = pod_index(p).filter(|_| indexed) {
                    completed.insert(i);
                }
                counted_ok.push(puid);
                fresh = true;
            } else if pod_failed(p, &job) {
                if suspended && kubelab_api::meta::is_being_deleted(p) {
                    ignored.push(p.clone()); // deleted because we suspended
                    continue;
                }
                match match_failure_policy(&job, p) {
                    Some((action, _)) if action == "Ignore" => {
                        ignored.push(p.clone());
                        continue;
                    }
                    Some((action, message)) if action == "FailJob" => {
                        failure.get_or_insert(("PodFailurePolicy", message));
                    }
                    _ => {}
                }
                counted_failed.push(puid);
                fresh = true;
            }
        }
        if fresh {
            // Write 1: the uids, before any finalizer goes — and a FailJob
            // verdict with them (the pod may be gone by the next look).
            status["uncountedTerminatedPods"] =
                json!({"succeeded": counted_ok, "failed": counted_failed});
            if indexed {
                status["completedIndexes"] = json!(format_indexes(&completed));
            }
            if let Some((reason, message)) = &failure {
                set_condition(&mut status, "FailureTarget", "True", reason, message);
            }
            job = Arc::new(self.write_status(&job, &status).await?);
        }
        // Write 2: the finalizers of everything listed (and ignored) go.
        let listed: HashSet<&String> = counted_ok.iter().chain(&counted_failed).collect();
        let release: Vec<&Arc<Value>> = pods
            .iter()
            .filter(|p| has_finalizer(p))
            .filter(|p| !released.contains(p["metadata"]["uid"].as_str().unwrap_or_default()))
            .filter(|p| {
                let puid = p["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                listed.contains(&puid) || ignored.iter().any(|i| Arc::ptr_eq(i, p))
            })
            .collect();
        self.remove_finalizers(&release).await?;
        // Write 3 (with the rest of the status, below): listed → counted.
        let succeeded = if indexed {
            completed.len() as i64
        } else {
            status["succeeded"].as_i64().unwrap_or(0) + counted_ok.len() as i64
        };
        let failed = status["failed"].as_i64().unwrap_or(0) + counted_failed.len() as i64;
        status["uncountedTerminatedPods"] = json!({});
        status["succeeded"] = json!(succeeded);
        status["failed"] = json!(failed);

        let active: Vec<&Arc<Value>> = pods
            .iter()
            .filter(|p| {
                !kubelab_api::pod::is_terminal(p) && !kubelab_api::meta::is_being_deleted(p)
            })
            .collect();
        let terminating = pods
            .iter()
            .filter(|p| kubelab_api::meta::is_being_deleted(p) && !kubelab_api::pod::is_terminal(p))
            .count();
        let completions = job["spec"]["completions"].as_i64();
        let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1).max(0) as usize;
        let mut requeue: Option<Duration> = None;

        // 2. Suspended: no pods run; the clock stops.
        let was_suspended = condition_true(&job, "Suspended");
        if suspended {
            for p in &active {
                self.delete_pod(&job, p).await?;
            }
            if !was_suspended {
                self.events.normal(&job, "Suspended", "Job suspended");
            }
            set_condition(
                &mut status,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
            );
            if let Some(s) = status.as_object_mut() {
                s.remove("startTime");
            }
        } else {
            if was_suspended {
                self.events.normal(&job, "Resumed", "Job resumed");
                set_condition(
                    &mut status,
                    "Suspended",
                    "False",
                    "JobResumed",
                    "Job resumed",
                );
            }
            if status["startTime"].is_null() {
                status["startTime"] = json!(kubelab_api::meta::now());
            }
        }

        // 3. Failed?
        let backoff_limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
        // Under OnFailure a pod never fails: its containers restart in
        // place, and those restarts count against the limit instead.
        let restarts: i64 = if job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure" {
            active
                .iter()
                .flat_map(|p| {
                    ["initContainerStatuses", "containerStatuses"]
                        .iter()
                        .flat_map(|k| p["status"][k].as_array().cloned().unwrap_or_default())
                })
                .filter_map(|c| c["restartCount"].as_i64())
                .sum()
        } else {
            0
        };
        let restarts_exceeded = if backoff_limit == 0 {
            restarts > 0
        } else {
            restarts >= backoff_limit
        };
        if failure.is_none() && (failed > backoff_limit || restarts_exceeded) {
            failure = Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".into(),
            ));
        }
        let started = time_of(&status["startTime"]);
        if let (Some(deadline), Some(start), false) = (
            job["spec"]["activeDeadlineSeconds"].as_i64(),
            started,
            suspended,
        ) {
            let ends = start + chrono::Duration::seconds(deadline);
            if failure.is_none() && now >= ends {
                failure = Some((
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline".into(),
                ));
            } else if now < ends {
                requeue = Some((ends - now).to_std().unwrap_or_default());
            }
        }
        if let Some((reason, message)) = failure.clone().or_else(|| failure_target(&job)) {
            for p in &active {
                self.delete_pod(&job, p).await?;
            }
            set_condition(&mut status, "FailureTarget", "True", reason, &message);
            if active.is_empty() && terminating == 0 {
                set_condition(&mut status, "Failed", "True", reason, &message);
                self.events.warning(&job, reason, message);
            }
            status["active"] = json!(0);
            status["ready"] = json!(0);
            status["terminating"] = json!(terminating + active.len());
            self.write_status(&job, &status).await?;
            return Ok(Action::Done);
        }

        // 4. Succeeded?
        let done = match (indexed, completions) {
            (true, Some(c)) => succeeded >= c,
            (false, Some(c)) => succeeded >= c,
            // A work queue: done once one pod succeeded and none runs.
            (_, None) => succeeded > 0 && active.is_empty(),
        };
        if done {
            for p in &active {
                self.delete_pod(&job, p).await?;
            }
            let msg = "Reached expected number of succeeded pods";
            set_condition(
                &mut status,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                msg,
            );
            if active.is_empty() && terminating == 0 {
                set_condition(&mut status, "Complete", "True", "CompletionsReached", msg);
                status["completionTime"] = json!(kubelab_api::meta::now());
                self.events.normal(&job, "Completed", "Job completed");
            }
            status["active"] = json!(0);
            status["ready"] = json!(0);
            status["terminating"] = json!(terminating + active.len());
            self.write_status(&job, &status).await?;
            return Ok(Action::Done);
        }

        // 5. Create or delete pods towards `parallelism`.
        if !suspended && may_create {
            let want = match completions {
                Some(c) if !indexed => ((c - succeeded).max(0) as usize).min(parallelism),
                Some(c) => {
                    let missing = (0..c).filter(|i| !completed.contains(i)).count();
                    missing.min(parallelism)
                }
                // Work queue: once one succeeded, no new pods.
                None if succeeded > 0 => active.len().min(parallelism),
                None => parallelism,
            };
            // podReplacementPolicy Failed: a pod being deleted still holds
            // its place until it has failed.
            let occupied = if job["spec"]["podReplacementPolicy"] == "Failed" {
                active.len() + terminating
            } else {
                active.len()
            };
            if occupied < want {
                let wait = self.backoff_remaining(&pods, now);
                if wait > Duration::ZERO {
                    requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
                } else {
                    let n = (want - occupied).min(BURST);
                    let indexes: Vec<Option<i64>> = if indexed {
                        let running: BTreeSet<i64> =
                            active.iter().filter_map(|p| pod_index(p)).collect();
                        (0..completions.unwrap_or(0))
                            .filter(|i| !completed.contains(i) && !running.contains(i))
                            .take(n)
                            .map(Some)
                            .collect()
                    } else {
                        vec![None; n]
                    };
                    self.expectations.expect(key, indexes.len() as i64, 0);
                    // Many at once, as upstream's parallel batches do.
                    futures::stream::iter(indexes)
                        .map(|index| self.create_pod(&job, index))
                        .buffer_unordered(PARALLEL_WRITES)
                        .collect::<Vec<()>>()
                        .await;
                }
            } else if active.len() > want {
                let mut extra: Vec<&&Arc<Value>> = active.iter().collect();
                // Not yet running first, then not ready, then the newest.
                extra.sort_by_key(|p| {
                    (
                        p["status"]["phase"] == "Running",
                        kubelab_api::pod::is_ready(p),
                        std::cmp::Reverse(
                            p["metadata"]["creationTimestamp"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        ),
                    )
                });
                tracing::debug!(
                    "{key}: {} active, {want} wanted: deleting the rest",
                    active.len()
                );
                for p in extra.into_iter().take(active.len() - want) {
                    self.delete_pod(&job, p).await?;
                }
            }
        }
        status["active"] = json!(active.len());
        status["ready"] = json!(
            active
                .iter()
                .filter(|p| kubelab_api::pod::is_ready(p))
                .count()
        );
        status["terminating"] = json!(terminating);
        if status != job["status"] {
            self.write_status(&job, &status).await?;
        }
        Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
    }
    // ANCHOR_END: reconcile
}

/// A FailureTarget already decided (before a restart): the job fails.
fn failure_target(job: &Value) -> Option<Failure> {
    let c = kubelab_api::meta::condition(&job["status"]["conditions"], "FailureTarget")?;
    if c["status"] != "True" {
        return None;
    }
    let reason = match c["reason"].as_str()? {
        "BackoffLimitExceeded" => "BackoffLimitExceeded",
        "DeadlineExceeded" => "DeadlineExceeded",
        _ => "PodFailurePolicy",
    };
    Some((
        reason,
        c["message"].as_str().unwrap_or_default().to_string(),
    ))
}

fn uids(status: &Value, which: &str) -> Vec<String> {
    status["uncountedTerminatedPods"][which]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(String::from))
        .collect()
}

/// Sets (or replaces) a condition; its transition time moves only when its
/// status changes.
fn set_condition(status: &mut Value, ty: &str, value: &str, reason: &str, message: &str) {
    let now = kubelab_api::meta::now();
    let since = kubelab_api::meta::transition_time(&status["conditions"], ty, value, &now);
    let c = json!({"type": ty, "status": value, "reason": reason, "message": message,
        "lastProbeTime": now, "lastTransitionTime": since});
    let mut list: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    match list.iter_mut().find(|x| x["type"] == ty) {
        Some(x) if x["status"] == value && x["reason"] == reason => {}
        Some(x) => *x = c,
        None => list.push(c),
    }
    status["conditions"] = json!(list);
}

impl JobController {
    /// Time left before the next pod may be created: the back-off after
    /// the failures since the last success, counted from the last failure.
    fn backoff_remaining(&self, pods: &[Arc<Value>], now: DateTime<Utc>) -> Duration {
        let last_success = pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Succeeded")
            .filter_map(|p| finished_at(p))
            .max();
        let failures: Vec<DateTime<Utc>> = pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Failed")
            .filter_map(|p| finished_at(p))
            .filter(|t| last_success.is_none_or(|s| *t > s))
            .collect();
        let Some(last) = failures.iter().max() else {
            return Duration::ZERO;
        };
        let ready_at =
            *last + chrono::Duration::from_std(backoff(failures.len() as u32)).unwrap_or_default();
        (ready_at - now).to_std().unwrap_or_default()
    }

    /// A pod from the template: owned by the job, tracked by the
    /// finalizer, and (Indexed) given its index.
    async fn create_pod(&self, job: &Value, index: Option<i64>) {
        let name = job["metadata"]["name"].as_str().unwrap_or_default();
        let key = key_of(job);
        let mut metadata = kubelab_controllers::replicaset::template_pod_metadata(job);
        metadata["generateName"] = json!(match index {
            Some(i) => format!("{name}-{i}-"),
            None => format!("{name}-"),
        });
        metadata["finalizers"] = json!([TRACKING_FINALIZER]);
        let mut spec = job["spec"]["template"]["spec"].clone();
        if let Some(i) = index {
            metadata["annotations"][INDEX_ANNOTATION] = json!(i.to_string());
            metadata["labels"][INDEX_ANNOTATION] = json!(i.to_string());
            spec["hostname"] = json!(format!("{name}-{i}"));
            let env = json!({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "fieldPath": format!("metadata.labels['{INDEX_ANNOTATION}']")}}});
            for list in ["initContainers", "containers"] {
                for c in spec[list].as_array_mut().into_iter().flatten() {
                    let mut vars = c["env"].as_array().cloned().unwrap_or_default();
                    vars.retain(|v| v["name"] != "JOB_COMPLETION_INDEX");
                    vars.push(env.clone());
                    c["env"] = json!(vars);
                }
            }
        }
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
        let list = client::path(
            client::resource("v1", "Pod"),
            job["metadata"]["namespace"].as_str(),
            None,
        );
        match self.client.create(&list, &pod).await {
            Ok(p) => self.events.normal(
                job,
                "SuccessfulCreate",
                format!(
                    "Created pod: {}",
                    p["metadata"]["name"].as_str().unwrap_or_default()
                ),
            ),
            Err(e) => {
                self.expectations.lower(&key, 1, 0);
                self.events.warning(
                    job,
                    "FailedCreate",
                    format!("Error creating: {}", e.message),
                );
            }
        }
    }

    /// Deletes a pod the Job no longer wants (too many, suspended, done),
    /// releasing it first: a pod the controller removes itself is not a
    /// failure (upstream does the same for suspend and scale-down).
    async fn delete_pod(&self, job: &Value, pod: &Value) -> Result<(), Error> {
        let pname = pod["metadata"]["name"].as_str().unwrap_or_default();
        if has_finalizer(pod) {
            self.remove_finalizer(pod).await?;
        }
        match self
            .client
            .delete(&client::object_path(pod), &json!({}))
            .await
        {
            Ok(_) => self
                .events
                .normal(job, "SuccessfulDelete", format!("Deleted pod: {pname}")),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// [`remove_finalizer`](Self::remove_finalizer) of each, several at a time.
    async fn remove_finalizers(&self, pods: &[&Arc<Value>]) -> Result<(), Error> {
        let owned: Vec<Arc<Value>> = pods.iter().map(|p| Arc::clone(p)).collect();
        let results: Vec<Result<(), Error>> = futures::stream::iter(owned)
            .map(|p| async move { self.remove_finalizer(&p).await })
            .buffer_unordered(PARALLEL_WRITES)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn remove_finalizer(&self, pod: &Value) -> Result<(), Error> {
        let rest: Vec<String> = kubelab_api::meta::finalizers(pod)
            .into_iter()
            .filter(|f| f != TRACKING_FINALIZER)
            .collect();
        // `null` removes the field, as upstream shows a pod without finalizers.
        let rest = if rest.is_empty() {
            json!(null)
        } else {
            json!(rest)
        };
        let patch = json!({"metadata": {
            "finalizers": rest,
            "resourceVersion": pod["metadata"]["resourceVersion"],
        }});
        match self
            .client
            .merge_patch(&client::object_path(pod), &patch)
            .await
        {
            Ok(_) => {
                if let Some(uid) = pod["metadata"]["uid"].as_str() {
                    self.released
                        .lock()
                        .unwrap()
                        .entry(key_of_owner(pod))
                        .or_default()
                        .insert(uid.to_string());
                }
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the job's status; returns the job as stored.
    async fn write_status(&self, job: &Value, status: &Value) -> Result<Value, Error> {
        let mut updated = job.clone();
        updated["status"] = status.clone();
        let path = format!("{}/status", client::object_path(job));
        let stored = self.client.replace(&path, &updated).await?;
        self.written
            .lock()
            .unwrap()
            .insert(key_of(&stored), revision_of(&stored));
        Ok(stored)
    }

    /// The job is gone: its pods' finalizers must go too, or they would
    /// stay forever (the garbage collector deletes them; we let them go).
    async fn release_orphans(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = split_key(key);
        for p in self.pods.list(ns) {
            let ours = kubelab_api::meta::owner_references(&p)
                .iter()
                .any(|o| o["kind"] == "Job" && o["name"] == name);
            if ours && has_finalizer(&p) {
                self.remove_finalizer(&p).await?;
            }
        }
        Ok(())
    }

    /// `ttlSecondsAfterFinished`: the job (and its pods) go that long
    /// after it finished (upstream's ttl-after-finished controller).
    async fn after_finished(&self, job: &Value) -> Result<Action, Error> {
        let Some(ttl) = job["spec"]["ttlSecondsAfterFinished"].as_i64() else {
            return Ok(Action::Done);
        };
        let finished = ["Complete", "Failed"]
            .iter()
            .filter_map(|t| kubelab_api::meta::condition(&job["status"]["conditions"], t))
            .filter(|c| c["status"] == "True")
            .filter_map(|c| time_of(&c["lastTransitionTime"]))
            .max();
        let Some(at) = finished else {
            return Ok(Action::Done);
        };
        let expires = at + chrono::Duration::seconds(ttl);
        let now = Utc::now();
        if now < expires {
            return Ok(Action::RequeueAfter(
                (expires - now).to_std().unwrap_or_default() + Duration::from_millis(50),
            ));
        }
        if kubelab_api::meta::is_being_deleted(job) {
            return Ok(Action::Done);
        }
        let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1",
            "propagationPolicy": "Foreground",
            "preconditions": {"uid": job["metadata"]["uid"]}});
        match self.client.delete(&client::object_path(job), &opts).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_round_trip() {
        let set: BTreeSet<i64> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(format_indexes(&set), "0-2,4,6,7");
        assert_eq!(parse_indexes("0-2,4,6,7"), set);
        assert_eq!(parse_indexes("0-2,4,6-7"), set);
        assert_eq!(format_indexes(&BTreeSet::new()), "");
    }

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(6), Duration::from_secs(320));
        assert_eq!(backoff(7), Duration::from_secs(600));
        assert_eq!(backoff(40), Duration::from_secs(600));
    }

    #[test]
    fn pod_failure_policy_rules_in_order() {
        let job = json!({"spec": {"podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
        ]}}});
        let pod = |name: &str, code: i64, cond: Option<&str>| {
            let mut p = json!({"metadata": {"namespace": "ns", "name": "p"}, "status": {
                "containerStatuses": [{"name": name, "state": {"terminated": {"exitCode": code}}}]}});
            if let Some(c) = cond {
                p["status"]["conditions"] = json!([{"type": c, "status": "True"}]);
            }
            p
        };
        let (a, m) = match_failure_policy(&job, &pod("main", 42, None)).unwrap();
        assert_eq!(a, "FailJob");
        assert_eq!(
            m,
            "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
        );
        assert_eq!(
            match_failure_policy(&job, &pod("main", 42, Some("DisruptionTarget")))
                .unwrap()
                .0,
            "Ignore"
        );
        assert_eq!(
            match_failure_policy(&job, &pod("side", 42, None))
                .unwrap()
                .0,
            "Count"
        );
        assert_eq!(match_failure_policy(&job, &pod("main", 1, None)), None);
    }
}
