//! `kubelab bench helm`: chapter 10's figures, against the real helm in the
//! same run.
//!
//! * `template`: the same charts rendered by `kubelab helm template` and by
//!   `helm template` (helm 3.18, `tests/run.sh` installs it), each as the
//!   command a user types — a new process per render — 30 times; mean
//!   milliseconds and the ratio (target: kubelab ≥ 3× faster). Also the
//!   in-process render time of kubelab's engine alone.
//! * install → deployed: `kubelab helm install` and `helm install` of the
//!   web chart into a real `kubelab up` (fake runtime), from the command's
//!   start until it returns with the release deployed (the release Secret
//!   written, every resource created), 5 times each.
//!
//! Run it with a release build: `cargo run --release -- bench helm`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Reaped;

fn helm_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("HELM_BIN") {
        return Ok(PathBuf::from(p));
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("helm");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "the real helm is the peer of this benchmark: run tests/run.sh (it installs helm 3.18) or set HELM_BIN"
    )
}

/// Runs a command `n` times; the mean wall time in ms. Fails if a run fails.
fn timed(n: usize, mut make: impl FnMut() -> Command) -> anyhow::Result<f64> {
    let start = Instant::now();
    for _ in 0..n {
        let out = make()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / n as f64)
}

pub fn helm() -> anyhow::Result<()> {
    let helm = helm_bin()?;
    let me = std::env::current_exe()?;
    let tmp = tempfile::Builder::new()
        .prefix("kubelab-bench-helm-")
        .tempdir()?;
    let isolate = |c: &mut Command| {
        c.env("HELM_CACHE_HOME", tmp.path().join("cache"))
            .env("HELM_CONFIG_HOME", tmp.path().join("config"))
            .env("HELM_DATA_HOME", tmp.path().join("data"));
    };
    let mut c = Command::new(&helm);
    isolate(&mut c);
    let st = c
        .arg("create")
        .arg(tmp.path().join("nginx-starter"))
        .output()?;
    if !st.status.success() {
        bail!("helm create failed");
    }
    let charts_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../chapters/10-helm/charts");
    let charts = [
        ("helm create's chart", tmp.path().join("nginx-starter")),
        ("web (chapter 10)", charts_dir.join("web")),
        ("shop (3 subcharts)", charts_dir.join("shop")),
    ];
    const N: usize = 30;
    println!(
        "Helm benchmark: kubelab helm against the real helm 3.18 ({})\n",
        helm.display()
    );
    println!("`template`, a new process per render, mean of {N} (ms):");
    println!(
        "{:<22} {:>10} {:>10} {:>8} {:>14}",
        "chart", "helm", "kubelab", "ratio", "engine only"
    );
    let mut ratios = vec![];
    for (label, dir) in &charts {
        let d = dir.to_str().context("path")?.to_string();
        let args = ["template", "demo", d.as_str(), "--kube-version", "1.33.0"];
        let theirs = timed(N, || {
            let mut c = Command::new(&helm);
            isolate(&mut c);
            c.args(args);
            c
        })?;
        let ours = timed(N, || {
            let mut c = Command::new(&me);
            c.arg("helm").args(args);
            c
        })?;
        // the engine alone, in this process: load, values, render, sort
        let start = Instant::now();
        for _ in 0..N {
            kubelab_helm::cli::capture(&args).map_err(anyhow::Error::msg)?;
        }
        let engine = start.elapsed().as_secs_f64() * 1000.0 / N as f64;
        let ratio = theirs / ours;
        ratios.push(ratio);
        println!("{label:<22} {theirs:>10.1} {ours:>10.1} {ratio:>7.1}× {engine:>13.2}");
    }
    let min = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
    println!("Ratios > 1 mean kubelab is faster (target ≥ 3×); the lowest: {min:.1}×.\n");

    // ---- install → deployed on a real cluster
    let data = tmp.path().join("cluster");
    let child = Command::new(&me)
        .args([
            "up",
            "--port",
            "0",
            "--nodes",
            "1",
            "--runtime",
            "fake",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut child = child;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let _server = Reaped(child);
    let mut kubeconfig = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(k) = line.strip_prefix("export KUBECONFIG=") {
            kubeconfig = Some(k.to_string());
        }
        if line.contains("node(s) ready") {
            break;
        }
    }
    let kubeconfig = kubeconfig.context("kubelab up printed no kubeconfig")?;
    std::thread::spawn(move || for _ in lines {});
    let web = charts_dir.join("web");
    let web = web.to_str().context("path")?;
    const M: usize = 5;
    let install = |who: &str, prog: &Path, prefix: &[&str]| -> anyhow::Result<f64> {
        let mut total = Duration::ZERO;
        for i in 0..M {
            let name = format!("{who}-{i}");
            let mut c = Command::new(prog);
            isolate(&mut c);
            c.args(prefix)
                .args(["install", &name, web, "--set", "migrations.enabled=false"])
                .env("KUBECONFIG", &kubeconfig);
            let start = Instant::now();
            let out = c.stdout(Stdio::piped()).stderr(Stdio::piped()).output()?;
            total += start.elapsed();
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || !text.contains("STATUS: deployed") {
                bail!(
                    "{who} install failed: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(total.as_secs_f64() * 1000.0 / M as f64)
    };
    let theirs = install("helm", &helm, &[])?;
    let ours = install("kubelab", &me, &["helm"])?;
    println!("install → deployed (web chart, 5 resources, mean of {M}, ms):");
    println!(
        "  helm {theirs:.1}   kubelab {ours:.1}   ratio {:.1}×",
        theirs / ours
    );
    Ok(())
}
