//! Storage object in-use protection: nothing a pod still uses is deleted.
//!
//! Deleting a claim that a running pod writes to would pull the floor
//! from under it. Upstream guards with two finalizers, added to every new
//! claim and volume (the `StorageObjectInUseProtection` admission plugin —
//! here a strategy layer, [`crate::validation`]) and removed by two
//! controllers of kube-controller-manager when it is safe:
//!
//! * `kubernetes.io/pvc-protection`: a claim being deleted stays
//!   `Terminating` while any pod that is not finished names it;
//! * `kubernetes.io/pv-protection`: a volume being deleted stays while it
//!   is `Bound` to a claim.
//!
//! The two are one controller here, in the course's pattern.

use std::sync::Arc;

use kubelab_client::informer::key_of;
use kubelab_client::rest::{self, Client};
use kubelab_client::{Action, Error, Informer, InformerFactory, Reconciler, WorkQueue};
use serde_json::{Value, json};

pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

pub struct Protection {
    client: Client,
    claims: Informer,
    volumes: Informer,
    pods: Informer,
}

/// The claims a pod names.
pub fn claims_of(pod: &Value) -> impl Iterator<Item = &str> {
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
}

impl Protection {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<Protection> {
        let p = Arc::new(Protection {
            client: client.named("pvc-protection-controller"),
            claims: informers.of("v1", "PersistentVolumeClaim"),
            volumes: informers.of("v1", "PersistentVolume"),
            pods: informers.of("v1", "Pod"),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&p.claims, &queue, |ch| {
            vec![format!("pvc:{}", key_of(ch.object()))]
        });
        kubelab_client::feed(&p.volumes, &queue, |ch| {
            vec![format!("pv:{}", key_of(ch.object()))]
        });
        // A pod that finishes or goes may free its claims.
        kubelab_client::feed(&p.pods, &queue, |ch| {
            let pod = ch.object();
            let ns = kubelab_api::meta::namespace(pod);
            claims_of(pod).map(|c| format!("pvc:{ns}/{c}")).collect()
        });
        let caches = vec![p.claims.clone(), p.volumes.clone(), p.pods.clone()];
        crate::run_when_synced(p.clone(), queue, 2, caches);
        p
    }

    // ANCHOR: in_use
    fn in_use(&self, claim: &Value) -> bool {
        let ns = kubelab_api::meta::namespace(claim);
        let name = kubelab_api::meta::name(claim);
        // Only scheduled pods count (upstream's rule): a kubelet never
        // starts a pod whose claim is being deleted.
        self.pods.list(Some(ns)).iter().any(|pod| {
            pod["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
                && !kubelab_api::pod::is_terminal(pod)
                && claims_of(pod).any(|c| c == name)
        })
    }
    // ANCHOR_END: in_use

    async fn release(&self, obj: &Value, finalizer: &str) -> Result<(), Error> {
        let rest: Vec<Value> = obj["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect();
        let patch = json!({"metadata": {"finalizers": rest,
                                        "resourceVersion": obj["metadata"]["resourceVersion"]}});
        match self
            .client
            .merge_patch(&rest::object_path(obj), &patch)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn holds(obj: &Value, finalizer: &str) -> bool {
    kubelab_api::meta::is_being_deleted(obj)
        && obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == finalizer))
}

#[async_trait::async_trait]
impl Reconciler for Protection {
    fn name(&self) -> &'static str {
        "pvc-protection-controller"
    }

    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        match key.split_once(':') {
            Some(("pvc", k)) => {
                if let Some(c) = self.claims.get(k)
                    && holds(&c, PVC_PROTECTION)
                    && !self.in_use(&c)
                {
                    self.release(&c, PVC_PROTECTION).await?;
                }
            }
            Some(("pv", k)) => {
                if let Some(v) = self.volumes.get(k)
                    && holds(&v, PV_PROTECTION)
                    && v["status"]["phase"] != "Bound"
                {
                    self.release(&v, PV_PROTECTION).await?;
                }
            }
            _ => {}
        }
        Ok(Action::Done)
    }
}
