//! The shim program: the container's parent.
//!
//! It starts the container (through [`init`](crate::init) on the linux
//! runtime, directly on the process runtime), copies its output into the
//! CRI log, feeds its stdin, and writes `exit.json` when it ends. It lives
//! as long as the container, and longer than kubelab if need be: it runs in
//! its own session, so kubelab can stop, restart, and find its containers
//! still running ("re-adoption", see [`crate::container`]).
//!
//! The real thing is containerd's `containerd-shim-runc-v2` (or CRI-O's
//! `conmon`): one small process per container that holds its stdio and
//! reaps it, so that the container runtime daemon itself can restart
//! without taking the containers down.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cgroup::{Cgroup, Layout};
use crate::container::{Dir, Exit, Record, write_atomic, write_log};
use crate::reexec::fail;

/// The container's parent for its whole life (containerd-shim's job):
/// starts it, copies its stdout/stderr into the CRI log with timestamps,
/// feeds its stdin from a FIFO, and writes `exit.json` when it ends —
/// with `OOMKilled` if the cgroup's OOM counter moved.
pub fn shim(dir: &Path) -> i32 {
    // Own session: Ctrl-C on kubelab's terminal must not reach containers.
    let _ = nix::unistd::setsid();
    let d = Dir(dir.to_path_buf());
    let rec = match d.record() {
        Ok(r) => r,
        Err(e) => return fail("reading record.json", e),
    };
    let _ = write_atomic(
        &d.path("shim.pid"),
        std::process::id().to_string().as_bytes(),
    );
    let log = match OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.path("log"))
    {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => return fail("opening the log", e),
    };
    let mut cmd = if rec.mode == "linux" {
        let mut c = Command::new("/proc/self/exe");
        c.arg("runtime-init").arg(dir);
        c
    } else {
        crate::process::command(&rec)
    };
    // Output: a pseudo-terminal if the spec asks for a TTY, else pipes.
    let mut pty_master: Option<File> = None;
    if rec.config.tty {
        match crate::process::with_pty(&mut cmd) {
            Ok(master) => pty_master = Some(master),
            Err(e) => return fail("openpty", e),
        }
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if rec.config.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    }
    let started_at = crate::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("failed to start container process: {e}");
            let _ = std::fs::write(d.path("start-error"), &msg);
            return finish(&d, &rec, None, 128, None);
        }
    };
    let _ = write_atomic(&d.path("started"), started_at.as_bytes());
    if rec.mode != "linux" {
        let _ = write_atomic(&d.path("pid"), child.id().to_string().as_bytes());
    }
    // Copy output into the log, one thread per stream.
    let mut copiers = Vec::new();
    let mut copy = |mut from: Box<dyn Read + Send>, stream: &'static str| {
        let log = log.clone();
        copiers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = write_log(&mut *log.lock().unwrap(), stream, &buf[..n]);
            }
        }));
    };
    let mut stdin_sink: Option<Box<dyn Write + Send>> = None;
    if let Some(m) = &pty_master {
        copy(Box::new(m.try_clone().unwrap()), "stdout");
        if rec.config.stdin {
            stdin_sink = Some(Box::new(m.try_clone().unwrap()));
        }
    } else {
        if let Some(o) = child.stdout.take() {
            copy(Box::new(o), "stdout");
        }
        if let Some(e) = child.stderr.take() {
            copy(Box::new(e), "stderr");
        }
        if let Some(i) = child.stdin.take() {
            stdin_sink = Some(Box::new(i));
        }
    }
    // Stdin: whoever attaches writes into the FIFO; with stdinOnce the
    // first attach's end of input is the container's end of input.
    if let Some(mut sink) = stdin_sink {
        let fifo = d.path("stdin");
        let once = rec.config.stdin_once;
        std::thread::spawn(move || {
            loop {
                let Ok(mut f) = File::open(&fifo) else { break };
                let _ = std::io::copy(&mut f, &mut sink);
                if once {
                    break;
                }
            }
            drop(sink);
        });
    }
    let status = child.wait();
    let code = match status {
        Ok(s) => s.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(9)
        }),
        Err(_) => 255,
    };
    drop(pty_master);
    // Let the copiers drain what is left (they end when the pipes close).
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    for c in copiers {
        while !c.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    finish(&d, &rec, Some(started_at), code, Some(&log))
}

/// Writes `exit.json` with upstream's reasons and removes the cgroups.
fn finish(
    d: &Dir,
    rec: &Record,
    _started: Option<String>,
    code: i32,
    log: Option<&Arc<Mutex<File>>>,
) -> i32 {
    let start_error = std::fs::read_to_string(d.path("start-error"))
        .ok()
        .filter(|s| !s.trim().is_empty());
    let cg = Cgroup {
        layout: if rec.cgroup_layout.as_deref() == Some("v2") {
            Layout::Unified
        } else {
            Layout::Legacy
        },
        dirs: rec.cgroups.clone(),
    };
    let (code, reason, message) = if let Some(msg) = start_error {
        (128, "StartError", Some(msg.trim().to_string()))
    } else if code == 137 && cg.oom_kills() > 0 {
        (137, "OOMKilled", None)
    } else if code == 0 {
        (0, "Completed", None)
    } else {
        (code, "Error", None)
    };
    if let (Some(log), Some(m)) = (log, &message) {
        let _ = write_log(
            &mut *log.lock().unwrap(),
            "stderr",
            format!("{m}\n").as_bytes(),
        );
    }
    let exit = Exit {
        exit_code: code,
        reason: reason.into(),
        message,
        finished_at: crate::now(),
    };
    // In a shared PID namespace (the pod's, or a debug target's) the main
    // process's death does not end its children: they would be adopted
    // by the namespace's PID 1 and live on. Kill what is left in the
    // container's cgroup first, as runc does.
    if rec.join_pid_ns.is_some() {
        for _ in 0..50 {
            if cg.kill_all() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = write_atomic(
        &d.path("exit.json"),
        &serde_json::to_vec(&exit).unwrap_or_default(),
    );
    cg.remove();
    0
}
