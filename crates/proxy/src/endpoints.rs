//! The endpoints controller (chapter 03): which pods stand behind a Service.
//!
//! ```text
//! reconcile(service):
//!     pods = cached pods of its namespace matching spec.selector,
//!            with an IP, not finished
//!     for each pod: ready? (its Ready condition, or publishNotReadyAddresses)
//!                   ports = the Service's ports, targetPort resolved in this pod
//!     write Endpoints  <service>        subsets: addresses / notReadyAddresses
//!     write EndpointSlice <service>-xxxxx  endpoints: conditions ready/serving/terminating
//! ```
//!
//! Upstream these are two controllers (endpoints and endpointslice) of
//! kube-controller-manager; they read the same things and differ in the
//! shape they write, so kubelab keeps them in one reconcile. kube-proxy and
//! the DNS server read the EndpointSlices; `kubectl get endpoints` the
//! Endpoints.
//!
//! **Simplifications.** One EndpointSlice per Service (upstream splits at
//! 100 endpoints, and by port set when a named `targetPort` resolves to
//! different numbers in different pods; kubelab's slice takes the port
//! numbers of the first pod). Services without a selector are left alone,
//! as upstream: their Endpoints are yours to write.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use kubelab_api::pod::{is_ready as pod_is_ready, is_terminal as pod_is_terminal};
use kubelab_client::informer::{Change, Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{Action, Error, InformerFactory, Reconciler, WorkQueue};

/// The labels that tie a slice to its Service, as upstream.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Upstream (1.33) marks the Endpoints its controller writes, so that only
/// those are ever deleted by it.
const ENDPOINTS_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
const ENDPOINT_CONTROLLER: &str = "endpoint-controller";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

pub struct EndpointsController {
    client: Client,
    services: Informer,
    pods: Informer,
    endpoints: Informer,
    slices: Informer,
}

/// Does the Service's `selector` (a plain map) pick `pod`?
pub fn selects(service: &Value, pod: &Value) -> bool {
    let Some(sel) = service["spec"]["selector"]
        .as_object()
        .filter(|s| !s.is_empty())
    else {
        return false;
    };
    let labels = &pod["metadata"]["labels"];
    sel.iter().all(|(k, v)| labels[k] == *v)
}

impl EndpointsController {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<EndpointsController> {
        let c = Arc::new(EndpointsController {
            client: client.named("kube-controller-manager/endpoint-controller"),
            services: informers.of("v1", "Service"),
            pods: informers.of("v1", "Pod"),
            endpoints: informers.of("v1", "Endpoints"),
            slices: informers.of("discovery.k8s.io/v1", "EndpointSlice"),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.services, &queue, |ch| vec![key_of(ch.object())]);
        // Hand-written Endpoints (of Services without selector) are mirrored.
        kubelab_client::feed(&c.endpoints, &queue, |ch| vec![key_of(ch.object())]);
        // A pod change concerns every Service that selects it, before or after.
        let services = c.services.clone();
        kubelab_client::feed(&c.pods, &queue, move |ch| {
            let mut pods = vec![ch.object().clone()];
            if let Change::Modified { old, .. } = ch {
                pods.push(old.clone());
            }
            let ns = ch.object()["metadata"]["namespace"].as_str();
            let mut keys: Vec<String> = services
                .list(ns)
                .iter()
                .filter(|s| pods.iter().any(|p| selects(s, p)))
                .map(|s| key_of(s))
                .collect();
            keys.dedup();
            keys
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![
                c.services.clone(),
                c.pods.clone(),
                c.endpoints.clone(),
                c.slices.clone(),
            ],
        ));
        c
    }
}

/// A pod's address, ready or not, and the ports it serves the Service on.
struct Backend {
    pod: Arc<Value>,
    ready: bool,
    ports: Vec<Value>,
}

// ANCHOR: target_port
/// The Service's ports as this pod serves them: a numeric `targetPort` is
/// taken as it is, a named one is looked up among the pod's container
/// ports (so pods may serve "http" on different numbers).
fn resolve_ports(service: &Value, pod: &Value) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    for sp in service["spec"]["ports"].as_array().into_iter().flatten() {
        let protocol = sp["protocol"].as_str().unwrap_or("TCP");
        let port = match &sp["targetPort"] {
            Value::Number(n) => n.as_u64(),
            Value::String(name) => match name.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                    .find(|p| {
                        p["name"] == *name && p["protocol"].as_str().unwrap_or("TCP") == protocol
                    })
                    .and_then(|p| p["containerPort"].as_u64()),
            },
            _ => sp["port"].as_u64(),
        }?;
        let mut p = json!({"port": port, "protocol": protocol});
        if let Some(n) = sp["name"].as_str().filter(|n| !n.is_empty()) {
            p["name"] = json!(n);
        }
        out.push(p);
    }
    Some(out)
}
// ANCHOR_END: target_port

fn target_ref(pod: &Value) -> Value {
    let m = &pod["metadata"];
    json!({"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"]})
}

/// `hostname` of an address: set when the pod names this (headless)
/// Service as its `subdomain`, so DNS can give it a name of its own.
fn hostname(service: &Value, pod: &Value) -> Option<String> {
    let spec = &pod["spec"];
    (spec["subdomain"] == service["metadata"]["name"])
        .then(|| spec["hostname"].as_str().map(String::from))
        .flatten()
}

#[async_trait::async_trait]
impl Reconciler for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoint-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let (ns, name) = split_key(key);
        let ep_path = client::path(client::resource("v1", "Endpoints"), ns, Some(name));
        let Some(svc) = self.services.get(key) else {
            // The Service is gone: so are its Endpoints (its slices go with
            // it through their owner reference, by the garbage collector).
            // Only Endpoints this controller made: hand-written ones (a
            // Service without selector, kube-dns's) are their writer's, and
            // may well reach our cache before their Service does (two
            // watches, no order between them) — deleting those would leave
            // a cluster without DNS.
            if self.endpoints.get(key).is_some_and(|ep| {
                ep["metadata"]["labels"][ENDPOINTS_MANAGED_BY] == ENDPOINT_CONTROLLER
            }) {
                match self.client.delete(&ep_path, &json!({})).await {
                    Err(e) if !e.is_not_found() => return Err(e.into()),
                    _ => {}
                }
            }
            return Ok(Action::Done);
        };
        if svc["spec"]["selector"]
            .as_object()
            .is_none_or(|s| s.is_empty())
        {
            // No selector: the Endpoints are the user's; mirror them into a
            // slice, as upstream's EndpointSliceMirroring controller does,
            // so the proxy and DNS (which read slices) see them.
            self.mirror(&svc).await?;
            return Ok(Action::Done);
        }
        let publish_not_ready = svc["spec"]["publishNotReadyAddresses"] == true;
        let mut backends: Vec<Backend> = self
            .pods
            .list(ns)
            .into_iter()
            .filter(|p| selects(&svc, p))
            .filter(|p| {
                p["status"]["podIP"]
                    .as_str()
                    .is_some_and(|ip| !ip.is_empty())
            })
            .filter(|p| !pod_is_terminal(p))
            .filter_map(|p| {
                let ports = resolve_ports(&svc, &p)?;
                let ready = publish_not_ready || pod_is_ready(&p);
                Some(Backend {
                    pod: p,
                    ready,
                    ports,
                })
            })
            .collect();
        backends.sort_by_key(|b| ip_key(&b.pod));

        self.write_endpoints(&svc, &ep_path, &backends).await?;
        let endpoints: Vec<Value> = backends
            .iter()
            .map(|b| {
                let terminating = kubelab_api::meta::is_being_deleted(&b.pod);
                let mut e = json!({
                    "addresses": [b.pod["status"]["podIP"]],
                    "conditions": {"ready": b.ready && !terminating, "serving": b.ready, "terminating": terminating},
                    "nodeName": b.pod["spec"]["nodeName"],
                    "targetRef": target_ref(&b.pod),
                });
                if let Some(h) = hostname(&svc, &b.pod) {
                    e["hostname"] = json!(h);
                }
                e
            })
            .collect();
        let ports = backends
            .iter()
            .find(|b| b.ready)
            .or(backends.first())
            .map(|b| json!(b.ports))
            .unwrap_or(json!([]));
        self.write_slice(&svc, endpoints, ports, MANAGED_BY).await?;
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}

/// One subset of an Endpoints object: ready addresses, not-ready
/// addresses, and the ports they share.
type Subset = (Vec<Value>, Vec<Value>, Vec<Value>);

/// Sorts addresses numerically (10.244.1.10 after 10.244.1.9).
fn ip_key(pod: &Value) -> Vec<u32> {
    pod["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

impl EndpointsController {
    /// `Endpoints`: subsets of pods that serve the same port numbers;
    /// ready pods under `addresses`, the others under `notReadyAddresses`.
    /// Pods being deleted are left out (they are `terminating` in the slice).
    async fn write_endpoints(
        &self,
        svc: &Value,
        path: &str,
        backends: &[Backend],
    ) -> Result<(), Error> {
        let mut subsets: BTreeMap<String, Subset> = BTreeMap::new();
        for b in backends
            .iter()
            .filter(|b| !kubelab_api::meta::is_being_deleted(&b.pod))
        {
            let entry = subsets
                .entry(serde_json::to_string(&b.ports).unwrap_or_default())
                .or_insert_with(|| (Vec::new(), Vec::new(), b.ports.clone()));
            let mut addr = json!({
                "ip": b.pod["status"]["podIP"],
                "nodeName": b.pod["spec"]["nodeName"],
                "targetRef": target_ref(&b.pod),
            });
            if let Some(h) = hostname(svc, &b.pod) {
                addr["hostname"] = json!(h);
            }
            if b.ready {
                entry.0.push(addr)
            } else {
                entry.1.push(addr)
            }
        }
        let subsets: Vec<Value> = subsets
            .into_values()
            .map(|(ready, not_ready, ports)| {
                let mut s = json!({"ports": ports});
                if !ready.is_empty() {
                    s["addresses"] = json!(ready);
                }
                if !not_ready.is_empty() {
                    s["notReadyAddresses"] = json!(not_ready);
                }
                s
            })
            .collect();
        let key = key_of(svc);
        let mut labels = svc["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels[ENDPOINTS_MANAGED_BY] = json!(ENDPOINT_CONTROLLER);
        match self.endpoints.get(&key) {
            Some(cur)
                if cur["subsets"] == json!(subsets)
                    || (subsets.is_empty() && cur["subsets"].is_null()) =>
            {
                if cur["metadata"]["labels"] == labels {
                    return Ok(());
                }
                let patch = json!({"metadata": {"labels": labels}});
                self.client.merge_patch(path, &patch).await?;
            }
            Some(cur) => {
                let mut ep = (*cur).clone();
                ep["subsets"] = json!(subsets);
                ep["metadata"]["labels"] = labels;
                self.client.replace(path, &ep).await?;
            }
            None => {
                let (ns, name) = split_key(&key);
                let ep = json!({
                    "apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "subsets": subsets,
                });
                let list = client::path(client::resource("v1", "Endpoints"), ns, None);
                match self.client.create(&list, &ep).await {
                    Err(e) if e.is_conflict() => {} // AlreadyExists too: someone was first
                    other => {
                        other?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The `EndpointSlice` of the Service, with each endpoint's conditions:
    /// `ready` (serving and not terminating), `serving` (its Ready
    /// condition), `terminating` (being deleted).
    async fn write_slice(
        &self,
        svc: &Value,
        endpoints: Vec<Value>,
        ports: Value,
        managed_by: &str,
    ) -> Result<(), Error> {
        let m = &svc["metadata"];
        let (ns, name) = (
            m["namespace"].as_str().unwrap_or("default"),
            m["name"].as_str().unwrap_or_default(),
        );
        // A slice's port always has a name, "" when the Service's has none
        // (clients dereference it: `kubectl describe svc` crashed without).
        let ports: Vec<Value> = ports
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let mut p = p.clone();
                if p["name"].is_null() {
                    p["name"] = json!("");
                }
                p
            })
            .collect();
        let ports = json!(ports);
        let mut labels = m["labels"].as_object().cloned().unwrap_or_default();
        labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
        labels.insert(MANAGED_BY_LABEL.into(), json!(managed_by));
        let existing = self.slices.list(Some(ns)).into_iter().find(|s| {
            s["metadata"]["labels"][SERVICE_NAME_LABEL] == name
                && s["metadata"]["labels"][MANAGED_BY_LABEL] == managed_by
        });
        let slices = client::resource("discovery.k8s.io/v1", "EndpointSlice");
        match existing {
            Some(cur) => {
                if cur["endpoints"] == json!(endpoints)
                    && cur["ports"] == ports
                    && cur["metadata"]["labels"] == json!(labels)
                {
                    return Ok(());
                }
                let mut s = (*cur).clone();
                s["endpoints"] = json!(endpoints);
                s["ports"] = ports;
                s["metadata"]["labels"] = json!(labels);
                self.client.replace(&client::object_path(&s), &s).await?;
            }
            None => {
                // A name fixed by the Service's uid, in generateName's style
                // (`web-7xq2k`): if a reconcile runs before the informer
                // has seen the slice we just created, the second create
                // fails with AlreadyExists instead of making a twin.
                let s = json!({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {
                        "name": format!("{name}-{}", suffix(m["uid"].as_str().unwrap_or(name))),
                        "namespace": ns, "labels": labels,
                        "ownerReferences": [client::owner_reference(svc, true)],
                    },
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": ports,
                });
                self.client
                    .create(&client::path(slices, Some(ns), None), &s)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Five characters from generateName's alphabet, derived from `seed`.
fn suffix(seed: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..5)
        .map(|i| ALPHABET[((h >> (i * 8)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

impl EndpointsController {
    /// Endpoints written by hand (a Service without selector) → a slice.
    async fn mirror(&self, svc: &Value) -> Result<(), Error> {
        let Some(ep) = self.endpoints.get(&key_of(svc)) else {
            return Ok(());
        };
        let mut endpoints = Vec::new();
        let mut ports = json!([]);
        for subset in ep["subsets"].as_array().into_iter().flatten() {
            ports = subset["ports"].clone();
            for (list, ready) in [("addresses", true), ("notReadyAddresses", false)] {
                for a in subset[list].as_array().into_iter().flatten() {
                    let mut e = json!({
                        "addresses": [a["ip"]],
                        "conditions": {"ready": ready, "serving": ready, "terminating": false},
                    });
                    for k in ["nodeName", "targetRef", "hostname"] {
                        if !a[k].is_null() {
                            e[k] = a[k].clone();
                        }
                    }
                    endpoints.push(e);
                }
            }
        }
        self.write_slice(
            svc,
            endpoints,
            ports,
            "endpointslicemirroring-controller.k8s.io",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let svc = json!({"spec": {"ports": [
            {"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"},
            {"name": "admin", "port": 81, "targetPort": 9000, "protocol": "TCP"}]}});
        let pod =
            json!({"spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}});
        let ports = resolve_ports(&svc, &pod).unwrap();
        assert_eq!(
            ports[0],
            json!({"name": "web", "port": 8080, "protocol": "TCP"})
        );
        assert_eq!(ports[1]["port"], 9000);
        // A pod without the named port serves nothing for this Service.
        let other = json!({"spec": {"containers": [{"ports": []}]}});
        assert!(resolve_ports(&svc, &other).is_none());
    }

    #[test]
    fn a_selector_must_match_every_label() {
        let svc = json!({"spec": {"selector": {"app": "web", "tier": "front"}}});
        let yes = json!({"metadata": {"labels": {"app": "web", "tier": "front", "x": "y"}}});
        let no = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(selects(&svc, &yes) && !selects(&svc, &no));
        assert!(
            !selects(&json!({"spec": {}}), &yes),
            "no selector selects nothing"
        );
    }
}
