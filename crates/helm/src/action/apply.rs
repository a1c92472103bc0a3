//! Talking resources to the cluster the way helm's kube client does:
//! building objects from a manifest, creating them, updating them with a
//! three-way merge (old manifest, live object, new manifest), deleting
//! what left the chart, waiting for readiness, and running hooks.

use std::time::{Duration, Instant};

use serde_json::{Map, Value as J, json};

use crate::engine::split_manifests;
use crate::kube::{Client, KubeError};
use crate::release::{self, Release, Storage};

/// One object of a manifest.
#[derive(Clone, Debug)]
pub struct Res {
    pub obj: J,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Res {
    /// helm's objectKey: group/version, kind, namespace, name.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version, self.kind, self.namespace, self.name
        )
    }

    /// `Deployment "web" in namespace "default"` (helm's resourceString).
    pub fn describe(&self) -> String {
        format!(
            "{} {:?} in namespace {:?}",
            self.kind, self.name, self.namespace
        )
    }

    pub fn get(&self, c: &Client) -> Result<Option<J>, KubeError> {
        c.get(&self.api_version, &self.kind, &self.namespace, &self.name)
    }
}

/// Parses a manifest into objects; namespaced objects without a namespace
/// get `namespace`. Unknown kinds are an error, as helm's Build makes them.
pub fn build(c: &Client, manifest: &str, namespace: &str) -> Result<Vec<Res>, String> {
    let mut out = vec![];
    for doc in split_manifests(manifest) {
        let obj: J =
            serde_yaml::from_str(&doc).map_err(|e| format!("error parsing manifest: {e}"))?;
        if !obj.is_object() {
            continue;
        }
        let (api_version, kind) = crate::kube::type_of(&obj);
        let name = obj
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        let r = c.resource(&api_version, &kind).map_err(|e| {
            format!(
                "resource mapping not found for name: {name:?} namespace: {:?} from \"\": {e}\nensure CRDs are installed first",
                obj.pointer("/metadata/namespace").and_then(|n| n.as_str()).unwrap_or("")
            )
        })?;
        let ns = if r.namespaced {
            obj.pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace)
                .to_string()
        } else {
            String::new()
        };
        let mut obj = obj;
        if r.namespaced
            && let Some(m) = obj.get_mut("metadata").and_then(|m| m.as_object_mut())
        {
            m.insert("namespace".into(), J::String(ns.clone()));
        }
        out.push(Res {
            obj,
            api_version,
            kind,
            name,
            namespace: ns,
        });
    }
    Ok(out)
}

fn meta_map<'a>(obj: &'a mut J, field: &str) -> &'a mut Map<String, J> {
    if !obj.get("metadata").is_some_and(|m| m.is_object()) {
        obj["metadata"] = json!({});
    }
    let m = &mut obj["metadata"];
    if !m.get(field).is_some_and(|x| x.is_object()) {
        m[field] = json!({});
    }
    m[field].as_object_mut().expect("an object")
}

/// helm's setMetadataVisitor: the managed-by label and the release annotations.
pub fn set_metadata(res: &mut [Res], name: &str, namespace: &str) {
    for r in res {
        meta_map(&mut r.obj, "labels")
            .insert("app.kubernetes.io/managed-by".into(), J::from("Helm"));
        let a = meta_map(&mut r.obj, "annotations");
        a.insert("meta.helm.sh/release-name".into(), J::from(name));
        a.insert("meta.helm.sh/release-namespace".into(), J::from(namespace));
    }
}

fn check_ownership(live: &J, name: &str, namespace: &str) -> Result<(), String> {
    let get = |p: &str, k: &str| {
        live.pointer(p)
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let require = |actual: Option<String>, k: &str, v: &str| match actual {
        None => Some(format!("missing key {k:?}: must be set to {v:?}")),
        Some(a) if a != v => Some(format!(
            "key {k:?} must equal {v:?}: current value is {a:?}"
        )),
        _ => None,
    };
    let mut errs = vec![];
    if let Some(e) = require(
        get("/metadata/labels", "app.kubernetes.io/managed-by"),
        "app.kubernetes.io/managed-by",
        "Helm",
    ) {
        errs.push(format!("label validation error: {e}"));
    }
    if let Some(e) = require(
        get("/metadata/annotations", "meta.helm.sh/release-name"),
        "meta.helm.sh/release-name",
        name,
    ) {
        errs.push(format!("annotation validation error: {e}"));
    }
    if let Some(e) = require(
        get("/metadata/annotations", "meta.helm.sh/release-namespace"),
        "meta.helm.sh/release-namespace",
        namespace,
    ) {
        errs.push(format!("annotation validation error: {e}"));
    }
    if errs.is_empty() {
        return Ok(());
    }
    Err(format!("invalid ownership metadata; {}", errs.join("; ")))
}

/// helm's existingResourceConflict: objects that exist already are
/// adopted if this release owns them, an error otherwise.
pub fn existing_conflicts(
    c: &Client,
    res: &[Res],
    name: &str,
    namespace: &str,
) -> Result<Vec<Res>, String> {
    let mut adopt = vec![];
    for r in res {
        match r.get(c) {
            Ok(None) => {}
            Ok(Some(live)) => {
                check_ownership(&live, name, namespace).map_err(|e| {
                    format!(
                        "{} exists and cannot be imported into the current release: {e}",
                        r.describe()
                    )
                })?;
                adopt.push(r.clone());
            }
            Err(e) => {
                return Err(format!(
                    "could not get information about the resource {}: {e}",
                    r.describe()
                ));
            }
        }
    }
    Ok(adopt)
}

/// hashicorp/go-multierror's message, which helm's kube client returns.
pub fn multi_error(errs: &[String]) -> String {
    let points: Vec<String> = errs.iter().map(|e| format!("* {e}")).collect();
    let what = if errs.len() == 1 { "error" } else { "errors" };
    format!(
        "{} {what} occurred:\n\t{}\n\n",
        errs.len(),
        points.join("\n\t")
    )
}

/// Creates every object (helm's Client.Create); failures are collected.
pub fn create_all(c: &Client, res: &[Res]) -> Result<(), String> {
    let errs: Vec<String> = res
        .iter()
        .filter_map(|r| c.create(&r.obj, &r.namespace).err().map(|e| e.to_string()))
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(multi_error(&errs))
    }
}

// ---- the three-way merge -----------------------------------------------------------

/// Is everything `new` says also true of `live` (which may hold more:
/// defaults, status, fields others set)?
fn subset(new: &J, live: &J) -> bool {
    match (new, live) {
        (J::Object(n), J::Object(l)) => n.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => subset(v, lv),
            None => v.is_null() || v.as_object().is_some_and(|o| o.is_empty()),
        }),
        (J::Array(n), J::Array(l)) => {
            n.len() == l.len() && n.iter().zip(l).all(|(a, b)| subset(a, b))
        }
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// The patch taking `live` to `new`, given that `original` is what the
/// release applied last time (helm's three-way merge): every field the new
/// manifest sets (that the live object does not already have), every field
/// the old manifest had and the new one dropped removed (`null`); fields
/// neither manifest mentions — a `kubectl scale`, a defaulted value — are
/// left. With `strategic` (built-in kinds), lists that merge by key
/// (containers and env by name, ports …) are patched item by item, so an
/// item someone added live (an injected sidecar, a `kubectl set env`)
/// survives; otherwise a list that changes is replaced whole.
pub fn three_way_patch(original: Option<&J>, new: &J, live: &J, strategic: bool) -> Map<String, J> {
    // status belongs to the cluster
    let mut new = new.clone();
    if let Some(o) = new.as_object_mut() {
        o.remove("status");
    }
    merge_patch(original, &new, live, &mut Vec::new(), strategic)
}

/// Is this apiVersion served by Kubernetes itself (strategic merge patch
/// works), rather than by a CustomResourceDefinition (merge patch only)?
pub fn is_built_in(api_version: &str) -> bool {
    match api_version.rsplit_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

fn merge_patch(
    original: Option<&J>,
    new: &J,
    live: &J,
    path: &mut Vec<String>,
    strategic: bool,
) -> Map<String, J> {
    let mut patch = Map::new();
    let (Some(n), l) = (new.as_object(), live.as_object()) else {
        return patch;
    };
    let o = original.and_then(|o| o.as_object());
    for (k, nv) in n {
        let lv = l.and_then(|l| l.get(k));
        let ov = o.and_then(|o| o.get(k));
        path.push(k.clone());
        match (nv, lv) {
            (J::Object(_), Some(lvv @ J::Object(_))) => {
                let sub = merge_patch(ov.filter(|x| x.is_object()), nv, lvv, path, strategic);
                if !sub.is_empty() {
                    patch.insert(k.clone(), J::Object(sub));
                }
            }
            (J::Array(na), Some(J::Array(la))) if strategic && keyed(path, na).is_some() => {
                let key = keyed(path, na).unwrap();
                let oa = ov.and_then(|o| o.as_array());
                if let Some((items, order)) = keyed_list_patch(key, oa, na, la, path) {
                    patch.insert(k.clone(), J::Array(items));
                    patch.insert(format!("$setElementOrder/{k}"), J::Array(order));
                }
            }
            (J::Array(_), Some(lvv)) => {
                let chart_changed = ov.is_some_and(|ov| ov != nv);
                if chart_changed || !subset(nv, lvv) {
                    patch.insert(k.clone(), nv.clone());
                }
            }
            (_, Some(lvv)) => {
                if !subset(nv, lvv) {
                    patch.insert(k.clone(), nv.clone());
                }
            }
            (_, None) => {
                if !nv.is_null() {
                    patch.insert(k.clone(), nv.clone());
                }
            }
        }
        path.pop();
    }
    if let (Some(o), Some(l)) = (o, l) {
        for k in o.keys() {
            if !n.contains_key(k) && l.contains_key(k) {
                patch.insert(k.clone(), J::Null);
            }
        }
    }
    patch
}

/// The merge key of the list at `path`, if it has one and every item of
/// the new list carries it.
fn keyed(path: &[String], items: &[J]) -> Option<&'static str> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let key = kubelab_api::strategic::merge_key(&segments)?;
    items.iter().all(|i| i.get(key).is_some()).then_some(key)
}

/// A keyed list, item by item: changed or new items (with their key),
/// `$patch: delete` for items the chart dropped, and the chart's order.
/// `None`: nothing to change.
fn keyed_list_patch(
    key: &str,
    old: Option<&Vec<J>>,
    new: &[J],
    live: &[J],
    path: &mut Vec<String>,
) -> Option<(Vec<J>, Vec<J>)> {
    let find = |list: &[J], v: &J| list.iter().find(|i| i.get(key) == Some(v)).cloned();
    let mut items = vec![];
    for ni in new {
        let kv = &ni[key];
        match find(live, kv) {
            Some(li) => {
                let oi = old.and_then(|o| find(o, kv));
                let mut sub = merge_patch(oi.as_ref(), ni, &li, path, true);
                if !sub.is_empty() {
                    sub.insert(key.to_string(), kv.clone());
                    items.push(J::Object(sub));
                }
            }
            None => items.push(ni.clone()),
        }
    }
    for oi in old.map(|o| o.as_slice()).unwrap_or_default() {
        let kv = &oi[key];
        if find(new, kv).is_none() && find(live, kv).is_some() {
            items.push(json!({ key: kv, "$patch": "delete" }));
        }
    }
    // the order the chart wants, among the items it knows
    let chart_keys: Vec<&J> = new.iter().map(|i| &i[key]).collect();
    let live_keys: Vec<&J> = live
        .iter()
        .map(|i| &i[key])
        .filter(|k| chart_keys.contains(k))
        .collect();
    if items.is_empty() && live_keys == chart_keys {
        return None;
    }
    let order = new.iter().map(|i| json!({ key: i[key].clone() })).collect();
    Some((items, order))
}

/// What an update did.
#[derive(Default)]
pub struct Updated {
    pub created: Vec<Res>,
}

/// helm's kube Client.Update: create what is new, patch what exists
/// (three-way), delete what the old manifest had and the new one has not
/// (unless `helm.sh/resource-policy: keep`).
pub fn update(c: &Client, current: &[Res], target: &[Res], force: bool) -> Result<Updated, String> {
    let mut res = Updated::default();
    let mut errors = vec![];
    for t in target {
        let live = t
            .get(c)
            .map_err(|e| format!("could not get information about the resource: {e}"))?;
        let Some(live) = live else {
            c.create(&t.obj, &t.namespace)
                .map_err(|e| format!("failed to create resource: {e}"))?;
            res.created.push(t.clone());
            continue;
        };
        let Some(orig) = current.iter().find(|o| o.key() == t.key()) else {
            return Err(format!("no {} with the name {:?} found", t.kind, t.name));
        };
        if force {
            let mut obj = t.obj.clone();
            if let Some(rv) = live.pointer("/metadata/resourceVersion") {
                obj["metadata"]["resourceVersion"] = rv.clone();
            }
            if let Err(e) = c.replace(&obj, &t.namespace) {
                errors.push(format!("failed to replace object: {e}"));
            }
            continue;
        }
        let strategic = is_built_in(&t.api_version);
        let patch = three_way_patch(Some(&orig.obj), &t.obj, &live, strategic);
        if patch.is_empty() {
            continue;
        }
        if let Err(e) = c.patch(
            &t.api_version,
            &t.kind,
            &t.namespace,
            &t.name,
            &J::Object(patch),
            strategic,
        ) {
            errors.push(format!(
                "cannot patch {:?} with kind {}: {e}",
                t.name, t.kind
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors.join(" && "));
    }
    for o in current {
        if target.iter().any(|t| t.key() == o.key()) {
            continue;
        }
        let Ok(Some(live)) = o.get(c) else { continue };
        let keep = live
            .pointer("/metadata/annotations")
            .and_then(|a| a.get("helm.sh/resource-policy"))
            .and_then(|p| p.as_str())
            == Some("keep");
        if keep {
            continue;
        }
        let _ = c.delete(&o.api_version, &o.kind, &o.namespace, &o.name);
    }
    Ok(res)
}

/// Deletes objects (background propagation); missing ones are fine.
pub fn delete_all(c: &Client, res: &[Res]) -> Vec<String> {
    let mut errs = vec![];
    for r in res {
        if let Err(e) = c.delete(&r.api_version, &r.kind, &r.namespace, &r.name) {
            errs.push(e.to_string());
        }
    }
    errs
}

/// Waits until the objects are gone.
pub fn wait_for_delete(c: &Client, res: &[Res], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    for r in res {
        loop {
            match r.get(c) {
                Ok(None) => break,
                Ok(Some(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Ok(Some(_)) => return Err("timed out waiting for the condition".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(())
}

// ---- readiness (--wait) --------------------------------------------------------------

fn int(v: &J, p: &str) -> i64 {
    v.pointer(p).and_then(|x| x.as_i64()).unwrap_or(0)
}

fn pod_ready(p: &J) -> bool {
    p.pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn is_ready(c: &Client, r: &Res) -> Result<bool, String> {
    let Some(live) = r.get(c).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    Ok(match r.kind.as_str() {
        "Pod" => pod_ready(&live),
        "Deployment" => {
            if live.pointer("/spec/paused").and_then(|p| p.as_bool()) == Some(true) {
                return Ok(true);
            }
            let want = live
                .pointer("/spec/replicas")
                .and_then(|x| x.as_i64())
                .unwrap_or(1);
            int(&live, "/status/observedGeneration") >= int(&live, "/metadata/generation")
                && int(&live, "/status/updatedReplicas") >= want
                && int(&live, "/status/readyReplicas") >= want
        }
        "StatefulSet" => {
            let want = live
                .pointer("/spec/replicas")
                .and_then(|x| x.as_i64())
                .unwrap_or(1);
            int(&live, "/status/observedGeneration") >= int(&live, "/metadata/generation")
                && int(&live, "/status/readyReplicas") >= want
        }
        "DaemonSet" => {
            let want = int(&live, "/status/desiredNumberScheduled");
            int(&live, "/status/observedGeneration") >= int(&live, "/metadata/generation")
                && int(&live, "/status/updatedNumberScheduled") >= want
                && int(&live, "/status/numberReady") >= want
        }
        "PersistentVolumeClaim" => {
            live.pointer("/status/phase").and_then(|p| p.as_str()) == Some("Bound")
        }
        "Service" => {
            let ty = live
                .pointer("/spec/type")
                .and_then(|t| t.as_str())
                .unwrap_or("ClusterIP");
            match ty {
                "ExternalName" => true,
                "LoadBalancer" => live
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(|i| i.as_array())
                    .is_some_and(|i| !i.is_empty()),
                _ => live
                    .pointer("/spec/clusterIP")
                    .and_then(|i| i.as_str())
                    .is_some_and(|i| !i.is_empty()),
            }
        }
        _ => true,
    })
}

/// helm's `--wait`: every Pod, Deployment, StatefulSet, DaemonSet,
/// Service and PVC ready, or `context deadline exceeded`.
/// With `jobs` (`--wait-for-jobs`), Jobs must also have completed.
pub fn wait_ready(c: &Client, res: &[Res], timeout: Duration, jobs: bool) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    for r in res {
        while !is_ready(c, r)? || (jobs && !job_complete(c, r)?) {
            if Instant::now() >= deadline {
                return Err("context deadline exceeded".into());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    Ok(())
}

/// helm's `--wait-for-jobs` (its ReadyChecker's jobReady): a Job is ready
/// when it has as many successes as `completions` asks (at once when it
/// asks for none), and fails the wait once its failures pass
/// `backoffLimit` (6 by default).
fn job_complete(c: &Client, r: &Res) -> Result<bool, String> {
    if r.kind != "Job" {
        return Ok(true);
    }
    let Some(live) = r.get(c).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let backoff = live
        .pointer("/spec/backoffLimit")
        .and_then(|b| b.as_i64())
        .unwrap_or(6);
    if int(&live, "/status/failed") > backoff {
        return Err(format!("job is failed: {}/{}", r.namespace, r.name));
    }
    Ok(
        match live.pointer("/spec/completions").and_then(|c| c.as_i64()) {
            Some(want) => int(&live, "/status/succeeded") >= want,
            None => true,
        },
    )
}

// ---- hooks ---------------------------------------------------------------------------

/// Waits for a hook Job or Pod to finish (other kinds are done at once).
fn watch_until_ready(c: &Client, r: &Res, timeout: Duration) -> Result<(), String> {
    if r.kind != "Job" && r.kind != "Pod" {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    loop {
        let Some(live) = r.get(c).map_err(|e| e.to_string())? else {
            return Ok(());
        };
        if r.kind == "Job" {
            for cond in live
                .pointer("/status/conditions")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
            {
                if cond["status"] != "True" {
                    continue;
                }
                if cond["type"] == "Complete" {
                    return Ok(());
                }
                if cond["type"] == "Failed" {
                    return Err(format!(
                        "job {} failed: {}",
                        r.name,
                        cond["reason"].as_str().unwrap_or("")
                    ));
                }
            }
        } else {
            match live.pointer("/status/phase").and_then(|p| p.as_str()) {
                Some("Succeeded") => return Ok(()),
                Some("Failed") => return Err(format!("pod {} failed", r.name)),
                _ => {}
            }
        }
        if Instant::now() >= deadline {
            return Err("timed out waiting for the condition".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn delete_hook_by_policy(
    c: &Client,
    h: &release::Hook,
    policy: &str,
    namespace: &str,
    timeout: Duration,
) -> Result<(), String> {
    if h.kind == "CustomResourceDefinition" || !h.delete_policies.iter().any(|p| p == policy) {
        return Ok(());
    }
    let res = build(c, &h.manifest, namespace).map_err(|e| {
        format!(
            "unable to build kubernetes object for deleting hook {}: {e}",
            h.path
        )
    })?;
    let errs = delete_all(c, &res);
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    wait_for_delete(c, &res, timeout)
}

/// helm's execHook: the release's hooks for `event`, by weight then name;
/// each created and waited for, and deleted as its policies say.
pub fn exec_hooks(
    c: &Client,
    store: &Storage,
    rel: &mut Release,
    event: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut idx: Vec<usize> = (0..rel.hooks.len())
        .filter(|i| rel.hooks[*i].events.iter().any(|e| e == event))
        .collect();
    idx.sort_by(|a, b| {
        let (x, y) = (&rel.hooks[*a], &rel.hooks[*b]);
        x.weight.cmp(&y.weight).then_with(|| x.name.cmp(&y.name))
    });
    let ns = rel.namespace.clone();
    for &i in &idx {
        if rel.hooks[i].delete_policies.is_empty() {
            rel.hooks[i].delete_policies = vec!["before-hook-creation".into()];
        }
        delete_hook_by_policy(c, &rel.hooks[i], "before-hook-creation", &ns, timeout)?;
        let res = build(c, &rel.hooks[i].manifest, &ns).map_err(|e| {
            format!(
                "unable to build kubernetes object for {event} hook {}: {e}",
                rel.hooks[i].path
            )
        })?;
        rel.hooks[i].last_run = release::HookExecution {
            started_at: Some(release::now()),
            completed_at: None,
            phase: "Running".into(),
        };
        let _ = store.update(rel);
        rel.hooks[i].last_run.phase = "Unknown".into();
        if let Err(e) = create_all(c, &res) {
            rel.hooks[i].last_run.completed_at = Some(release::now());
            rel.hooks[i].last_run.phase = "Failed".into();
            return Err(format!(
                "warning: Hook {event} {} failed: {e}",
                rel.hooks[i].path
            ));
        }
        let errs: Vec<String> = res
            .iter()
            .filter_map(|r| watch_until_ready(c, r, timeout).err())
            .collect();
        let result = if errs.is_empty() {
            Ok(())
        } else {
            Err(multi_error(&errs))
        };
        rel.hooks[i].last_run.completed_at = Some(release::now());
        if let Err(e) = result {
            rel.hooks[i].last_run.phase = "Failed".into();
            let _ = delete_hook_by_policy(c, &rel.hooks[i], "hook-failed", &ns, timeout);
            return Err(e);
        }
        rel.hooks[i].last_run.phase = "Succeeded".into();
    }
    for &i in idx.iter().rev() {
        delete_hook_by_policy(c, &rel.hooks[i], "hook-succeeded", &ns, timeout)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_way_keeps_live_only_changes() {
        let old = json!({"spec": {"replicas": 1, "template": {"x": 1}, "gone": 5}, "metadata": {"labels": {"a": "1", "b": "2"}}});
        let new = json!({"spec": {"template": {"x": 2}}, "metadata": {"labels": {"a": "1"}}});
        let live = json!({"spec": {"replicas": 3, "template": {"x": 1}, "gone": 5, "defaulted": true}, "metadata": {"labels": {"a": "1", "b": "2"}}});
        let p = three_way_patch(Some(&old), &new, &live, false);
        // replicas was dropped from the chart: helm removes it
        assert_eq!(
            J::Object(p),
            json!({"spec": {"template": {"x": 2}, "replicas": null, "gone": null}, "metadata": {"labels": {"b": null}}})
        );
        // a field the chart never set survives
        let old = json!({"spec": {"template": {"x": 1}}});
        let new = json!({"spec": {"template": {"x": 2}}});
        let live = json!({"spec": {"replicas": 3, "template": {"x": 1}}});
        assert_eq!(
            J::Object(three_way_patch(Some(&old), &new, &live, false)),
            json!({"spec": {"template": {"x": 2}}})
        );
    }

    #[test]
    fn keyed_lists_merge_item_by_item() {
        let c = |env: J| json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "v1", "env": env}]}}}});
        let old = c(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        let new = c(json!([{"name": "A", "value": "9"}]));
        // someone added C live (kubectl set env)
        let live = c(
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]),
        );
        let p = J::Object(three_way_patch(Some(&old), &new, &live, true));
        assert_eq!(
            p,
            json!({"spec": {"template": {"spec": {
                "containers": [{"name": "web", "env": [{"name": "A", "value": "9"}, {"name": "B", "$patch": "delete"}],
                    "$setElementOrder/env": [{"name": "A"}]}],
                "$setElementOrder/containers": [{"name": "web"}]}}}})
        );
        // applied by chapter 01's API server code, C survives
        let after = kubelab_apiserver::patch::strategic_merge(&live, &p).unwrap();
        assert_eq!(
            after
                .pointer("/spec/template/spec/containers/0/env")
                .unwrap(),
            &json!([{"name": "A", "value": "9"}, {"name": "C", "value": "3"}])
        );
        // nothing changed: no patch
        assert!(three_way_patch(Some(&old), &old, &live, true).is_empty());
        assert!(is_built_in("apps/v1") && is_built_in("v1") && is_built_in("networking.k8s.io/v1"));
        assert!(!is_built_in("example.invalid/v1"));
    }

    #[test]
    fn lists_change_whole_and_defaults_are_no_change() {
        let old = json!({"c": [{"name": "a", "image": "x"}]});
        let live = json!({"c": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}]});
        assert!(three_way_patch(Some(&old), &old, &live, false).is_empty());
        let new = json!({"c": [{"name": "a", "image": "y"}]});
        assert_eq!(
            J::Object(three_way_patch(Some(&old), &new, &live, false)),
            json!({"c": [{"name": "a", "image": "y"}]})
        );
    }
}
