//! The exec program: runs a command inside a running container.
//!
//! For `kubectl exec` on the linux runtime (the process runtime just
//! starts the command as a host process), it joins the container's cgroup
//! and all five of its namespaces, forks, and the child execs the command
//! with the container's environment, through the same `exec_command` (in
//! [`init`](crate::init)) as the container's own command. It lives as
//! long as the command and exits with its status.
//!
//! The real thing is `runc exec`, which containerd's shim runs for CRI's
//! `Exec`: it too enters the container's namespaces (through `runc init`)
//! rather than starting anything new, and its failures read as ours do
//! (`OCI runtime exec failed: …`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::sched::{CloneFlags, setns};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::container::Dir;
use crate::init::exec_command;
use crate::reexec::fail;

/// `kubectl exec`: enter every namespace of the running container (and
/// its cgroup), then fork the command — `setns` into a PID namespace, like
/// `unshare`, applies to children only.
pub fn exec(dir: &Path, argv: &[String]) -> i32 {
    let d = Dir(dir.to_path_buf());
    // The container counts as running once its shim is up; its first
    // process's pid is written a moment later, after the namespaces are
    // made (on a loaded machine, seconds later). An exec in between waits
    // for it, up to 10 s.
    let mut pid = d.pid();
    for _ in 0..500 {
        if pid.is_some() || !matches!(d.state(), crate::ContainerState::Running { .. }) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        pid = d.pid();
    }
    let (Ok(rec), Some(pid)) = (d.record(), pid) else {
        let why = match d.state() {
            crate::ContainerState::Exited { exit_code, .. } => {
                format!("it exited with code {exit_code}")
            }
            crate::ContainerState::Created => "it was never started".to_string(),
            crate::ContainerState::Running { .. } => {
                "its first process did not start within 10 s".to_string()
            }
        };
        return fail("exec", format!("the container is not running: {why}"));
    };
    if rec.mode != "linux" {
        return fail("exec", "only the linux runtime execs through this helper");
    }
    let cg = rec.cgroup();
    let _ = cg.add_process(std::process::id());
    // Open all first: once in the container's mount namespace, /proc is its.
    let mut files = Vec::new();
    for ns in ["ipc", "uts", "net", "pid", "mnt"] {
        match File::open(format!("/proc/{pid}/ns/{ns}")) {
            Ok(f) => files.push((ns, f)),
            Err(e) => return fail(&format!("opening the container's {ns} namespace"), e),
        }
    }
    for (ns, f) in &files {
        if let Err(e) = setns(f, CloneFlags::empty()) {
            return fail(
                &format!(
                    "joining the container's {ns} namespace (fd {})",
                    f.as_raw_fd()
                ),
                e,
            );
        }
    }
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let mut rec = rec.clone();
            rec.config.argv = argv.to_vec();
            let e = exec_command(&rec);
            eprintln!(
                "OCI runtime exec failed: exec failed: unable to start container process: {e}"
            );
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return code,
                Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return 255,
            }
        },
        Err(e) => fail("fork", e),
    }
}
