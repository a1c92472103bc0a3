//! Lab 08's check inside a real cluster: the CronJob controller of a
//! chapter-08 cluster finds its missed runs with your `next_after`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kubelab_client::rest::{path, resource};
use serde_json::json;

/// The name of the Job of the most recent `*/5` time at or before `t`:
/// `<cronjob>-<minutes since 1970>`, the minutes a multiple of 5.
fn job_of_last_five_minutes(t: DateTime<Utc>) -> String {
    format!("tick-{}", t.timestamp() / 300 * 5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_starts_the_most_recent_missed_run() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lab_08_cron_schedule::start_cluster(dir.path()).await;
    let client = cluster.client();
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": "default"},
        "spec": {"schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "tick", "image": "busybox", "command": ["date"]}]}}}}}});
    let cronjobs = path(resource("batch/v1", "CronJob"), Some("default"), None);
    client.create(&cronjobs, &cronjob).await.unwrap();

    // Pretend the last run was 17 minutes ago: the controller now sees
    // three or four missed times, and starts only the most recent.
    let status_path = format!("{cronjobs}/tick/status");
    let started = Utc::now();
    let last = started - chrono::Duration::minutes(17);
    loop {
        let mut cj = client.get(&format!("{cronjobs}/tick")).await.unwrap();
        cj["status"]["lastScheduleTime"] =
            json!(last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        match client.replace(&status_path, &cj).await {
            Ok(_) => break,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("writing the CronJob's status: {e}"),
        }
    }

    // Computed here, from the clock: the most recent 5-minute mark. (A
    // mark passing during the test makes the next one right too.)
    let expected = job_of_last_five_minutes(started);
    let jobs = path(resource("batch/v1", "Job"), Some("default"), None);
    let t = Instant::now();
    let mut seen = Vec::new();
    while t.elapsed() < Duration::from_secs(10) {
        let list = client.get(&jobs).await.unwrap();
        seen = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|j| j["metadata"]["name"].as_str().map(String::from))
            .collect();
        let now_expected = job_of_last_five_minutes(Utc::now());
        if seen.iter().any(|n| *n == expected || *n == now_expected) {
            cluster.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no Job {expected} within 10 s (the schedule's most recent time since {last}); \
         the Jobs are {seen:?}"
    );
}
