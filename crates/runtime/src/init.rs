//! The init program: becomes the container (linux runtime only).
//!
//! Started by the [`shim`](crate::shim), it joins the container's cgroups
//! and the pod's namespaces, makes new mount and PID namespaces, and forks
//! the container's PID 1, which builds the root file system and execs the
//! command. It lives as long as the container: it stays outside the new
//! PID namespace, waits for PID 1, and exits with its status, which is how
//! the shim learns the container's exit code.
//!
//! The real thing is `runc init`: runc re-executes itself, and a bit of C
//! (`nsexec`) that runs before Go's runtime starts its threads does the
//! `setns` and `unshare` steps, for the same reason kubelab re-executes
//! itself (see [`crate::reexec`]). nsexec forks after `unshare`, too (a
//! new PID namespace applies to children only), but its middle process
//! exits and the shim, a child subreaper, adopts PID 1; here the outer
//! process stays and waits, which is simpler to follow.
//!
//! `exec_command`, the last step, is shared with [`exec`](crate::exec),
//! as `runc exec` also ends in `runc init`.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::container::{Dir, Record};
use crate::reexec::fail;

/// Becomes the container (linux runtime), step by step:
/// 1. join the container's cgroups (limits apply from here on);
/// 2. `setns` into the pod's IPC, UTS and network namespaces (the pause process's);
/// 3. `unshare` a new mount namespace and a new PID namespace (or join the
///    pod's shared one, or a debugged container's: chapter 07);
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
    // A PID namespace of its own, or the one it shares (the pod's, whose
    // PID 1 is the pause process, or a debugged container's). Either way
    // it applies to the child forked below, not to this process.
    // Never kubelab's own namespace (a pid reused by a host process).
    let same_as_ours = |f: &File| {
        use std::os::unix::fs::MetadataExt;
        let ours = std::fs::metadata("/proc/self/ns/pid").map(|m| (m.dev(), m.ino()));
        let theirs = f.metadata().map(|m| (m.dev(), m.ino()));
        matches!((ours, theirs), (Ok(a), Ok(b)) if a == b)
    };
    let pid_ns = match rec.join_pid_ns {
        Some(pid) => match File::open(format!("/proc/{pid}/ns/pid"))
            .map_err(|e| e.to_string())
            .and_then(|f| match same_as_ours(&f) {
                true => Err("it is the host's".to_string()),
                false => Ok(f),
            })
            .and_then(|f| setns(&f, CloneFlags::CLONE_NEWPID).map_err(|e| e.to_string()))
        {
            Ok(()) => CloneFlags::empty(),
            Err(e) => {
                return start_error(format!("joining the PID namespace of pid {pid}: {e}"));
            }
        },
        None => CloneFlags::CLONE_NEWPID,
    };
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNS | pid_ns) {
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
    // The child shares this mount namespace, and its `pivot_root` moves
    // the root of every process in it — this one too. Paths of the host
    // are gone by the time the child has pivoted, so what this process
    // writes after the fork goes through descriptors opened now: the
    // container's folder (for `pid`, written as `pid.tmp` and renamed).
    let dir_fd = match File::open(dir) {
        Ok(f) => f,
        Err(e) => return start_error(format!("opening the container folder: {e}")),
    };
    // Written by the child if it cannot exec; closed by a successful exec.
    let error_file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(d.path("start-error"));
    // Closed in the child by its exec (close-on-exec): the container is
    // set up and runs its program. Only then is `pid` written, so an exec
    // into the container (kubectl exec, a probe, a postStart hook) never
    // joins it half-built, before its mounts and its root are in place.
    let (exec_r, exec_w) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => return start_error(format!("pipe: {e}")),
    };
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(exec_r);
            let e = container_main(&rec, dir);
            if let Ok(mut f) = error_file {
                let _ = f.write_all(e.as_bytes());
            }
            eprintln!("{e}");
            unsafe { libc::_exit(128) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(exec_w);
            let mut exec_r = File::from(exec_r);
            let _ = std::io::Read::read(&mut exec_r, &mut [0u8; 1]);
            if let Err(e) = write_pid(&dir_fd, child.as_raw()) {
                let _ = nix::sys::signal::kill(child, nix::sys::signal::SIGKILL);
                let msg = format!("writing the container's pid: {e}");
                if let Ok(mut f) = error_file {
                    let _ = f.write_all(msg.as_bytes());
                }
                eprintln!("{msg}");
                let _ = waitpid(child, None);
                return 128;
            }
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

/// Writes `pid` into `<dir>/pid` through the folder's descriptor
/// (`openat` + `renameat`: atomic, and blind to the root having moved).
fn write_pid(dir: &File, pid: i32) -> nix::Result<()> {
    use std::os::fd::AsFd;
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        "pid.tmp",
        nix::fcntl::OFlag::O_WRONLY
            | nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_TRUNC
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )?;
    let mut f = File::from(fd);
    f.write_all(pid.to_string().as_bytes())
        .map_err(|_| nix::errno::Errno::EIO)?;
    drop(f);
    nix::fcntl::renameat(dir.as_fd(), "pid.tmp", dir.as_fd(), "pid")
}

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
    // Read-only, unless privileged (as runc mounts it).
    let sys_ro = match rec.config.security.privileged {
        true => MsFlags::empty(),
        false => MsFlags::MS_RDONLY,
    };
    let _ = mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        sys_ro | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    // `procMount: Default`: hide what tells about or controls the host.
    // (A mask that fails fails the container, as runc's does.)
    if !rec.config.security.privileged
        && let Err(e) = crate::security::mask_paths()
    {
        return e;
    }
    // `readOnlyRootFilesystem`: the container's own layer, read-only (its
    // volumes, /proc and /dev are mounts of their own and stay as they are).
    if rec.config.security.read_only_rootfs
        && let Err(e) = mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
    {
        return format!("remounting the root file system read-only: {e}");
    }
    exec_command(rec)
}
// ANCHOR_END: container_main

/// `securityContext`: groups first (setgroups needs root), then the group,
/// then the user; and `no_new_privs`, which setuid binaries then cannot
/// escape (what runc does between its init and the exec).
// ANCHOR: become_user
fn become_user(s: &crate::Security) -> Result<(), String> {
    use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
    if s.uid.is_some() || s.gid.is_some() || !s.groups.is_empty() {
        let gid = s.gid.unwrap_or(0);
        let mut groups: Vec<Gid> = s.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        groups.insert(0, Gid::from_raw(gid));
        setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
        setgid(Gid::from_raw(gid)).map_err(|e| format!("setgid {gid}: {e}"))?;
        let uid = s.uid.unwrap_or(0);
        setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))?;
    }
    if s.no_new_privs {
        // Safe: a plain prctl on this process.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(format!(
                "prctl(NO_NEW_PRIVS): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: become_user

/// Sets the environment and working directory and execs the command, with
/// runc's wording for what can fail. Returns only on failure.
pub(crate) fn exec_command(rec: &Record) -> String {
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
    // Root's power cut down before anything of the image runs: the
    // capabilities it keeps, then the seccomp filter (both inherited by
    // every process of the container), then the user.
    let security = &rec.config.security;
    if let Some(keep) = &security.capabilities
        && let Err(e) = crate::security::keep_capabilities(keep, crate::security::last_cap())
    {
        return e;
    }
    if security.seccomp_default
        && let Err(e) =
            crate::security::install_seccomp(&crate::security::default_seccomp_program())
    {
        return e;
    }
    if let Err(e) = become_user(security) {
        return e;
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
