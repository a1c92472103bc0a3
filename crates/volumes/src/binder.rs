//! The PersistentVolume controller's binder: claims meet volumes.
//!
//! Upstream's `persistentvolume-binder` (pkg/controller/volume/
//! persistentvolume) in the course's one controller pattern: informers on
//! claims, volumes and storage classes feed one queue; `reconcile` looks
//! at one claim (`pvc:<ns>/<name>`) or one volume (`pv:<name>`) and
//! makes one step towards the state it should have.
//!
//! ```text
//! claim Pending ─┬─ a free volume fits (claims::find_best_match) ──▶ bind: both Bound
//!                ├─ class WaitForFirstConsumer, no pod yet ──▶ event WaitForFirstConsumer, wait
//!                ├─ class has a provisioner ──▶ annotate; the provisioner makes a volume
//!                │                              for this claim; next pass binds it
//!                └─ none ──▶ event FailedBinding, wait for a volume
//! volume: no claim ──▶ Available │ claim gone ──▶ Released ─┬─ Retain: kept, with its data
//!                                                            └─ Delete: its provisioner deletes it
//! ```
//!
//! Binding writes four objects in an order that survives a crash between
//! any two (upstream's order): the volume's `claimRef` first (a volume
//! can then be taken by no one else), its status, the claim's
//! `volumeName`, the claim's status.

use std::sync::Arc;
use std::time::Duration;

use kubelab_client::informer::key_of;
use kubelab_client::rest::{self, Client};
use kubelab_client::{
    Action, Error, EventRecorder, Informer, InformerFactory, Reconciler, WorkQueue,
};
use serde_json::{Value, json};

use crate::claims::{self, MatchFn};

pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

pub struct Binder {
    client: Client,
    pub(crate) claims: Informer,
    pub(crate) volumes: Informer,
    pub(crate) classes: Informer,
    nodes: Informer,
    events: EventRecorder,
    matcher: MatchFn,
    /// Tells the scheduler to look again at pods waiting for a claim.
    scheduler_retry: Arc<tokio::sync::Notify>,
}

fn pvc_info() -> &'static kubelab_api::ResourceInfo {
    rest::resource("v1", "PersistentVolumeClaim")
}

fn pv_info() -> &'static kubelab_api::ResourceInfo {
    rest::resource("v1", "PersistentVolume")
}

/// The cluster's default StorageClass, if one is marked.
pub fn default_class(classes: &Informer) -> Option<Arc<Value>> {
    classes
        .list(None)
        .into_iter()
        .find(|c| c["metadata"]["annotations"][DEFAULT_CLASS] == "true")
}

impl Binder {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        matcher: MatchFn,
        scheduler_retry: Arc<tokio::sync::Notify>,
    ) -> Arc<Binder> {
        let client = client.named("persistentvolume-binder");
        let b = Arc::new(Binder {
            events: EventRecorder::new(&client, "persistentvolume-controller", None),
            client,
            claims: informers.of("v1", "PersistentVolumeClaim"),
            volumes: informers.of("v1", "PersistentVolume"),
            classes: informers.of("storage.k8s.io/v1", "StorageClass"),
            nodes: informers.of("v1", "Node"),
            matcher,
            scheduler_retry,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&b.claims, &queue, |ch| {
            let c = ch.object();
            let mut keys = vec![format!("pvc:{}", key_of(c))];
            // A claim that goes releases its volume.
            if let Some(v) = c["spec"]["volumeName"].as_str() {
                keys.push(format!("pv:{v}"));
            }
            keys
        });
        // A new or freed volume may fit a waiting claim.
        let me = b.clone();
        kubelab_client::feed(&b.volumes, &queue, move |ch| {
            let mut keys = vec![format!("pv:{}", key_of(ch.object()))];
            keys.extend(me.pending_claims());
            keys
        });
        let me = b.clone();
        kubelab_client::feed(&b.classes, &queue, move |_| me.pending_claims());
        let caches = vec![
            b.claims.clone(),
            b.volumes.clone(),
            b.classes.clone(),
            b.nodes.clone(),
        ];
        crate::run_when_synced(b.clone(), queue, 4, caches);
        b
    }

    fn pending_claims(&self) -> Vec<String> {
        self.claims
            .list(None)
            .into_iter()
            .filter(|c| c["status"]["phase"] != "Bound")
            .map(|c| format!("pvc:{}", key_of(&c)))
            .collect()
    }

    fn class(&self, name: &str) -> Option<Arc<Value>> {
        self.classes.get(name)
    }

    // ANCHOR: sync_claim
    async fn sync_claim(&self, key: &str) -> Result<Action, Error> {
        let Some(claim) = self.claims.get(key) else {
            return Ok(Action::Done);
        };
        if kubelab_api::meta::is_being_deleted(&claim) {
            return Ok(Action::Done);
        }
        let spec = &claim["spec"];
        if claim["status"]["phase"] == "Bound" {
            let name = spec["volumeName"].as_str().unwrap_or_default();
            if self.volumes.get(name).is_none() {
                self.events.warning(
                    &claim,
                    "ClaimLost",
                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                );
                self.set_claim_status(&claim, json!({"phase": "Lost"}))
                    .await?;
            }
            return Ok(Action::Done);
        }
        // A claim of no class gets the default one (upstream's
        // DefaultStorageClass admission, or the controller's retroactive
        // assignment when the default appears later).
        // Without a default class, no class means class "" (volumes of no
        // class), as upstream.
        if spec["storageClassName"].is_null()
            && let Some(default) = default_class(&self.classes)
        {
            let mut c = (*claim).clone();
            c["spec"]["storageClassName"] = default["metadata"]["name"].clone();
            self.client.replace(&rest::object_path(&claim), &c).await?;
            return Ok(Action::Done);
        }
        let class_name = claims::class_of_claim(&claim).to_string();
        let class = self.class(&class_name);
        // Which volumes could serve it; a claim waiting for its first pod
        // takes only a volume that pod's node reaches.
        let all = self.volumes.list(None);
        let waits_for_pod = class
            .as_ref()
            .is_some_and(|c| c["volumeBindingMode"] == "WaitForFirstConsumer");
        let selected = claim["metadata"]["annotations"][SELECTED_NODE].as_str();
        let node = selected.and_then(|n| self.nodes.get(n));
        let candidates: Vec<&Value> = all
            .iter()
            .map(|v| v.as_ref())
            .filter(|v| node.as_ref().is_none_or(|n| claims::reachable_from(v, n)))
            .collect();
        let may_bind_now = !(waits_for_pod && selected.is_none() && spec["volumeName"].is_null());
        // A volume already promised to this claim (made for it, or
        // pre-bound by hand) comes first, if it is big enough (upstream's
        // `findByClaim`); then the best match.
        let promised = candidates.iter().copied().find(|v| {
            !v["spec"]["claimRef"].is_null()
                && claims::is_free_for(v, &claim)
                && claims::capacity(v) >= claims::requested(&claim)
        });
        if may_bind_now && let Some(pv) = promised.or_else(|| (self.matcher)(&claim, &candidates)) {
            let pv = pv.clone();
            self.bind(&claim, &pv).await?;
            return Ok(Action::Done);
        }
        if spec["volumeName"].as_str().is_some_and(|n| !n.is_empty()) {
            return Ok(Action::RequeueAfter(Duration::from_secs(15)));
        }
        if waits_for_pod && selected.is_none() {
            self.events.normal(
                &claim,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            );
            return Ok(Action::Done);
        }
        match class.as_ref().and_then(|c| c["provisioner"].as_str()) {
            Some(p) if p != "kubernetes.io/no-provisioner" => {
                let ann = &claim["metadata"]["annotations"];
                if ann[STORAGE_PROVISIONER] != p {
                    let mut c = (*claim).clone();
                    c["metadata"]["annotations"][STORAGE_PROVISIONER] = json!(p);
                    c["metadata"]["annotations"][BETA_STORAGE_PROVISIONER] = json!(p);
                    self.client.replace(&rest::object_path(&claim), &c).await?;
                }
                self.events.normal(&claim, "ExternalProvisioning", format!("Waiting for a volume to be created either by the external provisioner '{p}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."));
            }
            _ if class_name.is_empty() => {
                self.events.normal(
                    &claim,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set",
                );
            }
            Some(_) => {
                self.events.normal(
                    &claim,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set",
                );
            }
            None => {
                self.events.warning(
                    &claim,
                    "ProvisioningFailed",
                    format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
                );
            }
        }
        // Upstream's controller resyncs every 15 s.
        Ok(Action::RequeueAfter(Duration::from_secs(15)))
    }
    // ANCHOR_END: sync_claim

    /// The four writes of a binding, each skipped if already done.
    // ANCHOR: bind
    async fn bind(&self, claim: &Value, pv: &Value) -> Result<(), Error> {
        let pv_name = kubelab_api::meta::name(pv).to_string();
        // 1. The volume points at the claim.
        let mut v = pv.clone();
        if pv["spec"]["claimRef"]["uid"] != claim["metadata"]["uid"] {
            v["spec"]["claimRef"] = json!({
                "kind": "PersistentVolumeClaim", "apiVersion": "v1",
                "namespace": claim["metadata"]["namespace"], "name": claim["metadata"]["name"],
                "uid": claim["metadata"]["uid"],
                "resourceVersion": claim["metadata"]["resourceVersion"],
            });
            if pv["spec"]["claimRef"].is_null() {
                v["metadata"]["annotations"][BOUND_BY_CONTROLLER] = json!("yes");
            }
            v = self.client.replace(&rest::object_path(pv), &v).await?;
        }
        // 2. The volume is Bound.
        if v["status"]["phase"] != "Bound" {
            v["status"] = json!({"phase": "Bound"});
            self.client
                .replace(&format!("{}/status", rest::object_path(&v)), &v)
                .await?;
        }
        // 3. The claim points at the volume.
        let mut c = claim.clone();
        if claim["spec"]["volumeName"] != pv_name.as_str()
            || claim["metadata"]["annotations"][BIND_COMPLETED] != "yes"
        {
            if claim["spec"]["volumeName"] != pv_name.as_str() {
                c["metadata"]["annotations"][BOUND_BY_CONTROLLER] = json!("yes");
            }
            c["spec"]["volumeName"] = json!(pv_name);
            c["metadata"]["annotations"][BIND_COMPLETED] = json!("yes");
            c = self.client.replace(&rest::object_path(claim), &c).await?;
        }
        // 4. The claim is Bound, with what it got.
        c["status"] = json!({
            "phase": "Bound",
            "accessModes": pv["spec"]["accessModes"],
            "capacity": pv["spec"]["capacity"],
        });
        self.client
            .replace(&format!("{}/status", rest::object_path(&c)), &c)
            .await?;
        // (notify_one: a wake-up while the scheduler is busy is kept.)
        self.scheduler_retry.notify_one();
        Ok(())
    }
    // ANCHOR_END: bind

    async fn set_claim_status(&self, claim: &Value, status: Value) -> Result<(), Error> {
        let mut c = claim.clone();
        c["status"] = status;
        self.client
            .replace(&format!("{}/status", rest::object_path(claim)), &c)
            .await?;
        Ok(())
    }

    async fn set_volume_phase(
        &self,
        pv: &Value,
        phase: &str,
        message: Option<String>,
    ) -> Result<(), Error> {
        if pv["status"]["phase"] == phase && pv["status"]["message"].as_str() == message.as_deref()
        {
            return Ok(());
        }
        let mut v = pv.clone();
        v["status"] = json!({"phase": phase});
        if let Some(m) = message {
            v["status"]["message"] = json!(m);
        }
        self.client
            .replace(&format!("{}/status", rest::object_path(pv)), &v)
            .await?;
        Ok(())
    }

    // ANCHOR: sync_volume
    async fn sync_volume(&self, name: &str) -> Result<Action, Error> {
        let Some(pv) = self.volumes.get(name) else {
            return Ok(Action::Done);
        };
        // (A volume being deleted still gets its phase: Released is what
        // lets its pv-protection finalizer go.)
        let r = &pv["spec"]["claimRef"];
        if r.is_null() {
            self.set_volume_phase(&pv, "Available", None).await?;
            return Ok(Action::Done);
        }
        let key = format!(
            "{}/{}",
            r["namespace"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default()
        );
        let claim = self.claims.get(&key);
        let same_claim = claim
            .as_ref()
            .is_some_and(|c| r["uid"].is_null() || c["metadata"]["uid"] == r["uid"]);
        if same_claim {
            // Bound, or promised to a claim that has not taken it yet.
            let bound = claim
                .as_ref()
                .is_some_and(|c| c["spec"]["volumeName"] == name);
            let phase = if bound { "Bound" } else { "Available" };
            if pv["status"]["phase"] != "Released" || bound {
                self.set_volume_phase(&pv, phase, None).await?;
            }
            return Ok(Action::Done);
        }
        if r["uid"].is_null() {
            // Pre-bound by name to a claim that does not exist yet: free
            // for that claim only, and shown as Available (upstream).
            self.set_volume_phase(&pv, "Available", None).await?;
            return Ok(Action::Done);
        }
        // Not in the cache: ask the API server before releasing anything
        // (the claim may be newer than the cache).
        let (ns, claim_name) = (
            r["namespace"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
        );
        match self
            .client
            .get(&rest::path(pvc_info(), Some(ns), Some(claim_name)))
            .await
        {
            Ok(c) if c["metadata"]["uid"] == r["uid"] => {
                return Ok(Action::RequeueAfter(Duration::from_secs(1)));
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        // Its claim is gone: the volume is released, and its reclaim
        // policy says what comes next.
        match pv["spec"]["persistentVolumeReclaimPolicy"]
            .as_str()
            .unwrap_or("Retain")
        {
            "Delete"
                if pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"].is_string() =>
            {
                // Its provisioner deletes the storage, then the object.
                self.set_volume_phase(&pv, "Released", None).await?;
            }
            "Delete" => {
                let message = format!(
                    "error getting deleter volume plugin for volume \"{name}\": no deletable volume plugin matched"
                );
                self.events
                    .warning(&pv, "VolumeFailedDelete", message.clone());
                self.set_volume_phase(&pv, "Failed", Some(message)).await?;
            }
            _ => self.set_volume_phase(&pv, "Released", None).await?,
        }
        Ok(Action::Done)
    }
    // ANCHOR_END: sync_volume
}

#[async_trait::async_trait]
impl Reconciler for Binder {
    fn name(&self) -> &'static str {
        "persistentvolume-binder"
    }

    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        match key.split_once(':') {
            Some(("pvc", k)) => self.sync_claim(k).await,
            Some(("pv", k)) => self.sync_volume(k).await,
            _ => Ok(Action::Done),
        }
    }
}

/// For the provisioner and the protection controller: the same kinds.
pub(crate) fn infos() -> (
    &'static kubelab_api::ResourceInfo,
    &'static kubelab_api::ResourceInfo,
) {
    (pvc_info(), pv_info())
}
