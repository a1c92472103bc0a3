//! The CronJob controller: a Job for each time the schedule says.
//!
//! ```text
//! reconcile(cronjob):
//!     1. its Jobs: finished ones leave status.active (SawCompletedJob),
//!        the oldest finished beyond the history limits are deleted
//!     2. suspended → stop
//!     3. the most recent schedule time t in (lastScheduleTime, now]
//!        none, or already started         → wait for the next one
//!        later than startingDeadlineSeconds → MissSchedule, skip
//!        a Job still active and Forbid     → JobAlreadyActive, skip
//!                             and Replace  → delete the active Jobs
//!        create Job <name>-<t in minutes since 1970>; lastScheduleTime = t
//!     4. wake up again at the next schedule time
//! ```
//!
//! Missed times are not made up for: after a long outage only the most
//! recent one runs (and more than 100 missed earns a warning). The Job's
//! name comes from its schedule time, so the same time can never start
//! two Jobs, even across a restart between "create" and "write status":
//! the second create gets "already exists".

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use kubelab_client::informer::{Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue};

use crate::job::{condition_true, is_finished};
use crate::schedule::{self, Schedule};
use kubelab_api::meta::time_of;

pub const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

pub use crate::schedule::NextAfter;

pub struct CronJobController {
    client: Client,
    cronjobs: Informer,
    jobs: Informer,
    events: EventRecorder,
    next_after: NextAfter,
}

/// The Job of schedule time `t`: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cronjob: &str, t: DateTime<Utc>) -> String {
    format!("{cronjob}-{}", t.timestamp() / 60)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl CronJobController {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        next_after: NextAfter,
    ) -> Arc<CronJobController> {
        let client = client.named("kube-controller-manager/cronjob-controller");
        let c = Arc::new(CronJobController {
            events: EventRecorder::new(&client, "cronjob-controller", None),
            client,
            cronjobs: informers.of("batch/v1", "CronJob"),
            jobs: informers.of("batch/v1", "Job"),
            next_after,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.cronjobs, &queue, |ch| vec![key_of(ch.object())]);
        // A Job changed: its CronJob (a finished Job frees a Forbid slot).
        kubelab_client::feed(&c.jobs, &queue, |ch| {
            let job = ch.object();
            let ns = job["metadata"]["namespace"].as_str().unwrap_or_default();
            kubelab_api::meta::controller_of(job)
                .filter(|o| o["kind"] == "CronJob")
                .map(|o| vec![format!("{ns}/{}", o["name"].as_str().unwrap_or_default())])
                .unwrap_or_default()
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            4,
            vec![c.cronjobs.clone(), c.jobs.clone()],
        ));
        c
    }

    /// The first run after `after` in zone `tz`, with the configured
    /// next-minute function (see [`schedule::next_run`]).
    fn next_run(
        &self,
        s: &Schedule,
        tz: chrono_tz::Tz,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        schedule::next_run_with(s, tz, after, self.next_after)
    }
}

#[async_trait::async_trait]
impl Reconciler for CronJobController {
    fn name(&self) -> &'static str {
        "cronjob-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(cj) = self.cronjobs.get(key) else {
            return Ok(Action::Done); // deleted: the garbage collector takes its Jobs
        };
        let (ns, _) = split_key(key);
        let uid = cj["metadata"]["uid"].as_str().unwrap_or_default();
        let mut status = cj["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let now = Utc::now();

        // 1. Our Jobs: the finished leave `active`; old ones go.
        let jobs: Vec<Arc<Value>> = self
            .jobs
            .list(ns)
            .into_iter()
            .filter(|j| kubelab_client::controller_uid(j) == Some(uid))
            .collect();
        let mut active: Vec<Value> = Vec::new();
        for r in status["active"].as_array().into_iter().flatten() {
            match jobs.iter().find(|j| j["metadata"]["uid"] == r["uid"]) {
                Some(j) if is_finished(j) => {
                    let cond = if condition_true(j, "Complete") {
                        "Complete"
                    } else {
                        "Failed"
                    };
                    self.events.normal(
                        &cj,
                        "SawCompletedJob",
                        format!(
                            "Saw completed job: {}, condition: {cond}",
                            j["metadata"]["name"].as_str().unwrap_or_default()
                        ),
                    );
                }
                Some(_) => active.push(r.clone()),
                // Gone, and not just created (the cache may lag behind our own create).
                None if self.exists(r).await? => active.push(r.clone()),
                None => self.events.normal(
                    &cj,
                    "MissingJob",
                    format!(
                        "Active job went missing: {}",
                        r["name"].as_str().unwrap_or_default()
                    ),
                ),
            }
        }
        let last_success = jobs
            .iter()
            .filter(|j| condition_true(j, "Complete"))
            .filter_map(|j| time_of(&j["status"]["completionTime"]))
            .max();
        if let Some(t) = last_success
            && time_of(&status["lastSuccessfulTime"]).is_none_or(|old| t > old)
        {
            status["lastSuccessfulTime"] = json!(rfc3339(t));
        }
        self.clean_history(&cj, &jobs).await?;

        // 2.–3. Is a run due?
        let mut requeue = None;
        let parsed = Schedule::parse(cj["spec"]["schedule"].as_str().unwrap_or_default());
        let tz = schedule::time_zone(cj["spec"]["timeZone"].as_str());
        match (parsed, tz) {
            (Err(e), _) => self.events.warning(
                &cj,
                "UnparseableSchedule",
                format!(
                    "unparseable schedule: {:?} : {e}",
                    cj["spec"]["schedule"].as_str().unwrap_or_default()
                ),
            ),
            (_, Err(e)) => self.events.warning(
                &cj,
                "UnknownTimeZone",
                format!(
                    "invalid timeZone: {:?}: {e}",
                    cj["spec"]["timeZone"].as_str().unwrap_or_default()
                ),
            ),
            (Ok(sched), Ok(tz)) => {
                if cj["spec"]["suspend"] != true && !kubelab_api::meta::is_being_deleted(&cj) {
                    let due = self.due(&cj, &status, &sched, tz, now);
                    if let Some(t) = due {
                        self.run(&cj, &mut status, &mut active, t, tz, now).await?;
                    }
                }
                if let Some(next) = self.next_run(&sched, tz, now) {
                    requeue =
                        Some((next - now).to_std().unwrap_or_default() + Duration::from_millis(10));
                }
            }
        }

        status["active"] = json!(active);
        if active.is_empty()
            && let Some(s) = status.as_object_mut()
        {
            s.remove("active");
        }
        if status != cj["status"] && !(status == json!({}) && cj["status"].is_null()) {
            let mut updated = (*cj).clone();
            updated["status"] = status;
            let path = format!("{}/status", client::object_path(&cj));
            self.client.replace(&path, &updated).await?;
        }
        Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
    }
    // ANCHOR_END: reconcile
}

impl CronJobController {
    /// The schedule time to start now, if any: the most recent one after
    /// the last start, unless it is too late for `startingDeadlineSeconds`.
    fn due(
        &self,
        cj: &Value,
        status: &Value,
        sched: &Schedule,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut earliest = time_of(&status["lastScheduleTime"])
            .or_else(|| time_of(&cj["metadata"]["creationTimestamp"]))?;
        let deadline = cj["spec"]["startingDeadlineSeconds"].as_i64();
        if let Some(d) = deadline {
            earliest = earliest.max(now - chrono::Duration::seconds(d));
        }
        let (last, missed) = schedule::most_recent_with(sched, tz, earliest, now, self.next_after);
        let t = last?;
        if missed > 100 {
            self.events.warning(
                cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            );
        }
        if let Some(d) = deadline
            && t + chrono::Duration::seconds(d) < now
        {
            self.events.warning(
                cj,
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    t.format("%a, %d %b %Y %H:%M:%S %z")
                ),
            );
            return None;
        }
        Some(t)
    }

    /// Starts the Job of schedule time `t`, as the concurrency policy allows.
    async fn run(
        &self,
        cj: &Value,
        status: &mut Value,
        active: &mut Vec<Value>,
        t: DateTime<Utc>,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let name = cj["metadata"]["name"].as_str().unwrap_or_default();
        let jname = job_name(name, t);
        if active.iter().any(|r| r["name"] == jname.as_str()) {
            return Ok(());
        }
        match cj["spec"]["concurrencyPolicy"].as_str() {
            Some("Forbid") if !active.is_empty() => {
                self.events.normal(
                    cj,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid",
                );
                return Ok(());
            }
            Some("Replace") => {
                for r in active.drain(..) {
                    let path = client::path(
                        client::resource("batch/v1", "Job"),
                        r["namespace"].as_str(),
                        r["name"].as_str(),
                    );
                    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1",
                        "propagationPolicy": "Background"});
                    match self.client.delete(&path, &opts).await {
                        Ok(_) => self.events.normal(
                            cj,
                            "SuccessfulDelete",
                            format!("Deleted job {}", r["name"].as_str().unwrap_or_default()),
                        ),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            _ => {}
        }
        let template = &cj["spec"]["jobTemplate"];
        let mut metadata = json!({
            "name": jname,
            "labels": template["metadata"]["labels"],
            "annotations": template["metadata"]["annotations"],
            "ownerReferences": [client::owner_reference(cj, true)],
        });
        if !metadata["labels"].is_object() {
            metadata["labels"] = json!({});
        }
        if !metadata["annotations"].is_object() {
            metadata["annotations"] = json!({});
        }
        metadata["annotations"][SCHEDULED_ANNOTATION] = json!(
            t.with_timezone(&tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
            "spec": template["spec"]});
        let list = client::path(
            client::resource("batch/v1", "Job"),
            cj["metadata"]["namespace"].as_str(),
            None,
        );
        let created = match self.client.create(&list, &job).await {
            Ok(j) => {
                self.events
                    .normal(cj, "SuccessfulCreate", format!("Created job {jname}"));
                j
            }
            // Started before a restart: the name says so. Adopt it.
            Err(e) if e.is_already_exists() => {
                let path = format!("{list}/{jname}");
                self.client.get(&path).await?
            }
            Err(e) => {
                self.events.warning(
                    cj,
                    "FailedCreate",
                    format!("Error creating job: {}", e.message),
                );
                return Err(e.into());
            }
        };
        if !is_finished(&created) {
            active.push(json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "name": created["metadata"]["name"],
                "namespace": created["metadata"]["namespace"],
                "uid": created["metadata"]["uid"],
                "resourceVersion": created["metadata"]["resourceVersion"],
            }));
        }
        status["lastScheduleTime"] = json!(rfc3339(t));
        tracing::debug!(
            "cronjob {name}: started {jname} {} ms after its time",
            (now - t).num_milliseconds()
        );
        Ok(())
    }

    /// Does the Job of this `status.active` reference still exist?
    async fn exists(&self, r: &Value) -> Result<bool, Error> {
        let path = client::path(
            client::resource("batch/v1", "Job"),
            r["namespace"].as_str(),
            r["name"].as_str(),
        );
        match self.client.get(&path).await {
            Ok(j) => Ok(j["metadata"]["uid"] == r["uid"]),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps the newest `successfulJobsHistoryLimit` complete and
    /// `failedJobsHistoryLimit` failed Jobs; deletes older ones (and their pods).
    async fn clean_history(&self, cj: &Value, jobs: &[Arc<Value>]) -> Result<(), Error> {
        for (cond, limit_field, default) in [
            ("Complete", "successfulJobsHistoryLimit", 3),
            ("Failed", "failedJobsHistoryLimit", 1),
        ] {
            let limit = cj["spec"][limit_field].as_i64().unwrap_or(default).max(0) as usize;
            let mut done: Vec<&Arc<Value>> = jobs
                .iter()
                .filter(|j| !kubelab_api::meta::is_being_deleted(j))
                .filter(|j| condition_true(j, cond))
                .collect();
            if done.len() <= limit {
                continue;
            }
            done.sort_by_key(|j| {
                (
                    j["status"]["startTime"].as_str().is_none(),
                    j["status"]["startTime"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    j["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            });
            let extra = done.len() - limit;
            for j in done.into_iter().take(extra) {
                let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1",
                    "propagationPolicy": "Background"});
                match self.client.delete(&client::object_path(j), &opts).await {
                    Ok(_) => self.events.normal(
                        cj,
                        "SuccessfulDelete",
                        format!(
                            "Deleted job {}",
                            j["metadata"]["name"].as_str().unwrap_or_default()
                        ),
                    ),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_count_minutes_since_the_epoch() {
        let t = DateTime::parse_from_rfc3339("2025-02-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(job_name("hello", t), "hello-28973400");
    }
}
