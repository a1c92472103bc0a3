//! Your code for lab 09. `kubelab lab reset 09` puts this file back as it was.

use kubelab_rollouts::rolling::{Bounds, Sizes, Step};

/// One step of a rolling update: the new size of the new ReplicaSet and
/// of each old one (`olds` is oldest first; answer in the same order).
///
/// `b.replicas` is what the Deployment wants; `b.max_surge` and
/// `b.max_unavailable` are already numbers (never both 0). Each ReplicaSet
/// comes as `Sizes { replicas, available }`: its size and how many of its
/// pods are available.
///
/// 1. **Scale up.** If the new ReplicaSet already has `b.replicas` or
///    more, it gets exactly `b.replicas`. Otherwise it grows into the
///    room the surge leaves — `b.replicas + b.max_surge` minus all pods
///    (new and old sizes) — but never beyond `b.replicas` (and never
///    shrinks: no room means no change).
/// 2. **How many pods may go.** Count with the new size from step 1:
///    `all sizes - (b.replicas - b.max_unavailable) - new pods not
///    available` (new size minus its available, at least 0). If that is
///    0 or less, the old ReplicaSets keep their sizes.
/// 3. **Unavailable old pods first** (they cost no availability): oldest
///    ReplicaSet first, remove up to `replicas - available` from each,
///    as long as step 2's count lasts.
/// 4. **Then available old pods**, down to the floor: the surplus is
///    `all available (new and old) - (b.replicas - b.max_unavailable)`,
///    where each ReplicaSet counts at most as many available pods as its
///    size (the new one: its size from step 1). A ReplicaSet that was just
///    shrunk may still report the pods it is removing as available.
///    Oldest first, remove up to its (remaining) size from each while
///    surplus lasts. This step is *not* limited by step 2's count.
pub fn rolling_step(b: &Bounds, new: Sizes, olds: &[Sizes]) -> Step {
    let _ = (b, new, olds);
    todo!("lab 09: how many new pods to add and old ones to remove?")
}
