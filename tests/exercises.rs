//! Every chapter's exercises, run against a fresh cluster and compared with
//! reviewed snapshots (`chapters/NN-*/exercises/snapshots/`). The book shows
//! those snapshots, so the outputs it prints are real.

mod support;

use std::path::{Path, PathBuf};

use support::Cluster;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn check_chapter(chapter: &str, up_args: &[&str]) {
    check_chapter_except(chapter, up_args, &[]);
}

/// [`check_chapter`], leaving out the exercises named in `skip`.
fn check_chapter_except(chapter: &str, up_args: &[&str], skip: &[&str]) {
    let dir = repo_root().join("chapters").join(chapter);
    let mut scripts = kubelab::exercises::list(&dir).unwrap();
    scripts.retain(|s| !skip.iter().any(|k| s.file_stem().is_some_and(|n| n == *k)));
    assert!(!scripts.is_empty(), "{chapter} has no exercises");
    // One cluster per chapter: its exercises build on each other, in order.
    let cluster = Cluster::start_with(up_args);
    let cache = format!(
        "--cache-dir {}",
        cluster.path().join("kube-cache").display()
    );
    for script in scripts {
        let name = script.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&script).unwrap();
        let raw =
            kubelab::exercises::run(&text, &repo_root(), &cluster.kubeconfig, &cache).unwrap();
        let transcript = kubelab::exercises::redact(&raw);
        insta::with_settings!({
            snapshot_path => dir.join("exercises/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, transcript);
        });
    }
}

#[test]
fn chapter_01_objects_and_api() {
    check_chapter("01-objects-and-api", &["--chapter", "1"]);
}

#[test]
fn chapter_02_pods() {
    // Exercise 05 looks inside containers: the linux runtime (root) only.
    let skip: &[&str] = if support::is_root() {
        &[]
    } else {
        &["05-what-a-container-sees"]
    };
    check_chapter_except("02-pods", &["--nodes", "1"], skip);
}

#[test]
fn chapter_03_services() {
    // Pod IPs, the proxy's rules and DNS live in network namespaces: root only.
    if !support::is_root() {
        eprintln!("chapter 03's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("03-services", &["--nodes", "1"]);
}

#[test]
fn chapter_04_config_and_secrets() {
    // Volumes are bind mounts into the containers' mount namespaces: root only.
    if !support::is_root() {
        eprintln!("chapter 04's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("04-config-and-secrets", &["--nodes", "1"]);
}

#[test]
fn chapter_05_volumes() {
    if !support::is_root() {
        eprintln!("chapter 05's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("05-volumes", &["--nodes", "1"]);
}

#[test]
fn chapter_06_scaling() {
    // Two nodes, one of which dies; a dead node is noticed after 20 s, not
    // upstream's 50. CPU is read from cgroups and the web app's readiness
    // probe reaches a pod IP: root only.
    if !support::is_root() {
        eprintln!("chapter 06's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter(
        "06-scaling",
        &["--nodes", "2", "--node-monitor-grace-period", "20"],
    );
}

#[test]
fn chapter_07_sidecars() {
    // Probes reach pod IPs inside network namespaces: root only.
    if !support::is_root() {
        eprintln!("chapter 07's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("07-sidecars", &["--nodes", "1"]);
}

#[test]
fn chapter_08_statefulsets_and_jobs() {
    // Claims are directories mounted into containers; DNS lives in network
    // namespaces: root only.
    if !support::is_root() {
        eprintln!("chapter 08's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("08-statefulsets-and-jobs", &["--nodes", "1"]);
}

#[test]
fn chapter_09_rollouts() {
    // Three nodes, so a DaemonSet's rollout goes node by node; probes reach
    // pod IPs and the Services' clients live in network namespaces: root
    // only.
    if !support::is_root() {
        eprintln!("chapter 09's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("09-rollouts", &["--nodes", "3"]);
}

#[test]
fn chapter_10_helm() {
    // The chart's hook Job and test pod run real processes (busybox), and
    // the test pod reaches the Service: root only. Both kubelab helm and
    // the real helm (tests/run.sh installs it) are used.
    if !support::is_root() {
        eprintln!("chapter 10's exercises need root (the linux runtime); skipped");
        return;
    }
    check_chapter("10-helm", &["--nodes", "1"]);
}
