//! The local-path provisioner behind the default StorageClass `standard`.
//!
//! Dynamic provisioning: nobody creates volumes ahead of time; a claim of a
//! class names a *provisioner*, and the provisioner makes a volume for that
//! claim. kind clusters ship Rancher's local-path-provisioner; kubelab's is
//! the same idea in one file:
//!
//! * a claim annotated `volume.kubernetes.io/storage-provisioner:
//!   kubelab.io/local-path` (the binder's doing) gets a directory
//!   `<data>/storage/<node>/pvc-<uid>_<namespace>_<name>` and a
//!   PersistentVolume `pvc-<uid>` for it: a `hostPath` volume, its
//!   `claimRef` already set to the claim, pinned to the node by
//!   `nodeAffinity` (`kubernetes.io/hostname In [<node>]`) — a directory
//!   on one node's disk is no use to a pod on another;
//! * with `volumeBindingMode: WaitForFirstConsumer` the node is the one the
//!   scheduler chose for the first pod (`volume.kubernetes.io/selected-node`);
//!   with `Immediate`, the first Ready node;
//! * a volume it made, released with reclaim policy `Delete`, loses its
//!   directory and then its object. `Retain` keeps both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubelab_client::informer::key_of;
use kubelab_client::rest::{self, Client};
use kubelab_client::{
    Action, Error, EventRecorder, Informer, InformerFactory, Reconciler, WorkQueue,
};
use serde_json::{Value, json};

use crate::binder::{SELECTED_NODE, STORAGE_PROVISIONER, infos};

/// Our provisioner's name, in StorageClasses and on the volumes it makes.
pub const NAME: &str = "kubelab.io/local-path";
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

pub struct Provisioner {
    client: Client,
    claims: Informer,
    volumes: Informer,
    classes: Informer,
    nodes: Informer,
    events: EventRecorder,
    /// `<data>/storage`.
    root: PathBuf,
}

/// Where a claim's directory goes.
pub fn volume_dir(root: &Path, node: &str, claim: &Value) -> PathBuf {
    let m = &claim["metadata"];
    let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
    root.join(node)
        .join(format!("pvc-{}_{}_{}", s("uid"), s("namespace"), s("name")))
}

impl Provisioner {
    pub fn start(client: &Client, informers: &InformerFactory, root: PathBuf) -> Arc<Provisioner> {
        let client = client.named("local-path-provisioner");
        let p = Arc::new(Provisioner {
            events: EventRecorder::new(&client, NAME, None),
            client,
            claims: informers.of("v1", "PersistentVolumeClaim"),
            volumes: informers.of("v1", "PersistentVolume"),
            classes: informers.of("storage.k8s.io/v1", "StorageClass"),
            nodes: informers.of("v1", "Node"),
            root,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&p.claims, &queue, |ch| {
            vec![format!("pvc:{}", key_of(ch.object()))]
        });
        kubelab_client::feed(&p.volumes, &queue, |ch| {
            vec![format!("pv:{}", key_of(ch.object()))]
        });
        let caches = vec![
            p.claims.clone(),
            p.volumes.clone(),
            p.classes.clone(),
            p.nodes.clone(),
        ];
        crate::run_when_synced(p.clone(), queue, 2, caches);
        p
    }

    /// The node for a claim: the scheduler's choice, else the first Ready node.
    fn node_for(&self, claim: &Value) -> Option<String> {
        // The scheduler's choice — a node that exists: the name becomes a
        // directory, so no other value may reach the file system.
        if let Some(n) = claim["metadata"]["annotations"][SELECTED_NODE].as_str() {
            return self.nodes.get(n).map(|_| n.to_string());
        }
        let mut nodes = self.nodes.list(None);
        nodes.sort_by_key(|n| kubelab_api::meta::name(n).to_string());
        nodes
            .iter()
            .find(|n| {
                n["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .map(|n| kubelab_api::meta::name(n).to_string())
    }

    // ANCHOR: provision
    async fn provision(&self, key: &str) -> Result<Action, Error> {
        let Some(claim) = self.claims.get(key) else {
            return Ok(Action::Done);
        };
        let ours = claim["metadata"]["annotations"][STORAGE_PROVISIONER] == NAME;
        let unbound = claim["spec"]["volumeName"]
            .as_str()
            .is_none_or(str::is_empty);
        if !ours || !unbound || kubelab_api::meta::is_being_deleted(&claim) {
            return Ok(Action::Done);
        }
        let uid = kubelab_api::meta::uid(&claim);
        let pv_name = format!("pvc-{uid}");
        if self.volumes.get(&pv_name).is_some() {
            return Ok(Action::Done); // made already; the binder finishes
        }
        let class_name = crate::claims::class_of_claim(&claim);
        let Some(class) = self.classes.get(class_name) else {
            return Ok(Action::Done);
        };
        let Some(node) = self.node_for(&claim) else {
            self.events.warning(
                &claim,
                "ProvisioningFailed",
                "no Ready node to put the volume on",
            );
            return Ok(Action::RequeueAfter(std::time::Duration::from_secs(5)));
        };
        let ns = kubelab_api::meta::namespace(&claim);
        let name = kubelab_api::meta::name(&claim);
        self.events.normal(
            &claim,
            "Provisioning",
            format!("External provisioner is provisioning volume for claim \"{ns}/{name}\""),
        );
        let dir = volume_dir(&self.root, &node, &claim);
        // Everyone may write, as local-path-provisioner's `mkdir -m 0777`:
        // the pod's user is not known here.
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
        }) {
            self.events.warning(
                &claim,
                "ProvisioningFailed",
                format!("failed to provision volume with StorageClass \"{class_name}\": {e}"),
            );
            return Ok(Action::RequeueAfter(std::time::Duration::from_secs(5)));
        }
        let pv = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {
                PROVISIONED_BY: NAME, "local.path.provisioner/selected-node": node}},
            "spec": {
                "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                "accessModes": claim["spec"]["accessModes"],
                "persistentVolumeReclaimPolicy": class["reclaimPolicy"].as_str().unwrap_or("Delete"),
                "storageClassName": class_name,
                "volumeMode": claim["spec"]["volumeMode"].as_str().unwrap_or("Filesystem"),
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
                             "name": name, "uid": uid,
                             "resourceVersion": claim["metadata"]["resourceVersion"]},
                "hostPath": {"path": dir.to_string_lossy(), "type": "DirectoryOrCreate"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
            },
        });
        let (_, pv_info) = infos();
        match self
            .client
            .create(&rest::path(pv_info, None, None), &pv)
            .await
        {
            Ok(_) => {
                self.events.normal(
                    &claim,
                    "ProvisioningSucceeded",
                    format!("Successfully provisioned volume {pv_name}"),
                );
                Ok(Action::Done)
            }
            Err(e) if e.is_already_exists() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
    // ANCHOR_END: provision

    /// A volume of ours, released with reclaim policy Delete: remove its
    /// directory, then its object.
    async fn reclaim(&self, name: &str) -> Result<Action, Error> {
        let Some(pv) = self.volumes.get(name) else {
            return Ok(Action::Done);
        };
        let ours = pv["metadata"]["annotations"][PROVISIONED_BY] == NAME;
        if !ours
            || pv["status"]["phase"] != "Released"
            || pv["spec"]["persistentVolumeReclaimPolicy"] != "Delete"
            || kubelab_api::meta::is_being_deleted(&pv)
        {
            return Ok(Action::Done);
        }
        if let Some(path) = pv["spec"]["hostPath"]["path"].as_str() {
            // Never anything outside our own storage directory: compared
            // after resolving `..` and symlinks (a missing one is gone already).
            let (path, root) = (Path::new(path).canonicalize(), self.root.canonicalize());
            if let (Ok(path), Ok(root)) = (&path, &root)
                && path.starts_with(root)
                && path != root
                && let Err(e) = std::fs::remove_dir_all(path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                self.events.warning(
                    &pv,
                    "VolumeFailedDelete",
                    format!("failed to delete volume {name}: {e}"),
                );
                return Ok(Action::RequeueAfter(std::time::Duration::from_secs(5)));
            }
        }
        let path = rest::object_path(&pv);
        match self.client.delete(&path, &json!({})).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Reconciler for Provisioner {
    fn name(&self) -> &'static str {
        "local-path-provisioner"
    }

    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        match key.split_once(':') {
            Some(("pvc", k)) => self.provision(k).await,
            Some(("pv", k)) => self.reclaim(k).await,
            _ => Ok(Action::Done),
        }
    }
}
