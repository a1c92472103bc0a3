//! The Deployment controller: one ReplicaSet per pod template, and a
//! rolling move from the old ones to the new one.
//!
//! A Deployment never touches pods. For each distinct `spec.template` it
//! owns a ReplicaSet named `<deployment>-<pod-template-hash>` (the hash of
//! the template, also added as a label so the ReplicaSets' pods never
//! overlap). Changing the template makes a new ReplicaSet; the rollout is
//! nothing but scaling the new one up and the old ones down:
//!
//! * `RollingUpdate`: at most `replicas + maxSurge` pods exist, at least
//!   `replicas - maxUnavailable` are available, at every step;
//! * `Recreate`: old ReplicaSets to 0 first, then the new one up.
//!
//! Each ReplicaSet carries `deployment.kubernetes.io/revision`;
//! `kubectl rollout history` lists them and `rollout undo` puts an old
//! template back, which makes that old ReplicaSet the new one again
//! (with the next revision number). Chapter 09 looks at rollouts in depth.

use std::sync::Arc;

use kubelab_api::selector::LabelSelector;
use serde_json::{Map, Value, json};

use kubelab_client::informer::{Informer, key_of, split_key};
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{
    Action, Error, EventRecorder, InformerFactory, Reconciler, WorkQueue, controller_uid,
};

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

pub struct DeploymentController {
    client: Client,
    deployments: Informer,
    replicasets: Informer,
    events: EventRecorder,
}

impl DeploymentController {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<DeploymentController> {
        let client = client.named("kube-controller-manager/deployment-controller");
        let c = Arc::new(DeploymentController {
            events: EventRecorder::new(&client, "deployment-controller", None),
            client,
            deployments: informers.of("apps/v1", "Deployment"),
            replicasets: informers.of("apps/v1", "ReplicaSet"),
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

fn without_hash(template: &Value) -> Value {
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

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn spec_replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

fn status_int(rs: &Value, field: &str) -> i64 {
    rs["status"][field].as_i64().unwrap_or(0)
}

/// `maxSurge` / `maxUnavailable`: an integer, or a percentage of replicas.
fn resolve(v: &Value, default: &str, replicas: i64, round_up: bool) -> i64 {
    let s = match v {
        Value::Number(n) => return n.as_i64().unwrap_or(0),
        Value::String(s) => s.as_str(),
        _ => default,
    };
    match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
        Some(p) if round_up => (p * replicas + 99) / 100,
        Some(p) => p * replicas / 100,
        None => s.parse().unwrap_or(0),
    }
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
        let template = &d["spec"]["template"];
        let wanted = without_hash(template);
        let max_revision = rss.iter().map(revision).max().unwrap_or(0);
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
        let paused = d["spec"]["paused"] == true;

        // The new ReplicaSet: the one whose template is the deployment's.
        let pos = rss
            .iter()
            .position(|rs| without_hash(&rs["spec"]["template"]) == wanted);
        let mut new_rs = match pos {
            Some(i) => Some(rss.remove(i)),
            None if paused => None,
            None => Some(
                self.create_replicaset(&d, max_revision + 1, &rss, replicas)
                    .await?,
            ),
        };
        let mut olds = rss;
        if let Some(rs) = new_rs.as_mut()
            && revision(rs) < max_revision
            && !paused
        {
            // `rollout undo`: an old ReplicaSet becomes the newest revision.
            let mut updated = rs.clone();
            updated["metadata"]["annotations"][REVISION] = json!((max_revision + 1).to_string());
            *rs = self
                .client
                .replace(&client::object_path(rs), &updated)
                .await?;
        }

        if !paused && let Some(new) = new_rs.as_mut() {
            if d["spec"]["strategy"]["type"] == "Recreate" {
                self.recreate(&d, new, &mut olds, replicas).await?;
            } else {
                self.rolling_update(&d, new, &mut olds, replicas).await?;
            }
            self.clean_up_history(&d, &olds).await;
        }
        self.write_status(&d, new_rs.as_ref(), &olds, replicas)
            .await?;
        Ok(Action::Done)
    }
    // ANCHOR_END: reconcile
}

impl DeploymentController {
    async fn create_replicaset(
        &self,
        d: &Value,
        rev: i64,
        existing: &[Value],
        replicas: i64,
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
        let mut annotations = Map::new();
        if let Some(a) = d["metadata"]["annotations"].as_object() {
            for (k, v) in a {
                if k != "kubectl.kubernetes.io/last-applied-configuration" && k != REVISION {
                    annotations.insert(k.clone(), v.clone());
                }
            }
        }
        annotations.insert(REVISION.into(), json!(rev.to_string()));
        annotations.insert(
            "deployment.kubernetes.io/desired-replicas".into(),
            json!(replicas.to_string()),
        );
        let mut labels = template["metadata"]["labels"].clone();
        labels[HASH_LABEL] = json!(hash);
        // A first rollout starts at full size; later ones start at 0 and grow.
        let start = if existing.iter().all(|rs| spec_replicas(rs) == 0)
            && d["spec"]["strategy"]["type"] != "Recreate"
        {
            replicas
        } else {
            0
        };
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": name, "namespace": d["metadata"]["namespace"], "labels": labels,
                "annotations": annotations,
                "ownerReferences": [client::owner_reference(d, true)],
            },
            "spec": {
                "replicas": start, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
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
            format!("Scaled up replica set {name} from 0 to {start}"),
        );
        Ok(created)
    }

    /// Sets a ReplicaSet's size (and records it in an event).
    async fn scale(&self, d: &Value, rs: &mut Value, to: i64) -> Result<(), Error> {
        let from = spec_replicas(rs);
        if from == to {
            return Ok(());
        }
        let mut updated = rs.clone();
        updated["spec"]["replicas"] = json!(to);
        updated["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
            json!(d["spec"]["replicas"].as_i64().unwrap_or(1).to_string());
        *rs = self
            .client
            .replace(&client::object_path(rs), &updated)
            .await?;
        let name = rs["metadata"]["name"].as_str().unwrap_or_default();
        let verb = if to > from { "up" } else { "down" };
        self.events.normal(
            d,
            "ScalingReplicaSet",
            format!("Scaled {verb} replica set {name} from {from} to {to}"),
        );
        Ok(())
    }

    async fn recreate(
        &self,
        d: &Value,
        new: &mut Value,
        olds: &mut [Value],
        replicas: i64,
    ) -> Result<(), Error> {
        for rs in olds.iter_mut() {
            self.scale(d, rs, 0).await?;
        }
        // Only when every old pod is gone does the new ReplicaSet grow.
        if olds.iter().all(|rs| status_int(rs, "replicas") == 0) {
            self.scale(d, new, replicas).await?;
        }
        Ok(())
    }

    // ANCHOR: rolling
    async fn rolling_update(
        &self,
        d: &Value,
        new: &mut Value,
        olds: &mut [Value],
        replicas: i64,
    ) -> Result<(), Error> {
        let ru = &d["spec"]["strategy"]["rollingUpdate"];
        let surge = resolve(&ru["maxSurge"], "25%", replicas, true);
        let mut unavailable = resolve(&ru["maxUnavailable"], "25%", replicas, false);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        // Scale up: never more than replicas + maxSurge pods in total.
        let total: i64 = spec_replicas(new) + olds.iter().map(spec_replicas).sum::<i64>();
        let new_spec = spec_replicas(new);
        if new_spec > replicas {
            self.scale(d, new, replicas).await?;
        } else if new_spec < replicas {
            let room = replicas + surge - total;
            if room > 0 {
                self.scale(d, new, replicas.min(new_spec + room)).await?;
            }
        }
        // Scale down: never fewer than replicas - maxUnavailable available.
        olds.sort_by_key(revision);
        let min_available = replicas - unavailable;
        let total: i64 = spec_replicas(new) + olds.iter().map(spec_replicas).sum::<i64>();
        let new_unavailable = (spec_replicas(new) - status_int(new, "availableReplicas")).max(0);
        let mut budget = total - min_available - new_unavailable;
        // First the old pods that are not available anyway…
        for rs in olds.iter_mut() {
            let unhealthy = (spec_replicas(rs) - status_int(rs, "availableReplicas")).max(0);
            let take = unhealthy.min(budget.max(0));
            if take > 0 {
                let to = spec_replicas(rs) - take;
                self.scale(d, rs, to).await?;
                budget -= take;
            }
        }
        // …then available ones, as far as availability allows.
        let available: i64 = status_int(new, "availableReplicas")
            + olds
                .iter()
                .map(|rs| status_int(rs, "availableReplicas").min(spec_replicas(rs)))
                .sum::<i64>();
        let mut budget = budget.min(available - min_available);
        for rs in olds.iter_mut() {
            let take = spec_replicas(rs).min(budget.max(0));
            if take > 0 {
                let to = spec_replicas(rs) - take;
                self.scale(d, rs, to).await?;
                budget -= take;
            }
        }
        Ok(())
    }
    // ANCHOR_END: rolling

    /// Keeps `revisionHistoryLimit` (default 10) empty old ReplicaSets.
    async fn clean_up_history(&self, d: &Value, olds: &[Value]) {
        let limit = d["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(10)
            .max(0) as usize;
        let mut empty: Vec<&Value> = olds
            .iter()
            .filter(|rs| spec_replicas(rs) == 0 && status_int(rs, "replicas") == 0)
            .collect();
        if empty.len() <= limit {
            return;
        }
        empty.sort_by_key(|rs| revision(rs));
        for rs in &empty[..empty.len() - limit] {
            let _ = self
                .client
                .delete(&client::object_path(rs), &json!({}))
                .await;
        }
    }

    async fn write_status(
        &self,
        d: &Value,
        new: Option<&Value>,
        olds: &[Value],
        replicas: i64,
    ) -> Result<(), Error> {
        let all: Vec<&Value> = new.into_iter().chain(olds.iter()).collect();
        let sum = |f: &str| all.iter().map(|rs| status_int(rs, f)).sum::<i64>();
        let updated = new.map_or(0, |rs| status_int(rs, "replicas"));
        let available = sum("availableReplicas");
        let ru = &d["spec"]["strategy"]["rollingUpdate"];
        let max_unavailable = if d["spec"]["strategy"]["type"] == "Recreate" {
            0
        } else {
            resolve(&ru["maxUnavailable"], "25%", replicas, false)
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let old = &d["status"]["conditions"];
        let condition = |type_: &str, status: &str, reason: &str, message: String| {
            let prev = kubelab_api::meta::condition(old, type_);
            let transition = kubelab_api::meta::transition_time(old, type_, status, &now);
            let update = prev
                .filter(|c| c["status"] == status && c["reason"] == reason)
                .map(|c| c["lastUpdateTime"].clone())
                .unwrap_or(json!(now));
            json!({"type": type_, "status": status, "lastUpdateTime": update, "lastTransitionTime": transition, "reason": reason, "message": message})
        };
        let available_cond = if available >= replicas - max_unavailable {
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            )
        } else {
            condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        let new_name = new
            .and_then(|rs| rs["metadata"]["name"].as_str())
            .unwrap_or_default();
        let complete = new.is_some()
            && updated == replicas
            && status_int(new.unwrap(), "availableReplicas") >= replicas
            && olds.iter().all(|rs| status_int(rs, "replicas") == 0);
        let progressing = if complete {
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            )
        } else {
            condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{new_name}\" is progressing."),
            )
        };
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"],
            "replicas": sum("replicas"),
            "updatedReplicas": updated,
            "readyReplicas": sum("readyReplicas"),
            "availableReplicas": available,
            "conditions": [available_cond, progressing],
        });
        let unavailable = (replicas - available).max(0);
        if unavailable > 0 {
            status["unavailableReplicas"] = json!(unavailable);
        }
        // Record the revision on the deployment itself, as upstream does.
        if let Some(rs) = new {
            let rev = revision(rs).to_string();
            if d["metadata"]["annotations"][REVISION].as_str() != Some(rev.as_str()) {
                let patch = json!({"metadata": {"annotations": {REVISION: rev}}});
                self.client
                    .merge_patch(&client::object_path(d), &patch)
                    .await?;
                return Ok(()); // the patch triggers another pass that writes the status
            }
        }
        let same = {
            let mut a = d["status"].clone();
            let mut b = status.clone();
            for s in [&mut a, &mut b] {
                if let Some(cs) = s["conditions"].as_array_mut() {
                    for c in cs {
                        c.as_object_mut().map(|m| m.remove("lastUpdateTime"));
                    }
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

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        assert_eq!(resolve(&Value::Null, "25%", 3, true), 1);
        assert_eq!(resolve(&Value::Null, "25%", 3, false), 0);
        assert_eq!(resolve(&json!(2), "25%", 3, false), 2);
        assert_eq!(resolve(&json!("50%"), "25%", 10, false), 5);
    }
}
