//! Events: what `kubectl describe` shows at the bottom.
//!
//! An Event is an ordinary object (`v1/Event`) naming the object it is
//! about (`involvedObject`), a `reason` in CamelCase and a human message.
//! Like client-go's recorder, repeats of the same event are folded into
//! one object whose `count` goes up, so a crash loop does not write
//! thousands of objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::rest::{self, Client};

#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    component: String,
    host: Option<String>,
    /// (uid, type, reason, message) → (namespace, event name, count)
    seen: Arc<Mutex<HashMap<EventKey, Recorded>>>,
}

/// (uid and field path, type, reason, message): what makes two events "the same".
type EventKey = (String, String, String, String);
/// (namespace, event name, count) of an event already written.
type Recorded = (String, String, i64);

impl EventRecorder {
    /// `component` is `source.component`: `kubelet`, `default-scheduler`,
    /// `replicaset-controller`, …; `host` is the node for kubelets.
    pub fn new(client: &Client, component: &str, host: Option<&str>) -> EventRecorder {
        EventRecorder {
            client: client.clone(),
            component: component.to_string(),
            host: host.map(String::from),
            seen: Arc::default(),
        }
    }

    pub fn normal(&self, obj: &Value, reason: &str, message: impl Into<String>) {
        self.record(obj, None, "Normal", reason, message.into());
    }

    pub fn warning(&self, obj: &Value, reason: &str, message: impl Into<String>) {
        self.record(obj, None, "Warning", reason, message.into());
    }

    /// An event about one container of a pod (`involvedObject.fieldPath`).
    pub fn for_container(
        &self,
        pod: &Value,
        container: &str,
        warning: bool,
        reason: &str,
        message: impl Into<String>,
    ) {
        // Which list the container is in: `spec.initContainers{migrate}`.
        let list = ["initContainers", "ephemeralContainers"]
            .into_iter()
            .find(|l| {
                pod["spec"][*l]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["name"] == container))
            })
            .unwrap_or("containers");
        let path = format!("spec.{list}{{{container}}}");
        let t = if warning { "Warning" } else { "Normal" };
        self.record(pod, Some(path), t, reason, message.into());
    }

    fn record(
        &self,
        obj: &Value,
        field_path: Option<String>,
        type_: &str,
        reason: &str,
        message: String,
    ) {
        let m = &obj["metadata"];
        let ns = m["namespace"].as_str().unwrap_or("default").to_string();
        let uid = m["uid"].as_str().unwrap_or_default().to_string();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let key = (
            format!("{uid}{}", field_path.clone().unwrap_or_default()),
            type_.to_string(),
            reason.to_string(),
            message.clone(),
        );
        let repeat = {
            let mut seen = self.seen.lock().unwrap();
            if seen.len() > 4096 {
                seen.clear();
            }
            match seen.get_mut(&key) {
                Some((ns, name, count)) => {
                    *count += 1;
                    Some((ns.clone(), name.clone(), *count))
                }
                None => None,
            }
        };
        let client = self.client.clone();
        let events = rest::resource("v1", "Event");
        if let Some((ns, name, count)) = repeat {
            tokio::spawn(async move {
                let patch = json!({"count": count, "lastTimestamp": now});
                let _ = client
                    .merge_patch(&rest::path(events, Some(&ns), Some(&name)), &patch)
                    .await;
            });
            return;
        }
        // Upstream names an event `<object>.<UnixNano in hex>`, so a list
        // (in key order) of one object's events is in time order.
        let name = format!(
            "{}.{:x}",
            m["name"].as_str().unwrap_or_default(),
            unique_nanos()
        );
        self.seen
            .lock()
            .unwrap()
            .insert(key, (ns.clone(), name.clone(), 1));
        let mut involved = json!({
            "kind": obj["kind"], "namespace": m["namespace"], "name": m["name"],
            "uid": m["uid"], "apiVersion": obj["apiVersion"], "resourceVersion": m["resourceVersion"],
        });
        if let Some(p) = field_path {
            involved["fieldPath"] = json!(p);
        }
        let mut source = json!({"component": self.component});
        if let Some(h) = &self.host {
            source["host"] = json!(h);
        }
        let event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": type_,
            "source": source,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host.clone().unwrap_or_default(),
        });
        tokio::spawn(async move {
            if let Err(e) = client
                .create(&rest::path(events, Some(&ns), None), &event)
                .await
            {
                tracing::debug!("event not recorded: {e}");
            }
        });
    }
}

/// Nanoseconds since the epoch, never the same twice in this process.
fn unique_nanos() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}
