//! Lab 04's checks on your `write_payload` alone, in a temporary directory:
//! the layout it writes, file modes, and what happens when nothing changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kubelab_config::atomic_writer::{FileProjection, Payload, current_payload};
use lab_04_atomic_writer::write_payload;

fn file(text: &str, mode: u32) -> FileProjection {
    FileProjection {
        data: text.as_bytes().to_vec(),
        mode,
    }
}

/// The names in `dir`, sorted (`..2026_…` before `..data`).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The timestamped version directories (`..2026_…`) in `dir`.
fn versions(dir: &Path) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter(|n| n.starts_with("..") && n.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
        .collect()
}

/// Where `..data` points; checks that it is a relative link to a version.
fn data_target(dir: &Path) -> PathBuf {
    let target = std::fs::read_link(dir.join("..data"))
        .expect("`..data` must be a symlink (std::os::unix::fs::symlink)");
    let name = target.to_string_lossy();
    assert!(
        name.starts_with("..") && name.as_bytes().get(2).is_some_and(u8::is_ascii_digit),
        "`..data` must point at a `..<timestamp>` directory by its name, not at {target:?}"
    );
    assert!(
        dir.join(&target).is_dir(),
        "`..data` points at {target:?}, which is not a directory in {dir:?}"
    );
    target
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_first_write_makes_a_version_the_data_link_and_the_user_links() {
    let tmp = tempfile::tempdir().unwrap();
    // The kubelet's volume directories do not exist before the first write.
    let dir = tmp.path().join("volumes/kubernetes.io~configmap/config");
    let mut p = Payload::new();
    p.insert("color".into(), file("teal", 0o644));
    p.insert("conf/app.conf".into(), file("listen = 8080\n", 0o644));
    p.insert("token".into(), file("s3cr3t", 0o400));
    assert!(
        write_payload(&dir, &p).unwrap(),
        "a first write returns Ok(true)"
    );

    let version = data_target(&dir);
    assert_eq!(versions(&dir), [version.to_string_lossy()], "one version");
    for (link, target) in [
        ("color", "..data/color"),
        ("conf", "..data/conf"),
        ("token", "..data/token"),
    ] {
        assert_eq!(
            std::fs::read_link(dir.join(link)).ok(),
            Some(PathBuf::from(target)),
            "`{link}` must be a symlink to `{target}`"
        );
    }
    assert_eq!(
        entries(&dir),
        [
            &*version.to_string_lossy(),
            "..data",
            "color",
            "conf",
            "token"
        ],
        "`..data`, one version and the three top-level links, nothing else"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("conf/app.conf")).unwrap(),
        "listen = 8080\n",
        "a nested path gets its directory"
    );
    assert_eq!(std::fs::read_to_string(dir.join("color")).unwrap(), "teal");
    assert!(
        dir.join(&version).join("conf").is_dir() && !dir.join(&version).join("conf").is_symlink(),
        "`conf` is a real directory inside the version"
    );
    assert_eq!(mode(&dir.join("token")), 0o400, "the token's mode");
    assert_eq!(mode(&dir.join("color")), 0o644, "the colour's mode");
    assert_eq!(current_payload(&dir), Some(p), "`..data` shows the payload");
}

#[test]
fn an_unchanged_payload_returns_false_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vol");
    let mut p = Payload::new();
    p.insert("color".into(), file("teal", 0o644));
    p.insert("conf/app.conf".into(), file("a = 1", 0o600));
    assert!(write_payload(&dir, &p).unwrap());
    let (before, target) = (entries(&dir), data_target(&dir));
    std::thread::sleep(std::time::Duration::from_millis(5));
    for _ in 0..3 {
        assert!(
            !write_payload(&dir, &p).unwrap(),
            "the same payload again: Ok(false)"
        );
    }
    assert_eq!(data_target(&dir), target, "`..data` did not move");
    assert_eq!(entries(&dir), before, "no new version, no leftovers");
}

#[test]
fn an_update_switches_to_one_new_version_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vol");
    let mut p = Payload::new();
    p.insert("color".into(), file("teal", 0o644));
    p.insert("size".into(), file("small", 0o644));
    p.insert("conf/app.conf".into(), file("a = 1", 0o644));
    assert!(write_payload(&dir, &p).unwrap());
    let first = data_target(&dir);

    // Change a key, remove a key and a whole directory, add a key.
    p.insert("color".into(), file("orange", 0o644));
    p.remove("size");
    p.remove("conf/app.conf");
    p.insert("shape".into(), file("round", 0o640));
    assert!(
        write_payload(&dir, &p).unwrap(),
        "a changed payload returns Ok(true)"
    );

    let second = data_target(&dir);
    assert_ne!(second, first, "`..data` points at a new version");
    assert!(
        !dir.join(&first).exists(),
        "the old version {first:?} must be removed"
    );
    assert_eq!(
        versions(&dir),
        [second.to_string_lossy()],
        "exactly one version remains"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("color")).unwrap(),
        "orange"
    );
    assert_eq!(std::fs::read_to_string(dir.join("shape")).unwrap(), "round");
    assert_eq!(mode(&dir.join("shape")), 0o640);
    for gone in ["size", "conf"] {
        assert!(
            std::fs::symlink_metadata(dir.join(gone)).is_err(),
            "the link `{gone}` of a removed key must go"
        );
    }
    assert_eq!(
        entries(&dir),
        [&*second.to_string_lossy(), "..data", "color", "shape"],
        "no `..data_tmp` or other leftovers"
    );
    assert_eq!(current_payload(&dir), Some(p));
}

#[test]
fn an_empty_payload_still_gets_a_data_link() {
    // An optional volume whose ConfigMap does not exist: an empty directory,
    // but the same layout, so the files can appear later.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vol");
    assert!(write_payload(&dir, &Payload::new()).unwrap());
    let version = data_target(&dir);
    assert_eq!(entries(&dir), [&*version.to_string_lossy(), "..data"]);
    assert!(!write_payload(&dir, &Payload::new()).unwrap());

    let mut p = Payload::new();
    p.insert("color".into(), file("teal", 0o644));
    assert!(write_payload(&dir, &p).unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("color")).unwrap(), "teal");
    assert_eq!(versions(&dir).len(), 1);
}
