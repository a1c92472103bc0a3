//! The garbage collector: dependents go when their owners go.
//!
//! Watches every resource that can be listed (but events, as upstream),
//! owns nothing; deletes dependents, strips owner references from them,
//! and removes the `foregroundDeletion` and `orphan` finalizers of owners.
//!
//! ```text
//! graph (kept from the informers' changes):
//!     uid        → where the object is cached, the owner uids it names
//!     owner uid  → the uids of its dependents
//!
//! reconcile(uid):
//!     obj = the cached object of this uid        gone → nothing to do
//!     obj is being deleted with `foregroundDeletion` or `orphan`:
//!         no dependents left → remove those finalizers (the owner goes)
//!     obj is not being deleted and has ownerReferences:
//!         an owner has the `orphan` finalizer   → remove its reference from obj
//!         an owner has `foregroundDeletion`     → DELETE obj, Foreground
//!         no owner exists (asked the API)       → DELETE obj, Background
//! ```
//!
//! **The queue holds uids**, not `namespace/name`: an owner is named by its
//! uid in `ownerReferences`, and once it is deleted its uid is all that is
//! left to find its dependents by. A uid is also never reused, so a key
//! cannot mean a newer object of the same name.
//!
//! **Only changes that matter queue work.** A cluster writes pods' status
//! thousands of times a second; none of that concerns the collector. A
//! change queues keys only when an object appears, is deleted, or changes
//! its `ownerReferences`, `deletionTimestamp` or `finalizers` — and then
//! only the uids it concerns (the object, its owners, its dependents), found
//! in the graph without looking at any other object. Upstream's
//! `GraphBuilder` keeps the same graph, for the same reason.
//!
//! **The caches of different resources lag each other.** A pod created
//! right after its ReplicaSet may reach the collector before the ReplicaSet
//! does, and would look like an orphan. So "every owner is gone" is never
//! decided from the caches alone: the collector asks the API server for
//! each owner first (upstream's `isDangling`), and remembers owners found
//! gone (uids are never reused, so gone is gone for good).
//!
//! Simplifications: an owner is found by its uid alone, wherever it is
//! (upstream also checks that a namespaced owner is in its dependent's
//! namespace and that its kind matches the reference); in the foreground
//! every dependent holds its owner back, whether or not its reference says
//! `blockOwnerDeletion: true`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::http::Method;
use kubelab_api::meta;
use kubelab_api::registry::{self, RESOURCES, ResourceInfo};
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of, split_key};
use kubelab_client::rest::{self, Client};
use kubelab_client::{Action, Error, InformerFactory, Reconciler, WorkQueue};

/// The owner's finalizer of a Foreground deletion.
const FOREGROUND: &str = "foregroundDeletion";
/// The owner's finalizer of an Orphan deletion.
const ORPHAN: &str = "orphan";
const MERGE_PATCH: &str = "application/merge-patch+json";
const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
/// Concurrent reconciles (upstream's `--concurrent-gc-syncs` is 20).
const WORKERS: usize = 8;
/// How many owners found gone to remember (upstream's `absentOwnerCache`: 500).
const ABSENT_OWNERS: usize = 1000;

pub struct GarbageCollector {
    client: Client,
    /// The shared informer of each resource watched; a graph node names
    /// its resource by index here.
    resources: Vec<Informer>,
    graph: Mutex<Graph>,
    /// Owner uids the API server confirmed gone.
    absent: Mutex<HashSet<String>>,
}

/// The resources the collector watches: all that can be listed, but
/// events (upstream ignores them too: they are many, short-lived and own
/// nothing, so watching them would only cost).
pub fn watched() -> impl Iterator<Item = &'static ResourceInfo> {
    RESOURCES
        .iter()
        .filter(|r| super::is_listable(r) && r.plural != "events")
}

impl GarbageCollector {
    /// Wires every resource's informer into the graph and the queue, and
    /// starts the workers once all caches are filled.
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<GarbageCollector> {
        let gc = Arc::new(GarbageCollector {
            client: client.named("garbage-collector"),
            // Metadata only, as upstream's garbage collector: owner references,
            // uids and finalizers are all it reads of an object.
            resources: watched().map(|info| informers.metadata(info)).collect(),
            graph: Mutex::default(),
            absent: Mutex::default(),
        });
        let me = gc.clone();
        tokio::spawn(async move {
            let queue = WorkQueue::new();
            // Decide nothing from half-filled caches (upstream waits for
            // `cache.WaitForCacheSync` too).
            for informer in &me.resources {
                informer.synced().await;
            }
            for (n, informer) in me.resources.iter().enumerate() {
                // A new subscriber gets the cache first: put it into the
                // graph now, so the graph is whole before any reconcile.
                let mut rx = informer.subscribe();
                while let Ok(change) = rx.try_recv() {
                    for k in me.keys_for(n, &change) {
                        queue.add(&k);
                    }
                }
                let gc = me.clone();
                kubelab_client::feed_from(rx, &queue, move |change| gc.keys_for(n, change));
            }
            kubelab_client::run(me, queue, WORKERS).await;
        });
        gc
    }

    /// A change of resource `n`: update the graph, and say which uids need
    /// a look.
    fn keys_for(&self, n: usize, change: &Change) -> Vec<String> {
        self.graph.lock().unwrap().observe(n, change)
    }
}

#[async_trait::async_trait]
impl Reconciler for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbage-collector"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, uid: &str) -> Result<Action, Error> {
        let Some((info, obj)) = self.cached(uid) else {
            // Gone: its dependents were queued when its deletion was seen.
            return Ok(Action::Done);
        };
        if meta::is_being_deleted(&obj) {
            // 1. An owner waiting for its dependents (Foreground or Orphan).
            self.release_owner(info, &obj).await
        } else if !meta::owner_references(&obj).is_empty() {
            // 2. A dependent: is it orphaned, or its owner gone or going?
            self.collect_dependent(info, &obj).await
        } else {
            Ok(Action::Done)
        }
    }
    // ANCHOR_END: reconcile
}

impl GarbageCollector {
    /// Removes the owner's `foregroundDeletion` and `orphan` finalizers once
    /// nothing names it as an owner any more. Until then, each dependent's
    /// deletion (or loss of the reference) queues the owner again.
    async fn release_owner(&self, info: &ResourceInfo, owner: &Value) -> Result<Action, Error> {
        let done: Vec<String> = meta::finalizers(owner)
            .into_iter()
            .filter(|f| f == FOREGROUND || f == ORPHAN)
            .collect();
        if done.is_empty() || self.graph.lock().unwrap().has_dependents(meta::uid(owner)) {
            return Ok(Action::Done);
        }
        // `$deleteFromPrimitiveList` removes just these entries on the
        // server: another controller's finalizer added meanwhile stays, and
        // no resourceVersion can conflict. The last finalizer removed from
        // an object being deleted deletes it.
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": done}});
        self.patch(info, owner, STRATEGIC_MERGE_PATCH, &patch).await
    }

    /// One dependent: what do its owners' states ask of it?
    async fn collect_dependent(&self, info: &ResourceInfo, obj: &Value) -> Result<Action, Error> {
        let refs = meta::owner_references(obj);
        let owners: Vec<Arc<Value>> = refs
            .iter()
            .filter_map(|r| self.cached(r["uid"].as_str().unwrap_or_default()))
            .map(|(_, o)| o)
            .collect();

        // Orphaning owners let go of their dependents: drop their references
        // (the field goes when none is left, as upstream's `omitempty`).
        // The list is replaced as a whole, so it must be the list we read:
        // the resourceVersion makes a stale read a conflict, retried.
        let orphaned_by: Vec<&str> = owners
            .iter()
            .filter(|o| has_finalizer(o, ORPHAN))
            .map(|o| meta::uid(o))
            .collect();
        if !orphaned_by.is_empty() {
            let keep: Vec<&Value> = refs
                .iter()
                .filter(|r| !orphaned_by.contains(&r["uid"].as_str().unwrap_or_default()))
                .collect();
            let keep = if keep.is_empty() {
                Value::Null
            } else {
                json!(keep)
            };
            let patch = json!({"metadata": {
                "ownerReferences": keep,
                "resourceVersion": obj["metadata"]["resourceVersion"],
            }});
            return self.patch(info, obj, MERGE_PATCH, &patch).await;
        }

        // A foreground owner waits for its dependents: delete them, in the
        // foreground too, so that grandchildren go before children.
        if owners.iter().any(|o| has_finalizer(o, FOREGROUND)) {
            return self.delete(info, obj, "Foreground").await;
        }

        // Every owner gone (and the API server agrees): collect it.
        if owners.is_empty() {
            for r in refs {
                if self.owner_exists(info, obj, r).await? {
                    return Ok(Action::Done);
                }
            }
            return self.delete(info, obj, "Background").await;
        }
        Ok(Action::Done)
    }

    /// Asks the API server whether the owner `r` of `dependent` exists:
    /// the caches may not have seen it yet.
    async fn owner_exists(
        &self,
        info: &ResourceInfo,
        dependent: &Value,
        r: &Value,
    ) -> Result<bool, Error> {
        let uid = r["uid"].as_str().unwrap_or_default();
        if self.absent.lock().unwrap().contains(uid) {
            return Ok(false);
        }
        let owner_info = registry::by_kind(
            r["apiVersion"].as_str().unwrap_or_default(),
            r["kind"].as_str().unwrap_or_default(),
        );
        // A kind the API does not serve cannot exist; a namespaced owner of
        // a cluster-scoped dependent has no namespace to look in (upstream
        // treats both as absent too).
        let exists = match owner_info {
            Some(o) if !o.namespaced || info.namespaced => {
                let ns = o.namespaced.then(|| meta::namespace(dependent));
                let url = rest::path(o, ns, r["name"].as_str());
                match self.client.get(&url).await {
                    Ok(found) => meta::uid(&found) == uid,
                    Err(e) if e.is_not_found() => false,
                    Err(e) => return Err(e.into()),
                }
            }
            _ => false,
        };
        if !exists {
            let mut absent = self.absent.lock().unwrap();
            if absent.len() >= ABSENT_OWNERS {
                absent.clear();
            }
            absent.insert(uid.to_string());
        }
        Ok(exists)
    }
}

// Helpers.

impl GarbageCollector {
    /// The cached object of `uid`, and its resource.
    fn cached(&self, uid: &str) -> Option<(&'static ResourceInfo, Arc<Value>)> {
        let (n, key) = {
            let graph = self.graph.lock().unwrap();
            let node = graph.nodes.get(uid)?;
            (node.resource, node.key.clone())
        };
        let informer = &self.resources[n];
        let obj = informer.get(&key).filter(|o| meta::uid(o) == uid)?;
        Some((informer.info, obj))
    }

    /// DELETE `obj` with a propagation policy, only if it is still the
    /// object of that uid (a precondition, as upstream's collector sends).
    async fn delete(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        policy: &str,
    ) -> Result<Action, Error> {
        let options = json!({
            "apiVersion": "v1", "kind": "DeleteOptions",
            "propagationPolicy": policy,
            "preconditions": {"uid": meta::uid(obj)},
        });
        match self.client.delete(&url_of(info, obj), &options).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            // A conflict (another object of that name now): the retry sees
            // whether the cache still holds our uid.
            Err(e) => Err(e.into()),
        }
    }

    /// PATCHes `obj` (a conflict is an error: the retry reads again).
    async fn patch(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        content_type: &str,
        patch: &Value,
    ) -> Result<Action, Error> {
        let sent = self
            .client
            .request(Method::PATCH, &url_of(info, obj), content_type, Some(patch))
            .await;
        match sent {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

fn url_of(info: &ResourceInfo, obj: &Value) -> String {
    let key = key_of(obj);
    let (ns, name) = split_key(&key);
    rest::path(info, ns, Some(name))
}

fn has_finalizer(obj: &Value, finalizer: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// The uids an object names as its owners.
fn owner_uids(obj: &Value) -> Vec<String> {
    meta::owner_references(obj)
        .iter()
        .filter_map(|r| r["uid"].as_str())
        .map(String::from)
        .collect()
}

/// Being deleted and holding a finalizer that the collector removes.
fn waits_for_dependents(obj: &Value) -> bool {
    meta::is_being_deleted(obj) && (has_finalizer(obj, FOREGROUND) || has_finalizer(obj, ORPHAN))
}

/// Something the collector may have to act on now.
fn needs_attention(obj: &Value) -> bool {
    waits_for_dependents(obj)
        || (!meta::is_being_deleted(obj) && !meta::owner_references(obj).is_empty())
}

/// What a deletion is waiting for: the mark and the finalizers.
fn deletion_state(obj: &Value) -> (bool, &Value) {
    (
        meta::is_being_deleted(obj),
        obj.pointer("/metadata/finalizers").unwrap_or(&Value::Null),
    )
}

/// Who owns whom, by uid: upstream's `uidToNode` and the nodes' `dependents`.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid → the uids of the objects that name it. An owner's entry
    /// outlives the owner: after it is deleted, this is how its dependents
    /// are found.
    dependents: HashMap<String, HashSet<String>>,
}

struct Node {
    /// Index into [`GarbageCollector::resources`].
    resource: usize,
    /// The informer cache's key (`namespace/name`).
    key: String,
    owners: Vec<String>,
}

impl Graph {
    /// Applies one change of resource `n` and returns the uids to reconcile.
    /// Constant work per change (times its owner references), whatever the
    /// size of the cluster.
    fn observe(&mut self, n: usize, change: &Change) -> Vec<String> {
        match change {
            Change::Added(obj) => {
                self.insert(n, obj);
                let uid = meta::uid(obj).to_string();
                let mut keys = Vec::new();
                if waits_for_dependents(obj) {
                    keys.extend(self.dependents_of(&uid));
                }
                if needs_attention(obj) {
                    keys.push(uid);
                }
                keys
            }
            Change::Modified { old, new } => {
                let uid = meta::uid(new).to_string();
                let mut keys = Vec::new();
                let old_owners = owner_uids(old);
                if old_owners != owner_uids(new) || !self.nodes.contains_key(&uid) {
                    self.insert(n, new);
                    // An owner that lost this dependent may be waiting for that.
                    keys.extend(old_owners);
                    if needs_attention(new) {
                        keys.push(uid.clone());
                    }
                }
                if deletion_state(old) != deletion_state(new) {
                    // Newly Foreground or Orphan: every dependent has work.
                    if waits_for_dependents(new) {
                        keys.extend(self.dependents_of(&uid));
                    }
                    if needs_attention(new) {
                        keys.push(uid);
                    }
                }
                keys
            }
            Change::Deleted(obj) => {
                let uid = meta::uid(obj);
                let owners = self.remove(uid);
                // Its dependents may be orphans now; an owner may have been
                // waiting for exactly this one.
                let mut keys = self.dependents_of(uid);
                keys.extend(owners);
                keys
            }
        }
    }

    fn insert(&mut self, n: usize, obj: &Value) {
        let uid = meta::uid(obj);
        if uid.is_empty() {
            return;
        }
        let owners = owner_uids(obj);
        let old = self.nodes.insert(
            uid.to_string(),
            Node {
                resource: n,
                key: key_of(obj),
                owners: owners.clone(),
            },
        );
        for o in old.map(|n| n.owners).unwrap_or_default() {
            if !owners.contains(&o) {
                self.unlink(&o, uid);
            }
        }
        for o in owners {
            self.dependents
                .entry(o)
                .or_default()
                .insert(uid.to_string());
        }
    }

    /// Forgets `uid`; returns the owners it named.
    fn remove(&mut self, uid: &str) -> Vec<String> {
        let owners = self.nodes.remove(uid).map(|n| n.owners).unwrap_or_default();
        for o in &owners {
            self.unlink(o, uid);
        }
        owners
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(d) = self.dependents.get_mut(owner) {
            d.remove(dependent);
            if d.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }

    fn dependents_of(&self, uid: &str) -> Vec<String> {
        self.dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn has_dependents(&self, uid: &str) -> bool {
        self.dependents.contains_key(uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::testing::{
        cluster, code_of, dependent, eventually, list, owner_with_two_dependents, url,
    };
    use std::time::Duration;

    fn obj(uid: &str, owners: &[&str]) -> Arc<Value> {
        let refs: Vec<Value> = owners
            .iter()
            .map(|o| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": o}))
            .collect();
        Arc::new(json!({"metadata": {
            "name": uid, "namespace": "default", "uid": uid, "ownerReferences": refs,
        }}))
    }

    #[test]
    fn only_changes_of_owners_and_deletion_queue_work() {
        let mut g = Graph::default();
        assert!(g.observe(0, &Change::Added(obj("owner", &[]))).is_empty());
        assert_eq!(
            g.observe(0, &Change::Added(obj("pod", &["owner"]))),
            ["pod"]
        );
        // A status write, as kubelets make thousands of: nothing to do.
        let mut running = (*obj("pod", &["owner"])).clone();
        running["status"] = json!({"phase": "Running"});
        let status_only = Change::Modified {
            old: obj("pod", &["owner"]),
            new: Arc::new(running),
        };
        assert!(g.observe(0, &status_only).is_empty());
        // The owner goes: its dependent is found by the owner's uid.
        assert_eq!(g.observe(0, &Change::Deleted(obj("owner", &[]))), ["pod"]);
        assert!(g.has_dependents("owner"));
        // The dependent goes: whoever it named is looked at, and forgotten as its owner.
        assert_eq!(
            g.observe(0, &Change::Deleted(obj("pod", &["owner"]))),
            ["owner"]
        );
        assert!(!g.has_dependents("owner") && g.nodes.is_empty());
    }

    #[tokio::test]
    async fn background_deletion_removes_dependents_after_the_owner() {
        let c = cluster().await;
        GarbageCollector::start(&c.client, &c.informers);
        owner_with_two_dependents(&c.client, "default").await;
        // While the owner exists, its dependents stay.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(list(&c.client, "Secret", "default").await.len(), 2);

        c.client
            .delete(
                &url("ConfigMap", Some("default"), Some("owner")),
                &json!({}),
            )
            .await
            .unwrap();
        eventually("the dependents deleted", || async {
            list(&c.client, "Secret", "default").await.is_empty()
        })
        .await;
    }

    #[tokio::test]
    async fn dependents_of_an_owner_deleted_before_the_collector_started_are_collected() {
        let c = cluster().await;
        owner_with_two_dependents(&c.client, "default").await;
        c.client
            .delete(
                &url("ConfigMap", Some("default"), Some("owner")),
                &json!({}),
            )
            .await
            .unwrap();
        // An owner that never existed at all counts as gone too; one that
        // exists keeps its dependent.
        c.client
            .create(
                &url("Secret", Some("default"), None),
                &dependent("stray", "no-such-uid"),
            )
            .await
            .unwrap();
        let alive = c
            .client
            .create(
                &url("ConfigMap", Some("default"), None),
                &json!({"metadata": {"name": "alive"}}),
            )
            .await
            .unwrap();
        let mut kept = dependent("kept", meta::uid(&alive));
        kept["metadata"]["ownerReferences"][0]["name"] = json!("alive");
        c.client
            .create(&url("Secret", Some("default"), None), &kept)
            .await
            .unwrap();
        assert_eq!(list(&c.client, "Secret", "default").await.len(), 4);

        GarbageCollector::start(&c.client, &c.informers);
        eventually("only the dependent of the live owner left", || async {
            let names: Vec<Value> = list(&c.client, "Secret", "default")
                .await
                .iter()
                .map(|s| s["metadata"]["name"].clone())
                .collect();
            names == [json!("kept")]
        })
        .await;
    }

    #[tokio::test]
    async fn foreground_deletion_waits_for_dependents() {
        let c = cluster().await;
        GarbageCollector::start(&c.client, &c.informers);
        let uid = owner_with_two_dependents(&c.client, "default").await;
        // A dependent that cannot go yet: it has a finalizer of its own.
        let mut held = dependent("held", &uid);
        held["metadata"]["finalizers"] = json!(["example.com/hold"]);
        let secrets = url("Secret", Some("default"), None);
        c.client.create(&secrets, &held).await.unwrap();

        let owner = url("ConfigMap", Some("default"), Some("owner"));
        let marked = c
            .client
            .delete(&owner, &json!({"propagationPolicy": "Foreground"}))
            .await
            .unwrap();
        assert!(meta::is_being_deleted(&marked));
        assert_eq!(meta::finalizers(&marked), [FOREGROUND]);

        let held_url = url("Secret", Some("default"), Some("held"));
        eventually("the dependents deleted, `held` marked", || async {
            let left = list(&c.client, "Secret", "default").await;
            left.len() == 1 && meta::is_being_deleted(&left[0])
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(code_of(&c.client, &owner).await, 200, "the owner waits");

        let release = json!({"metadata": {"finalizers": []}});
        c.client.merge_patch(&held_url, &release).await.unwrap();
        eventually("the owner deleted after its last dependent", || async {
            code_of(&c.client, &owner).await == 404
        })
        .await;
    }

    #[tokio::test]
    async fn orphan_deletion_keeps_dependents_without_the_reference() {
        let c = cluster().await;
        let gc = GarbageCollector::start(&c.client, &c.informers);
        let uid = owner_with_two_dependents(&c.client, "default").await;
        // The collector must have seen the dependents before the owner's
        // deletion: the Secrets' informer may lag behind the ConfigMaps'
        // (a known limit: an Orphan deletion within moments of creating a
        // dependent can miss it, and the dependent is then collected).
        eventually("the collector knows both dependents", || async {
            gc.graph.lock().unwrap().dependents_of(&uid).len() == 2
        })
        .await;
        let owner = url("ConfigMap", Some("default"), Some("owner"));
        c.client
            .delete(&owner, &json!({"propagationPolicy": "Orphan"}))
            .await
            .unwrap();
        eventually("the owner deleted", || async {
            code_of(&c.client, &owner).await == 404
        })
        .await;
        let left = list(&c.client, "Secret", "default").await;
        assert_eq!(left.len(), 2);
        // Not an empty list: no field at all, as kubectl shows upstream's.
        assert!(
            left.iter()
                .all(|s| s["metadata"].get("ownerReferences").is_none()),
            "{left:?}"
        );
    }
}
