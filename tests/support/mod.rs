//! Test support: a real `kubelab up` process and the real `kubectl`.
//!
//! Every test gets its own cluster (own data dir, own port), so tests run
//! in parallel and clean up after themselves: dropping a [`Cluster`] stops
//! the process and removes its data dir.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Extra `kubelab up` arguments (e.g. `--chapter 1`, `--nodes 3`).
    args: Vec<String>,
    pub kubeconfig: PathBuf,
    pub url: String,
}

impl Cluster {
    /// Starts a chapter-01 cluster (API server only) on a fresh data dir
    /// and waits until it answers.
    pub fn start() -> Cluster {
        Cluster::start_with(&["--chapter", "1"])
    }

    /// Starts `kubelab up ARGS…` (e.g. `--nodes 2 --runtime process`).
    pub fn start_with(args: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("kubelab-test-")
            .tempdir()
            .unwrap();
        let mut c = Cluster {
            child: None,
            kubeconfig: dir.path().join("data/kubeconfig"),
            dir,
            url: String::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        c.boot();
        c
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn boot(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args(["up", "--port", "0", "--data-dir"])
            .arg(self.data_dir())
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubelab");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.starts_with("kubelab is up"))
            .expect("kubelab did not say it is up");
        self.url = first.rsplit(' ').next().unwrap().to_string();
        assert!(
            self.url.starts_with("https://127.0.0.1:"),
            "unexpected first line: {first}"
        );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.kubectl(&["get", "--raw", "/readyz"]).status.success() {
            assert!(Instant::now() < deadline, "kubelab did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process (SIGTERM, as Ctrl-C would) and starts it again on the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.boot();
    }

    /// Stops the process now (SIGTERM, as Ctrl-C would) and waits for it.
    pub fn stop_now(&mut self) {
        self.stop();
    }

    /// `kubelab down` on this data dir: whatever a stop that was cut short
    /// (the 10 s deadline, a panicking test) left running goes too.
    fn down(&self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args(["down", "--data-dir"])
            .arg(self.data_dir())
            .output();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Runs the real kubectl against this cluster with a private discovery cache.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd(args).output().expect("run kubectl")
    }

    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        // Global flags go first: after `--` they would become the command's arguments.
        cmd.arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        cmd
    }

    /// kubectl with a manifest on stdin (`-f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// kubectl that must succeed; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl that must fail; returns stderr.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed but printed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    #[track_caller]
    pub fn apply(&self, manifest: &str) -> String {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], manifest);
        assert!(
            out.status.success(),
            "apply failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        self.down();
    }
}

/// Polls `f` until it returns true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Are the tests running as root (the linux runtime, network namespaces)?
#[allow(dead_code)]
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}
