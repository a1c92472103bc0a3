//! The small programs the runtime starts: kubelab re-executes itself as
//! each of them (`/proc/self/exe runtime-shim DIR`, as runc re-executes
//! itself for `runc init`).
//!
//! Why not just `fork` and `unshare` from kubelab? Because kubelab runs
//! tokio with several threads, and `unshare(CLONE_NEWNS | CLONE_NEWPID)`
//! from a multi-threaded process affects only the calling thread; forking
//! a multi-threaded process is a minefield besides. A freshly executed
//! helper has one thread and does exactly one job:
//!
//! | helper | job | lives as long as |
//! |---|---|---|
//! | [`pause`] | owns the pod's network, IPC and UTS namespaces (the "pause container") | the pod |
//! | [`shim`] | parent of the container: copies its output to the log, records how it ended | the container |
//! | [`init`] | joins cgroups and namespaces, then forks the container's PID 1 | the container |
//! | [`exec`] | enters a running container for `kubectl exec` | the command |
//!
//! [`main`] dispatches to them; kubelab's `main` calls it before anything else.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::cgroup::{Cgroup, Layout};
use crate::container::{Dir, Exit, Record, write_atomic, write_log};

/// If `args` (the process's argv) names a runtime helper, runs it and
/// returns its exit code.
pub fn main(args: &[String]) -> Option<i32> {
    let dir = args.get(2).map(PathBuf::from);
    Some(match (args.get(1).map(String::as_str), dir) {
        (Some("runtime-shim"), Some(d)) => shim(&d),
        (Some("runtime-init"), Some(d)) => init(&d),
        (Some("runtime-pause"), Some(d)) => {
            pause(&d, args.get(3).map(String::as_str).unwrap_or("pod"))
        }
        (Some("runtime-exec"), Some(d)) => {
            let argv: Vec<String> = args
                .iter()
                .skip_while(|a| *a != "--")
                .skip(1)
                .cloned()
                .collect();
            exec(&d, &argv)
        }
        _ => return None,
    })
}

fn fail(what: &str, e: impl std::fmt::Display) -> i32 {
    eprintln!("kubelab: {what}: {e}");
    1
}

// ---------------------------------------------------------------- pause

/// The pod sandbox: a process that creates the pod's network, IPC and UTS
/// namespaces, sets the hostname, brings up `lo`, and then waits. Every
/// container of the pod joins its namespaces, which is why containers of
/// one pod reach each other on `127.0.0.1` (chapter 07).
pub fn pause(dir: &Path, hostname: &str) -> i32 {
    let _ = nix::unistd::setsid();
    if let Err(e) =
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS)
    {
        return fail("unshare(net, ipc, uts)", e);
    }
    if let Err(e) = nix::unistd::sethostname(hostname) {
        return fail("sethostname", e);
    }
    if let Err(e) = loopback_up() {
        return fail("bringing up lo", e);
    }
    extern "C" fn on_term(_: libc::c_int) {
        unsafe { libc::_exit(0) };
    }
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    if let Err(e) = write_atomic(
        &dir.join("pause.pid"),
        std::process::id().to_string().as_bytes(),
    ) {
        return fail("writing pause.pid", e);
    }
    loop {
        nix::unistd::pause();
    }
}

/// `ip link set lo up`, with the two ioctls it boils down to.
fn loopback_up() -> std::io::Result<()> {
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r != 0 { Err(err) } else { Ok(()) }
    }
}

// ----------------------------------------------------------------- shim

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
    let _ = write_atomic(
        &d.path("exit.json"),
        &serde_json::to_vec(&exit).unwrap_or_default(),
    );
    cg.remove();
    0
}

// ----------------------------------------------------------------- init

/// Becomes the container (linux runtime), step by step:
/// 1. join the container's cgroups (limits apply from here on);
/// 2. `setns` into the pod's IPC, UTS and network namespaces (the pause process's);
/// 3. `unshare` a new mount namespace and a new PID namespace;
/// 4. `fork`: the child is PID 1 of the new PID namespace (a new PID
///    namespace applies to children only) and runs [`container_main`];
///    this process stays outside, waits for it, and exits with its status.
// ANCHOR: init
pub fn init(dir: &Path) -> i32 {
    let d = Dir(dir.to_path_buf());
    let rec = match d.record() {
        Ok(r) => r,
        Err(e) => return fail("reading record.json", e),
    };
    let start_error = |msg: String| {
        let _ = std::fs::write(d.path("start-error"), &msg);
        eprintln!("{msg}");
        128
    };
    let cg = rec.cgroup();
    if let Err(e) = cg.add_process(std::process::id()) {
        return start_error(format!("joining the container's cgroup: {e}"));
    }
    if let Some(pause) = rec.sandbox_pid {
        for ns in ["ipc", "uts", "net"] {
            let joined = File::open(format!("/proc/{pause}/ns/{ns}"))
                .map_err(|e| e.to_string())
                .and_then(|f| setns(&f, CloneFlags::empty()).map_err(|e| e.to_string()));
            if let Err(e) = joined {
                return start_error(format!(
                    "joining the pod's {ns} namespace (pause pid {pause}): {e}"
                ));
            }
        }
    }
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID) {
        return start_error(format!("unshare(mount, pid): {e}"));
    }
    // Mounts made from now on must not propagate back to the host (on
    // systemd hosts `/` is a shared mount).
    if let Err(e) = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    ) {
        return start_error(format!("making / private: {e}"));
    }
    // Written by the child if it cannot exec; closed by a successful exec.
    let error_file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(d.path("start-error"));
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let e = container_main(&rec, dir);
            if let Ok(mut f) = error_file {
                let _ = f.write_all(e.as_bytes());
            }
            eprintln!("{e}");
            unsafe { libc::_exit(128) }
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = write_atomic(&d.path("pid"), child.as_raw().to_string().as_bytes());
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => return code,
                    Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                    Ok(_) => continue,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return 255,
                }
            }
        }
        Err(e) => start_error(format!("fork: {e}")),
    }
}
// ANCHOR_END: init

/// PID 1 of the container: build its file system view, then exec. Only
/// returns (with a message) if something failed.
// ANCHOR: container_main
fn container_main(rec: &Record, dir: &Path) -> String {
    let merged = dir.join("rootfs");
    // The image, read-only, under a writable layer of this container's own.
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        rec.image_rootfs.display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    if let Err(e) = mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    ) {
        return format!("mounting the overlay root file system: {e}");
    }
    for d in ["proc", "dev", "sys", "tmp", "etc"] {
        let _ = std::fs::create_dir_all(merged.join(d));
    }
    // A minimal /dev: a tmpfs with the harmless devices bound in from the host.
    let dev = merged.join("dev");
    if let Err(e) = mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=755,size=65536k"),
    ) {
        return format!("mounting /dev: {e}");
    }
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = dev.join(name);
        let _ = File::create(&target);
        let host = format!("/dev/{name}");
        if let Err(e) = mount(
            Some(host.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        ) {
            return format!("binding {host}: {e}");
        }
    }
    let _ = std::fs::create_dir_all(dev.join("shm"));
    let _ = mount(
        Some("shm"),
        &dev.join("shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    );
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, dev.join(link));
    }
    // Files and volumes from the kubelet (/etc/hosts now; volumes in chapter 05).
    for m in &rec.config.mounts {
        let target = merged.join(m.destination.trim_start_matches('/'));
        if m.source.is_dir() {
            let _ = std::fs::create_dir_all(&target);
        } else {
            if let Some(p) = target.parent() {
                let _ = std::fs::create_dir_all(p);
            }
            let _ = OpenOptions::new().create(true).append(true).open(&target);
        }
        if let Err(e) = mount(
            Some(&m.source),
            &target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ) {
            return format!("mounting {} at {}: {e}", m.source.display(), m.destination);
        }
        if m.read_only {
            let _ = mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            );
        }
    }
    // Make the overlay the root: pivot_root(".", ".") stacks the old root
    // on top of the new one; detaching it leaves only the container's files.
    if let Err(e) = nix::unistd::chdir(&merged) {
        return format!("chdir to the root file system: {e}");
    }
    if let Err(e) = nix::unistd::pivot_root(".", ".") {
        return format!("pivot_root: {e}");
    }
    if let Err(e) = umount2(".", MntFlags::MNT_DETACH) {
        return format!("detaching the old root: {e}");
    }
    let _ = nix::unistd::chdir("/");
    // This /proc shows only the new PID namespace: the container is PID 1.
    if let Err(e) = mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    ) {
        return format!("mounting /proc: {e}");
    }
    let _ = mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    exec_command(rec)
}
// ANCHOR_END: container_main

/// Sets the environment and working directory and execs the command, with
/// runc's wording for what can fail. Returns only on failure.
fn exec_command(rec: &Record) -> String {
    let cwd = rec.config.working_dir.clone().unwrap_or_else(|| "/".into());
    if let Err(e) = nix::unistd::chdir(cwd.as_str()) {
        return format!(
            "chdir to cwd (\"{cwd}\") set in config.json failed: {}",
            e.desc().to_lowercase()
        );
    }
    // Safe: this process has one thread.
    for (k, _) in std::env::vars_os() {
        unsafe { std::env::remove_var(k) };
    }
    for (k, v) in &rec.config.env {
        unsafe { std::env::set_var(k, v) };
    }
    let Some(argv0) = rec.config.argv.first() else {
        return "no command specified".into();
    };
    let argv: Vec<CString> = rec
        .config
        .argv
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_default())
        .collect();
    let e = nix::unistd::execvp(&argv[0], &argv).unwrap_err();
    match e {
        nix::errno::Errno::ENOENT if !argv0.contains('/') => {
            format!("exec: \"{argv0}\": executable file not found in $PATH")
        }
        nix::errno::Errno::ENOENT => {
            format!("exec: \"{argv0}\": stat {argv0}: no such file or directory")
        }
        other => format!("exec: \"{argv0}\": {}", other.desc().to_lowercase()),
    }
}

// ----------------------------------------------------------------- exec

/// `kubectl exec`: enter every namespace of the running container (and
/// its cgroup), then fork the command — `setns` into a PID namespace, like
/// `unshare`, applies to children only.
pub fn exec(dir: &Path, argv: &[String]) -> i32 {
    let d = Dir(dir.to_path_buf());
    let (Ok(rec), Some(pid)) = (d.record(), d.pid()) else {
        return fail("exec", "the container is not running");
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
