//! Your code for lab 05. `kubelab lab reset 05` puts this file back as it was.

use serde_json::Value;

/// The volume the binder should bind `claim` to, or `None` if no volume
/// fits (the claim then waits, or a provisioner makes a volume for it).
///
/// `claim` is a PersistentVolumeClaim and `volumes` every PersistentVolume
/// of the cluster, as JSON (`serde_json::Value`, read with
/// `claim["spec"]["accessModes"]` and the like). A volume **fits** when
/// all of these hold:
///
/// 1. **It is free for this claim.** Its `spec.claimRef` is absent, or
///    names this very claim: the same `name` and `namespace` as the
///    claim's `metadata`, and a `uid` that is absent or equal to the
///    claim's `metadata.uid` (a volume made *for* a claim comes with its
///    `claimRef` already set). A volume being deleted
///    (`metadata.deletionTimestamp` set) is never free.
/// 2. **Same class.** `spec.storageClassName` of both, `""` when absent:
///    a claim of class `manual` only takes `manual` volumes, a claim of
///    class `""` only volumes of no class.
/// 3. **Same volume mode.** `spec.volumeMode`, `"Filesystem"` when absent.
/// 4. **Every access mode the claim asks for** (`spec.accessModes`, e.g.
///    `["ReadWriteOnce"]`) is among the volume's `spec.accessModes`.
/// 5. **Big enough.** The volume's `spec.capacity.storage` is at least the
///    claim's `spec.resources.requests.storage`. Both are quantities
///    (`"500Mi"`, `"1Gi"`): compare them as numbers with
///    `kubelab_api::quantity::of(&value)` (bytes as `f64`; `None` if
///    absent, which counts as 0).
/// 6. **Its labels match the claim's `spec.selector`**, if the claim has
///    one: `kubelab_api::selector::LabelSelector::from_object(&selector)`
///    gives a selector (an `Err` means no volume fits), and its
///    `matches_object(volume)` reads the volume's labels.
/// 7. **The named one**, if the claim names a volume (`spec.volumeName`,
///    not empty): only the volume of that `metadata.name` can fit.
///
/// Of the volumes that fit, return the **smallest** (least capacity), so
/// that a big volume stays free for a big claim. Two of the same size: the
/// one whose `metadata.name` sorts first, so the choice is the same every
/// time.
pub fn find_best_match<'a>(claim: &Value, volumes: &[&'a Value]) -> Option<&'a Value> {
    let _ = (claim, volumes);
    todo!("lab 05: choose the smallest volume that fits the claim")
}
