//! Writing a volume's files so that a reader never sees half an update.
//!
//! A ConfigMap volume shows each key as a file. When the ConfigMap
//! changes, the files change under a running program — which may be
//! reading `app.conf` and `app.key` at that very moment. Writing the files
//! one by one would let it read a new `app.conf` with an old `app.key`.
//! The kubelet's `AtomicWriter` (pkg/volume/util/atomic_writer.go) avoids
//! that with one level of indirection and an atomic rename:
//!
//! ```text
//! <volume>/
//!   ..2026_11_29_10_00_00.123456789/   the files of one version
//!       app.conf
//!       app.key
//!   ..data -> ..2026_11_29_10_00_00.123456789
//!   app.conf -> ..data/app.conf          what the container opens
//!   app.key  -> ..data/app.key
//! ```
//!
//! An update writes a whole new timestamped directory, points a new
//! symlink `..data_tmp` at it, and renames `..data_tmp` over `..data` —
//! `rename(2)` replaces the link in one step, so a reader resolves either
//! the old version or the new one, never a mix. Then the user-visible links
//! are added or removed and the old directory goes.
//!
//! This is lab 04's piece: `labs/04-atomic-writer` has you write
//! [`write_payload`] yourself, and plugs your function into the real
//! kubelet.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// One file of a volume: its content and mode (`0o644` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProjection {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// What a volume should contain: relative path → file. Paths may have
/// directories (`items: [{key: k, path: conf/app.conf}]`).
pub type Payload = BTreeMap<String, FileProjection>;

/// The writer's signature: make `dir` show exactly `payload`, atomically;
/// `Ok(false)` when it already did (nothing written). Lab 04 plugs its own
/// in ([`crate::ConfigOptions::writer`]).
pub type WriteFn = fn(dir: &Path, payload: &Payload) -> io::Result<bool>;

/// What `..data` currently points at, as a payload (`None`: nothing yet).
pub fn current_payload(dir: &Path) -> Option<Payload> {
    let data = dir.join("..data");
    std::fs::read_link(&data).ok()?;
    let mut out = Payload::new();
    collect(&data, &data, &mut out).ok()?;
    Some(out)
}

fn collect(root: &Path, dir: &Path, out: &mut Payload) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        if e.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            out.insert(
                rel.to_string_lossy().into_owned(),
                FileProjection {
                    data: std::fs::read(&path)?,
                    mode: e.metadata()?.permissions().mode() & 0o7777,
                },
            );
        }
    }
    Ok(())
}

/// A payload's paths must stay inside the volume: relative, without `..`
/// (upstream's `validatePath`). The API server refuses such items; this
/// check keeps a writer from ever following one out of the volume.
pub fn check_paths(payload: &Payload) -> io::Result<()> {
    for path in payload.keys() {
        let p = Path::new(path);
        if path.is_empty()
            || p.is_absolute()
            || p.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid path {path:?}: must be relative and must not contain '..'"),
            ));
        }
    }
    Ok(())
}

/// Makes `dir` show exactly `payload`, switching all files at once.
// ANCHOR: write_payload
pub fn write_payload(dir: &Path, payload: &Payload) -> io::Result<bool> {
    // 1. Nothing to do if the current version already is this payload.
    if current_payload(dir).as_ref() == Some(payload) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    let old = std::fs::read_link(dir.join("..data")).ok();
    // 2. The new version, complete, in a directory of its own.
    let stamp = chrono::Utc::now().format("..%Y_%m_%d_%H_%M_%S.%f");
    let version = dir.join(stamp.to_string());
    std::fs::create_dir(&version)?;
    for (path, file) in payload {
        let target = version.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &file.data)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(file.mode))?;
    }
    // 3. The switch: a new link, renamed over `..data` in one step.
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version.file_name().expect("a name"), &tmp)?;
    std::fs::rename(&tmp, dir.join("..data"))?;
    // 4. The links the container opens: one per top-level name.
    let top: std::collections::BTreeSet<&str> = payload
        .keys()
        .map(|p| p.split('/').next().unwrap_or(p))
        .collect();
    for name in &top {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(name), &link)?;
        }
    }
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !top.contains(name.as_str()) {
            std::fs::remove_file(dir.join(&name))?;
        }
    }
    // 5. The old version goes.
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}
// ANCHOR_END: write_payload

#[cfg(test)]
mod tests {
    use super::*;

    fn file(s: &str) -> FileProjection {
        FileProjection {
            data: s.as_bytes().to_vec(),
            mode: 0o644,
        }
    }

    #[test]
    fn versions_switch_whole_and_old_ones_go() {
        let d = tempfile::tempdir().unwrap();
        let v = d.path().join("vol");
        let mut p = Payload::new();
        p.insert("color".into(), file("teal"));
        p.insert("conf/app.conf".into(), file("a=1"));
        assert!(write_payload(&v, &p).unwrap());
        assert_eq!(std::fs::read_to_string(v.join("color")).unwrap(), "teal");
        assert_eq!(
            std::fs::read_to_string(v.join("conf/app.conf")).unwrap(),
            "a=1"
        );
        assert_eq!(
            std::fs::read_link(v.join("color")).unwrap(),
            Path::new("..data/color")
        );
        let first = std::fs::read_link(v.join("..data")).unwrap();
        assert!(
            !write_payload(&v, &p).unwrap(),
            "unchanged: nothing written"
        );
        p.insert("color".into(), file("orange"));
        p.remove("conf/app.conf");
        assert!(write_payload(&v, &p).unwrap());
        assert_eq!(std::fs::read_to_string(v.join("color")).unwrap(), "orange");
        assert!(!v.join("conf").exists(), "a removed key's link goes");
        assert!(!v.join(&first).exists(), "the old version goes");
        let entries: Vec<String> = std::fs::read_dir(&v)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries.len(), 3, "..data, one version, color: {entries:?}");
        assert_eq!(current_payload(&v).unwrap(), p);
    }

    #[test]
    fn modes_are_kept() {
        let d = tempfile::tempdir().unwrap();
        let mut p = Payload::new();
        p.insert(
            "key".into(),
            FileProjection {
                data: b"s".to_vec(),
                mode: 0o400,
            },
        );
        write_payload(d.path(), &p).unwrap();
        let mode = std::fs::metadata(d.path().join("key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
    }
}
