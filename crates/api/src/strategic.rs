//! Strategic merge patch's schema knowledge: which lists merge *by key*
//! rather than being replaced whole (upstream's `patchMergeKey` tags on
//! the Go types). The API server applies such patches (chapter 01); a
//! client that computes them — `kubelab helm upgrade`'s three-way merge,
//! chapter 10 — needs the same table.

/// The merge key for a list field, by the field's path in the object.
/// `None` means the list is atomic (replaced as a whole).
// ANCHOR: merge_keys
pub fn merge_key(path: &[&str]) -> Option<&'static str> {
    let field = *path.last()?;
    let parent = path.len().checked_sub(2).map(|i| path[i]);
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "readinessGates" => "conditionType",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "topologySpreadConstraints" => "topologyKey",
        // Service ports merge by port; container ports by containerPort.
        "ports" if parent == Some("spec") => "port",
        "ports" => "containerPort",
        _ => return None,
    })
}
// ANCHOR_END: merge_keys
