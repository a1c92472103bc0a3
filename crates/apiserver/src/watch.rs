//! Watch: a long-lived response that streams every change.
//!
//! `kubectl get -w` and every controller's informer do the same two steps:
//! LIST (which returns a resourceVersion) and then WATCH from that
//! resourceVersion. The store's watch ([`kubelab_store::Store::watch`])
//! guarantees no gap between the two. This module turns store events into
//! the API's watch events, one JSON object per line:
//!
//! ```text
//! {"type":"ADDED","object":{…}}
//! {"type":"MODIFIED","object":{…}}
//! {"type":"DELETED","object":{…last state…}}
//! {"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"42"}}}
//! ```
//!
//! With a label selector, an object that *stops* matching is reported as
//! DELETED and one that starts matching as ADDED — the watcher's view of
//! "the set of matching objects", as upstream does it.

use std::time::Duration;

use axum::body::Bytes;
use kubelab_api::ResourceInfo;
use kubelab_store::{EventType, prefix_end};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::objects::{self, ListOptions, Objects};
use crate::status::ApiError;
use crate::table::{self, IncludeObject, Printer};

pub struct WatchRequest {
    pub info: &'static ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub list: ListOptions,
    /// `None` or `"0"`: start with the current objects as ADDED events.
    pub resource_version: Option<u64>,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    /// Send each object as a one-row Table (for `kubectl get -w`).
    pub as_table: bool,
    /// Send only each object's metadata, as a `PartialObjectMetadata`
    /// (client-go's metadata informers: the garbage collector's).
    pub as_metadata: bool,
}

/// An object reduced to what a metadata client asked for.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

fn matches(objects: &Objects, req: &WatchRequest, obj: &Value) -> bool {
    objects.selects(&req.list, obj)
        && req
            .name
            .as_deref()
            .is_none_or(|n| kubelab_api::meta::name(obj) == n)
}

fn line(req: &WatchRequest, printer: &Printer, kind: &str, obj: &Value) -> Bytes {
    // Bookmarks and errors go as they are, whatever the client asked for.
    let an_object = kind != "BOOKMARK" && kind != "ERROR";
    let object = if req.as_metadata && an_object {
        partial_metadata(obj)
    } else if req.as_table && an_object {
        let rv = obj["metadata"]["resourceVersion"].clone();
        table::table(
            printer,
            std::slice::from_ref(obj),
            json!({"resourceVersion": rv}),
            IncludeObject::Metadata,
            true,
        )
    } else {
        obj.clone()
    };
    let mut s = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

/// Starts a watch; returns the stream of lines to send.
pub async fn start(
    objects: &Objects,
    req: WatchRequest,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let ns = req.namespace.as_deref();
    let printer = objects.strategy(req.info).printer();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut initial = Vec::new();
    let from = match req.resource_version {
        Some(rv) if rv > 0 => rv,
        _ => {
            // No revision: the current state first, as synthetic ADDED events.
            let list = objects
                .list(
                    req.info,
                    ns,
                    &ListOptions {
                        label_selector: req.list.label_selector.clone(),
                        field_selector: req.list.field_selector.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            for o in list.items.iter().filter(|o| matches(objects, &req, o)) {
                initial.push(line(&req, &printer, "ADDED", o));
            }
            list.resource_version
        }
    };
    let start = objects::prefix(req.info, ns);
    let end = prefix_end(&start);
    let mut watch = objects.store().watch(&start, &end, from)?;

    let objects = objects.clone();
    tokio::spawn(async move {
        for l in initial {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let deadline = req.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut last_rv = from;
        let mut bookmark = tokio::time::interval(Duration::from_secs(30));
        bookmark.tick().await;
        loop {
            let sleep_until = deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400 * 365));
            tokio::select! {
                _ = tokio::time::sleep_until(sleep_until) => return,
                _ = tx.closed() => return,
                _ = bookmark.tick(), if req.bookmarks => {
                    let b = json!({"kind": req.info.kind, "apiVersion": req.info.api_version(), "metadata": {"resourceVersion": last_rv.to_string()}});
                    if tx.send(line(&req, &printer, "BOOKMARK", &b)).await.is_err() { return; }
                }
                event = watch.next() => {
                    let Some(event) = event else { return };
                    last_rv = event.revision;
                    let new = event.kv.as_ref().and_then(|kv| objects::decode(kv).ok());
                    let mut old = event.prev.as_ref().and_then(|kv| objects::decode(kv).ok());
                    let (was, is) = (old.as_ref().is_some_and(|o| matches(&objects, &req, o)), new.as_ref().is_some_and(|o| matches(&objects, &req, o)));
                    let out = match (event.kind, was, is) {
                        (EventType::Put, false, true) => Some(("ADDED", new.unwrap())),
                        (EventType::Put, true, true) => Some(("MODIFIED", new.unwrap())),
                        // It left the selected set: a DELETED with its new state.
                        (EventType::Put, true, false) => Some(("DELETED", new.unwrap())),
                        (EventType::Delete, true, _) => {
                            // The last state, at the revision of the delete.
                            let mut o = old.take().unwrap();
                            o["metadata"]["resourceVersion"] = json!(event.revision.to_string());
                            Some(("DELETED", o))
                        }
                        _ => None,
                    };
                    if let Some((kind, obj)) = out
                        && tx.send(line(&req, &printer, kind, &obj)).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    Ok(rx)
}
