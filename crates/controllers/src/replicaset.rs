//! The ReplicaSet controller: keep `spec.replicas` pods running.
//!
//! ```text
//! reconcile(rs):
//!     pods = cached pods in rs's namespace that rs owns (adopting orphans
//!            that match its selector, releasing owned pods that no longer do)
//!     diff = len(active pods) - spec.replicas
//!     diff < 0  → create -diff pods from spec.template
//!     diff > 0  → delete the diff "least valuable" pods
//!     write status (replicas, readyReplicas, availableReplicas)
//! ```
//!
//! The cache lags behind our own writes: right after creating 3 pods, the
//! informer may not have seen them yet, and a second reconcile would
//! create 3 more. Upstream solves this with **expectations**, and so do
//! we: before creating N pods we record "expect N additions"; each pod
//! the informer then sees counts one down; until the count is 0 the
//! controller does not create or delete anything for that ReplicaSet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubelab_api::selector::LabelSelector;
use serde_json::{Value, json};

use kubelab_client::informer::{Change, Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{
    Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue, controller_uid,
};

/// Most pods created or deleted in one reconcile (upstream: 500).
const BURST: usize = 500;

/// Pending creations and deletions per ReplicaSet key.
#[derive(Default, Clone)]
pub struct Expectations(Arc<Mutex<HashMap<String, Pending>>>);

/// Creations and deletions still to be seen, and since when.
type Pending = (i64, i64, Instant);

impl Expectations {
    pub fn expect(&self, key: &str, adds: i64, dels: i64) {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_string(), (adds, dels, Instant::now()));
    }
    pub fn observed(&self, key: &str, add: bool) {
        if let Some(e) = self.0.lock().unwrap().get_mut(key) {
            if add { e.0 -= 1 } else { e.1 -= 1 }
        }
    }
    /// May the controller act? (Expectations met, or older than 5 minutes
    /// — a lost watch event must not freeze a ReplicaSet forever.)
    pub fn satisfied(&self, key: &str) -> bool {
        match self.0.lock().unwrap().get(key) {
            None => true,
            Some((a, d, at)) => (*a <= 0 && *d <= 0) || at.elapsed() > Duration::from_secs(300),
        }
    }
    pub fn lower(&self, key: &str, adds: i64, dels: i64) {
        if let Some(e) = self.0.lock().unwrap().get_mut(key) {
            e.0 -= adds;
            e.1 -= dels;
        }
    }
}

/// The kind a [`ReplicaSetController`] runs. Chapter 06 runs the same
/// controller for ReplicationControllers (core/v1), the ReplicaSet's
/// ancestor, as upstream does (`pkg/controller/replication` wraps the
/// ReplicaSet controller); they differ only in how the selector is
/// written.
pub struct Replicated {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The controller's name (events, the client's user agent, logs).
    pub controller: &'static str,
    pub selector: fn(&Value) -> Option<LabelSelector>,
}

pub const REPLICA_SET: Replicated = Replicated {
    api_version: "apps/v1",
    kind: "ReplicaSet",
    controller: "replicaset-controller",
    selector: selector_of,
};

/// `spec.selector` of a ReplicationController is a plain map of labels.
pub const REPLICATION_CONTROLLER: Replicated = Replicated {
    api_version: "v1",
    kind: "ReplicationController",
    controller: "replication-controller",
    selector: |rc| {
        let map = rc["spec"]["selector"]
            .as_object()
            .filter(|m| !m.is_empty())?;
        LabelSelector::from_object(&json!({ "matchLabels": map })).ok()
    },
};

pub struct ReplicaSetController {
    kind: &'static Replicated,
    client: Client,
    replicasets: Informer,
    pods: Informer,
    expectations: Expectations,
    events: EventRecorder,
}

impl ReplicaSetController {
    /// Wires the informers to a queue and starts the workers.
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<ReplicaSetController> {
        Self::start_for(&REPLICA_SET, client, informers)
    }

    /// The same controller for another kind of replicated pods.
    pub fn start_for(
        kind: &'static Replicated,
        client: &Client,
        informers: &InformerFactory,
    ) -> Arc<ReplicaSetController> {
        let client = client.named(&format!("kube-controller-manager/{}", kind.controller));
        let c = Arc::new(ReplicaSetController {
            kind,
            events: EventRecorder::new(&client, kind.controller, None),
            client,
            replicasets: informers.of(kind.api_version, kind.kind),
            pods: informers.of("v1", "Pod"),
            expectations: Expectations::default(),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.replicasets, &queue, |ch| vec![key_of(ch.object())]);
        let me = c.clone();
        kubelab_client::feed(&c.pods, &queue, move |ch| me.keys_for_pod(ch));
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            4,
            vec![c.replicasets.clone(), c.pods.clone()],
        ));
        c
    }

    /// A pod changed: which ReplicaSets care? See [`owner_keys_for_pod`].
    fn keys_for_pod(&self, change: &Change) -> Vec<String> {
        owner_keys_for_pod(
            change,
            self.kind.kind,
            &self.expectations,
            &self.replicasets,
            self.kind.selector,
        )
    }
}

/// The keys of the owners a pod change concerns, as a controller of
/// `kind` sees it (ReplicaSets and ReplicationControllers here, chapter
/// 06's DaemonSets): the pod's controller before and after the change, or
/// for an orphan every owner whose selector matches it (it may be
/// adopted). Creations and deletions are counted against the owner's
/// expectations; a pod marked for deletion counts as deleted (upstream's
/// updatePod: on a node without a kubelet it may stay Terminating for
/// good, and must not hold the controller).
pub fn owner_keys_for_pod(
    change: &Change,
    kind: &str,
    expectations: &Expectations,
    owners: &Informer,
    selector: fn(&Value) -> Option<LabelSelector>,
) -> Vec<String> {
    let pod = change.object();
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let owner = |p: &Value| {
        kubelab_api::meta::controller_of(p)
            .filter(|o| o["kind"] == kind)
            .and_then(|o| o["name"].as_str())
            .map(|n| format!("{ns}/{n}"))
    };
    let mut keys = Vec::new();
    match change {
        Change::Added(p) => {
            if let Some(k) = owner(p) {
                expectations.observed(&k, true);
            }
        }
        Change::Deleted(p) => {
            if let Some(k) = owner(p) {
                expectations.observed(&k, false);
            }
        }
        Change::Modified { old, new } => {
            if kubelab_api::meta::is_being_deleted(new)
                && !kubelab_api::meta::is_being_deleted(old)
                && let Some(k) = owner(new)
            {
                expectations.observed(&k, false);
            }
            keys.extend(owner(old))
        }
    }
    match owner(pod) {
        Some(k) => keys.push(k),
        None => {
            for o in owners.list(Some(ns)) {
                if selector(&o).is_some_and(|s| !s.is_empty() && s.matches_object(pod)) {
                    keys.push(key_of(&o));
                }
            }
        }
    }
    keys
}

fn selector_of(obj: &Value) -> Option<LabelSelector> {
    LabelSelector::from_object(&obj["spec"]["selector"]).ok()
}

/// Which pods to delete first: not yet on a node, then pending, then not
/// ready, then restarted more, then the newest (upstream's ranking).
fn deletion_rank(p: &Value) -> (u8, u8, u8, i64, std::cmp::Reverse<String>) {
    let unscheduled = p["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    let pending = p["status"]["phase"] != "Running";
    let restarts: i64 = p["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    (
        !unscheduled as u8,
        !pending as u8,
        kubelab_api::pod::is_ready(p) as u8,
        -restarts,
        std::cmp::Reverse(
            p["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
    )
}

#[async_trait::async_trait]
impl Reconciler for ReplicaSetController {
    fn name(&self) -> &'static str {
        self.kind.controller
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(rs) = self.replicasets.get(key) else {
            return Ok(Action::Done); // deleted: the garbage collector removes its pods
        };
        let (ns, name) = split_key(key);
        let ns = ns.unwrap_or("default");
        let uid = rs["metadata"]["uid"].as_str().unwrap_or_default();
        let Some(selector) = (self.kind.selector)(&rs) else {
            return Ok(Action::Done);
        };
        let pod_info = client::resource("v1", "Pod");

        // Asked before the pods are read: expectations met after that read
        // would let us act on a list without the pods that met them.
        let may_act = self.expectations.satisfied(key);

        // 1. The pods that are ours: owned ones, plus orphans we adopt.
        let mut mine = Vec::new();
        for pod in self.pods.list(Some(ns)) {
            let matches = !selector.is_empty() && selector.matches_object(&pod);
            match controller_uid(&pod) {
                Some(u) if u == uid => {
                    if matches {
                        mine.push(pod);
                    } else if !kubelab_api::meta::is_being_deleted(&rs) {
                        // Relabelled out of the set: release it.
                        set_controller(&self.client, &pod, None).await?;
                    }
                }
                None if matches
                    && !kubelab_api::meta::is_being_deleted(&rs)
                    && !kubelab_api::meta::is_being_deleted(&pod) =>
                {
                    set_controller(&self.client, &pod, Some(&rs)).await?;
                    mine.push(pod);
                }
                _ => {}
            }
        }
        let active: Vec<&Arc<Value>> = mine
            .iter()
            .filter(|p| {
                !kubelab_api::pod::is_terminal(p) && !kubelab_api::meta::is_being_deleted(p)
            })
            .collect();

        // 2. Create or delete the difference.
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        if may_act && !kubelab_api::meta::is_being_deleted(&rs) {
            if active.len() < want {
                let n = (want - active.len()).min(BURST);
                self.expectations.expect(key, n as i64, 0);
                let pod = self.pod_from_template(&rs);
                // Upstream's slow start: batches of 1, 2, 4, … pods created
                // side by side; a batch with a failure ends the round (a
                // quota or a bad template fails once, not N times).
                let list = client::path(pod_info, Some(ns), None);
                let (mut failed, mut started, mut batch) = (0, 0, 1);
                while started < n {
                    let size = batch.min(n - started);
                    let results = futures::future::join_all(
                        (0..size).map(|_| self.client.create(&list, &pod)),
                    )
                    .await;
                    started += size;
                    let mut batch_failed = false;
                    for created in results {
                        match created {
                            Ok(p) => self.events.normal(
                                &rs,
                                "SuccessfulCreate",
                                format!(
                                    "Created pod: {}",
                                    p["metadata"]["name"].as_str().unwrap_or_default()
                                ),
                            ),
                            Err(e) => {
                                failed += 1;
                                batch_failed = true;
                                self.events.warning(
                                    &rs,
                                    "FailedCreate",
                                    format!("Error creating: {}", e.message),
                                );
                            }
                        }
                    }
                    if batch_failed {
                        // The ones never tried will not be seen either.
                        failed += (n - started) as i64;
                        break;
                    }
                    batch *= 2;
                }
                self.expectations.lower(key, failed, 0);
            } else if active.len() > want {
                let mut victims = active.clone();
                victims.sort_by_key(|p| deletion_rank(p));
                let victims: Vec<_> = victims
                    .into_iter()
                    .take((active.len() - want).min(BURST))
                    .collect();
                self.expectations.expect(key, 0, victims.len() as i64);
                for p in victims {
                    let pname = p["metadata"]["name"].as_str().unwrap_or_default();
                    match self
                        .client
                        .delete(&client::path(pod_info, Some(ns), Some(pname)), &json!({}))
                        .await
                    {
                        Ok(_) => self.events.normal(
                            &rs,
                            "SuccessfulDelete",
                            format!("Deleted pod: {pname}"),
                        ),
                        Err(e) => {
                            self.expectations.lower(key, 0, 1);
                            if !e.is_not_found() {
                                return Err(e.into());
                            }
                        }
                    }
                }
            }
        }

        // 3. Report what is.
        let ready = active
            .iter()
            .filter(|p| kubelab_api::pod::is_ready(p))
            .count();
        let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let available = active
            .iter()
            .filter(|p| kubelab_api::pod::is_available(p, min_ready))
            .count();
        let labels = kubelab_api::selector::labels_of(&rs["spec"]["template"]);
        let fully_labeled = active
            .iter()
            .filter(|p| {
                let have = kubelab_api::selector::labels_of(p);
                labels.iter().all(|(k, v)| have.get(k) == Some(v))
            })
            .count();
        let mut status = json!({
            "replicas": active.len(),
            "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"]["generation"],
        });
        kubelab_api::meta::omit_zeros(
            &mut status,
            &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
        );
        if !same_status(&rs["status"], &status) {
            let mut updated = (*rs).clone();
            updated["status"] = status;
            let path = format!(
                "{}/status",
                client::path(
                    client::resource(self.kind.api_version, self.kind.kind),
                    Some(ns),
                    Some(name)
                )
            );
            match self.client.replace(&path, &updated).await {
                Ok(_) => {}
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Pods become available `minReadySeconds` after turning ready.
        if min_ready > 0 && available < ready {
            return Ok(Action::RequeueAfter(Duration::from_secs(1)));
        }
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}

impl ReplicaSetController {
    /// A new pod from the ReplicaSet's template, named `<rs>-<random>`.
    fn pod_from_template(&self, rs: &Value) -> Value {
        let mut metadata = template_pod_metadata(rs);
        metadata["generateName"] = json!(format!(
            "{}-",
            rs["metadata"]["name"].as_str().unwrap_or_default()
        ));
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": rs["spec"]["template"]["spec"]})
    }
}

/// The metadata of a new pod from `owner`'s `spec.template`: the
/// template's labels and annotations, `owner` as its controller, and no
/// name yet (each controller names its pods its own way). ReplicaSets,
/// and chapter 08's StatefulSets and Jobs, start their pods from it.
pub fn template_pod_metadata(owner: &Value) -> Value {
    let mut metadata = owner["spec"]["template"]["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    if let Some(m) = metadata.as_object_mut() {
        m.remove("name");
        m.remove("generateName");
        m.remove("creationTimestamp");
    }
    metadata["ownerReferences"] = json!([client::owner_reference(owner, true)]);
    metadata
}

/// Makes `owner` the pod's controller (adoption), or with `None` drops its
/// controller reference (release); other owners stay. Conditional on the
/// pod's resourceVersion, so a stale read is a conflict, retried. The
/// StatefulSet controller (chapter 08) adopts its orphans with it too.
pub async fn set_controller(
    client: &Client,
    pod: &Value,
    owner: Option<&Value>,
) -> Result<(), Error> {
    let mut refs: Vec<Value> = kubelab_api::meta::owner_references(pod)
        .iter()
        .filter(|r| r["controller"] != true)
        .cloned()
        .collect();
    if let Some(owner) = owner {
        refs.push(client::owner_reference(owner, true));
    }
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": pod["metadata"]["resourceVersion"],
    }});
    match client.merge_patch(&client::object_path(pod), &patch).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn same_status(old: &Value, new: &Value) -> bool {
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    [
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    ]
    .iter()
    .all(|k| n(old, k) == n(new, k))
        && !old.is_null()
}
