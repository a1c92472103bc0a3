//! Informers: a local, always up-to-date copy of one kind of object.
//!
//! A controller that asked the API server "which pods does this
//! ReplicaSet have?" on every decision would flood it. Instead each
//! component keeps a cache: **list** everything once, then **watch** from
//! the list's resourceVersion and apply every event. If the watch breaks,
//! watch again from the last version seen; if that version was compacted
//! away (410 Gone), list again. This is client-go's Reflector + Store +
//! SharedInformer, in one small type.
//!
//! Subscribers get every change (with the old and new object), so that a
//! controller can turn it into work-queue keys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kubelab_api::ResourceInfo;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::rest::{self, Client};

/// What happened to one object.
#[derive(Debug, Clone)]
pub enum Change {
    Added(Arc<Value>),
    Modified { old: Arc<Value>, new: Arc<Value> },
    Deleted(Arc<Value>),
}

impl Change {
    /// The object as it is now (or was, when deleted).
    pub fn object(&self) -> &Arc<Value> {
        match self {
            Change::Added(o) | Change::Deleted(o) => o,
            Change::Modified { new, .. } => new,
        }
    }
}

struct Shared {
    objects: RwLock<HashMap<String, Arc<Value>>>,
    subscribers: RwLock<Vec<mpsc::UnboundedSender<Change>>>,
    synced: watch::Sender<bool>,
}

/// A cache of one resource, kept current by list + watch.
#[derive(Clone)]
pub struct Informer {
    shared: Arc<Shared>,
    pub info: &'static ResourceInfo,
}

/// `namespace/name` (or `name` for cluster-scoped objects): the key of the
/// cache and of work queues, as client-go's `MetaNamespaceKeyFunc`.
pub fn key_of(obj: &Value) -> String {
    let m = &obj["metadata"];
    let name = m["name"].as_str().unwrap_or_default();
    match m["namespace"].as_str() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Splits a key back into namespace and name.
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, key),
    }
}

impl Informer {
    /// Starts caching `info` objects (optionally only those matching a
    /// field selector, as each kubelet watches `spec.nodeName=<node>`).
    pub fn start(
        client: &Client,
        info: &'static ResourceInfo,
        field_selector: Option<&str>,
    ) -> Informer {
        let mut url = rest::path(info, None, None);
        if let Some(f) = field_selector {
            url.push_str(&format!("?fieldSelector={}", rest::query_value(f)));
        }
        Informer::reflecting(client.clone(), info, url, None)
    }

    /// An informer of `info`'s metadata only (client-go's metadata
    /// informer): each cached object is `apiVersion`, `kind` and
    /// `metadata`. The garbage collector needs no more of any object.
    pub fn start_metadata(client: &Client, info: &'static ResourceInfo) -> Informer {
        let url = rest::path(info, None, None);
        Informer::reflecting(client.metadata_only(), info, url, Some(info))
    }

    /// An empty cache, filled by a reflector on `url`.
    fn reflecting(
        client: Client,
        info: &'static ResourceInfo,
        url: String,
        metadata_of: Option<&'static ResourceInfo>,
    ) -> Informer {
        let (synced, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            objects: RwLock::new(HashMap::new()),
            subscribers: RwLock::new(Vec::new()),
            synced,
        });
        tokio::spawn(reflect(client, url, shared.clone(), metadata_of));
        Informer { shared, info }
    }

    /// Waits until the first list is in the cache.
    pub async fn synced(&self) {
        let mut rx = self.shared.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Every change from now on; what is already cached arrives first as
    /// `Added`, so a late subscriber misses nothing.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Hold the write lock of subscribers while replaying, so no change
        // slips between the replay and the registration.
        let mut subs = self.shared.subscribers.write().unwrap();
        for o in self.shared.objects.read().unwrap().values() {
            let _ = tx.send(Change::Added(o.clone()));
        }
        subs.push(tx);
        rx
    }

    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.shared.objects.read().unwrap().get(key).cloned()
    }

    /// Every cached object (in one namespace, or all).
    pub fn list(&self, namespace: Option<&str>) -> Vec<Arc<Value>> {
        self.shared
            .objects
            .read()
            .unwrap()
            .values()
            .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.shared.objects.read().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shared {
    fn publish(&self, change: Change) {
        let mut subs = self.subscribers.write().unwrap();
        subs.retain(|s| s.send(change.clone()).is_ok());
    }

    fn apply(&self, kind: &str, obj: Value) {
        let key = key_of(&obj);
        let obj = Arc::new(obj);
        let change = {
            let mut objects = self.objects.write().unwrap();
            match kind {
                "DELETED" => {
                    objects.remove(&key);
                    Change::Deleted(obj)
                }
                _ => match objects.insert(key, obj.clone()) {
                    Some(old) => Change::Modified { old, new: obj },
                    None => Change::Added(obj),
                },
            }
        };
        self.publish(change);
    }

    /// After a (re)list: replace the cache, reporting what changed
    /// while we were not watching.
    fn replace(&self, items: Vec<Value>) {
        let fresh: HashMap<String, Arc<Value>> = items
            .into_iter()
            .map(|o| (key_of(&o), Arc::new(o)))
            .collect();
        let mut changes = Vec::new();
        {
            let mut objects = self.objects.write().unwrap();
            for (k, new) in &fresh {
                match objects.get(k) {
                    None => changes.push(Change::Added(new.clone())),
                    Some(old)
                        if old["metadata"]["resourceVersion"]
                            != new["metadata"]["resourceVersion"] =>
                    {
                        changes.push(Change::Modified {
                            old: old.clone(),
                            new: new.clone(),
                        })
                    }
                    Some(_) => {}
                }
            }
            for (k, old) in objects.iter() {
                if !fresh.contains_key(k) {
                    changes.push(Change::Deleted(old.clone()));
                }
            }
            *objects = fresh;
        }
        for c in changes {
            self.publish(c);
        }
    }
}

/// The reflector loop: list, then watch until the watch breaks; repeat.
/// With `metadata_of`, objects arrive as `PartialObjectMetadata` and are
/// given back their own `apiVersion` and `kind`.
async fn reflect(
    client: Client,
    url: String,
    shared: Arc<Shared>,
    metadata_of: Option<&'static ResourceInfo>,
) {
    let typed = move |mut o: Value| {
        if let Some(info) = metadata_of {
            o["apiVersion"] = Value::from(info.api_version());
            o["kind"] = Value::from(info.kind);
        }
        o
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let list = match client.get(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!("list {url}: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let mut rv = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        let items: Vec<Value> = match list {
            Value::Object(mut m) => match m.remove("items") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        shared.replace(items.into_iter().map(typed).collect());
        shared.synced.send_replace(true);
        // Watch until it ends; on 410 Gone, fall through to a new list.
        loop {
            let mut stream = match client.watch(&url, &rv).await {
                Ok(s) => Box::pin(s),
                Err(e) if e.is_gone() => break,
                Err(e) => {
                    tracing::debug!("watch {url}: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            };
            let mut expired = false;
            while let Some(ev) = stream.next().await {
                if ev.kind == "ERROR" {
                    expired = ev.object["code"] == 410;
                    break;
                }
                if let Some(v) = ev.object["metadata"]["resourceVersion"].as_str() {
                    rv = v.to_string();
                }
                if ev.kind != "BOOKMARK" {
                    shared.apply(&ev.kind, typed(ev.object));
                }
            }
            if expired {
                break;
            }
        }
    }
}
