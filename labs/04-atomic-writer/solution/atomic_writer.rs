//! Lab 04, the reference solution.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use kubelab_config::atomic_writer::{Payload, current_payload};

/// The link every user-visible name goes through.
const DATA: &str = "..data";
/// Where the next `..data` is built before it is renamed into place.
const DATA_TMP: &str = "..data_tmp";

pub fn write_payload(dir: &Path, payload: &Payload) -> io::Result<bool> {
    // 1. The kubelet calls this on every sync: no change, no new version.
    if current_payload(dir).as_ref() == Some(payload) {
        return Ok(false);
    }
    fs::create_dir_all(dir)?;
    let previous = fs::read_link(dir.join(DATA)).ok();
    // 2. The new version, complete before anyone can see it.
    let version = write_version(dir, payload)?;
    // 3. The switch. rename(2) replaces `..data` in one step, so a reader
    //    resolves the old version or the new one, never neither.
    let tmp = dir.join(DATA_TMP);
    if fs::symlink_metadata(&tmp).is_ok() {
        fs::remove_file(&tmp)?; // left by a writer that died half-way
    }
    symlink(&version, &tmp)?;
    fs::rename(&tmp, dir.join(DATA))?;
    // 4. The names the program opens, each a link through `..data`.
    link_top_level_names(dir, payload)?;
    // 5. Nobody reaches the old version any more: it goes. A failure here
    //    leaves only litter, not a wrong volume, so it is not an error.
    if let Some(previous) = previous {
        let _ = fs::remove_dir_all(dir.join(previous));
    }
    Ok(true)
}

/// Writes every file of `payload` into a new `..<timestamp>` directory of
/// `dir`, with its mode, and returns that directory's name.
fn write_version(dir: &Path, payload: &Payload) -> io::Result<String> {
    let name = chrono::Utc::now()
        .format("..%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let root = dir.join(&name);
    fs::create_dir(&root)?;
    for (path, file) in payload {
        let target = root.join(path);
        fs::create_dir_all(target.parent().unwrap_or(&root))?;
        fs::write(&target, &file.data)?;
        fs::set_permissions(&target, fs::Permissions::from_mode(file.mode))?;
    }
    Ok(name)
}

/// One `name -> ..data/name` link per top-level name of the payload, and
/// no link for a name it no longer has.
fn link_top_level_names(dir: &Path, payload: &Payload) -> io::Result<()> {
    let names: BTreeSet<&str> = payload
        .keys()
        .filter_map(|path| path.split('/').next())
        .collect();
    for name in &names {
        let link = dir.join(name);
        // `symlink_metadata`, not `exists`: it sees the link itself, even
        // while it dangles.
        if fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(name), &link)?;
        }
    }
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("..") && !names.contains(name.as_ref()) {
            fs::remove_file(dir.join(name.as_ref()))?;
        }
    }
    Ok(())
}
