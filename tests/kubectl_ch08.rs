//! Chapter 08 end to end with the real kubectl: a StatefulSet's order
//! (OrderedReady waits for Ready, Parallel does not, scale-down goes
//! highest first, one at a time), its claims' retention policies and
//! `ordinals.start`; a Job counted exactly once across restarts of the
//! whole cluster and never above its parallelism; suspend, deadlines,
//! TTL, and a deleted Job's pods released; a CronJob that makes up only
//! the most recent missed run, once, even across a restart.
//!
//! The exercises (`chapters/08-statefulsets-and-jobs/exercises`) cover the
//! rest: names, DNS and kept data, Indexed Jobs, back-off, pod failure
//! policies, `kubectl create job --from`.

mod support;

use std::time::{Duration, Instant};

use support::{Cluster, eventually, is_root, jsonpath};

fn names(c: &Cluster, what: &[&str]) -> Vec<String> {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "jsonpath={.items[*].metadata.name}"]);
    let out = c.kubectl(&args);
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Pods become Ready only once `/tmp/ready` exists in them.
fn gated_set(name: &str, policy: &str, replicas: u32, extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: {name}}}
spec:
  serviceName: {name}
  replicas: {replicas}
  podManagementPolicy: {policy}
  selector: {{matchLabels: {{app: {name}}}}}
{extra}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox
        command: [sleep, "3600"]
        readinessProbe:
          exec: {{command: [test, -f, /tmp/ready]}}
          periodSeconds: 1
"#
    )
}

fn make_ready(c: &Cluster, pod: &str) {
    assert!(
        eventually(30, || c
            .kubectl(&["exec", pod, "--", "touch", "/tmp/ready"])
            .status
            .success()),
        "exec into {pod}"
    );
    assert!(eventually(30, || jsonpath(
        c,
        &["pod", pod],
        "{.status.conditions[?(@.type==\"Ready\")].status}"
    ) == "True"));
}

#[test]
fn statefulset_order_retention_and_ordinals() {
    if !is_root() {
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);

    // OrderedReady: web-1 is not created while web-0 is not Ready.
    c.apply(&gated_set("web", "OrderedReady", 3, ""));
    // Chapter 07's probe defaults reach every pod template.
    assert_eq!(
        jsonpath(
            &c,
            &["sts", "web"],
            "{.spec.template.spec.containers[0].readinessProbe.timeoutSeconds}/{.spec.template.spec.containers[0].readinessProbe.failureThreshold}"
        ),
        "1/3"
    );
    assert!(eventually(30, || names(&c, &["pods", "-l", "app=web"]) == ["web-0"]));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(names(&c, &["pods", "-l", "app=web"]), ["web-0"]);
    make_ready(&c, "web-0");
    assert!(eventually(30, || names(&c, &["pods", "-l", "app=web"])
        == ["web-0", "web-1"]));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(names(&c, &["pods", "-l", "app=web"]), ["web-0", "web-1"]);
    make_ready(&c, "web-1");
    assert!(eventually(30, || names(&c, &["pods", "-l", "app=web"])
        .len()
        == 3));
    make_ready(&c, "web-2");
    assert!(eventually(30, || jsonpath(
        &c,
        &["sts", "web"],
        "{.status.readyReplicas}"
    ) == "3"));

    // Scale-down: web-2 goes first, and web-1 only once web-2 is gone.
    c.ok(&["scale", "sts", "web", "--replicas=1"]);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let now = names(&c, &["pods", "-l", "app=web"]);
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == ["web-0"] {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        seen,
        [
            vec!["web-0", "web-1", "web-2"],
            vec!["web-0", "web-1"],
            vec!["web-0"]
        ],
        "pods seen while scaling down"
    );

    // Parallel: all at once, none Ready.
    c.apply(&gated_set("par", "Parallel", 3, ""));
    assert!(eventually(30, || names(&c, &["pods", "-l", "app=par"])
        == ["par-0", "par-1", "par-2"]));

    // ordinals.start, and claims: whenScaled Delete removes the claim of a
    // scaled-down pod; whenDeleted Retain keeps the others.
    let claims = "  ordinals: {start: 5}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Delete}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Mi}}";
    c.apply(&gated_set("kept", "Parallel", 2, claims));
    assert!(eventually(30, || names(&c, &["pods", "-l", "app=kept"])
        == ["kept-5", "kept-6"]));
    assert!(eventually(30, || names(&c, &["pvc", "-l", "app=kept"])
        == ["data-kept-5", "data-kept-6"]));
    c.ok(&["scale", "sts", "kept", "--replicas=1"]);
    assert!(
        eventually(30, || names(&c, &["pvc", "-l", "app=kept"])
            == ["data-kept-5"]),
        "{:?}",
        names(&c, &["pvc"])
    );
    c.ok(&["delete", "sts", "kept"]);
    assert!(eventually(30, || names(&c, &["pods", "-l", "app=kept"]).is_empty()));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(names(&c, &["pvc", "-l", "app=kept"]), ["data-kept-5"]);

    // whenDeleted Delete: the claims go with the set.
    let gone = "  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Mi}}";
    c.apply(&gated_set("gone", "Parallel", 2, gone));
    assert!(eventually(30, || names(&c, &["pvc", "-l", "app=gone"])
        .len()
        == 2));
    c.ok(&["delete", "sts", "gone"]);
    assert!(
        eventually(30, || names(&c, &["pvc", "-l", "app=gone"]).is_empty()),
        "{:?}",
        names(&c, &["pvc"])
    );
}

const COUNT: &str = "apiVersion: batch/v1
kind: Job
metadata: {name: count}
spec:
  completions: 16
  parallelism: 4
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: busybox, command: [sh, -c, 'sleep 0.3']}
";

/// Counts pods of `job` by phase, and how many are active (not finished,
/// not being deleted).
fn pod_phases(c: &Cluster, job: &str) -> (usize, usize, usize) {
    let out = c.ok(&[
        "get",
        "pods",
        "-l",
        &format!("job-name={job}"),
        "-o",
        "jsonpath={range .items[*]}{.status.phase},{.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    let (mut ok, mut failed, mut active) = (0, 0, 0);
    for l in out.lines() {
        let (phase, deleting) = l.split_once(',').unwrap_or((l, ""));
        match phase {
            "Succeeded" => ok += 1,
            "Failed" => failed += 1,
            _ if deleting.is_empty() => active += 1,
            _ => {}
        }
    }
    (ok, failed, active)
}

#[test]
fn a_job_counts_each_pod_once_across_restarts() {
    if !is_root() {
        return;
    }
    let mut c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(COUNT);
    let mut most_active = 0;
    let mut restarts = 0;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        assert!(Instant::now() < deadline, "the job did not complete");
        let (ok, _, active) = pod_phases(&c, "count");
        most_active = most_active.max(active);
        // Stop the whole cluster twice while pods finish.
        if (restarts == 0 && ok >= 3) || (restarts == 1 && ok >= 9) {
            c.restart();
            restarts += 1;
        }
        if jsonpath(
            &c,
            &["job", "count"],
            "{.status.conditions[?(@.type==\"Complete\")].status}",
        ) == "True"
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(restarts, 2);
    assert!(
        most_active <= 4,
        "{most_active} pods ran at once, parallelism is 4"
    );
    let (ok, failed, _) = pod_phases(&c, "count");
    let status = jsonpath(
        &c,
        &["job", "count"],
        "{.status.succeeded} {.status.failed} {.status.uncountedTerminatedPods}",
    );
    // Each Succeeded pod counted once, nothing more; the pods a stop
    // interrupted (if any) are counted as failed, also once.
    assert_eq!(ok, 16, "{status}");
    assert_eq!(status, format!("16 {failed} {{}}"));
    // Every pod's tracking finalizer is gone.
    let finalizers = c.ok(&[
        "get",
        "pods",
        "-l",
        "job-name=count",
        "-o",
        "jsonpath={.items[*].metadata.finalizers}",
    ]);
    assert!(finalizers.trim().is_empty(), "{finalizers}");
}

#[test]
fn suspend_deadline_ttl_and_deleting_a_running_job() {
    if !is_root() {
        return;
    }
    let c = Cluster::start_with(&["--nodes", "1"]);
    let job = |name: &str, extra: &str, cmd: &str| {
        format!(
            "apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
{extra}
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - {{name: c, image: busybox, command: [sh, -c, '{cmd}']}}
"
        )
    };
    // Suspended: no pods, no start time; resumed: it runs.
    c.apply(&job("later", "  suspend: true", "true"));
    std::thread::sleep(Duration::from_secs(2));
    assert!(names(&c, &["pods", "-l", "job-name=later"]).is_empty());
    assert_eq!(jsonpath(&c, &["job", "later"], "{.status.startTime}"), "");
    c.ok(&[
        "patch",
        "job",
        "later",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/later",
        "--timeout=60s",
    ]);
    assert_eq!(
        jsonpath(
            &c,
            &["job", "later"],
            "{.status.conditions[?(@.type==\"Suspended\")].reason}"
        ),
        "JobResumed"
    );

    // activeDeadlineSeconds: the running pod is stopped, the Job fails.
    c.apply(&job("slow", "  activeDeadlineSeconds: 2", "sleep 600"));
    c.ok(&[
        "wait",
        "--for=condition=failed",
        "job/slow",
        "--timeout=60s",
    ]);
    assert_eq!(
        jsonpath(
            &c,
            &["job", "slow"],
            "{.status.conditions[?(@.type==\"Failed\")].reason}"
        ),
        "DeadlineExceeded"
    );
    assert!(eventually(30, || pod_phases(&c, "slow").2 == 0));

    // restartPolicy OnFailure: the pod never fails; its restarts count.
    c.apply(
        &job("crashy", "  backoffLimit: 1", "exit 1")
            .replace("restartPolicy: Never", "restartPolicy: OnFailure"),
    );
    c.ok(&[
        "wait",
        "--for=condition=failed",
        "job/crashy",
        "--timeout=60s",
    ]);
    assert_eq!(
        jsonpath(
            &c,
            &["job", "crashy"],
            "{.status.conditions[?(@.type==\"Failed\")].reason}"
        ),
        "BackoffLimitExceeded"
    );

    // ttlSecondsAfterFinished: the finished Job and its pods go.
    c.apply(&job("brief", "  ttlSecondsAfterFinished: 2", "true"));
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/brief",
        "--timeout=60s",
    ]);
    assert!(eventually(30, || !c
        .kubectl(&["get", "job", "brief"])
        .status
        .success()));
    assert!(eventually(30, || names(
        &c,
        &["pods", "-l", "job-name=brief"]
    )
    .is_empty()));

    // A running Job deleted: its pods are deleted and their tracking
    // finalizers released, so none is left behind.
    c.apply(&job(
        "busy",
        "  parallelism: 2\n  completions: 2",
        "sleep 600",
    ));
    assert!(eventually(30, || pod_phases(&c, "busy").2 == 2));
    c.ok(&["delete", "job", "busy", "--wait=false"]);
    assert!(
        eventually(60, || names(&c, &["pods", "-l", "job-name=busy"])
            .is_empty()),
        "{}",
        c.ok(&["get", "pods", "-l", "job-name=busy", "-o", "yaml"])
    );
}

#[test]
fn a_cronjob_runs_the_latest_missed_time_once_even_across_a_restart() {
    let mut c = Cluster::start_with(&["--nodes", "1", "--runtime", "process"]);
    c.apply(
        "apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: '*/5 * * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: c, image: busybox, command: [sh, -c, 'sleep 600']}
",
    );
    // Pretend the controller last ran 23 minutes ago: four 5-minute
    // marks were missed; only the most recent one runs.
    let ago = chrono::Utc::now() - chrono::Duration::minutes(23);
    let last = ago.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let patch = format!(r#"{{"status":{{"lastScheduleTime":"{last}"}}}}"#);
    c.ok(&[
        "patch",
        "cronjob",
        "nightly",
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
    let now = chrono::Utc::now().timestamp() / 60;
    let expected = format!("nightly-{}", now - now % 5);
    assert!(
        eventually(20, || names(&c, &["jobs"]) == [expected.clone()]),
        "{:?}, expected [{expected}]",
        names(&c, &["jobs"])
    );
    assert_eq!(
        jsonpath(&c, &["cronjob", "nightly"], "{.status.active[*].name}"),
        expected
    );
    c.restart();
    std::thread::sleep(Duration::from_secs(3));
    // Still that one Job (unless a new 5-minute mark came meanwhile).
    let jobs = names(&c, &["jobs"]);
    let now = chrono::Utc::now().timestamp() / 60;
    let latest = format!("nightly-{}", now - now % 5);
    assert!(
        jobs == [expected.clone()] || jobs == [expected.clone(), latest],
        "{jobs:?}"
    );
}

#[test]
fn forbid_skips_a_run_while_one_is_active_and_replace_replaces_it() {
    let c = Cluster::start_with(&["--nodes", "1", "--runtime", "process"]);
    c.apply(
        "apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: '*/5 * * * *'
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 1
          containers:
          - {name: c, image: busybox, command: [sh, -c, 'sleep 600']}
",
    );
    // A run still going: a Job of the CronJob's, listed as active.
    c.ok(&["create", "job", "backup-old", "--from=cronjob/backup"]);
    let uid = jsonpath(&c, &["job", "backup-old"], "{.metadata.uid}");
    let last = (chrono::Utc::now() - chrono::Duration::minutes(23))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let patch = format!(
        r#"{{"status":{{"lastScheduleTime":"{last}","active":[{{"apiVersion":"batch/v1","kind":"Job","namespace":"default","name":"backup-old","uid":"{uid}"}}]}}}}"#
    );
    c.ok(&[
        "patch",
        "cronjob",
        "backup",
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
    let reasons = || {
        c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=backup",
            "-o",
            "jsonpath={.items[*].reason}",
        ])
    };
    assert!(
        eventually(20, || reasons().contains("JobAlreadyActive")),
        "{}",
        reasons()
    );
    assert_eq!(names(&c, &["jobs"]), ["backup-old"]);

    // Replace: the running Job goes, the due run starts.
    c.ok(&[
        "patch",
        "cronjob",
        "backup",
        "--type=merge",
        "-p",
        r#"{"spec":{"concurrencyPolicy":"Replace"}}"#,
    ]);
    let now = chrono::Utc::now().timestamp() / 60;
    let due = format!("backup-{}", now - now % 5);
    assert!(
        eventually(20, || names(&c, &["jobs"]) == [due.clone()]),
        "{:?}, expected [{due}]",
        names(&c, &["jobs"])
    );
    assert!(reasons().contains("SuccessfulDelete"), "{}", reasons());
}
