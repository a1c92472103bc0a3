//! The linux runtime: containers isolated by namespaces and limited by
//! cgroups, started through the programs in [`crate::reexec`].
//!
//! The process runtime ([`crate::process`]) is this same machinery with
//! the isolation switched off, so both live in [`LinuxRuntime`]; the
//! differences are marked with `self.isolated()`.

use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncWrite;

use crate::cgroup::Cgroup;
use crate::container::{Dir, Record, alive, write_atomic};
use crate::{
    ContainerConfig, ContainerState, ContainerStatus, ExecProcess, ImageStore, PodSandbox,
    PodSandboxConfig, PodStream, Result, Runtime, RuntimeError, RuntimeKind,
};

pub struct LinuxRuntime {
    pub(crate) root: PathBuf,
    pub(crate) images: ImageStore,
    pub(crate) kind: RuntimeKind,
}

impl LinuxRuntime {
    pub fn new(root: PathBuf, images: ImageStore) -> Result<LinuxRuntime> {
        std::fs::create_dir_all(root.join("containers"))?;
        std::fs::create_dir_all(root.join("sandboxes"))?;
        Ok(LinuxRuntime {
            root,
            images,
            kind: RuntimeKind::Linux,
        })
    }

    pub(crate) fn isolated(&self) -> bool {
        self.kind == RuntimeKind::Linux
    }

    fn container(&self, id: &str) -> Result<Dir> {
        let d = Dir(self.root.join("containers").join(id));
        if !d.0.exists() || id.is_empty() || id.contains('/') {
            return Err(RuntimeError::NotFound(id.into()));
        }
        Ok(d)
    }

    fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.root.join("sandboxes").join(id)
    }

    fn sandbox_pid(&self, id: &str) -> Option<u32> {
        std::fs::read_to_string(self.sandbox_dir(id).join("pause.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Starts a helper (`kubelab <args>`) detached from kubelab's terminal.
    /// A task reaps it, so it never lingers as a zombie while kubelab runs.
    fn spawn_helper(&self, args: &[&str]) -> Result<()> {
        let exe = std::env::current_exe()?;
        let mut child = tokio::process::Command::new(exe)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(false)
            .spawn()?;
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }
}

/// Polls `ready` every 5 ms until it is true or `limit` passes.
async fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ready()
}

fn signal(pid: u32, group: bool, sig: Signal) {
    let p = if group { -(pid as i32) } else { pid as i32 };
    let _ = kill(Pid::from_raw(p), sig);
}

#[async_trait::async_trait]
impl Runtime for LinuxRuntime {
    fn kind(&self) -> RuntimeKind {
        self.kind
    }

    fn images(&self) -> &ImageStore {
        &self.images
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let id = crate::new_id();
        let dir = self.sandbox_dir(&id);
        std::fs::create_dir_all(&dir)?;
        write_atomic(
            &dir.join("config.json"),
            &serde_json::to_vec(config).unwrap_or_default(),
        )?;
        if self.isolated() {
            let d = dir.to_string_lossy().to_string();
            let share = if config.share_pid { "share-pid" } else { "" };
            self.spawn_helper(&["runtime-pause", &d, &config.hostname, share])?;
            if !wait_until(Duration::from_secs(5), || self.sandbox_pid(&id).is_some()).await {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(RuntimeError::Create(
                    "the pod sandbox (pause process) did not start".into(),
                ));
            }
        }
        Ok(id)
    }

    fn sandbox_netns(&self, id: &str) -> Option<PathBuf> {
        if !self.isolated() {
            return None;
        }
        self.sandbox_pid(id)
            .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net")))
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        if let Some(pid) = self.sandbox_pid(id) {
            signal(pid, false, Signal::SIGKILL);
            wait_until(Duration::from_secs(2), || !alive(pid)).await;
        }
        let _ = std::fs::remove_dir_all(self.sandbox_dir(id));
        Ok(())
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandbox>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("sandboxes"))?.flatten() {
            let id = e.file_name().to_string_lossy().to_string();
            let Ok(bytes) = std::fs::read(e.path().join("config.json")) else {
                continue;
            };
            let Ok(config) = serde_json::from_slice(&bytes) else {
                continue;
            };
            let ready = !self.isolated() || self.sandbox_pid(&id).is_some_and(alive);
            out.push(PodSandbox { id, config, ready });
        }
        Ok(out)
    }

    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String> {
        let image = self.images.resolve(&config.image)?;
        let id = crate::new_id();
        let d = Dir(self.root.join("containers").join(&id));
        for sub in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(d.path(sub))?;
        }
        let (sandbox_pid, cgroups, layout) = if self.isolated() {
            let pid = self
                .sandbox_pid(sandbox_id)
                .filter(|p| alive(*p))
                .ok_or_else(|| {
                    RuntimeError::Create(format!("pod sandbox {sandbox_id} is not running"))
                })?;
            let cg = Cgroup::create(&id, &config.limits).map_err(|e| {
                let _ = std::fs::remove_dir_all(&d.0);
                RuntimeError::Create(format!("creating the container's cgroup: {e}"))
            })?;
            (
                Some(pid),
                cg.dirs.clone(),
                Some(cg.layout.name().to_string()),
            )
        } else {
            (None, Vec::new(), None)
        };
        // Whose PID namespace to join: the pause process's (it made one
        // only for `shareProcessNamespace`), or the target container's.
        let join_pid_ns = match (&config.pid_namespace, sandbox_pid) {
            (crate::PidNamespace::Pod, Some(pause)) => {
                // Only a sandbox made with `share_pid` has a PID namespace
                // of its own; any other pause process is in kubelab's.
                let shared = std::fs::read(self.sandbox_dir(sandbox_id).join("config.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<PodSandboxConfig>(&b).ok())
                    .is_some_and(|c| c.share_pid);
                if !shared {
                    let _ = std::fs::remove_dir_all(&d.0);
                    return Err(RuntimeError::Create(format!(
                        "pod sandbox {sandbox_id} does not share its process namespace"
                    )));
                }
                Some(pause)
            }
            (crate::PidNamespace::Target(target), Some(_)) => {
                // The target must be running now (not a dead container
                // whose old pid another process may have taken).
                let t = self.container(target).ok();
                let running = t
                    .as_ref()
                    .is_some_and(|t| matches!(t.state(), ContainerState::Running { .. }));
                let pid = t.and_then(|t| t.pid()).filter(|_| running);
                let Some(pid) = pid.filter(|p| alive(*p)) else {
                    let _ = std::fs::remove_dir_all(&d.0);
                    return Err(RuntimeError::Create(format!(
                        "the target container {target} is not running"
                    )));
                };
                Some(pid)
            }
            _ => None,
        };
        if config.stdin {
            nix::unistd::mkfifo(
                &d.path("stdin"),
                nix::sys::stat::Mode::from_bits_truncate(0o600),
            )
            .map_err(|e| RuntimeError::Create(format!("mkfifo: {e}")))?;
        }
        d.write_record(&Record {
            id: id.clone(),
            sandbox_id: sandbox_id.into(),
            config: config.clone(),
            image_id: image.id.clone(),
            image_rootfs: image.rootfs.clone(),
            mode: self.kind.as_str().into(),
            sandbox_pid,
            join_pid_ns,
            cgroups,
            cgroup_layout: layout,
        })?;
        Ok(id)
    }

    // ANCHOR: start_container
    async fn start_container(&self, id: &str) -> Result<()> {
        let d = self.container(id)?;
        let dir = d.0.to_string_lossy().to_string();
        self.spawn_helper(&["runtime-shim", &dir])?;
        // Started once the shim has launched it (or it has already failed).
        let ok = wait_until(Duration::from_secs(10), || {
            d.path("exit.json").exists() || (d.path("started").exists() && d.pid().is_some())
        })
        .await;
        if !ok {
            return Err(RuntimeError::Create(
                "the container did not start within 10s".into(),
            ));
        }
        Ok(())
    }
    // ANCHOR_END: start_container

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        let d = self.container(id)?;
        let group = !self.isolated();
        let running = |d: &Dir| !d.path("exit.json").exists() && d.shim_pid().is_some_and(alive);
        if !running(&d) {
            return Ok(());
        }
        // SIGTERM first: a PID 1 without a handler ignores it (the kernel
        // protects init), so SIGKILL follows when the grace period is over.
        if let Some(pid) = d.pid() {
            if !grace.is_zero() {
                signal(pid, group, Signal::SIGTERM);
                if wait_until(grace, || !running(&d)).await {
                    return Ok(());
                }
            }
            signal(pid, group, Signal::SIGKILL);
        }
        // Whatever is left in the container's cgroups goes too: without a
        // pid file (still starting) the signal above had nobody to reach.
        if let Some(cgroup) = d.cgroup() {
            cgroup.kill_all();
        }
        wait_until(Duration::from_secs(5), || !running(&d)).await;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let d = self.container(id)?;
        self.stop_container(id, Duration::ZERO).await?;
        if let Some(cgroup) = d.cgroup() {
            // Also when the shim is already gone (killed with kubelab's
            // process group, say): its container may still run.
            if cgroup.kill_all() > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            cgroup.remove();
        }
        std::fs::remove_dir_all(&d.0)?;
        Ok(())
    }

    async fn list_containers(&self) -> Result<Vec<ContainerStatus>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("containers"))?.flatten() {
            if let Ok(s) = Dir(e.path()).status() {
                out.push(s);
            }
        }
        Ok(out)
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        Ok(self.container(id)?.status()?)
    }

    /// From the container's cgroup; without one (the process runtime),
    /// from `/proc/<pid>` of its main process: user + system time and RSS.
    async fn container_stats(&self, id: &str) -> Result<crate::ContainerStats> {
        let d = self.container(id)?;
        if !matches!(d.state(), ContainerState::Running { .. }) {
            return Ok(crate::ContainerStats::default());
        }
        if let Some(usage) = d.cgroup().and_then(|c| c.usage()) {
            return Ok(usage);
        }
        let Some(pid) = d.pid() else {
            return Ok(crate::ContainerStats::default());
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis; utime and stime
        // are the 14th and 15th of the line, in clock ticks (100 per second).
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<u64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        let rss_kib = crate::proc_status_kib(pid, "VmRSS").unwrap_or(0);
        Ok(crate::ContainerStats {
            cpu_nanos: ticks * 10_000_000,
            memory_bytes: rss_kib * 1024,
        })
    }

    async fn exec(&self, id: &str, argv: &[String], tty: bool, stdin: bool) -> Result<ExecProcess> {
        let d = self.container(id)?;
        if !matches!(d.state(), ContainerState::Running { .. }) {
            return Err(RuntimeError::Create(format!(
                "container {} is not running",
                d.record().map(|r| r.config.name).unwrap_or_default()
            )));
        }
        let rec = d.record()?;
        let cmd = if self.isolated() {
            let mut c = std::process::Command::new(std::env::current_exe()?);
            c.arg("runtime-exec").arg(&d.0).arg("--").args(argv);
            c
        } else {
            let mut r = rec.clone();
            r.config.argv = argv.to_vec();
            crate::process::command(&r)
        };
        crate::process::spawn_exec(cmd, tty, stdin)
    }

    async fn attach_stdin(&self, id: &str) -> Result<Pin<Box<dyn AsyncWrite + Send>>> {
        let d = self.container(id)?;
        let fifo = d.path("stdin");
        if !fifo.exists() {
            return Err(RuntimeError::Unsupported(
                "the container was not started with stdin: true".into(),
            ));
        }
        // Opening a FIFO for writing waits for the shim's reader.
        let f = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::fs::OpenOptions::new().write(true).open(&fifo),
        )
        .await
        .map_err(|_| RuntimeError::Create("the container does not read its stdin".into()))??;
        Ok(Box::pin(f))
    }

    async fn port_forward(&self, sandbox_id: &str, port: u16) -> Result<Box<dyn PodStream>> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = self
            .connect_in_pod(sandbox_id, addr, Duration::from_secs(5))
            .await;
        let stream = stream.map_err(|e| {
            RuntimeError::Create(format!(
                "error forwarding port {port} to pod: failed to connect to localhost:{port} inside the pod: {e}"
            ))
        })?;
        Ok(Box::new(stream))
    }

    async fn connect(
        &self,
        sandbox_id: &str,
        addr: std::net::SocketAddr,
        timeout: Duration,
    ) -> std::io::Result<tokio::net::TcpStream> {
        self.connect_in_pod(sandbox_id, addr, timeout).await
    }
}

impl LinuxRuntime {
    /// A TCP connection made inside the sandbox's network namespace.
    async fn connect_in_pod(
        &self,
        sandbox_id: &str,
        addr: std::net::SocketAddr,
        timeout: Duration,
    ) -> std::io::Result<tokio::net::TcpStream> {
        let netns = if self.isolated() {
            let pid = self.sandbox_pid(sandbox_id).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "the pod sandbox is gone")
            })?;
            Some(format!("/proc/{pid}/ns/net"))
        } else {
            None
        };
        // A socket belongs to the network namespace it was created in: make
        // it on a short-lived thread that has entered the pod's namespace.
        let stream =
            tokio::task::spawn_blocking(move || -> std::io::Result<std::net::TcpStream> {
                // Builder::spawn, not thread::spawn: a machine out of threads
                // fails this probe or port-forward, not the kubelet.
                std::thread::Builder::new()
                    .name("connect-in-pod".into())
                    .spawn(move || {
                        if let Some(ns) = netns {
                            let f = std::fs::File::open(&ns)?;
                            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                                .map_err(std::io::Error::other)?;
                        }
                        std::net::TcpStream::connect_timeout(&addr, timeout)
                    })?
                    .join()
                    .map_err(|_| std::io::Error::other("connect thread panicked"))?
            })
            .await
            .map_err(std::io::Error::other)??;
        stream.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(stream)
    }
}

/// Used by `kubelab down` after a crash: kill whatever the state folders
/// still name, even without a running kubelab.
pub fn kill_leftovers(root: &std::path::Path) -> usize {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(root.join("containers")) {
        for e in rd.flatten() {
            let d = Dir(e.path());
            if let Some(pid) = d.pid().filter(|p| alive(*p)) {
                signal(
                    pid,
                    d.record().map(|r| r.mode != "linux").unwrap_or(false),
                    Signal::SIGKILL,
                );
                n += 1;
            }
            if let Some(shim) = d.shim_pid().filter(|p| alive(*p)) {
                signal(shim, false, Signal::SIGKILL);
            }
            if let Some(cgroup) = d.cgroup() {
                n += cgroup.kill_all();
                std::thread::sleep(Duration::from_millis(50));
                cgroup.remove();
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(root.join("sandboxes")) {
        for e in rd.flatten() {
            if let Some(pid) = std::fs::read_to_string(e.path().join("pause.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .filter(|p| alive(*p))
            {
                signal(pid, false, Signal::SIGKILL);
                n += 1;
            }
        }
    }
    n
}
