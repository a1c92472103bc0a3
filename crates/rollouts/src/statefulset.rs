//! StatefulSet rolling updates: highest ordinal first, never below the
//! `partition` (plugged into chapter 08's controller as
//! [`kubelab_batch::statefulset::StatefulSetUpdates`]).
//!
//! A StatefulSet's pods have names and claims, so it cannot start a new
//! `db-2` beside the old one: it deletes the old `db-2` and the controller
//! makes it again from the new template, on the same claim. Then it waits
//! for it to be Running and Ready before the next, `db-1`.
//!
//! * `partition: N` stops the update at ordinal N: pods below it stay at
//!   (and are recreated at) the current revision — a canary of the top
//!   replicas, advanced by lowering the partition.
//! * `maxUnavailable: M` replaces up to M pods at once (upstream: the
//!   alpha `MaxUnavailableStatefulSet` feature, off by default in 1.33;
//!   here always on).
//! * `OnDelete`: a pod moves to the new revision when someone deletes it.
//!
//! `status.currentRevision` names what the pods ran before the update and
//! becomes `updateRevision` when every pod runs it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use kubelab_batch::statefulset::{REVISION_LABEL, Revisions, StatefulSetUpdates};
use kubelab_client::Error;

use crate::history::{History, template_of};

/// The hash label a StatefulSet's revisions carry (its pods carry the
/// revision's name as `controller-revision-hash`).
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

pub struct StatefulSetRollouts {
    pub history: History,
}

fn healthy(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && kubelab_api::pod::is_ready(p)
        && !kubelab_api::meta::is_being_deleted(p)
}

#[async_trait::async_trait]
impl StatefulSetUpdates for StatefulSetRollouts {
    async fn revisions(&self, set: &Value, pods: &[Arc<Value>]) -> Result<Revisions, Error> {
        let hash = kubelab_controllers::deployment::pod_template_hash(&set["spec"]["template"]);
        let mut live: Vec<String> = pods
            .iter()
            .filter_map(|p| p["metadata"]["labels"][REVISION_LABEL].as_str())
            .map(String::from)
            .collect();
        let current = set["status"]["currentRevision"]
            .as_str()
            .unwrap_or_default();
        live.push(current.to_string());
        let update = self.history.record(set, &hash, HASH_LABEL, &live).await?;
        let update_name = update["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let found = self
            .history
            .of(set)
            .into_iter()
            .find(|r| r["metadata"]["name"] == current && !current.is_empty());
        Ok(match found {
            Some(r) if current != update_name => Revisions {
                current: current.to_string(),
                current_template: template_of(&r),
                update: update_name,
            },
            _ => Revisions {
                current: update_name.clone(),
                current_template: set["spec"]["template"].clone(),
                update: update_name,
            },
        })
    }

    fn replace(
        &self,
        set: &Value,
        revs: &Revisions,
        pods: &BTreeMap<i64, Arc<Value>>,
    ) -> Vec<String> {
        replace(set, &revs.update, pods)
    }
}

// ANCHOR: replace
/// The pods to delete this pass: outdated ones from the highest ordinal
/// down to the partition, at most `maxUnavailable` pods unhealthy at once;
/// an unhealthy pod on the way stops the walk until it is Ready.
pub fn replace(set: &Value, update: &str, pods: &BTreeMap<i64, Arc<Value>>) -> Vec<String> {
    let strategy = &set["spec"]["updateStrategy"];
    if strategy["type"] == "OnDelete" {
        return vec![];
    }
    let replicas = set["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
    let start = set["spec"]["ordinals"]["start"].as_i64().unwrap_or(0);
    let partition = strategy["rollingUpdate"]["partition"].as_i64().unwrap_or(0);
    let max_unavailable = kubelab_api::intstr::scaled_or(
        &strategy["rollingUpdate"]["maxUnavailable"],
        "1",
        replicas,
        false,
    )
    .max(1);
    let wanted = start..start + replicas;
    let unavailable = pods
        .iter()
        .filter(|(o, p)| wanted.contains(o) && !healthy(p))
        .count() as i64;
    let mut out = Vec::new();
    for (ordinal, pod) in pods.iter().rev() {
        if !wanted.contains(ordinal) || ordinal - start < partition {
            continue;
        }
        if unavailable + out.len() as i64 >= max_unavailable {
            break;
        }
        let outdated = pod["metadata"]["labels"][REVISION_LABEL] != update;
        if outdated && !kubelab_api::meta::is_being_deleted(pod) {
            out.push(
                pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        } else if !healthy(pod) && max_unavailable == 1 {
            break; // one at a time: wait for this one
        }
    }
    out
}
// ANCHOR_END: replace

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ordinal: i64, rev: &str, ready: bool) -> (i64, Arc<Value>) {
        (
            ordinal,
            Arc::new(json!({"metadata": {"name": format!("db-{ordinal}"),
                "labels": {REVISION_LABEL: rev}},
                "status": {"phase": "Running", "conditions": [{"type": "Ready",
                    "status": if ready { "True" } else { "False" }}]}})),
        )
    }

    #[test]
    fn highest_ordinal_first_one_at_a_time_and_not_below_the_partition() {
        let set = |partition: i64| {
            json!({"spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate",
                "rollingUpdate": {"partition": partition}}}})
        };
        let all_old: BTreeMap<i64, Arc<Value>> = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "old", true),
        ]
        .into();
        assert_eq!(replace(&set(0), "new", &all_old), ["db-2"]);
        // db-2 is back at the new revision but not Ready yet: wait.
        let waiting: BTreeMap<i64, Arc<Value>> = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "new", false),
        ]
        .into();
        assert!(replace(&set(0), "new", &waiting).is_empty());
        // A partition of 2 leaves db-0 and db-1 alone.
        let top_done: BTreeMap<i64, Arc<Value>> = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "new", true),
        ]
        .into();
        assert!(replace(&set(2), "new", &top_done).is_empty());
        assert_eq!(replace(&set(0), "new", &top_done), ["db-1"]);
    }

    #[test]
    fn max_unavailable_replaces_several_at_once_and_on_delete_none() {
        let set = json!({"spec": {"replicas": 4, "updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 2}}}});
        let pods: BTreeMap<i64, Arc<Value>> = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "old", true),
            pod(3, "old", true),
        ]
        .into();
        assert_eq!(replace(&set, "new", &pods), ["db-3", "db-2"]);
        let on_delete = json!({"spec": {"replicas": 4, "updateStrategy": {"type": "OnDelete"}}});
        assert!(replace(&on_delete, "new", &pods).is_empty());
    }
}
