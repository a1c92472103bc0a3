//! # kubelab-runtime — the container runtime (chapter 02)
//!
//! The kubelet never starts a process itself. It asks a *container
//! runtime* — containerd or CRI-O in a real cluster — through the
//! Container Runtime Interface (CRI): "run a pod sandbox", "create this
//! container in it", "start it", "what is its status?", "stop it". This
//! crate is that interface ([`Runtime`]) and three runtimes behind it:
//!
//! | runtime | what a container is | when |
//! |---|---|---|
//! | [`linux::LinuxRuntime`] | a process in its own mount and PID namespaces, sharing the pod's network, IPC and UTS namespaces, on an overlay of its image, limited by cgroups | root on Linux (the default) |
//! | [`process::ProcessRuntime`] | a plain child process, its image folder as working directory; **no isolation** | no root, or not Linux |
//! | [`fake::FakeRuntime`] | nothing: it says "running" at once | scale tests (like kwok) |
//!
//! ## How a container runs (linux and process runtimes)
//! ```text
//! kubelab (tokio)  ──spawn──▶  kubelab runtime-shim DIR   (one per container; outlives kubelab)
//!                                 │ writes the log (CRI format) and, at the end, exit.json
//!                                 └─spawn─▶ kubelab runtime-init DIR   (linux only)
//!                                             │ joins cgroups + the pod's namespaces,
//!                                             │ unshare(mount, PID)
//!                                             └─fork─▶ PID 1: overlay, /proc, /dev,
//!                                                      pivot_root, exec the command
//! ```
//! The shim is containerd's `containerd-shim` (or CRI-O's `conmon`) in
//! miniature: because it, not kubelab, is the container's parent, kubelab
//! can restart and find its containers still running ("re-adoption").
//! The shim and init (and the pod's pause process) are kubelab itself,
//! re-executed as small single-threaded programs; [`reexec`] says why.
//! Everything about a container lives in one folder ([`container`]), so
//! the runtime's state *is* the file system.
//!
//! ## Where to start reading
//! The [`Runtime`] trait, then [`linux::LinuxRuntime::start_container`] and
//! [`init::init`] for the namespaces, [`cgroup`] for limits, [`image`]
//! for where root file systems come from.

pub mod cgroup;
pub mod container;
pub mod exec;
pub mod fake;
pub mod image;
pub mod init;
pub mod linux;
pub mod pause;
pub mod process;
pub mod reexec;
pub mod security;
pub mod shim;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

pub use image::{Image, ImageStore};

/// What can go wrong; the kubelet turns these into container reasons.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image is not in the local image store (`ErrImageNeverPull`).
    #[error("{0}")]
    ImageNotFound(String),
    /// The container could not be created (`CreateContainerError`).
    #[error("{0}")]
    Create(String),
    #[error("no such container or sandbox: {0}")]
    NotFound(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, RuntimeError>;

/// Which runtime a node uses (`kubelab up --runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Linux,
    Process,
    Fake,
}

impl RuntimeKind {
    /// `linux` when we may use namespaces (root on Linux), else `process`.
    pub fn detect() -> RuntimeKind {
        if cfg!(target_os = "linux") && nix::unistd::geteuid().is_root() {
            RuntimeKind::Linux
        } else {
            RuntimeKind::Process
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Linux => "linux",
            RuntimeKind::Process => "process",
            RuntimeKind::Fake => "fake",
        }
    }

    /// The `containerRuntimeVersion` a node reports (`kubectl get nodes -o wide`).
    pub fn version_string(self) -> String {
        format!("kubelab-{}://{}", self.as_str(), env!("CARGO_PKG_VERSION"))
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "linux" => Ok(RuntimeKind::Linux),
            "process" => Ok(RuntimeKind::Process),
            "fake" => Ok(RuntimeKind::Fake),
            other => Err(format!(
                "unknown runtime {other:?}: use linux, process or fake"
            )),
        }
    }
}

/// CRI's `PodSandboxConfig`, the part we use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodSandboxConfig {
    pub pod_uid: String,
    pub name: String,
    pub namespace: String,
    /// The pod's hostname (its name, as upstream).
    pub hostname: String,
    /// `shareProcessNamespace: true` (chapter 07): the sandbox owns a PID
    /// namespace, its pause process is PID 1 there, and containers that
    /// ask for [`PidNamespace::Pod`] join it.
    #[serde(default)]
    pub share_pid: bool,
}

/// Which PID namespace a container's processes live in (CRI's
/// `NamespaceMode` for PIDs: `CONTAINER`, `POD` or `TARGET`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PidNamespace {
    /// Its own: its first process is PID 1 (upstream's default).
    #[default]
    Container,
    /// The pod's, shared by every container (`shareProcessNamespace`);
    /// the pause process is PID 1.
    Pod,
    /// Another container's (by runtime id): an ephemeral container's
    /// `targetContainerName`, as `kubectl debug --target` asks.
    Target(String),
}

/// A sandbox the runtime knows about (for re-adoption after a restart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodSandbox {
    pub id: String,
    pub config: PodSandboxConfig,
    pub ready: bool,
}

/// Resource limits, from `resources.limits` (chapter 02) — enforced by cgroups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub cpu_millis: Option<u64>,
    pub pids: Option<u64>,
}

/// A bind mount into the container (volumes arrive in chapter 05; the
/// kubelet already mounts `/etc/hosts` this way).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// CRI's `ContainerConfig`: everything needed to start one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub pod_uid: String,
    pub pod_name: String,
    pub pod_namespace: String,
    pub name: String,
    /// How many times this container was started before (0 at first).
    pub attempt: u32,
    /// The normalised reference, e.g. `docker.io/library/busybox:latest`.
    pub image: String,
    /// The final argv: image entrypoint/cmd merged with command/args by the kubelet.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub limits: Limits,
    pub mounts: Vec<Mount>,
    pub stdin: bool,
    pub stdin_once: bool,
    pub tty: bool,
    /// Who the process runs as and what it may do (the pod's and the
    /// container's `securityContext`; the OCI spec's `process.user`,
    /// `noNewPrivileges` and `root.readonly`).
    #[serde(default)]
    pub security: Security,
    /// Its PID namespace (chapter 07).
    #[serde(default)]
    pub pid_namespace: PidNamespace,
}

/// The parts of a `securityContext` the runtime applies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// `runAsUser` (`None`: root, as the built-in images have no `User`).
    pub uid: Option<u32>,
    /// `runAsGroup`, else the user's primary group.
    pub gid: Option<u32>,
    /// `supplementalGroups` (and `fsGroup`).
    pub groups: Vec<u32>,
    /// `allowPrivilegeEscalation: false`: the `no_new_privs` bit.
    pub no_new_privs: bool,
    /// `readOnlyRootFilesystem`.
    pub read_only_rootfs: bool,
    /// The capabilities the container keeps, by number (the kubelet works
    /// them out: containerd's default set, the container's `add` and
    /// `drop`, or all for `privileged`). `None`: no restriction.
    #[serde(default)]
    pub capabilities: Option<Vec<u8>>,
    /// `privileged: true`: `/sys` writable, `/proc` unmasked.
    #[serde(default)]
    pub privileged: bool,
    /// `seccompProfile: RuntimeDefault`: the runtime's default filter
    /// ([`security::default_seccomp_program`]).
    #[serde(default)]
    pub seccomp_default: bool,
}

/// CRI's container states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum ContainerState {
    Created,
    Running {
        started_at: String,
    },
    Exited {
        started_at: Option<String>,
        finished_at: String,
        exit_code: i32,
        /// `Completed`, `Error`, `OOMKilled`, `StartError`.
        reason: String,
        message: Option<String>,
    },
}

/// What the runtime reports about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerStatus {
    pub id: String,
    pub sandbox_id: String,
    pub config: ContainerConfig,
    /// The image's id (`sha256:…`), shown as `imageID`.
    pub image_id: String,
    pub state: ContainerState,
    pub log_path: PathBuf,
}

/// A process started by `exec`: its streams and, at the end, its exit code.
pub struct ExecProcess {
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    /// `None` with a TTY: stderr is merged into stdout, as upstream.
    pub stderr: Option<Pin<Box<dyn AsyncRead + Send>>>,
    /// Sets the terminal size (TTY only).
    pub resize: Option<Arc<dyn Fn(u16, u16) + Send + Sync>>,
    pub exit: Pin<Box<dyn std::future::Future<Output = i32> + Send>>,
}

/// One reading of a container's usage ([`Runtime::container_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerStats {
    /// CPU time used since the container started, in nanoseconds (a
    /// counter: a rate needs two readings).
    pub cpu_nanos: u64,
    /// The memory working set in bytes (in use minus inactive file cache,
    /// what the kubelet reports and the OOM killer looks at).
    pub memory_bytes: u64,
}

/// A connection to a port inside a pod (port-forward).
pub trait PodStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> PodStream for T {}

/// The Container Runtime Interface, as much of it as kubelab needs.
/// Method names follow CRI's `RuntimeService` (`RunPodSandbox`,
/// `CreateContainer`, …).
#[async_trait::async_trait]
pub trait Runtime: Send + Sync + 'static {
    fn kind(&self) -> RuntimeKind;
    fn images(&self) -> &ImageStore;

    /// Creates the pod's shared namespaces (the "pause container").
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String>;
    /// Stops and removes the sandbox; its containers must be stopped first.
    async fn remove_pod_sandbox(&self, id: &str) -> Result<()>;
    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandbox>>;
    /// The sandbox's network namespace, for the network plugin (chapter
    /// 03); `None` when pods have no network of their own.
    fn sandbox_netns(&self, _id: &str) -> Option<PathBuf> {
        None
    }

    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String>;
    async fn start_container(&self, id: &str) -> Result<()>;
    /// SIGTERM, wait up to `grace`, then SIGKILL.
    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()>;
    async fn remove_container(&self, id: &str) -> Result<()>;
    async fn list_containers(&self) -> Result<Vec<ContainerStatus>>;
    async fn container_status(&self, id: &str) -> Result<ContainerStatus>;
    /// What a container uses now: its CPU time so far and its memory
    /// working set (CRI's `ContainerStats`, which cAdvisor reads from the
    /// container's cgroup; chapter 06's metrics come from here). The
    /// fake runtime has no processes and uses nothing.
    async fn container_stats(&self, _id: &str) -> Result<ContainerStats> {
        Ok(ContainerStats::default())
    }

    /// Runs a command inside a running container (`kubectl exec`).
    async fn exec(&self, id: &str, argv: &[String], tty: bool, stdin: bool) -> Result<ExecProcess>;
    /// Opens the container's stdin (`kubectl attach`); output is read from its log.
    async fn attach_stdin(&self, id: &str) -> Result<Pin<Box<dyn AsyncWrite + Send>>>;
    /// Connects to `port` on the pod's loopback (`kubectl port-forward`).
    async fn port_forward(&self, sandbox_id: &str, port: u16) -> Result<Box<dyn PodStream>>;
    /// Opens a TCP connection to `addr` from inside the pod's network
    /// namespace (chapter 07's probes and hooks: the kubelet reaches the
    /// pod's IP, as upstream's kubelet does from the node). By default,
    /// from kubelab's own namespace.
    async fn connect(
        &self,
        _sandbox_id: &str,
        addr: std::net::SocketAddr,
        timeout: Duration,
    ) -> std::io::Result<tokio::net::TcpStream> {
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "i/o timeout"))?
    }

    /// Stops and removes everything (`kubelab down`).
    async fn remove_all(&self) -> Result<()> {
        // All at once: a PID 1 that ignores SIGTERM costs its whole grace
        // period, and one after the other that adds up.
        let containers = self.list_containers().await?;
        futures::future::join_all(containers.iter().map(|c| async move {
            let _ = self.stop_container(&c.id, Duration::from_secs(1)).await;
            let _ = self.remove_container(&c.id).await;
        }))
        .await;
        for s in self.list_pod_sandboxes().await? {
            let _ = self.remove_pod_sandbox(&s.id).await;
        }
        Ok(())
    }
}

/// Creates the runtime of `kind` keeping its state under `root` and its
/// images in `images`.
pub fn new(kind: RuntimeKind, root: PathBuf, images: ImageStore) -> Result<Arc<dyn Runtime>> {
    Ok(match kind {
        RuntimeKind::Linux => Arc::new(linux::LinuxRuntime::new(root, images)?),
        RuntimeKind::Process => Arc::new(process::ProcessRuntime::new_process(root, images)?),
        RuntimeKind::Fake => Arc::new(fake::FakeRuntime::new(images)),
    })
}

/// A fresh random id (containerd uses 64 hex digits; 32 are plenty here).
pub fn new_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| std::char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect()
}

/// RFC 3339 with seconds, as Kubernetes timestamps are written.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A `Field:   123 kB` line of `/proc/<pid>/status`, in KiB.
pub(crate) fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
