//! The Deployment controller: one ReplicaSet per pod template.
//!
//! A Deployment never touches pods. For each distinct `spec.template` it
//! owns a ReplicaSet named `<deployment>-<pod-template-hash>` (the hash of
//! the template, also added as a label so the ReplicaSets' pods never
//! overlap). Changing the template makes a new ReplicaSet.
//!
//! This chapter's controller only *scales*: the ReplicaSet of the current
//! template gets `replicas`, every older one 0, in one step. How to get
//! from the old pods to the new ones without an outage (rolling updates,
//! Recreate, revisions and `rollout undo`, pause, the progress deadline)
//! is chapter 09's: its crate plugs a [`Rollout`] into this controller
//! through the [`DeploymentRollout`] slot, and then owns every pass.
//!
//! **Simplification (chapters 02–08).** Without chapter 09 a new template
//! replaces all pods at once (old pods stop while new ones start), and
//! ReplicaSets carry no revision, so `kubectl rollout history` is empty.

use std::sync::Arc;

use kubelab_api::selector::LabelSelector;
use serde_json::{Map, Value, json};

use kubelab_client::informer::{Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{
    Action, Error, EventRecorder, InformerFactory, Plug, Reconciler, WorkQueue, controller_uid,
};

pub const HASH_LABEL: &str = "pod-template-hash";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";

// ANCHOR: plug
/// How a Deployment gets from its old ReplicaSets to its new one: chapter
/// 09's rollouts. Given the deployment and its ReplicaSets (already
/// adopted), one pass creates, scales and cleans up ReplicaSets through
/// the controller's methods and writes the status.
#[async_trait::async_trait]
pub trait Rollout: Send + Sync + 'static {
    async fn sync(
        &self,
        c: &DeploymentController,
        d: &Value,
        replicasets: Vec<Value>,
    ) -> Result<Action, Error>;
}

/// The builder slot chapter 09 fills; empty, the controller only scales.
pub type DeploymentRollout = Plug<dyn Rollout>;
// ANCHOR_END: plug

pub struct DeploymentController {
    client: Client,
    deployments: Informer,
    replicasets: Informer,
    events: EventRecorder,
    rollout: Option<Arc<dyn Rollout>>,
}

impl DeploymentController {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        rollout: Option<Arc<dyn Rollout>>,
    ) -> Arc<DeploymentController> {
        let client = client.named("kube-controller-manager/deployment-controller");
        let c = Arc::new(DeploymentController {
            events: EventRecorder::new(&client, "deployment-controller", None),
            client,
            deployments: informers.of("apps/v1", "Deployment"),
            replicasets: informers.of("apps/v1", "ReplicaSet"),
            rollout,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.deployments, &queue, |ch| vec![key_of(ch.object())]);
        let deployments = c.deployments.clone();
        kubelab_client::feed(&c.replicasets, &queue, move |ch| {
            let rs = ch.object();
            let ns = rs["metadata"]["namespace"].as_str().unwrap_or_default();
            match kubelab_api::meta::controller_of(rs).filter(|o| o["kind"] == "Deployment") {
                Some(o) => vec![format!("{ns}/{}", o["name"].as_str().unwrap_or_default())],
                // An orphan: any deployment that may adopt it.
                None => deployments
                    .list(Some(ns))
                    .iter()
                    .filter(|d| selects(d, rs))
                    .map(|d| key_of(d))
                    .collect(),
            }
        });
        tokio::spawn(kubelab_client::run_when_synced(
            c.clone(),
            queue,
            2,
            vec![c.deployments.clone(), c.replicasets.clone()],
        ));
        c
    }
}

fn selects(d: &Value, obj: &Value) -> bool {
    LabelSelector::from_object(&d["spec"]["selector"]).is_ok_and(|s| {
        !s.is_empty() && s.matches_object(&json!({"metadata": obj["spec"]["template"]["metadata"]}))
    })
}

/// The template without what does not make it different: the hash label,
/// and null or empty values (`kubectl rollout undo` sends
/// `creationTimestamp: null` and `resources: {}`).
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let x = normalize(x);
                let empty = x.is_null()
                    || x.as_object().is_some_and(Map::is_empty)
                    || x.as_array().is_some_and(Vec::is_empty);
                if !empty {
                    out.insert(k.clone(), x);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// The template as ReplicaSets are compared by: normalised, without
/// the hash label.
pub fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(l) = t["metadata"]["labels"].as_object_mut() {
        l.remove(HASH_LABEL);
    }
    normalize(&t)
}

/// Keys sorted, so equal templates hash equally whatever their key order.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", json!(k), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// `pod-template-hash`: FNV-1a (32 bit) of the normalised template, written
/// with consonants and digits only so it never spells a word (upstream
/// uses the same alphabet for the same reason).
// ANCHOR: hash
pub fn pod_template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    for b in canonical(&without_hash(template)).bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}
// ANCHOR_END: hash

/// The replicas a Deployment asks for (1 when it does not say).
pub fn replicas_of(d: &Value) -> i64 {
    d["spec"]["replicas"].as_i64().unwrap_or(1).max(0)
}

pub fn spec_replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

pub fn status_int(rs: &Value, field: &str) -> i64 {
    count(&rs["status"], field)
}

/// A counter of a status; absent (upstream omits zeros) is 0.
pub fn count(status: &Value, field: &str) -> i64 {
    status[field].as_i64().unwrap_or(0)
}

/// Splits a deployment's ReplicaSets into the one whose template is the
/// deployment's (the new one) and the others (the old ones).
pub fn split_new(d: &Value, mut rss: Vec<Value>) -> (Option<Value>, Vec<Value>) {
    let wanted = without_hash(&d["spec"]["template"]);
    let pos = rss
        .iter()
        .position(|rs| without_hash(&rs["spec"]["template"]) == wanted);
    let new = pos.map(|i| rss.remove(i));
    (new, rss)
}

#[async_trait::async_trait]
impl Reconciler for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment-controller"
    }

    // ANCHOR: reconcile
    async fn reconcile(&self, key: &str) -> Result<Action, Error> {
        let Some(d) = self.deployments.get(key) else {
            return Ok(Action::Done);
        };
        if kubelab_api::meta::is_being_deleted(&d) {
            return Ok(Action::Done);
        }
        let (ns, _) = split_key(key);
        let ns = ns.unwrap_or("default");
        let uid = d["metadata"]["uid"].as_str().unwrap_or_default();

        // The ReplicaSets of this deployment (adopting matching orphans).
        let mut rss: Vec<Value> = Vec::new();
        for rs in self.replicasets.list(Some(ns)) {
            match controller_uid(&rs) {
                Some(u) if u == uid => rss.push((*rs).clone()),
                None if selects(&d, &rs) => {
                    let patch = json!({"metadata": {"ownerReferences": [client::owner_reference(&d, true)]}});
                    rss.push(
                        self.client
                            .merge_patch(&client::object_path(&rs), &patch)
                            .await?,
                    );
                }
                _ => {}
            }
        }
        if let Some(rollout) = &self.rollout {
            return rollout.sync(self, &d, rss).await;
        }

        // Chapter 02 alone: the current template's ReplicaSet gets every
        // replica, the others none, at once.
        let replicas = replicas_of(&d);
        let (new, mut olds) = split_new(&d, rss);
        let mut new = match new {
            Some(rs) => rs,
            None if d["spec"]["paused"] == true => {
                let status = self.status(&d, None, &olds);
                self.write_status(&d, status).await?;
                return Ok(Action::Done);
            }
            None => self.create_replicaset(&d, replicas, Map::new()).await?,
        };
        self.scale(&d, &mut new, replicas, &[]).await?;
        for rs in olds.iter_mut() {
            self.scale(&d, rs, 0, &[]).await?;
        }
        let mut status = self.status(&d, Some(&new), &olds);
        let name = new["metadata"]["name"].as_str().unwrap_or_default();
        let done = status_int(&new, "availableReplicas") >= replicas
            && count(&status, "updatedReplicas") == replicas
            && count(&status, "replicas") == replicas;
        let (reason, message) = if done {
            (
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{name}\" has successfully progressed."),
            )
        } else {
            (
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{name}\" is progressing."),
            )
        };
        push_condition(
            &mut status,
            condition(&d, "Progressing", "True", reason, &message),
        );
        self.write_status(&d, status).await?;
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}

/// A Deployment condition, keeping `lastTransitionTime` while the status
/// stays and `lastUpdateTime` while status and reason stay (upstream's
/// `SetDeploymentCondition`).
pub fn condition(d: &Value, type_: &str, status: &str, reason: &str, message: &str) -> Value {
    let now = kubelab_api::meta::now();
    let old = &d["status"]["conditions"];
    let prev = kubelab_api::meta::condition(old, type_);
    let transition = kubelab_api::meta::transition_time(old, type_, status, &now);
    let update = prev
        .filter(|c| c["status"] == status && c["reason"] == reason)
        .map(|c| c["lastUpdateTime"].clone())
        .unwrap_or(json!(now));
    json!({"type": type_, "status": status, "lastUpdateTime": update,
        "lastTransitionTime": transition, "reason": reason, "message": message})
}

/// Sets a condition in a status as upstream's `SetDeploymentCondition`
/// does: one with the same status and reason is left as it is (in its
/// place); otherwise the old one goes and the new one is appended.
pub fn push_condition(status: &mut Value, cond: Value) {
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let list = status["conditions"].as_array_mut().expect("an array");
    if let Some(i) = list.iter().position(|c| c["type"] == cond["type"]) {
        if list[i]["status"] == cond["status"] && list[i]["reason"] == cond["reason"] {
            return;
        }
        list.remove(i);
    }
    list.push(cond);
}

/// Upstream's `MaxSurge`: `maxSurge` of the replicas, rounded up; 0 for
/// Recreate.
pub fn max_surge(d: &Value) -> i64 {
    if d["spec"]["strategy"]["type"] == "Recreate" {
        return 0;
    }
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    kubelab_api::intstr::scaled_or(&ru["maxSurge"], "25%", replicas_of(d), true)
}

/// Upstream's `MaxUnavailable`: `maxUnavailable` of the replicas, rounded
/// down, 1 if the surge is 0 too; 0 for Recreate and for 0 replicas.
pub fn max_unavailable(d: &Value) -> i64 {
    let replicas = replicas_of(d);
    if d["spec"]["strategy"]["type"] == "Recreate" || replicas == 0 {
        return 0;
    }
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    let unavailable = kubelab_api::intstr::scaled_or(&ru["maxUnavailable"], "25%", replicas, false);
    if max_surge(d) == 0 && unavailable == 0 {
        return 1;
    }
    unavailable.min(replicas)
}

impl DeploymentController {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the ReplicaSet of the deployment's template,
    /// `<deployment>-<hash>`, with `replicas` pods and `annotations`.
    pub async fn create_replicaset(
        &self,
        d: &Value,
        replicas: i64,
        annotations: Map<String, Value>,
    ) -> Result<Value, Error> {
        let hash = pod_template_hash(&d["spec"]["template"]);
        let name = format!(
            "{}-{hash}",
            d["metadata"]["name"].as_str().unwrap_or_default()
        );
        let mut template = d["spec"]["template"].clone();
        template["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = d["spec"]["selector"].clone();
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let mut annotations = annotations;
        annotations.insert(DESIRED_REPLICAS.into(), json!(replicas_of(d).to_string()));
        let labels = template["metadata"]["labels"].clone();
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": name, "namespace": d["metadata"]["namespace"], "labels": labels,
                "annotations": annotations,
                "ownerReferences": [client::owner_reference(d, true)],
            },
            "spec": {
                "replicas": replicas, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                "selector": selector, "template": template,
            },
        });
        let path = client::path(
            client::resource("apps/v1", "ReplicaSet"),
            d["metadata"]["namespace"].as_str(),
            None,
        );
        let created = match self.client.create(&path, &rs).await {
            Ok(c) => c,
            Err(e) if e.code == 409 => {
                // Created by an earlier pass whose result the cache has not
                // shown yet: use it if it is ours.
                let cur = self.client.get(&format!("{path}/{name}")).await?;
                if controller_uid(&cur) != d["metadata"]["uid"].as_str() {
                    return Err(format!(
                        "replicaset {name} exists and is not owned by this deployment"
                    )
                    .into());
                }
                return Ok(cur);
            }
            Err(e) => return Err(e.into()),
        };
        self.events.normal(
            d,
            "ScalingReplicaSet",
            format!("Scaled up replica set {name} from 0 to {replicas}"),
        );
        Ok(created)
    }

    /// Sets a ReplicaSet's size and `annotations` (upstream records the
    /// deployment's size on each: `desired-replicas`), with an event.
    pub async fn scale(
        &self,
        d: &Value,
        rs: &mut Value,
        to: i64,
        annotations: &[(&str, String)],
    ) -> Result<(), Error> {
        let from = spec_replicas(rs);
        let desired = replicas_of(d).to_string();
        let mut updated = rs.clone();
        updated["spec"]["replicas"] = json!(to);
        let mut wanted: Vec<(&str, String)> = vec![(DESIRED_REPLICAS, desired)];
        wanted.extend(annotations.iter().cloned());
        for (k, v) in wanted {
            updated["metadata"]["annotations"][k] = json!(v);
        }
        if updated == *rs {
            return Ok(());
        }
        *rs = self
            .client
            .replace(&client::object_path(rs), &updated)
            .await?;
        if from != to {
            let name = rs["metadata"]["name"].as_str().unwrap_or_default();
            let verb = if to > from { "up" } else { "down" };
            self.events.normal(
                d,
                "ScalingReplicaSet",
                format!("Scaled {verb} replica set {name} from {from} to {to}"),
            );
        }
        Ok(())
    }

    /// The status of a deployment with these ReplicaSets (upstream's
    /// `calculateStatus`): counts summed over them, and the Available
    /// condition. Other conditions are kept as they are.
    pub fn status(&self, d: &Value, new: Option<&Value>, olds: &[Value]) -> Value {
        let replicas = replicas_of(d);
        let all: Vec<&Value> = new.into_iter().chain(olds.iter()).collect();
        let sum = |f: &str| all.iter().map(|rs| status_int(rs, f)).sum::<i64>();
        let available = sum("availableReplicas");
        let total: i64 = all.iter().map(|rs| spec_replicas(rs)).sum();
        let available_cond = if available >= replicas - max_unavailable(d) {
            condition(
                d,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        } else {
            condition(
                d,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        };
        let conditions: Vec<Value> = d["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"],
            "replicas": sum("replicas"),
            "updatedReplicas": new.map_or(0, |rs| status_int(rs, "replicas")),
            "readyReplicas": sum("readyReplicas"),
            "availableReplicas": available,
            "conditions": conditions,
        });
        push_condition(&mut status, available_cond);
        status["unavailableReplicas"] = json!((total - available).max(0));
        kubelab_api::meta::omit_zeros(
            &mut status,
            &[
                "replicas",
                "updatedReplicas",
                "readyReplicas",
                "availableReplicas",
                "unavailableReplicas",
            ],
        );
        status
    }

    /// Writes `status` if it differs from the stored one (ignoring
    /// `lastUpdateTime`s that moved without a change).
    pub async fn write_status(&self, d: &Value, status: Value) -> Result<(), Error> {
        let same = {
            let mut a = d["status"].clone();
            let mut b = status.clone();
            for s in [&mut a, &mut b] {
                if let Some(cs) = s["conditions"].as_array_mut() {
                    cs.sort_by_key(|c| c["type"].as_str().map(String::from));
                }
            }
            normalize(&a) == normalize(&b)
        };
        if !same {
            let mut updated_d = d.clone();
            updated_d["status"] = status;
            match self
                .client
                .replace(&format!("{}/status", client::object_path(d)), &updated_d)
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_conflict() || e.is_not_found() => {}
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
    fn the_hash_ignores_key_order_empty_values_and_its_own_label() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "x", "resources": {}}]}});
        let b = json!({"spec": {"containers": [{"image": "x", "name": "web"}]}, "metadata": {"creationTimestamp": null, "labels": {"app": "web", "pod-template-hash": "abc"}}});
        assert_eq!(pod_template_hash(&a), pod_template_hash(&b));
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "y"}]}});
        assert_ne!(pod_template_hash(&a), pod_template_hash(&c));
        assert!(
            pod_template_hash(&a)
                .chars()
                .all(|ch| "bcdfghjklmnpqrstvwxz2456789".contains(ch))
        );
    }
}
