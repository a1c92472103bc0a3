//! The garbage collector and the namespace controller.
//!
//! Two cleanup jobs that upstream's kube-controller-manager runs:
//!
//! - **Garbage collection by owner references.** A ReplicaSet's pods say
//!   `ownerReferences: [{kind: ReplicaSet, uid: …}]`. When the owner goes:
//!   - *Background* (the default): the owner is deleted at once, and the GC
//!     then deletes every object whose owners no longer exist;
//!   - *Foreground*: the owner stays with a `foregroundDeletion` finalizer
//!     until the GC has deleted its dependents, then the finalizer goes;
//!   - *Orphan*: the owner's `orphan` finalizer makes the GC strip the owner
//!     reference from each dependent instead, then remove the finalizer.
//! - **Namespace deletion.** A deleted namespace turns `Terminating`; the
//!   namespace controller deletes everything in it and then removes the
//!   `kubernetes` entry from `spec.finalizers`, which lets the namespace go.
//!
//! Both are *level-based*: each pass looks at the whole world and fixes
//! what it finds, so a missed event or a restart loses nothing. A pass runs
//! whenever the store reports a deletion (or a deletionTimestamp).
//! Simplification: these run inside the API server process and read the
//! registry directly; chapter 02's controller runtime will host them as
//! ordinary API clients.

use std::collections::HashMap;
use std::time::Duration;

use kubelab_api::meta;
use kubelab_api::registry::{RESOURCES, ResourceInfo};
use kubelab_store::EventType;
use serde_json::{Value, json};

use crate::objects::{ListOptions, Objects, Propagation, WriteOptions};
use crate::status::ApiError;

/// Runs forever: a pass at start, then one after every burst of deletions.
pub async fn run(objects: Objects) {
    loop {
        let from = objects.store().current_revision();
        if let Err(e) = pass(&objects).await {
            tracing::warn!("garbage collector pass failed: {}", e.message);
        }
        let Ok(mut watch) = objects.store().watch(b"/registry/", b"/registry0", from) else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        // Wait for something that may need cleaning up, then coalesce a burst.
        loop {
            let Some(e) = watch.next().await else { break };
            let deleting = e.kind == EventType::Delete
                || e.kv
                    .as_ref()
                    .is_some_and(|kv| kv.value.windows(18).any(|w| w == b"deletionTimestamp\""));
            if deleting {
                tokio::time::sleep(Duration::from_millis(50)).await;
                break;
            }
        }
    }
}

struct Entry {
    info: &'static ResourceInfo,
    obj: Value,
}

impl Entry {
    fn ns(&self) -> Option<&str> {
        self.info.namespaced.then(|| meta::namespace(&self.obj))
    }
}

/// One level-based pass over everything. Returns when nothing more is to do.
pub async fn pass(objects: &Objects) -> Result<(), ApiError> {
    for _ in 0..20 {
        if !pass_once(objects).await? {
            return Ok(());
        }
    }
    Ok(())
}

async fn pass_once(objects: &Objects) -> Result<bool, ApiError> {
    let mut all: Vec<Entry> = Vec::new();
    for info in RESOURCES.iter().filter(|r| r.kind != "Binding") {
        for obj in objects
            .list(info, None, &ListOptions::default())
            .await?
            .items
        {
            all.push(Entry { info, obj });
        }
    }
    let by_uid: HashMap<&str, &Entry> = all.iter().map(|e| (meta::uid(&e.obj), e)).collect();
    let mut changed = false;
    let ignore_gone = |r: Result<(), ApiError>| match r {
        Err(e) if e.code.as_u16() == 404 || e.code.as_u16() == 409 => Ok(()),
        other => other,
    };

    // 1. Namespaces being deleted: empty them, then release them.
    for ns in all
        .iter()
        .filter(|e| e.info.kind == "Namespace" && meta::is_being_deleted(&e.obj))
    {
        let name = meta::name(&ns.obj);
        let contents: Vec<&Entry> = all
            .iter()
            .filter(|e| e.info.namespaced && meta::namespace(&e.obj) == name)
            .collect();
        for e in &contents {
            if !meta::is_being_deleted(&e.obj) {
                ignore_gone(
                    objects
                        .delete(
                            e.info,
                            e.ns(),
                            meta::name(&e.obj),
                            Some(Propagation::Background),
                            None,
                            false,
                        )
                        .await
                        .map(drop),
                )?;
                changed = true;
            }
        }
        if contents.is_empty() {
            ignore_gone(
                objects
                    .update_with(
                        ns.info,
                        None,
                        name,
                        Some("finalize"),
                        WriteOptions::default(),
                        |cur| {
                            let mut o = cur.clone();
                            o["spec"]["finalizers"] = json!([]);
                            Ok(o)
                        },
                    )
                    .await
                    .map(drop),
            )?;
            changed = true;
        }
    }

    // 2. Dependents of owners that are gone, being deleted in the foreground, or orphaning.
    for e in &all {
        let refs = meta::owner_references(&e.obj);
        if refs.is_empty() || meta::is_being_deleted(&e.obj) {
            continue;
        }
        let owners: Vec<Option<&&Entry>> = refs
            .iter()
            .map(|r| by_uid.get(r["uid"].as_str().unwrap_or_default()))
            .collect();
        let orphaned_by: Vec<&str> = owners
            .iter()
            .flatten()
            .filter(|o| meta::finalizers(&o.obj).iter().any(|f| f == "orphan"))
            .map(|o| meta::uid(&o.obj))
            .collect();
        if !orphaned_by.is_empty() {
            let keep: Vec<Value> = refs
                .iter()
                .filter(|r| !orphaned_by.contains(&r["uid"].as_str().unwrap_or_default()))
                .cloned()
                .collect();
            ignore_gone(
                objects
                    .update_with(
                        e.info,
                        e.ns(),
                        meta::name(&e.obj),
                        None,
                        WriteOptions::default(),
                        |cur| {
                            let mut o = cur.clone();
                            o["metadata"]["ownerReferences"] = if keep.is_empty() {
                                Value::Null
                            } else {
                                json!(keep)
                            };
                            Ok(o)
                        },
                    )
                    .await
                    .map(drop),
            )?;
            changed = true;
            continue;
        }
        let all_gone = owners.iter().all(Option::is_none);
        let foreground = owners.iter().flatten().any(|o| {
            meta::finalizers(&o.obj)
                .iter()
                .any(|f| f == "foregroundDeletion")
        });
        if all_gone || foreground {
            // In the foreground, dependents are deleted in the foreground too,
            // so grandchildren go before children.
            let p = if foreground {
                Propagation::Foreground
            } else {
                Propagation::Background
            };
            ignore_gone(
                objects
                    .delete(e.info, e.ns(), meta::name(&e.obj), Some(p), None, false)
                    .await
                    .map(drop),
            )?;
            changed = true;
        }
    }

    // 3. Owners waiting on their dependents: release them when done.
    for owner in all.iter().filter(|e| meta::is_being_deleted(&e.obj)) {
        let uid = meta::uid(&owner.obj);
        let fins = meta::finalizers(&owner.obj);
        let has_dependents = all.iter().any(|d| {
            meta::owner_references(&d.obj)
                .iter()
                .any(|r| r["uid"] == uid)
        });
        let done: Vec<&str> = fins
            .iter()
            .map(String::as_str)
            .filter(|f| (*f == "foregroundDeletion" || *f == "orphan") && !has_dependents)
            .collect();
        if done.is_empty() {
            continue;
        }
        let keep: Vec<String> = fins
            .iter()
            .filter(|f| !done.contains(&f.as_str()))
            .cloned()
            .collect();
        ignore_gone(
            objects
                .update_with(
                    owner.info,
                    owner.ns(),
                    meta::name(&owner.obj),
                    None,
                    WriteOptions::default(),
                    |cur| {
                        let mut o = cur.clone();
                        o["metadata"]["finalizers"] = json!(keep);
                        Ok(o)
                    },
                )
                .await
                .map(drop),
        )?;
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubelab_api::registry;

    fn info(av: &str, kind: &str) -> &'static ResourceInfo {
        registry::by_kind(av, kind).unwrap()
    }

    async fn setup() -> (Objects, String) {
        let o = Objects::new(kubelab_store::in_memory());
        let ns = info("v1", "Namespace");
        o.create(
            ns,
            None,
            json!({"metadata": {"name": "default"}}),
            WriteOptions::default(),
        )
        .await
        .unwrap();
        let owner = o
            .create(
                info("v1", "ConfigMap"),
                Some("default"),
                json!({"metadata": {"name": "owner"}}),
                WriteOptions::default(),
            )
            .await
            .unwrap()
            .object;
        let uid = meta::uid(&owner).to_string();
        for n in ["a", "b"] {
            let dep = json!({"metadata": {"name": n, "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "controller": true}]}});
            o.create(
                info("v1", "Secret"),
                Some("default"),
                dep,
                WriteOptions::default(),
            )
            .await
            .unwrap();
        }
        (o, uid)
    }

    async fn secrets(o: &Objects) -> Vec<Value> {
        o.list(
            info("v1", "Secret"),
            Some("default"),
            &ListOptions::default(),
        )
        .await
        .unwrap()
        .items
    }

    #[tokio::test]
    async fn background_deletion_removes_dependents_after_the_owner() {
        let (o, _) = setup().await;
        o.delete(
            info("v1", "ConfigMap"),
            Some("default"),
            "owner",
            None,
            None,
            false,
        )
        .await
        .unwrap();
        assert_eq!(secrets(&o).await.len(), 2);
        pass(&o).await.unwrap();
        assert!(secrets(&o).await.is_empty());
    }

    #[tokio::test]
    async fn foreground_deletion_waits_for_dependents() {
        let (o, _) = setup().await;
        let cm = info("v1", "ConfigMap");
        o.delete(
            cm,
            Some("default"),
            "owner",
            Some(Propagation::Foreground),
            None,
            false,
        )
        .await
        .unwrap();
        assert!(meta::is_being_deleted(
            &o.get(cm, Some("default"), "owner").await.unwrap()
        ));
        pass(&o).await.unwrap();
        assert!(secrets(&o).await.is_empty());
        assert_eq!(
            o.get(cm, Some("default"), "owner")
                .await
                .unwrap_err()
                .code
                .as_u16(),
            404
        );
    }

    #[tokio::test]
    async fn orphan_deletion_keeps_dependents_without_the_reference() {
        let (o, _) = setup().await;
        o.delete(
            info("v1", "ConfigMap"),
            Some("default"),
            "owner",
            Some(Propagation::Orphan),
            None,
            false,
        )
        .await
        .unwrap();
        pass(&o).await.unwrap();
        let left = secrets(&o).await;
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|s| meta::owner_references(s).is_empty()));
        assert_eq!(
            o.get(info("v1", "ConfigMap"), Some("default"), "owner")
                .await
                .unwrap_err()
                .code
                .as_u16(),
            404
        );
    }

    #[tokio::test]
    async fn deleting_a_namespace_deletes_its_contents_then_itself() {
        let (o, _) = setup().await;
        let ns = info("v1", "Namespace");
        let terminating = o
            .delete(ns, None, "default", None, None, false)
            .await
            .unwrap();
        assert_eq!(terminating["status"]["phase"], "Terminating");
        let e = o
            .create(
                info("v1", "ConfigMap"),
                Some("default"),
                json!({"metadata": {"name": "late"}}),
                WriteOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code.as_u16(), 403);
        pass(&o).await.unwrap();
        assert!(secrets(&o).await.is_empty());
        assert_eq!(
            o.get(ns, None, "default").await.unwrap_err().code.as_u16(),
            404
        );
    }
}
