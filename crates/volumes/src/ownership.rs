//! `fsGroup`: a pod's volumes belong to its group.
//!
//! A pod whose containers run as different users can still share files:
//! with `securityContext.fsGroup: 2000`, the kubelet makes every volume it
//! sets up group-owned by 2000, adds the group's permissions and the
//! setgid bit on directories (so new files inherit the group), and adds
//! 2000 to every container's groups. Upstream's `SetVolumeOwnership`
//! (pkg/volume/volume_linux.go):
//!
//! ```text
//! every file and directory: chown :2000
//! writable volume:  files |= 0660, directories |= 0770 + setgid
//! read-only volume (configMap, secret, downwardAPI, projected): files |= 0440, directories |= 0550 + setgid
//! ```
//!
//! `fsGroupChangePolicy: OnRootMismatch` skips the walk when the volume's
//! top directory already has the group, the bits and the setgid — a big
//! volume is not walked on every start. hostPath volumes are never
//! changed: the files belong to the node.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Gives `dir` and everything under it to group `gid`.
// ANCHOR: set_ownership
pub fn set_ownership(
    dir: &Path,
    gid: u32,
    read_only: bool,
    on_root_mismatch: bool,
) -> std::io::Result<()> {
    let (file_bits, dir_bits) = match read_only {
        true => (0o440, 0o2550),
        false => (0o660, 0o2770),
    };
    if on_root_mismatch {
        let m = std::fs::metadata(dir)?;
        if m.gid() == gid && m.mode() & dir_bits == dir_bits {
            return Ok(());
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        // Opened without following a last symlink, then changed through
        // the descriptor: a container cannot swap in a link to a host file
        // between the look and the change.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_PATH | nix::libc::O_NOFOLLOW)
            .open(&path)?;
        let m = f.metadata()?;
        let by_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        if m.file_type().is_symlink() {
            // The link itself (the atomic writer's `..data`) gets the group.
            std::os::unix::fs::lchown(&path, None, Some(gid))?;
            continue;
        }
        std::os::unix::fs::chown(&by_fd, None, Some(gid))?;
        let bits = if m.is_dir() { dir_bits } else { file_bits };
        std::fs::set_permissions(
            &by_fd,
            std::fs::Permissions::from_mode((m.mode() | bits) & 0o7777),
        )?;
        if m.is_dir() {
            for e in std::fs::read_dir(&by_fd)?.flatten() {
                stack.push(path.join(e.file_name()));
            }
        }
    }
    Ok(())
}
// ANCHOR_END: set_ownership

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_directories_get_the_group_its_bits_and_setgid() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/f"), b"x").unwrap();
        std::fs::set_permissions(
            d.path().join("sub/f"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        set_ownership(d.path(), 2000, false, false).unwrap();
        let f = std::fs::metadata(d.path().join("sub/f")).unwrap();
        assert_eq!((f.gid(), f.mode() & 0o7777), (2000, 0o660));
        let s = std::fs::metadata(d.path().join("sub")).unwrap();
        assert_eq!(s.mode() & 0o2770, 0o2770, "setgid and the group's rwx");
        // On root mismatch only: a root that already fits is not walked.
        // (A new file inherits the group through setgid: give it another.)
        std::fs::write(d.path().join("new"), b"y").unwrap();
        std::os::unix::fs::lchown(d.path().join("new"), None, Some(0)).unwrap();
        set_ownership(d.path(), 2000, false, true).unwrap();
        assert_ne!(std::fs::metadata(d.path().join("new")).unwrap().gid(), 2000);
        set_ownership(d.path(), 2000, false, false).unwrap();
        assert_eq!(std::fs::metadata(d.path().join("new")).unwrap().gid(), 2000);
    }
}
