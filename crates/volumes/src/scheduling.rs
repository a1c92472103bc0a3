//! The scheduler's `VolumeBinding` plugin: pods go where their volumes are.
//!
//! A local volume is a directory on one node; a pod that uses it must run
//! there. And a claim of a `WaitForFirstConsumer` class is not provisioned
//! until the scheduler has picked a node for its first pod — otherwise
//! the volume could land on a node the pod cannot use (too little CPU, a
//! taint). Upstream's plugin has four extension points; kubelab's has
//! three:
//!
//! * **PreFilter** — every claim the pod names exists and is not being
//!   deleted, and none is unbound with `Immediate` binding (that one waits
//!   for the binder, not for a node): `pod has unbound immediate
//!   PersistentVolumeClaims`;
//! * **Filter** (per node) — a bound claim's volume must be reachable from
//!   the node (its `nodeAffinity`); an unbound `WaitForFirstConsumer`
//!   claim needs a free volume the node reaches, or a class that can
//!   provision one;
//! * **PreBind** — after the node is chosen, write it on each unbound
//!   claim (`volume.kubernetes.io/selected-node`), and wait until the
//!   binder and provisioner have bound them all; only then is the pod
//!   bound to the node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubelab_client::Informer;
use kubelab_client::rest::{self, Client};
use kubelab_scheduler::{FilterPlugin, PreBindPlugin};
use serde_json::{Value, json};

use crate::binder::SELECTED_NODE;
use crate::claims;
use crate::protection::claims_of;

/// The caches the plugin reads, set when the cluster starts.
pub struct Caches {
    pub claims: Informer,
    pub volumes: Informer,
    pub classes: Informer,
    pub client: Client,
    /// The binder's matching function (lab 05's, if it is plugged in).
    pub matcher: claims::MatchFn,
}

/// A claim a pod names, and the claim if it exists.
type NamedClaim = (String, Option<Arc<Value>>);

#[derive(Clone, Default)]
pub struct VolumeBinding(pub Arc<std::sync::OnceLock<Caches>>);

/// How long PreBind waits for the claims to be bound (upstream:
/// `bindTimeoutSeconds`, 600).
pub const BIND_TIMEOUT: Duration = Duration::from_secs(60);

impl VolumeBinding {
    fn claims<'a>(&'a self, pod: &'a Value) -> Option<(&'a Caches, Vec<NamedClaim>)> {
        let c = self.0.get()?;
        let ns = kubelab_api::meta::namespace(pod);
        let list: Vec<_> = claims_of(pod)
            .map(|name| (name.to_string(), c.claims.get(&format!("{ns}/{name}"))))
            .collect();
        (!list.is_empty()).then_some((c, list))
    }

    fn waits_for_first_consumer(c: &Caches, claim: &Value) -> bool {
        c.classes
            .get(claims::class_of_claim(claim))
            .is_some_and(|sc| sc["volumeBindingMode"] == "WaitForFirstConsumer")
    }
}

fn is_bound(claim: &Value) -> bool {
    claim["spec"]["volumeName"]
        .as_str()
        .is_some_and(|v| !v.is_empty())
}

impl FilterPlugin for VolumeBinding {
    fn name(&self) -> &'static str {
        "VolumeBinding"
    }

    fn pre_filter(&self, pod: &Value) -> Result<(), String> {
        let Some((c, list)) = self.claims(pod) else {
            return Ok(());
        };
        for (name, claim) in &list {
            let Some(claim) = claim else {
                return Err(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if kubelab_api::meta::is_being_deleted(claim) {
                return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
        }
        let immediate_unbound = list.iter().any(|(_, claim)| {
            claim
                .as_ref()
                .is_some_and(|cl| !is_bound(cl) && !Self::waits_for_first_consumer(c, cl))
        });
        if immediate_unbound {
            return Err("pod has unbound immediate PersistentVolumeClaims".into());
        }
        Ok(())
    }

    // ANCHOR: filter
    fn filter(&self, pod: &Value, node: &Value) -> Result<(), String> {
        let Some((c, list)) = self.claims(pod) else {
            return Ok(());
        };
        for claim in list.iter().filter_map(|(_, c)| c.as_ref()) {
            if is_bound(claim) {
                let Some(pv) = c
                    .volumes
                    .get(claim["spec"]["volumeName"].as_str().unwrap_or_default())
                else {
                    return Err(
                        "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
                            .into(),
                    );
                };
                if !claims::reachable_from(&pv, node) {
                    return Err("node(s) didn't match PersistentVolume's node affinity".into());
                }
                continue;
            }
            // Unbound, waiting for its first pod: this node will do if a
            // free volume here fits, or if the class can make one.
            let volumes = c.volumes.list(None);
            let here: Vec<&Value> = volumes
                .iter()
                .map(|v| v.as_ref())
                .filter(|v| claims::reachable_from(v, node))
                .collect();
            let fits = (c.matcher)(claim, &here).is_some();
            let provisions = c
                .classes
                .get(claims::class_of_claim(claim))
                .and_then(|sc| {
                    sc["provisioner"]
                        .as_str()
                        .map(|p| p != "kubernetes.io/no-provisioner")
                })
                .unwrap_or(false);
            if !fits && !provisions {
                return Err("node(s) didn't find available persistent volumes to bind".into());
            }
        }
        Ok(())
    }
    // ANCHOR_END: filter
}

#[async_trait::async_trait]
impl PreBindPlugin for VolumeBinding {
    fn name(&self) -> &'static str {
        "VolumeBinding"
    }

    async fn pre_bind(&self, pod: &Value, node: &str) -> Result<(), String> {
        let Some((c, list)) = self.claims(pod) else {
            return Ok(());
        };
        let unbound: Vec<String> = list
            .iter()
            .filter_map(|(name, cl)| cl.as_ref().filter(|cl| !is_bound(cl)).map(|_| name.clone()))
            .collect();
        if unbound.is_empty() {
            return Ok(());
        }
        let ns = kubelab_api::meta::namespace(pod);
        let info = rest::resource("v1", "PersistentVolumeClaim");
        for name in &unbound {
            let path = rest::path(info, Some(ns), Some(name));
            let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
            c.client
                .merge_patch(&path, &patch)
                .await
                .map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + BIND_TIMEOUT;
        loop {
            let all_bound = unbound.iter().all(|n| {
                c.claims
                    .get(&format!("{ns}/{n}"))
                    .is_some_and(|cl| cl["status"]["phase"] == "Bound")
            });
            if all_bound {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("binding volumes: context deadline exceeded".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
