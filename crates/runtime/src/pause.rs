//! The pause program: the pod sandbox's one process.
//!
//! It creates the pod's network, IPC and UTS namespaces, sets the pod's
//! hostname, brings up `lo`, writes its PID to `pause.pid` in the
//! sandbox's folder, and then does nothing at all. It lives as long as the
//! pod: the runtime starts it in `run_pod_sandbox` and kills it in
//! `remove_pod_sandbox`. The namespaces live as long as a process is in
//! them, so this process is what keeps them: a container that restarts
//! rejoins the same namespaces, and the pod keeps its network.
//!
//! The real thing is Kubernetes' pause container (`registry.k8s.io/pause`):
//! a few lines of C that call `pause()` in a loop and exit on SIGTERM, as
//! this one does. There the runtime (runc, on containerd's request)
//! creates the namespaces before starting it; here, with no runc, the
//! program creates them itself with `unshare`.

use std::path::Path;

use nix::sched::{CloneFlags, unshare};

use crate::container::write_atomic;
use crate::reexec::fail;

/// The pod sandbox: a process that creates the pod's network, IPC and UTS
/// namespaces, sets the hostname, brings up `lo`, and then waits. Every
/// container of the pod joins its namespaces, which is why containers of
/// one pod reach each other on `127.0.0.1` (chapter 07).
///
/// With `share_pid` (`shareProcessNamespace: true`) it also makes a PID
/// namespace and forks: the child is PID 1 there, the process every
/// container of the pod sees at the top of `ps`, and it reaps the zombies
/// of containers' processes whose parents died (a PID 1's duty). The parent
/// only writes the child's pid and waits for it.
pub fn pause(dir: &Path, hostname: &str, share_pid: bool) -> i32 {
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
    if share_pid {
        if let Err(e) = unshare(CloneFlags::CLONE_NEWPID) {
            return fail("unshare(pid)", e);
        }
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                if let Err(e) = write_atomic(
                    &dir.join("pause.pid"),
                    child.as_raw().to_string().as_bytes(),
                ) {
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::SIGKILL);
                    return fail("writing pause.pid", e);
                }
                loop {
                    match nix::sys::wait::waitpid(child, None) {
                        Err(nix::errno::Errno::EINTR) => continue,
                        _ => return 0,
                    }
                }
            }
            Ok(nix::unistd::ForkResult::Child) => {
                extern "C" fn reap(_: libc::c_int) {
                    // waitpid is async-signal-safe; reap every zombie.
                    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
                }
                unsafe {
                    libc::signal(
                        libc::SIGCHLD,
                        reap as extern "C" fn(libc::c_int) as libc::sighandler_t,
                    );
                }
                set_title("/pause");
                return pause_forever(None);
            }
            Err(e) => return fail("fork", e),
        }
    }
    pause_forever(Some(dir))
}

/// Exits on SIGTERM, writes its pid (unless the parent does), and waits.
fn pause_forever(dir: Option<&Path>) -> i32 {
    extern "C" fn on_term(_: libc::c_int) {
        unsafe { libc::_exit(0) };
    }
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    if let Some(dir) = dir
        && let Err(e) = write_atomic(
            &dir.join("pause.pid"),
            std::process::id().to_string().as_bytes(),
        )
    {
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

/// What `ps` in the pod shows for PID 1: `/pause`, as with upstream's pause
/// image, not kubelab's own command line. The kernel reads
/// `/proc/PID/cmdline` from the process's argv memory (fields 48 and 49 of
/// `/proc/self/stat` say where it is), so the title is written there, the
/// rest zeroed; `comm` becomes `pause` too.
fn set_title(title: &str) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the `(comm)` one start at field 3.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return;
    };
    let fields: Vec<usize> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let (Some(&start), Some(&end)) = (fields.get(48 - 3), fields.get(49 - 3)) else {
        return;
    };
    if start == 0 || end <= start || title.len() >= end - start {
        return;
    }
    // SAFETY: [start, end) is this process's own argv area, which nothing
    // reads any more (the arguments were parsed before the fork).
    unsafe {
        let p = start as *mut u8;
        std::ptr::write_bytes(p, 0, end - start);
        std::ptr::copy_nonoverlapping(title.as_ptr(), p, title.len());
        libc::prctl(libc::PR_SET_NAME, c"pause".as_ptr());
    }
}
