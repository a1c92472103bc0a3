//! The StatefulSet controller: pods with names, order and disks of their own.
//!
//! A ReplicaSet's pods are interchangeable cattle (`web-7d9f-x2k4p`). A
//! StatefulSet's are not: pod `db-0` is always `db-0`, comes back as
//! `db-0` on the same claim `data-db-0`, and answers DNS as
//! `db-0.db.<ns>.svc.cluster.local` through the headless Service named in
//! `spec.serviceName`. Databases want exactly that.
//!
//! ```text
//! reconcile(set):
//!     ordinals = start .. start + replicas          (spec.ordinals.start)
//!     for each ordinal, lowest first:
//!         its claims missing   → create <template>-<set>-<ordinal>
//!         its pod missing      → create <set>-<ordinal>        ┐ OrderedReady: one at a
//!         its pod failed       → delete it (to be recreated)   │ time, and only when
//!         its pod not Ready    → OrderedReady: stop here       ┘ every earlier one is Ready
//!     pods beyond the range, highest first → delete (OrderedReady: one at a time)
//!     write status (replicas, ready, available, current, updated)
//! ```
//!
//! Names are fixed, so the cache lagging behind our own writes is
//! harmless: creating `db-1` twice gets "already exists" the second time.
//! A ReplicaSet, whose pods get random names, needs expectations instead.
//!
//! **Simplifications (chapters 08 alone).** Changing the pod template does
//! not replace existing pods (new pods use the new template), and
//! `controller-revision-hash` is a hash of the template without a
//! ControllerRevision object. Chapter 09 plugs both in through
//! [`StatefulSetUpdates`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kubelab_api::selector::LabelSelector;
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{
    Action, Error, EventRecorder, InformerFactory, Plug, Reconciler, WorkQueue, controller_uid,
};

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

// ANCHOR: updates
/// What chapter 09 plugs in: ControllerRevisions and rolling updates.
#[async_trait::async_trait]
pub trait StatefulSetUpdates: Send + Sync + 'static {
    /// Records the set's template as a ControllerRevision and says which
    /// revision is current (what the pods run) and which is the update.
    async fn revisions(&self, set: &Value, pods: &[Arc<Value>]) -> Result<Revisions, Error>;
    /// Pods to delete now so that they come back at the update revision.
    fn replace(
        &self,
        set: &Value,
        revs: &Revisions,
        pods: &BTreeMap<i64, Arc<Value>>,
    ) -> Vec<String>;
}

/// A set's two revisions: `current` (with its template) and `update`.
#[derive(Clone, Debug)]
pub struct Revisions {
    pub current: String,
    pub current_template: Value,
    pub update: String,
}

/// The builder slot chapter 09 fills.
pub type StatefulSetRollout = Plug<dyn StatefulSetUpdates>;
// ANCHOR_END: updates

pub struct StatefulSetController {
    client: Client,
    sets: Informer,
    pods: Informer,
    claims: Informer,
    events: EventRecorder,
    updates: Option<Arc<dyn StatefulSetUpdates>>,
}

/// `(set name, ordinal)` from a pod name `<set>-<ordinal>`.
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i64)> {
    let (parent, ordinal) = pod_name.rsplit_once('-')?;
    if ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ordinal.parse().ok()?))
}

/// The claim of volume claim template `template` for pod `pod_name`.
pub fn claim_name(template: &str, pod_name: &str) -> String {
    format!("{template}-{pod_name}")
}

/// `controller-revision-hash` of a set's current template: `<set>-<hash>`,
/// the hash chapter 02's Deployments use for `pod-template-hash` (stable
/// across restarts, whatever the key order).
pub fn revision(set: &Value) -> String {
    format!(
        "{}-{}",
        set["metadata"]["name"].as_str().unwrap_or_default(),
        kubelab_controllers::deployment::pod_template_hash(&set["spec"]["template"])
    )
}

fn running_and_ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running" && kubelab_api::pod::is_ready(p)
}

impl StatefulSetController {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        updates: Option<Arc<dyn StatefulSetUpdates>>,
    ) -> Arc<StatefulSetController> {
        let client = client.named("kube-controller-manager/statefulset-controller");
        let c = Arc::new(StatefulSetController {
            events: EventRecorder::new(&client, "statefulset-controller", None),
            client,
            sets: informers.of("apps/v1", "StatefulSet"),
            pods: informers.of("v1", "Pod"),
            claims: informers.of("v1", "PersistentVolumeClaim"),
            updates,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.sets, &queue, |ch| vec![key_of(ch.object())]);
        let sets = c.sets.clone();
        kubelab_client::feed(&c.pods, &queue, move |ch| keys_for_pod(&sets, ch));
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            4,
            vec![c.sets.clone(), c.pods.clone(), c.claims.clone()],
        ));
        c
    }
}

/// A pod changed: its owner, or (an orphan) the set whose name and
/// selector it fits.
fn keys_for_pod(sets: &Informer, change: &Change) -> Vec<String> {
    let pod = change.object();
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    if let Some(o) = kubelab_api::meta::controller_of(pod) {
        return if o["kind"] == "StatefulSet" {
            vec![format!("{ns}/{}", o["name"].as_str().unwrap_or_default())]
        } else {
            vec![]
        };
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    match parent_and_ordinal(name) {
        Some((parent, _)) if sets.get(&format!("{ns}/{parent}")).is_some() => {
            vec![format!("{ns}/{parent}")]
        }
        _ => vec![],
    }
}

#[async_trait::async_trait]
impl Reconciler for StatefulSetController {
    fn name(&self) -> &'static str {
        "statefulset-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(set) = self.sets.get(key) else {
            return Ok(Action::Done); // deleted: the garbage collector takes its pods
        };
        let (ns, name) = split_key(key);
        let ns = ns.unwrap_or("default");
        let Ok(selector) = LabelSelector::from_object(&set["spec"]["selector"]) else {
            return Ok(Action::Done);
        };
        let uid = set["metadata"]["uid"].as_str().unwrap_or_default();
        let deleting = kubelab_api::meta::is_being_deleted(&set);

        // 1. Our pods, by ordinal: owned, or orphans we adopt (a pod named
        //    like ours whose labels fit, left by a deletion with
        //    --cascade=orphan, say).
        let mut pods: BTreeMap<i64, Arc<Value>> = BTreeMap::new();
        for pod in self.pods.list(Some(ns)) {
            let pname = pod["metadata"]["name"].as_str().unwrap_or_default();
            let Some((parent, ordinal)) = parent_and_ordinal(pname) else {
                continue;
            };
            let fits = parent == name && !selector.is_empty() && selector.matches_object(&pod);
            match controller_uid(&pod) {
                Some(u) if u == uid && fits => {
                    pods.insert(ordinal, pod);
                }
                None if fits && !deleting && !kubelab_api::meta::is_being_deleted(&pod) => {
                    kubelab_controllers::replicaset::set_controller(&self.client, &pod, Some(&set))
                        .await?;
                    pods.insert(ordinal, pod);
                }
                _ => {}
            }
        }

        let replicas = set["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
        let start = set["spec"]["ordinals"]["start"]
            .as_i64()
            .unwrap_or(0)
            .max(0);
        let parallel = set["spec"]["podManagementPolicy"] == "Parallel";
        let wanted = start..start + replicas;
        let mut requeue = None;
        let revs = match &self.updates {
            Some(u) if !deleting => {
                let list: Vec<Arc<Value>> = pods.values().cloned().collect();
                u.revisions(&set, &list).await?
            }
            _ => Revisions {
                current: revision(&set),
                current_template: set["spec"]["template"].clone(),
                update: revision(&set),
            },
        };

        // 2. The pods that should exist, lowest ordinal first.
        if !deleting {
            for ordinal in wanted.clone() {
                let pod_name = format!("{name}-{ordinal}");
                match pods.get(&ordinal) {
                    None => {
                        self.create_claims(&set, &pod_name).await?;
                        self.create_pod(&set, ordinal, &revs).await?;
                        if !parallel {
                            break; // OrderedReady: wait for it to be Ready
                        }
                    }
                    Some(p) if kubelab_api::pod::is_terminal(p) => {
                        // A failed (or finished) member is replaced under
                        // the same name, on the same claims.
                        if !kubelab_api::meta::is_being_deleted(p) {
                            if p["status"]["phase"] == "Failed" {
                                self.events.warning(
                                    &set,
                                    "RecreatingFailedPod",
                                    format!("StatefulSet {ns}/{name} is recreating failed Pod {pod_name}"),
                                );
                            } else {
                                self.events.normal(
                                    &set,
                                    "RecreatingTerminatedPod",
                                    format!("StatefulSet {ns}/{name} is recreating terminated Pod {pod_name}"),
                                );
                            }
                            self.delete_pod(&set, &pod_name).await?;
                        }
                        if !parallel {
                            break;
                        }
                    }
                    Some(p) => {
                        if !parallel && !running_and_ready(p) {
                            break; // a predecessor not Ready holds back the rest
                        }
                    }
                }
            }

            // 3. Pods beyond the range go, highest ordinal first.
            let condemned: Vec<(i64, Arc<Value>)> = pods
                .iter()
                .rev()
                .filter(|(o, _)| !wanted.contains(o))
                .map(|(o, p)| (*o, p.clone()))
                .collect();
            let all_healthy = pods
                .iter()
                .filter(|(o, _)| wanted.contains(o))
                .all(|(_, p)| running_and_ready(p) && !kubelab_api::meta::is_being_deleted(p))
                && pods.keys().filter(|o| wanted.contains(o)).count() as i64 == replicas;
            for (_, pod) in condemned {
                let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
                if kubelab_api::meta::is_being_deleted(&pod) {
                    if !parallel {
                        break; // one at a time: wait for it to be gone
                    }
                    continue;
                }
                if !parallel && !all_healthy {
                    break; // OrderedReady scales down only a healthy set
                }
                self.retain_or_release_claims(&set, &pod).await?;
                self.delete_pod(&set, pod_name).await?;
                if !parallel {
                    break;
                }
            }
        }

        // 4. Chapter 09: outdated pods replaced, highest ordinal first.
        if let Some(u) = &self.updates
            && !deleting
            && wanted.clone().all(|o| pods.contains_key(&o))
        {
            for pod_name in u.replace(&set, &revs, &pods) {
                self.delete_pod(&set, &pod_name).await?;
            }
        }

        // 5. Status.
        let members: Vec<&Arc<Value>> = pods.values().collect();
        let min_ready = set["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let count = |f: &dyn Fn(&Value) -> bool| members.iter().filter(|p| f(p)).count();
        let ready = count(&|p| kubelab_api::pod::is_ready(p));
        let available = count(&|p| kubelab_api::pod::is_available(p, min_ready));
        if min_ready > 0 && available < ready {
            requeue = Some(Duration::from_secs(1));
        }
        let at = |rev: &str| {
            count(&|p| {
                p["metadata"]["labels"][REVISION_LABEL] == rev
                    && !kubelab_api::meta::is_being_deleted(p)
            })
        };
        let (mut current, updated) = (at(&revs.current), at(&revs.update));
        let mut current_revision = revs.current.clone();
        // A finished rolling update: the update revision becomes current.
        if set["spec"]["updateStrategy"]["type"] != "OnDelete"
            && updated == ready
            && ready == members.len()
            && members.len() as i64 == replicas
        {
            current = updated;
            current_revision = revs.update.clone();
        }
        let mut status = json!({
            "observedGeneration": set["metadata"]["generation"],
            "replicas": members.len(),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "currentRevision": current_revision,
            "updateRevision": revs.update,
            "collisionCount": 0,
        });
        kubelab_api::meta::omit_zeros(
            &mut status,
            &["readyReplicas", "currentReplicas", "updatedReplicas"],
        );
        if set["status"] != status {
            let mut updated = (*set).clone();
            updated["status"] = status;
            let path = format!("{}/status", client::object_path(&set));
            match self.client.replace(&path, &updated).await {
                Ok(_) => {}
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
    }
    // ANCHOR_END: reconcile
}

impl StatefulSetController {
    /// Pod `<set>-<ordinal>` from the template: its identity (hostname,
    /// subdomain, labels) and its claims in place of the template's volumes.
    fn pod_for(&self, set: &Value, ordinal: i64, revs: &Revisions) -> Value {
        let name = set["metadata"]["name"].as_str().unwrap_or_default();
        let pod_name = format!("{name}-{ordinal}");
        // Below the partition a pod comes back as it was (the current
        // revision); at or above it, at the update revision.
        let start = set["spec"]["ordinals"]["start"].as_i64().unwrap_or(0);
        let partition = set["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
            .as_i64()
            .unwrap_or(0);
        let mut versioned = set.clone();
        let rev =
            if set["spec"]["updateStrategy"]["type"] != "OnDelete" && ordinal - start < partition {
                versioned["spec"]["template"] = revs.current_template.clone();
                &revs.current
            } else {
                &revs.update
            };
        let template = &versioned["spec"]["template"];
        let mut metadata = kubelab_controllers::replicaset::template_pod_metadata(&versioned);
        metadata["name"] = json!(pod_name);
        metadata["labels"][POD_NAME_LABEL] = json!(pod_name);
        metadata["labels"][POD_INDEX_LABEL] = json!(ordinal.to_string());
        metadata["labels"][REVISION_LABEL] = json!(rev);
        let mut spec = template["spec"].clone();
        spec["hostname"] = json!(pod_name);
        if let Some(svc) = set["spec"]["serviceName"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            spec["subdomain"] = json!(svc);
        }
        let mut volumes: Vec<Value> = spec["volumes"].as_array().cloned().unwrap_or_default();
        for tmpl in set["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let vname = tmpl["metadata"]["name"].as_str().unwrap_or_default();
            volumes.retain(|v| v["name"] != vname);
            volumes.push(json!({"name": vname, "persistentVolumeClaim": {
                "claimName": claim_name(vname, &pod_name)}}));
        }
        if !volumes.is_empty() {
            spec["volumes"] = json!(volumes);
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
    }

    async fn create_pod(&self, set: &Value, ordinal: i64, revs: &Revisions) -> Result<(), Error> {
        let pod = self.pod_for(set, ordinal, revs);
        let (ns, name) = (
            set["metadata"]["namespace"].as_str(),
            set["metadata"]["name"].as_str().unwrap_or_default(),
        );
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let list = client::path(client::resource("v1", "Pod"), ns, None);
        match self.client.create(&list, &pod).await {
            Ok(_) => self.events.normal(
                set,
                "SuccessfulCreate",
                format!("create Pod {pod_name} in StatefulSet {name} successful"),
            ),
            Err(e) if e.is_already_exists() => {} // our cache is behind
            Err(e) => {
                self.events.warning(
                    set,
                    "FailedCreate",
                    format!(
                        "create Pod {pod_name} in StatefulSet {name} failed error: {}",
                        e.message
                    ),
                );
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn delete_pod(&self, set: &Value, pod_name: &str) -> Result<(), Error> {
        let name = set["metadata"]["name"].as_str().unwrap_or_default();
        let path = client::path(
            client::resource("v1", "Pod"),
            set["metadata"]["namespace"].as_str(),
            Some(pod_name),
        );
        match self.client.delete(&path, &json!({})).await {
            Ok(_) => self.events.normal(
                set,
                "SuccessfulDelete",
                format!("delete Pod {pod_name} in StatefulSet {name} successful"),
            ),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// The claims of pod `pod_name`, one per `volumeClaimTemplates` entry,
    /// created when missing (they outlive the pod: a new `db-0` finds the
    /// old one's data).
    async fn create_claims(&self, set: &Value, pod_name: &str) -> Result<(), Error> {
        let ns = set["metadata"]["namespace"].as_str();
        let name = set["metadata"]["name"].as_str().unwrap_or_default();
        let match_labels = set["spec"]["selector"]["matchLabels"].clone();
        for tmpl in set["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let vname = tmpl["metadata"]["name"].as_str().unwrap_or_default();
            let cname = claim_name(vname, pod_name);
            if self
                .claims
                .get(&format!("{}/{cname}", ns.unwrap_or("default")))
                .is_some()
            {
                continue;
            }
            let mut labels = tmpl["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            for (k, v) in match_labels.as_object().into_iter().flatten() {
                labels[k] = v.clone();
            }
            let mut claim = json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": cname, "labels": labels},
                "spec": tmpl["spec"],
            });
            if let Some(a) = tmpl["metadata"]["annotations"].as_object() {
                claim["metadata"]["annotations"] = json!(a);
            }
            // whenDeleted: Delete → the claim belongs to the set, and goes
            // with it (the garbage collector follows the reference).
            if set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete" {
                claim["metadata"]["ownerReferences"] = json!([client::owner_reference(set, true)]);
            }
            let list = client::path(client::resource("v1", "PersistentVolumeClaim"), ns, None);
            match self.client.create(&list, &claim).await {
                Ok(_) => self.events.normal(
                    set,
                    "SuccessfulCreate",
                    format!("create Claim {cname} Pod {pod_name} in StatefulSet {name} success"),
                ),
                Err(e) if e.is_already_exists() => {}
                Err(e) => {
                    self.events.warning(
                        set,
                        "FailedCreate",
                        format!(
                            "create Claim {cname} for Pod {pod_name} in StatefulSet {name} failed error: {}",
                            e.message
                        ),
                    );
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Before a scale-down deletes `pod`: under `whenScaled: Delete` its
    /// claims become the pod's, so they go with it; otherwise they stay.
    async fn retain_or_release_claims(&self, set: &Value, pod: &Value) -> Result<(), Error> {
        if set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] != "Delete" {
            return Ok(());
        }
        let ns = set["metadata"]["namespace"].as_str();
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
        for tmpl in set["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let cname = claim_name(
                tmpl["metadata"]["name"].as_str().unwrap_or_default(),
                pod_name,
            );
            let path = client::path(
                client::resource("v1", "PersistentVolumeClaim"),
                ns,
                Some(&cname),
            );
            let patch =
                json!({"metadata": {"ownerReferences": [client::owner_reference(pod, true)]}});
            match self.client.merge_patch(&path, &patch).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ordinals_and_claims() {
        assert_eq!(parent_and_ordinal("db-0"), Some(("db", 0)));
        assert_eq!(parent_and_ordinal("my-db-12"), Some(("my-db", 12)));
        assert_eq!(parent_and_ordinal("db-x"), None);
        assert_eq!(parent_and_ordinal("db"), None);
        assert_eq!(claim_name("data", "db-1"), "data-db-1");
        let set = json!({"metadata": {"name": "db"}, "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}});
        let r = revision(&set);
        assert_eq!(
            r,
            format!(
                "db-{}",
                kubelab_controllers::deployment::pod_template_hash(&set["spec"]["template"])
            )
        );
        let mut changed = set.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x");
        assert_ne!(revision(&changed), r);
    }
}
