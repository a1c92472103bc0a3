//! Control groups: how `resources.limits` become kernel limits.
//!
//! A cgroup is a folder in a special file system; processes listed in its
//! `cgroup.procs` share its limits. Two layouts exist and kubelab meets both:
//!
//! - **v2 (unified)**: one tree at `/sys/fs/cgroup`, files `memory.max`,
//!   `cpu.max`, `pids.max`, and `memory.events` counting OOM kills.
//! - **v1 (legacy, or "hybrid" with an empty v2 tree beside it)**: one tree
//!   per controller — `/sys/fs/cgroup/memory/…/memory.limit_in_bytes`,
//!   `/sys/fs/cgroup/cpu/…/cpu.cfs_quota_us`, `/sys/fs/cgroup/pids/…/pids.max`,
//!   and `memory.oom_control` counting OOM kills.
//!
//! Which one a host has is detected once ([`Layout::detect`]). Every
//! container gets `kubelab/<container id>` in each tree; the kubelet's
//! `--cgroup-driver` and the per-pod/QoS levels of upstream are left out.
//!
//! The limits map as the kubelet maps them: memory limit → hard memory
//! limit (over it, the kernel's OOM killer sends SIGKILL: exit 137,
//! reason `OOMKilled`); CPU limit in millicores → a CFS quota of
//! `millis × 100 µs` per 100 ms period (throttling, never killing).

use std::path::{Path, PathBuf};

use crate::Limits;

const ROOT: &str = "/sys/fs/cgroup";
/// Every cgroup kubelab makes is under this name in each hierarchy.
pub const PARENT: &str = "kubelab";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2 with the memory, cpu and pids controllers.
    Unified,
    /// cgroup v1 controllers (possibly next to an empty v2 tree).
    Legacy,
}

impl Layout {
    pub fn detect() -> Layout {
        let controllers =
            std::fs::read_to_string(format!("{ROOT}/cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            Layout::Unified
        } else {
            Layout::Legacy
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::Unified => "v2",
            Layout::Legacy => "v1",
        }
    }
}

/// The v1 hierarchies a container gets a folder in.
const LEGACY_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

/// The folders of one container's cgroup (one per v1 controller, or one in v2).
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub layout: Layout,
    pub dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates `kubelab/<id>` in each hierarchy and writes the limits.
    // ANCHOR: create
    pub fn create(id: &str, limits: &Limits) -> std::io::Result<Cgroup> {
        let layout = Layout::detect();
        let dirs: Vec<PathBuf> = match layout {
            Layout::Unified => {
                // Controllers must be enabled for the children of kubelab/.
                let parent = Path::new(ROOT).join(PARENT);
                std::fs::create_dir_all(&parent)?;
                let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu +pids");
                vec![parent.join(id)]
            }
            Layout::Legacy => {
                // cpuacct is where v1 counts CPU time (chapter 06's
                // metrics); on many machines it shares cpu's hierarchy
                // (`cpu,cpuacct`), and then one folder serves both.
                let mut seen = Vec::new();
                LEGACY_CONTROLLERS
                    .iter()
                    .map(|c| Path::new(ROOT).join(c).join(PARENT).join(id))
                    .filter(|p| p.parent().and_then(Path::parent).is_some_and(Path::exists))
                    .filter(|p| {
                        let hierarchy = p
                            .parent()
                            .and_then(Path::parent)
                            .and_then(|h| h.canonicalize().ok());
                        !seen.contains(&hierarchy) && {
                            seen.push(hierarchy);
                            true
                        }
                    })
                    .collect()
            }
        };
        for d in &dirs {
            std::fs::create_dir_all(d)?;
        }
        let cg = Cgroup { layout, dirs };
        cg.set_limits(limits)?;
        Ok(cg)
    }
    // ANCHOR_END: create

    /// The cgroup of container `id` as it exists on disk (after a restart).
    pub fn existing(id: &str) -> Cgroup {
        let layout = Layout::detect();
        let dirs = match layout {
            Layout::Unified => vec![Path::new(ROOT).join(PARENT).join(id)],
            Layout::Legacy => LEGACY_CONTROLLERS
                .iter()
                .map(|c| Path::new(ROOT).join(c).join(PARENT).join(id))
                .collect(),
        };
        Cgroup {
            layout,
            dirs: dirs.into_iter().filter(|d| d.exists()).collect(),
        }
    }

    fn file(&self, controller: &str, name: &str) -> Option<PathBuf> {
        match self.layout {
            Layout::Unified => self.dirs.first().map(|d| d.join(name)),
            Layout::Legacy => self
                .dirs
                .iter()
                .find(|d| d.components().any(|c| c.as_os_str() == controller))
                .map(|d| d.join(name)),
        }
    }

    fn write(&self, controller: &str, name: &str, value: &str) -> std::io::Result<()> {
        if let Some(f) = self.file(controller, name) {
            std::fs::write(&f, value).map_err(|e| {
                std::io::Error::new(e.kind(), format!("writing {value} to {}: {e}", f.display()))
            })?;
        }
        Ok(())
    }

    fn set_limits(&self, limits: &Limits) -> std::io::Result<()> {
        match self.layout {
            Layout::Unified => {
                if let Some(m) = limits.memory_bytes {
                    self.write("memory", "memory.max", &m.to_string())?;
                    // No swapping around the limit: over it means OOM, as upstream.
                    let _ = self.write("memory", "memory.swap.max", "0");
                }
                if let Some(c) = limits.cpu_millis {
                    self.write("cpu", "cpu.max", &format!("{} 100000", (c * 100).max(1000)))?;
                }
                if let Some(p) = limits.pids {
                    self.write("pids", "pids.max", &p.to_string())?;
                }
            }
            Layout::Legacy => {
                if let Some(m) = limits.memory_bytes {
                    self.write("memory", "memory.limit_in_bytes", &m.to_string())?;
                    let _ = self.write("memory", "memory.memsw.limit_in_bytes", &m.to_string());
                }
                if let Some(c) = limits.cpu_millis {
                    self.write("cpu", "cpu.cfs_period_us", "100000")?;
                    self.write("cpu", "cpu.cfs_quota_us", &(c * 100).max(1000).to_string())?;
                }
                if let Some(p) = limits.pids {
                    self.write("pids", "pids.max", &p.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// CPU time (ns) and memory working set (bytes) of everything in the
    /// cgroup: v2's `cpu.stat` usage_usec and `memory.current` minus
    /// `inactive_file`; v1's `cpuacct.usage` and `memory.usage_in_bytes`.
    pub fn usage(&self) -> Option<crate::ContainerStats> {
        let read = |controller: &str, name: &str| {
            self.file(controller, name)
                .and_then(|f| std::fs::read_to_string(f).ok())
        };
        let stat_field = |text: &str, key: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(key)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        let (cpu_nanos, memory, inactive) = match self.layout {
            Layout::Unified => {
                let cpu = stat_field(&read("cpu", "cpu.stat")?, "usage_usec")? * 1000;
                let mem: u64 = read("memory", "memory.current")?.trim().parse().ok()?;
                let inactive = read("memory", "memory.stat")
                    .and_then(|t| stat_field(&t, "inactive_file"))
                    .unwrap_or(0);
                (cpu, mem, inactive)
            }
            Layout::Legacy => {
                let cpu = read("cpuacct", "cpuacct.usage")
                    .or_else(|| read("cpu", "cpuacct.usage"))
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                let mem: u64 = read("memory", "memory.usage_in_bytes")?
                    .trim()
                    .parse()
                    .ok()?;
                let inactive = read("memory", "memory.stat")
                    .and_then(|t| stat_field(&t, "total_inactive_file"))
                    .unwrap_or(0);
                (cpu, mem, inactive)
            }
        };
        Some(crate::ContainerStats {
            cpu_nanos,
            memory_bytes: memory.saturating_sub(inactive),
        })
    }

    /// Moves process `pid` into this cgroup (in every hierarchy).
    pub fn add_process(&self, pid: u32) -> std::io::Result<()> {
        for d in &self.dirs {
            std::fs::write(d.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// How many times the OOM killer fired in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let (file, key) = match self.layout {
            Layout::Unified => ("memory.events", "oom_kill"),
            Layout::Legacy => ("memory.oom_control", "oom_kill"),
        };
        self.file("memory", file)
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Removes the folders (they must hold no process any more).
    /// SIGKILLs every process in the cgroup: the container's PID 1 and the
    /// helper that forked it, even when their pid files were never written
    /// (a container stopped while it was still starting).
    pub fn kill_all(&self) -> usize {
        let mut killed = 0;
        for d in &self.dirs {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                if nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .is_ok()
                {
                    killed += 1;
                }
            }
        }
        killed
    }

    pub fn remove(&self) {
        for d in &self.dirs {
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// Every cgroup folder kubelab has made, in every hierarchy (for cleanup checks).
pub fn all_kubelab_cgroups() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for base in [
        PathBuf::from(ROOT).join(PARENT),
        PathBuf::from(ROOT).join("memory").join(PARENT),
        PathBuf::from(ROOT).join("cpu").join(PARENT),
        PathBuf::from(ROOT).join("cpuacct").join(PARENT),
        PathBuf::from(ROOT).join("pids").join(PARENT),
        PathBuf::from(ROOT).join("unified").join(PARENT),
    ] {
        if let Ok(rd) = std::fs::read_dir(&base) {
            out.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    out
}
