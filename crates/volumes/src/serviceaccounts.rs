//! ServiceAccounts: an identity for the programs in pods.
//!
//! Four pieces, each upstream's:
//!
//! 1. the **ServiceAccount controller** (kube-controller-manager) keeps a
//!    ServiceAccount named `default` in every namespace;
//! 2. the **ServiceAccount admission plugin** gives every new pod
//!    `serviceAccountName: default` if it names none, and — unless
//!    `automountServiceAccountToken: false` on the pod or its account — a
//!    projected volume `kube-api-access-xxxxx` mounted read-only at
//!    `/var/run/secrets/kubernetes.io/serviceaccount` in each container:
//!    `token`, `ca.crt` and `namespace`, what in-cluster clients read;
//! 3. the **TokenRequest API**, `POST …/serviceaccounts/<name>/token`
//!    (`kubectl create token`): a signed, expiring JWT ([`crate::tokens`]),
//!    optionally bound to a pod — the kubelet asks for one per pod;
//! 4. the **token authenticator**: the API server accepts such a token as
//!    `system:serviceaccount:<namespace>:<name>` while the account (and
//!    the pod it is bound to) still exists.
//!
//! Simplification: authorization is still `AlwaysAllow` (chapter 01), so a
//! ServiceAccount may do anything the admin may; RBAC comes with the
//! security chapter. A pod naming a ServiceAccount that does not exist is
//! refused (403) as upstream, except `default` itself, which a namespace
//! created a moment ago may not have yet.

use std::sync::Arc;

use kubelab_api::validation::Cause;
use kubelab_apiserver::Objects;
use kubelab_apiserver::extensions::{Authenticator, SubresourceHandler};
use kubelab_apiserver::server::User;
use kubelab_apiserver::status::ApiError;
use kubelab_apiserver::strategy::{Guard, Strategy};
use kubelab_client::informer::key_of;
use kubelab_client::rest::{self, Client};
use kubelab_client::{Action, Error, Informer, InformerFactory, Reconciler, WorkQueue};
use serde_json::{Value, json};

use crate::tokens::{ISSUER, Signer};

/// Where the token, CA and namespace appear in a container.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// What the admission plugin asks for (upstream: 1 h + 7 s, so that tokens
/// of this exact length can be told apart).
pub const TOKEN_SECONDS: i64 = 3607;
/// The shortest token TokenRequest hands out (upstream: 10 minutes).
pub const MIN_TOKEN_SECONDS: i64 = 600;
/// The longest (upstream: 2^32 seconds).
pub const MAX_TOKEN_SECONDS: i64 = 1 << 32;

/// What is wrong with a token lifetime, in upstream's words.
pub fn token_lifetime_problem(seconds: i64) -> Option<&'static str> {
    if seconds < MIN_TOKEN_SECONDS {
        Some("may not specify a duration less than 10 minutes")
    } else if seconds > MAX_TOKEN_SECONDS {
        Some("may not specify a duration larger than 2^32 seconds")
    } else {
        None
    }
}

fn sa_info() -> &'static kubelab_api::ResourceInfo {
    kubelab_api::registry::by_kind("v1", "ServiceAccount").unwrap()
}

fn pod_info() -> &'static kubelab_api::ResourceInfo {
    kubelab_api::registry::by_kind("v1", "Pod").unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// --- 1. the controller -------------------------------------------------

/// Keeps a `default` ServiceAccount in every namespace.
pub struct ServiceAccountController {
    client: Client,
    namespaces: Informer,
    accounts: Informer,
}

impl ServiceAccountController {
    pub fn start(client: &Client, informers: &InformerFactory) -> Arc<Self> {
        let c = Arc::new(ServiceAccountController {
            client: client.named("serviceaccount-controller"),
            namespaces: informers.of("v1", "Namespace"),
            accounts: informers.of("v1", "ServiceAccount"),
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&c.namespaces, &queue, |ch| vec![key_of(ch.object())]);
        // Someone deleted `default`: make it again.
        kubelab_client::feed(&c.accounts, &queue, |ch| {
            let m = &ch.object()["metadata"];
            match m["name"] == "default" {
                true => vec![m["namespace"].as_str().unwrap_or_default().to_string()],
                false => Vec::new(),
            }
        });
        tokio::spawn(kubelab_client::run(c.clone(), queue, 2));
        c
    }
}

#[async_trait::async_trait]
impl Reconciler for ServiceAccountController {
    fn name(&self) -> &'static str {
        "serviceaccount-controller"
    }

    async fn reconcile(&self, namespace: &str) -> Result<Action, Error> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Ok(Action::Done);
        };
        if kubelab_api::meta::is_being_deleted(&ns)
            || self.accounts.get(&format!("{namespace}/default")).is_some()
        {
            return Ok(Action::Done);
        }
        let list = rest::path(sa_info(), Some(namespace), None);
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": namespace}});
        match self.client.create(&list, &sa).await {
            Ok(_) => Ok(Action::Done),
            // Exists already, or the namespace is terminating.
            Err(e) if e.is_already_exists() || e.code == 403 => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

// --- 2. admission ------------------------------------------------------

/// The pod's ServiceAccount and token volume (a strategy layer on Pod:
/// upstream's ServiceAccount admission plugin).
pub struct PodServiceAccount {
    /// False when the cluster has no authentication (an ephemeral test
    /// cluster): a token would mean nothing, so none is mounted.
    pub mount_tokens: bool,
}

/// The projected volume upstream's admission plugin adds.
// ANCHOR: token_volume
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
}
// ANCHOR_END: token_volume

fn mounts_token_dir(c: &Value) -> bool {
    c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(MOUNT_PATH))
}

#[async_trait::async_trait]
impl Strategy for PodServiceAccount {
    fn prepare_for_create(&self, pod: &mut Value) {
        let Some(spec) = pod.get_mut("spec").filter(|s| s.is_object()) else {
            return;
        };
        let name = spec["serviceAccountName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .or(spec["serviceAccount"].as_str().filter(|s| !s.is_empty()))
            .unwrap_or("default")
            .to_string();
        spec["serviceAccountName"] = json!(name);
        spec["serviceAccount"] = json!(name);
    }

    async fn allocate(
        &self,
        objects: &Objects,
        pod: &mut Value,
        old: Option<&Value>,
    ) -> Result<Option<Guard>, ApiError> {
        if old.is_some() {
            return Ok(None);
        }
        let ns = pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let account = pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let sa = match objects.get(sa_info(), Some(&ns), &account).await {
            Ok(sa) => Some(sa),
            Err(e) if e.reason == "NotFound" && account == "default" => None,
            Err(e) if e.reason == "NotFound" => {
                return Err(ApiError::forbidden(format!(
                    "pods \"{}\" is forbidden: error looking up service account {ns}/{account}: serviceaccount \"{account}\" not found",
                    kubelab_api::meta::name(pod)
                )));
            }
            Err(e) => return Err(e),
        };
        let automount = match &pod["spec"]["automountServiceAccountToken"] {
            Value::Bool(b) => *b,
            _ => sa.is_none_or(|sa| sa["automountServiceAccountToken"] != false),
        };
        if !automount || !self.mount_tokens {
            return Ok(None);
        }
        let containers = |p: &Value| {
            ["containers", "initContainers"]
                .iter()
                .flat_map(|k| p["spec"][k].as_array().cloned().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        // A container that mounts something there itself keeps its own.
        if containers(pod).iter().all(mounts_token_dir) {
            return Ok(None);
        }
        let volume = kubelab_api::meta::generate_name("kube-api-access-");
        let volumes = &mut pod["spec"]["volumes"];
        if !volumes.is_array() {
            *volumes = json!([]);
        }
        volumes.as_array_mut().unwrap().push(token_volume(&volume));
        for k in ["containers", "initContainers"] {
            let list = pod["spec"].get_mut(k).and_then(Value::as_array_mut);
            for c in list.into_iter().flatten().filter(|c| !mounts_token_dir(c)) {
                let mounts = &mut c["volumeMounts"];
                if !mounts.is_array() {
                    *mounts = json!([]);
                }
                mounts.as_array_mut().unwrap().push(json!({
                    "name": volume, "mountPath": MOUNT_PATH, "readOnly": true,
                }));
            }
        }
        Ok(None)
    }
}

// --- 3. TokenRequest -----------------------------------------------------

/// `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`.
pub struct TokenRequest(pub Arc<Signer>);

#[async_trait::async_trait]
impl SubresourceHandler for TokenRequest {
    // ANCHOR: token_request
    async fn create(&self, objects: &Objects, sa: &Value, body: Value) -> Result<Value, ApiError> {
        let ns = kubelab_api::meta::namespace(sa).to_string();
        let name = kubelab_api::meta::name(sa).to_string();
        let spec = &body["spec"];
        let seconds = spec["expirationSeconds"].as_i64().unwrap_or(3600);
        let invalid = |causes: &[Cause]| {
            ApiError::invalid("authentication.k8s.io", "TokenRequest", &name, causes)
        };
        if let Some(why) = token_lifetime_problem(seconds) {
            return Err(invalid(&[Cause::invalid(
                "spec.expirationSeconds",
                &json!(seconds),
                why,
            )]));
        }
        let audiences = spec["audiences"]
            .as_array()
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| vec![json!(ISSUER)]);
        let iat = now();
        let mut claims = json!({
            "iss": ISSUER, "aud": audiences,
            "sub": format!("system:serviceaccount:{ns}:{name}"),
            "iat": iat, "nbf": iat, "exp": iat + seconds,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": {"namespace": ns,
                              "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}},
        });
        // A token bound to a pod dies with the pod.
        let bound = &spec["boundObjectRef"];
        if bound.is_object() {
            if bound["kind"] != "Pod" {
                return Err(invalid(&[Cause::not_supported(
                    "spec.boundObjectRef.kind",
                    &bound["kind"],
                    &["Pod"],
                )]));
            }
            let pod_name = bound["name"].as_str().unwrap_or_default();
            let pod = objects.get(pod_info(), Some(&ns), pod_name).await?;
            let uid = &pod["metadata"]["uid"];
            if !bound["uid"].is_null() && bound["uid"] != *uid {
                let mut e = ApiError::conflict("", "pods", pod_name);
                e.message = format!(
                    "the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated",
                    bound["uid"].as_str().unwrap_or_default()
                );
                return Err(e);
            }
            claims["kubernetes.io"]["pod"] = json!({"name": pod_name, "uid": uid});
            if let Some(node) = pod["spec"]["nodeName"].as_str() {
                claims["kubernetes.io"]["node"] = json!({"name": node});
            }
        }
        let expires = chrono::DateTime::from_timestamp(iat + seconds, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        Ok(json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns,
                         "creationTimestamp": kubelab_api::meta::now()},
            "spec": {"audiences": claims["aud"], "expirationSeconds": seconds,
                     "boundObjectRef": if bound.is_object() { bound.clone() } else { Value::Null }},
            "status": {"token": self.0.sign(&claims), "expirationTimestamp": expires},
        }))
    }
    // ANCHOR_END: token_request
}

// --- 4. the authenticator ------------------------------------------------

/// Accepts our tokens while what they name still exists.
pub struct TokenAuthenticator(pub Arc<Signer>);

#[async_trait::async_trait]
impl Authenticator for TokenAuthenticator {
    async fn authenticate(&self, objects: &Objects, token: &str) -> Option<User> {
        let claims = self.0.verify(token, now())?;
        let k = &claims["kubernetes.io"];
        let ns = k["namespace"].as_str()?;
        let sa = objects
            .get(sa_info(), Some(ns), k["serviceaccount"]["name"].as_str()?)
            .await
            .ok()?;
        if sa["metadata"]["uid"] != k["serviceaccount"]["uid"] {
            return None; // deleted and made again: a new identity
        }
        if let Some(pod_name) = k["pod"]["name"].as_str() {
            let pod = objects.get(pod_info(), Some(ns), pod_name).await.ok()?;
            if pod["metadata"]["uid"] != k["pod"]["uid"] {
                return None;
            }
        }
        Some(User {
            name: claims["sub"].as_str()?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_the_default_account_and_the_legacy_field() {
        let s = PodServiceAccount { mount_tokens: true };
        let mut pod = json!({"spec": {"containers": [{"name": "c"}]}});
        s.prepare_for_create(&mut pod);
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        assert_eq!(pod["spec"]["serviceAccount"], "default");
        let mut pod = json!({"spec": {"serviceAccount": "builder", "containers": []}});
        s.prepare_for_create(&mut pod);
        assert_eq!(pod["spec"]["serviceAccountName"], "builder");
    }

    #[test]
    fn the_token_volume_has_upstreams_three_files() {
        let v = token_volume("kube-api-access-abcde");
        let paths: Vec<&str> = v["projected"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["serviceAccountToken"]["path"]
                    .as_str()
                    .or(s["configMap"]["items"][0]["path"].as_str())
                    .or(s["downwardAPI"]["items"][0]["path"].as_str())
                    .unwrap()
            })
            .collect();
        assert_eq!(paths, ["token", "ca.crt", "namespace"]);
        assert_eq!(v["projected"]["defaultMode"], 420);
    }
}
