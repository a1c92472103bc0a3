//! Your code for lab 04. `kubelab lab reset 04` puts this file back as it was.

use std::io;
use std::path::Path;

use kubelab_config::atomic_writer::{Payload, current_payload};

/// Makes the volume directory `dir` show exactly `payload`, switching all
/// its files at once. Returns `Ok(true)` when it wrote a new version,
/// `Ok(false)` when `dir` already showed `payload` (nothing written).
///
/// `payload` maps a relative path (`color`, or `conf/app.conf` with a
/// directory) to a [`FileProjection`](kubelab_config::atomic_writer::FileProjection):
/// the file's bytes (`data`) and its permission bits (`mode`, e.g. `0o644`,
/// or `0o400` for a Secret only its owner may read). The kubelet calls this
/// function when a pod starts and again each time the ConfigMap changes.
///
/// The layout to produce (upstream's `AtomicWriter`, which every
/// configMap, secret, downwardAPI and projected volume uses):
///
/// ```text
/// dir/
///   ..2026_11_29_10_00_00.123456789/   one version: the real files
///       color
///       conf/app.conf
///   ..data -> ..2026_11_29_10_00_00.123456789
///   color -> ..data/color               what the program opens
///   conf  -> ..data/conf
/// ```
///
/// Step by step:
///
/// 1. **Nothing changed?** [`current_payload`]`(dir)` reads what `..data`
///    shows now (`None` before the first write). If it equals `payload`,
///    return `Ok(false)` and touch nothing: the kubelet calls you on every
///    sync, and a new version each time would be pure churn.
/// 2. **Write the new version aside.** Create `dir` if needed
///    (`std::fs::create_dir_all`) and remember where `..data` points now
///    (`std::fs::read_link`, an `Err` before the first write). Make a fresh
///    directory named `..` + a timestamp, e.g.
///    `chrono::Utc::now().format("..%Y_%m_%d_%H_%M_%S.%f")`, and write every
///    file of `payload` into it: create its parent directories first
///    (`conf/`), then `std::fs::write`, then set its mode
///    (`std::fs::set_permissions` with
///    `std::os::unix::fs::PermissionsExt::from_mode`). Nobody looks at this
///    directory yet, so it does not matter how long this takes.
/// 3. **Switch `..data` in one step.** Create a symlink `..data_tmp`
///    pointing at the new directory's *name* (a relative target:
///    `std::os::unix::fs::symlink`; remove a `..data_tmp` that a crash left
///    behind first), then `std::fs::rename` it to `..data`. `rename(2)`
///    replaces an existing `..data` atomically: at every instant `..data`
///    exists and points either at the old version or at the new one.
///    Deleting `..data` and creating it again would leave a moment with no
///    files at all; rewriting the files in place would let a program read a
///    new `conf/app.conf` next to an old `color`.
/// 4. **The user-visible links.** The program opens `dir/color`, not
///    `dir/..data/color`. For each top-level name of the payload (the part
///    of a path before its first `/`: `color`, `conf`), make sure a symlink
///    `dir/<name> -> ..data/<name>` exists; these links never change, they
///    follow `..data`. Then remove every entry of `dir` that does not start
///    with `..` and is no longer a top-level name: the link of a removed key.
/// 5. **Remove the old version** (`std::fs::remove_dir_all` of the directory
///    that `..data` pointed at in step 2), so exactly one version remains.
///    Then return `Ok(true)`.
///
/// Return the `io::Error`s of the file system with `?`: the kubelet reports
/// them as a `FailedMount` event on the pod and tries again a second later.
pub fn write_payload(dir: &Path, payload: &Payload) -> io::Result<bool> {
    let _ = (dir, payload, current_payload);
    todo!("lab 04: write the payload as a new version, then switch `..data` to it")
}
