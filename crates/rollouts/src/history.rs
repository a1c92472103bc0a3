//! ControllerRevisions: the version history of StatefulSets and DaemonSets.
//!
//! A Deployment keeps its history in ReplicaSets, one per template. A
//! StatefulSet or DaemonSet owns its pods directly, so upstream keeps each
//! template it has run in a small object of its own, a
//! `ControllerRevision` (apps/v1):
//!
//! ```text
//! name:      <owner>-<hash>            the hash of the template
//! revision:  1, 2, 3 …                 the highest is the newest
//! data:      {"spec":{"template":{"$patch":"replace", …the template…}}}
//! ```
//!
//! `data` is a strategic merge patch: `kubectl rollout undo daemonset/x`
//! sends it back as it is, which puts the old template in place. The
//! controller then finds that template's revision already there and only
//! renumbers it to the top — undo is a new revision made of an old one.
//! `kubectl rollout history` lists the revisions it finds by the owner's
//! selector and controller reference, with `kubernetes.io/change-cause`
//! copied from the owner's annotations.

use std::sync::Arc;

use serde_json::{Value, json};

use kubelab_client::informer::Informer;
use kubelab_client::rest::{self as client, Client};
use kubelab_client::{Error, controller_uid};

pub struct History {
    pub client: Client,
    pub revisions: Informer,
}

/// The revision's `data`: a patch that replaces the owner's template.
pub fn data_of(owner: &Value) -> Value {
    let mut template = serde_json::Map::new();
    template.insert("$patch".into(), json!("replace"));
    for (k, v) in owner["spec"]["template"].as_object().into_iter().flatten() {
        template.insert(k.clone(), v.clone());
    }
    json!({"spec": {"template": template}})
}

/// The template a revision holds.
pub fn template_of(revision: &Value) -> Value {
    let mut t = revision["data"]["spec"]["template"].clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    t
}

pub fn number(revision: &Value) -> i64 {
    revision["revision"].as_i64().unwrap_or(0)
}

impl History {
    /// The owner's revisions, oldest first.
    pub fn of(&self, owner: &Value) -> Vec<Arc<Value>> {
        let uid = owner["metadata"]["uid"].as_str();
        let mut list: Vec<Arc<Value>> = self
            .revisions
            .list(owner["metadata"]["namespace"].as_str())
            .into_iter()
            .filter(|r| controller_uid(r) == uid)
            .collect();
        list.sort_by_key(|r| number(r));
        list
    }

    // ANCHOR: record
    /// Records the owner's template as revision `<owner>-<hash>`: a new
    /// one with the next number, or (the template came back, an undo) the
    /// existing one renumbered to the top. Then old revisions beyond
    /// `revisionHistoryLimit` go, except those in `live` (pods still run
    /// them). `label` is the hash label the revision carries.
    pub async fn record(
        &self,
        owner: &Value,
        hash: &str,
        label: &str,
        live: &[String],
    ) -> Result<Value, Error> {
        let owner_name = owner["metadata"]["name"].as_str().unwrap_or_default();
        let name = format!("{owner_name}-{hash}");
        self.revisions.synced().await; // numbers come from what exists
        let existing = self.of(owner);
        let next = existing
            .iter()
            .filter(|r| r["metadata"]["name"] != name.as_str())
            .map(|r| number(r))
            .max()
            .unwrap_or(0)
            + 1;
        let ns = owner["metadata"]["namespace"].as_str();
        let mine = match existing
            .iter()
            .find(|r| r["metadata"]["name"] == name.as_str())
        {
            Some(r) if number(r) >= next => (**r).clone(),
            Some(r) => {
                let mut renumbered = (**r).clone();
                renumbered["revision"] = json!(next);
                self.client
                    .replace(&client::object_path(r), &renumbered)
                    .await?
            }
            None => {
                let mut labels = owner["spec"]["template"]["metadata"]["labels"].clone();
                if !labels.is_object() {
                    labels = json!({});
                }
                labels[label] = json!(hash);
                let mut metadata = json!({
                    "name": name, "labels": labels,
                    "ownerReferences": [client::owner_reference(owner, true)],
                });
                if let Some(a) = owner["metadata"]["annotations"].as_object() {
                    let mut a = a.clone();
                    a.remove("kubectl.kubernetes.io/last-applied-configuration");
                    metadata["annotations"] = json!(a);
                }
                let revision = json!({
                    "apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": metadata, "data": data_of(owner), "revision": next,
                });
                let list =
                    client::path(client::resource("apps/v1", "ControllerRevision"), ns, None);
                match self.client.create(&list, &revision).await {
                    Ok(r) => r,
                    // Made by an earlier pass the cache has not shown yet.
                    Err(e) if e.is_already_exists() => {
                        self.client.get(&format!("{list}/{name}")).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        self.clean_up(owner, &name, &existing, live).await;
        Ok(mine)
    }
    // ANCHOR_END: record

    async fn clean_up(
        &self,
        owner: &Value,
        current: &str,
        existing: &[Arc<Value>],
        live: &[String],
    ) {
        let limit = owner["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(10)
            .max(0) as usize;
        let old: Vec<&Arc<Value>> = existing
            .iter()
            .filter(|r| {
                let n = r["metadata"]["name"].as_str().unwrap_or_default();
                n != current && !live.iter().any(|l| l == n)
            })
            .collect();
        if old.len() <= limit {
            return;
        }
        for r in &old[..old.len() - limit] {
            let _ = self
                .client
                .delete(&client::object_path(r), &json!({}))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_a_patch_that_replaces_the_template() {
        let ds = json!({"spec": {"template": {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let data = data_of(&ds);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let rev = json!({"data": data});
        assert_eq!(template_of(&rev), ds["spec"]["template"]);
    }
}
