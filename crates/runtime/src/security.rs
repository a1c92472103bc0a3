//! What a container may do besides running as some user: capabilities,
//! a seccomp filter, a masked `/proc`, and `privileged`.
//!
//! Root in a container is not root on the host. runc, driven by containerd,
//! takes most of root's power away before it starts the process:
//!
//! * **capabilities** — root's privileges come in 41 pieces
//!   (`capabilities(7)`). containerd keeps 14 of them
//!   (`chown`, binding ports below 1024,
//!   `kill`…) and drops the rest (loading kernel modules, `mount`,
//!   changing the clock…); a pod's `securityContext.capabilities` adds to
//!   or drops from that set (the kubelet works out the list: `spec.rs`).
//!   Here the set is enforced through the *bounding set*: what no process
//!   of the container can ever gain, even by exec'ing a setuid binary
//!   ([`keep_capabilities`]);
//! * **seccomp** — `seccompProfile: RuntimeDefault` installs a filter on
//!   system calls that a container has no business making (`kexec_load`,
//!   `keyctl`, `unshare`, `mount`…): they fail with `EPERM`
//!   ([`install_seccomp`]);
//! * **masked paths** — parts of `/proc` and `/sys` that tell about or
//!   control the host are hidden (`/proc/kcore`, `/proc/keys`…) or made
//!   read-only (`/proc/sys`, `/proc/sysrq-trigger`…) ([`mask_paths`]);
//! * **privileged** — all of the above lifted: every capability, no
//!   masks, `/sys` writable.
//!
//! Simplifications (said in the book): the default seccomp filter is a
//! list of refused calls, where containerd's profile lists the allowed
//! ones (about 350) and refuses the rest; and a privileged container
//! keeps kubelab's minimal `/dev` instead of getting the host's devices.

/// Drops from the bounding set every capability whose number is not in
/// `keep`, and every ambient one. Root exec'ing a program gets its
/// bounding set as its capabilities; any other user gets none (as with
/// containerd, which sets no ambient capabilities).
// ANCHOR: keep_capabilities
pub fn keep_capabilities(keep: &[u8], last_cap: u8) -> Result<(), String> {
    // Safe: prctl and capget/capset on this process only; nothing here
    // allocates (it may run between fork and exec).
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    for n in (0..=last_cap).filter(|n| !keep.contains(n)) {
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(format!(
                "dropping capability {n} from the bounding set: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // The inheritable set too: what is in it would survive an exec.
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return Err(format!("capget: {}", std::io::Error::last_os_error()));
        }
        for d in &mut data {
            d.inheritable = 0;
        }
        if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
            return Err(format!("capset: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The highest capability number this kernel knows (read before a fork).
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct` (two of them for 64 capabilities).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
// ANCHOR_END: keep_capabilities

/// The system calls `RuntimeDefault` refuses (a subset of what
/// containerd's default profile does not allow: the kernel's and the
/// host's business, not a container's).
pub const REFUSED_SYSCALLS: &[(i64, &str)] = &[
    (libc::SYS_acct, "acct"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_clock_adjtime, "clock_adjtime"),
    (libc::SYS_clock_settime, "clock_settime"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_kcmp, "kcmp"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_lookup_dcookie, "lookup_dcookie"),
    (libc::SYS_mount, "mount"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_nfsservctl, "nfsservctl"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_request_key, "request_key"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_settimeofday, "settimeofday"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_sysfs, "sysfs"),
    (libc::SYS__sysctl, "_sysctl"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_unshare, "unshare"),
    (libc::SYS_uselib, "uselib"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    (libc::SYS_ustat, "ustat"),
];

/// `AUDIT_ARCH_X86_64`: the architecture the filter is written for.
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

/// The classic-BPF program of the default filter: any other architecture
/// and the x32 ABI are refused, the listed calls fail with `EPERM`, the
/// rest is allowed.
// ANCHOR: seccomp
pub fn default_seccomp_program() -> Vec<libc::sock_filter> {
    const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let refuse = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let n = REFUSED_SYSCALLS.len() as u8;
    // struct seccomp_data { int nr; __u32 arch; … }
    let mut p = vec![
        op(LD_ABS, 0, 0, 4),
        op(JEQ, 1, 0, AUDIT_ARCH_X86_64),
        op(RET, 0, 0, refuse),
        op(LD_ABS, 0, 0, 0),
        // The x32 ABI's numbers have bit 30 set.
        op(JGE, n + 1, 0, 0x4000_0000),
    ];
    for (i, (nr, _)) in REFUSED_SYSCALLS.iter().enumerate() {
        // Jump over the calls left and the `allow` to the `refuse`.
        p.push(op(JEQ, n - i as u8, 0, *nr as u32));
    }
    p.push(op(RET, 0, 0, libc::SECCOMP_RET_ALLOW));
    p.push(op(RET, 0, 0, refuse));
    p
}
// ANCHOR_END: seccomp

/// Installs a filter (the default one: [`default_seccomp_program`], built
/// before a fork) on this process; it is inherited across exec.
pub fn install_seccomp(program: &[libc::sock_filter]) -> Result<(), String> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // Safe: `prog` points at `program`, alive for the call.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(format!(
            "installing the seccomp filter: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// runc's default masked paths: hidden (a directory becomes an empty
/// read-only tmpfs, a file shows `/dev/null`).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// runc's default read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `procMount: Default`: masks and read-only binds, in the container's
/// mount namespace after `/proc` and `/sys` are mounted.
pub fn mask_paths() -> Result<(), String> {
    use nix::mount::{MsFlags, mount};
    for p in MASKED_PATHS {
        let path = std::path::Path::new(p);
        let done = if path.is_dir() {
            mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else if path.exists() {
            mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        } else {
            Ok(())
        };
        done.map_err(|e| format!("masking {p}: {e}"))?;
    }
    for p in READONLY_PATHS {
        if !std::path::Path::new(p).exists() {
            continue;
        }
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(Some(*p), *p, None::<&str>, bind, None::<&str>)
            .and_then(|()| {
                let ro = bind | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                mount(None::<&str>, *p, None::<&str>, ro, None::<&str>)
            })
            .map_err(|e| format!("making {p} read-only: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_jumps_land_on_refuse_and_allow() {
        let p = default_seccomp_program();
        let refuse = p.len() - 1;
        let allow = p.len() - 2;
        assert_eq!(p[refuse].k, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
        assert_eq!(p[allow].k, libc::SECCOMP_RET_ALLOW);
        for (i, ins) in p.iter().enumerate().skip(4) {
            if i >= allow {
                break;
            }
            assert_eq!(i + 1 + ins.jt as usize, refuse, "instruction {i}");
            assert_eq!(ins.jf, 0);
        }
    }
}
