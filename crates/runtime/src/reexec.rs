//! Re-executing kubelab as the runtime's small programs.
//!
//! The runtime does not fork its containers from kubelab: it starts small
//! programs, and each of them is kubelab itself, re-executed with a first
//! argument that names the program (`/proc/self/exe runtime-shim DIR`, as
//! runc re-executes itself for `runc init`).
//!
//! Why not just `fork` and `unshare` from kubelab? Because kubelab runs
//! tokio with several threads, and `unshare(CLONE_NEWNS | CLONE_NEWPID)`
//! from a multi-threaded process affects only the calling thread; forking
//! a multi-threaded process is a minefield besides. A freshly executed
//! program has one thread and does exactly one job:
//!
//! | program | started as | job | lives as long as |
//! |---|---|---|---|
//! | [`pause`](crate::pause) | `runtime-pause DIR HOSTNAME` | owns the pod's network, IPC and UTS namespaces (the "pause container") | the pod |
//! | [`shim`](crate::shim) | `runtime-shim DIR` | parent of the container: copies its output to the log, records how it ended | the container |
//! | [`init`](crate::init) | `runtime-init DIR` | joins cgroups and namespaces, then forks the container's PID 1 | the container |
//! | [`exec`](crate::exec) | `runtime-exec DIR -- ARGV…` | enters a running container for `kubectl exec` | the command |
//!
//! [`main`] dispatches to them; kubelab's `main` calls it before anything else.

use std::path::PathBuf;

use crate::exec::exec;
use crate::init::init;
use crate::pause::pause;
use crate::shim::shim;

/// If `args` (the process's argv) names a runtime helper, runs it and
/// returns its exit code.
pub fn main(args: &[String]) -> Option<i32> {
    let dir = args.get(2).map(PathBuf::from);
    Some(match (args.get(1).map(String::as_str), dir) {
        (Some("runtime-shim"), Some(d)) => shim(&d),
        (Some("runtime-init"), Some(d)) => init(&d),
        (Some("runtime-pause"), Some(d)) => {
            let share_pid = args.get(4).is_some_and(|a| a == "share-pid");
            pause(
                &d,
                args.get(3).map(String::as_str).unwrap_or("pod"),
                share_pid,
            )
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

/// How each program reports that it could not do its job: one line on
/// its stderr, and exit code 1.
pub(crate) fn fail(what: &str, e: impl std::fmt::Display) -> i32 {
    eprintln!("kubelab: {what}: {e}");
    1
}
