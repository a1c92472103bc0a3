//! A container on disk: everything the runtime knows about one container
//! lives in its folder, so a restarted kubelab finds its containers again.
//!
//! ```text
//! <runtime root>/containers/<id>/
//!   record.json   what to run (ContainerConfig) and where (sandbox, image)
//!   shim.pid      the shim watching it        pid        its main process
//!   started       when it started             exit.json  how it ended
//!   start-error   why it could not start      log        its output (CRI format)
//!   stdin         a FIFO, when the spec asks for stdin
//!   upper/ work/ rootfs/   the overlay (linux runtime)
//! ```
//!
//! The log uses the CRI log format that containerd writes under
//! `/var/log/pods`, one line per chunk of output:
//! `2025-01-02T03:04:05.123456789Z stdout F hello` — `F` for a full line,
//! `P` for a partial one (no newline yet). `kubectl logs --timestamps`
//! prints that first field.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{ContainerConfig, ContainerState, ContainerStatus};

/// `record.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub sandbox_id: String,
    pub config: ContainerConfig,
    pub image_id: String,
    /// The image's root file system (the overlay's lower layer).
    pub image_rootfs: PathBuf,
    /// Which runtime made it: `linux` or `process`.
    pub mode: String,
    /// The pod sandbox's pause process (linux): its namespaces are joined.
    pub sandbox_pid: Option<u32>,
    /// The process whose PID namespace the container joins instead of
    /// making its own (the pause process, or a target container's first
    /// process; chapter 07).
    #[serde(default)]
    pub join_pid_ns: Option<u32>,
    /// cgroup folders (linux).
    pub cgroups: Vec<PathBuf>,
    /// Inside the container, where the cgroup layout is v1 or v2 ("v1"/"v2").
    pub cgroup_layout: Option<String>,
}

/// `exit.json`, written by the shim when the main process has ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exit {
    pub exit_code: i32,
    pub reason: String,
    pub message: Option<String>,
    pub finished_at: String,
}

/// One container folder.
#[derive(Debug, Clone)]
pub struct Dir(pub PathBuf);

impl Record {
    /// The container's cgroups (one per hierarchy on cgroup v1).
    pub fn cgroup(&self) -> crate::cgroup::Cgroup {
        crate::cgroup::Cgroup {
            layout: crate::cgroup::Layout::detect(),
            dirs: self.cgroups.clone(),
        }
    }
}

impl Dir {
    /// The cgroups of the container recorded here, if its record is readable.
    pub fn cgroup(&self) -> Option<crate::cgroup::Cgroup> {
        self.record().ok().map(|r| r.cgroup())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn record(&self) -> std::io::Result<Record> {
        let bytes = std::fs::read(self.path("record.json"))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    pub fn write_record(&self, r: &Record) -> std::io::Result<()> {
        write_atomic(&self.path("record.json"), &serde_json::to_vec_pretty(r)?)
    }

    fn read_pid(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.path(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The container's main process (as the host sees it), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.read_pid("pid")
    }

    pub fn shim_pid(&self) -> Option<u32> {
        self.read_pid("shim.pid")
    }

    pub fn exit(&self) -> Option<Exit> {
        let bytes = std::fs::read(self.path("exit.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The state, read from the folder: exit.json means it ended; a live
    /// shim means it runs; a dead shim without exit.json means it was lost.
    pub fn state(&self) -> ContainerState {
        let started_at = std::fs::read_to_string(self.path("started"))
            .ok()
            .map(|s| s.trim().to_string());
        if let Some(e) = self.exit() {
            return ContainerState::Exited {
                started_at,
                finished_at: e.finished_at,
                exit_code: e.exit_code,
                reason: e.reason,
                message: e.message,
            };
        }
        match self.shim_pid() {
            Some(pid) if alive(pid) => ContainerState::Running {
                started_at: started_at.unwrap_or_else(crate::now),
            },
            Some(_) => ContainerState::Exited {
                started_at,
                finished_at: crate::now(),
                exit_code: 255,
                reason: "Error".into(),
                message: Some("the container's shim is gone (was the host rebooted?)".into()),
            },
            None => ContainerState::Created,
        }
    }

    pub fn status(&self) -> std::io::Result<ContainerStatus> {
        let r = self.record()?;
        Ok(ContainerStatus {
            id: r.id,
            sandbox_id: r.sandbox_id,
            config: r.config,
            image_id: r.image_id,
            state: self.state(),
            log_path: self.path("log"),
        })
    }
}

/// Is process `pid` alive (and not a zombie)?
pub fn alive(pid: u32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    // A zombie still "exists" for kill(0); its state letter says Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
                .unwrap_or(true)
        })
        .unwrap_or(true)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// Appends output to a CRI-format log: one entry per line of `chunk`; a
/// trailing piece without newline becomes a partial (`P`) entry.
pub fn write_log(log: &mut impl Write, stream: &str, chunk: &[u8]) -> std::io::Result<()> {
    let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let mut out = Vec::with_capacity(chunk.len() + 64);
    let mut rest = chunk;
    while !rest.is_empty() {
        let (line, tag, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], "F", &rest[i + 1..]),
            None => (rest, "P", &rest[rest.len()..]),
        };
        out.extend_from_slice(format!("{ts} {stream} {tag} ").as_bytes());
        out.extend_from_slice(line);
        out.push(b'\n');
        rest = next;
    }
    log.write_all(&out)
}

/// One entry of a CRI log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub timestamp: String,
    pub stream: String,
    /// The bytes, with the newline back on for full lines.
    pub content: Vec<u8>,
}

/// Parses one CRI log line.
pub fn parse_log_line(line: &[u8]) -> Option<LogEntry> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let ts = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let stream = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let tag = parts.next()?;
    let mut content = parts.next().unwrap_or_default().to_vec();
    if tag == b"F" {
        content.push(b'\n');
    }
    Some(LogEntry {
        timestamp: ts,
        stream,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_round_trip_through_the_cri_format() {
        let mut buf = Vec::new();
        write_log(&mut buf, "stdout", b"one\ntwo\nthr").unwrap();
        write_log(&mut buf, "stderr", b"ee\n").unwrap();
        let entries: Vec<LogEntry> = buf
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(parse_log_line)
            .collect();
        let text: Vec<u8> = entries.iter().flat_map(|e| e.content.clone()).collect();
        assert_eq!(String::from_utf8(text).unwrap(), "one\ntwo\nthree\n");
        assert_eq!(entries[3].stream, "stderr");
        assert!(entries[0].timestamp.ends_with('Z'));
        assert_eq!(entries.len(), 4);
    }

    #[test]
    fn a_folder_without_a_shim_is_created_and_with_exit_json_is_exited() {
        let dir = tempfile::tempdir().unwrap();
        let d = Dir(dir.path().to_path_buf());
        assert_eq!(d.state(), ContainerState::Created);
        std::fs::write(d.path("shim.pid"), std::process::id().to_string()).unwrap();
        assert!(matches!(d.state(), ContainerState::Running { .. }));
        let exit = Exit {
            exit_code: 137,
            reason: "OOMKilled".into(),
            message: None,
            finished_at: crate::now(),
        };
        write_atomic(&d.path("exit.json"), &serde_json::to_vec(&exit).unwrap()).unwrap();
        assert!(
            matches!(d.state(), ContainerState::Exited { exit_code: 137, ref reason, .. } if reason == "OOMKilled")
        );
    }
}
