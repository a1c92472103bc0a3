//! The process runtime: containers as plain child processes.
//!
//! For hosts where kubelab may not use namespaces (no root, or not Linux).
//! A container is its command, run with the image's folder as working
//! directory, its environment, and its output captured by the same shim
//! as on the linux runtime. **Nothing is isolated**: containers see the
//! host's processes and files, share its network (two pods cannot both
//! listen on port 8080), and are not limited by cgroups. `kubectl describe
//! node` says so in its node info, and so does the book.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::container::Record;
use crate::linux::LinuxRuntime;
use crate::{ExecProcess, ImageStore, Result, RuntimeKind};

pub type ProcessRuntime = LinuxRuntime;

impl LinuxRuntime {
    /// The process runtime: the linux runtime's shim, no isolation.
    pub fn new_process(root: PathBuf, images: ImageStore) -> Result<LinuxRuntime> {
        let mut r = LinuxRuntime::new(root, images)?;
        r.kind = RuntimeKind::Process;
        Ok(r)
    }
}

/// Finds `argv0` the way the container would, but in the image's folder:
/// `/bin/sh` is `<rootfs>/bin/sh`; `sh` is looked up in the image's PATH
/// folders, then in the host's.
pub fn resolve(rootfs: &Path, argv0: &str, path: &str) -> PathBuf {
    if argv0.starts_with('/') {
        let inside = rootfs.join(argv0.trim_start_matches('/'));
        return if inside.exists() {
            inside
        } else {
            PathBuf::from(argv0)
        };
    }
    if argv0.contains('/') {
        return rootfs.join(argv0);
    }
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = rootfs.join(dir.trim_start_matches('/')).join(argv0);
        if candidate.exists() {
            return candidate;
        }
    }
    PathBuf::from(argv0)
}

/// The container's (or an exec's) command as a host process.
pub fn command(rec: &Record) -> Command {
    let env: Vec<(String, String)> = rec.config.env.clone();
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let argv0 = rec.config.argv.first().cloned().unwrap_or_default();
    let program = resolve(&rec.image_rootfs, &argv0, &path);
    let mut c = Command::new(program);
    // argv[0] stays the name the spec used: busybox picks its applet by it.
    c.arg0(&argv0);
    c.args(rec.config.argv.iter().skip(1));
    c.env_clear();
    for (k, v) in &env {
        c.env(k, v);
    }
    let cwd = rec
        .config
        .working_dir
        .as_deref()
        .map(|w| rec.image_rootfs.join(w.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| rec.image_rootfs.clone());
    c.current_dir(cwd);
    if !rec.config.tty {
        // Its own process group, so stopping it stops its children too.
        c.process_group(0);
    }
    apply_security(&mut c, &rec.config.security);
    c
}

/// What a plain host process can be given of its `securityContext`: the
/// user and groups (when kubelab runs as root), the capabilities it keeps
/// (root only: dropping from the bounding set needs CAP_SETPCAP),
/// `no_new_privs` and the seccomp filter. No namespace, mount or cgroup:
/// the node's annotation `kubelab.dev/isolation` says so.
fn apply_security(c: &mut Command, s: &crate::Security) {
    let root = nix::unistd::geteuid().is_root();
    let s = s.clone();
    // Everything that allocates happens here, before the fork.
    let last_cap = crate::security::last_cap();
    let filter = crate::security::default_seccomp_program();
    let gid = nix::unistd::Gid::from_raw(s.gid.unwrap_or(0));
    let mut groups: Vec<nix::unistd::Gid> = s
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    groups.insert(0, gid);
    // Safe: between fork and exec, system calls on the child itself (an
    // error message is formatted only on the way out).
    // Order: what needs root first (capabilities, the filter), the user last.
    unsafe {
        c.pre_exec(move || {
            if let Some(keep) = s.capabilities.as_ref().filter(|_| root) {
                crate::security::keep_capabilities(keep, last_cap)
                    .map_err(std::io::Error::other)?;
            }
            // A filter needs no_new_privs unless the caller is root.
            if (s.no_new_privs || (s.seccomp_default && !root))
                && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if s.seccomp_default {
                crate::security::install_seccomp(&filter).map_err(std::io::Error::other)?;
            }
            if root && (s.uid.is_some() || s.gid.is_some() || !s.groups.is_empty()) {
                use nix::unistd::{Uid, setgid, setgroups, setuid};
                setgroups(&groups).map_err(std::io::Error::from)?;
                setgid(gid).map_err(std::io::Error::from)?;
                setuid(Uid::from_raw(s.uid.unwrap_or(0))).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
}

/// Gives `cmd` a new pseudo-terminal as stdin, stdout and stderr, made
/// the controlling terminal of a new session (what `-t` means); returns
/// the master side, which the caller reads, writes and resizes.
pub fn with_pty(cmd: &mut Command) -> std::io::Result<std::fs::File> {
    let pty = nix::pty::openpty(None, None).map_err(std::io::Error::other)?;
    let slave = std::fs::File::from(pty.slave);
    cmd.stdin(slave.try_clone()?)
        .stdout(slave.try_clone()?)
        .stderr(slave);
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY as _, 0);
            Ok(())
        });
    }
    Ok(std::fs::File::from(pty.master))
}

/// Starts an exec'd command with pipes, or with a pseudo-terminal.
pub fn spawn_exec(mut cmd: Command, tty: bool, stdin: bool) -> Result<ExecProcess> {
    if tty {
        let master = with_pty(&mut cmd)?;
        let mut child = tokio::process::Command::from(cmd).spawn()?;
        let resize_fd = master.try_clone()?;
        let reader = tokio::fs::File::from_std(master.try_clone()?);
        let writer = tokio::fs::File::from_std(master);
        let resize = move |w: u16, h: u16| {
            let ws = libc::winsize {
                ws_row: h,
                ws_col: w,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            unsafe {
                libc::ioctl(
                    std::os::fd::AsRawFd::as_raw_fd(&resize_fd),
                    libc::TIOCSWINSZ as _,
                    &ws,
                );
            }
        };
        return Ok(ExecProcess {
            stdin: stdin.then(|| Box::pin(writer) as _),
            stdout: Box::pin(reader),
            stderr: None,
            resize: Some(Arc::new(resize)),
            exit: Box::pin(async move { exit_code(child.wait().await) }),
        });
    }
    cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = tokio::process::Command::from(cmd).spawn()?;
    let stdin_pipe = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    Ok(ExecProcess {
        stdin: stdin_pipe.map(|s| Box::pin(s) as _),
        stdout: Box::pin(stdout),
        stderr: Some(Box::pin(stderr)),
        resize: None,
        exit: Box::pin(async move { exit_code(child.wait().await) }),
    })
}

fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    match status {
        Ok(s) => s.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(9)
        }),
        Err(_) => 255,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_in_the_image_folder_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/tool"), "").unwrap();
        assert_eq!(
            resolve(dir.path(), "/bin/tool", ""),
            dir.path().join("bin/tool")
        );
        assert_eq!(
            resolve(dir.path(), "tool", "/usr/bin:/bin"),
            dir.path().join("bin/tool")
        );
        assert_eq!(resolve(dir.path(), "ls", "/bin"), PathBuf::from("ls"));
    }
}
