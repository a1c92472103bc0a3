//! The root CA publisher: a `kube-root-ca.crt` ConfigMap in every namespace.
//!
//! A program in a pod that talks to the API server
//! (`https://kubernetes.default.svc`) must trust the cluster's CA. Upstream's
//! kube-controller-manager runs the `root-ca-cert-publisher`, which keeps a
//! ConfigMap named `kube-root-ca.crt`, holding `ca.crt`, in every namespace;
//! service-account token volumes project it into pods. It is the first
//! ConfigMap a learner sees in `kubectl get configmaps` of a new namespace.
//!
//! The controller in the course's one pattern: it watches Namespaces and
//! those ConfigMaps, and `reconcile(namespace)` makes the ConfigMap exist
//! with the CA, whatever happened to it.

use std::sync::Arc;

use kubelab_client::informer::key_of;
use kubelab_client::rest::{self, Client};
use kubelab_client::{Action, Error, Informer, InformerFactory, Reconciler, WorkQueue};
use serde_json::{Value, json};

pub const NAME: &str = "kube-root-ca.crt";

const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub struct RootCaPublisher {
    client: Client,
    namespaces: Informer,
    configmaps: Informer,
    ca_pem: String,
}

impl RootCaPublisher {
    pub fn start(
        client: &Client,
        informers: &InformerFactory,
        ca_pem: String,
    ) -> Arc<RootCaPublisher> {
        let p = Arc::new(RootCaPublisher {
            client: client.named("root-ca-cert-publisher"),
            namespaces: informers.of("v1", "Namespace"),
            configmaps: informers.of("v1", "ConfigMap"),
            ca_pem,
        });
        let queue = WorkQueue::new();
        kubelab_client::feed(&p.namespaces, &queue, |ch| vec![key_of(ch.object())]);
        // Someone edited or deleted ours: put it back.
        kubelab_client::feed(&p.configmaps, &queue, |ch| {
            let m = &ch.object()["metadata"];
            match m["name"] == NAME {
                true => vec![m["namespace"].as_str().unwrap_or_default().to_string()],
                false => Vec::new(),
            }
        });
        tokio::spawn(kubelab_client::run(p.clone(), queue, 2));
        p
    }

    fn wanted(&self, namespace: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": namespace,
                         "annotations": {"kubernetes.io/description": DESCRIPTION}},
            "data": {"ca.crt": self.ca_pem},
        })
    }
}

#[async_trait::async_trait]
impl Reconciler for RootCaPublisher {
    fn name(&self) -> &'static str {
        "root-ca-cert-publisher"
    }

    async fn reconcile(&self, namespace: &str) -> Result<Action, Error> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Ok(Action::Done);
        };
        if kubelab_api::meta::is_being_deleted(&ns) {
            return Ok(Action::Done);
        }
        let list = rest::path(rest::resource("v1", "ConfigMap"), Some(namespace), None);
        match self.configmaps.get(&format!("{namespace}/{NAME}")) {
            None => match self.client.create(&list, &self.wanted(namespace)).await {
                Ok(_) => {}
                Err(e) if e.is_already_exists() || e.code == 403 => {}
                Err(e) => return Err(e.into()),
            },
            Some(cm) if cm["data"]["ca.crt"] != self.ca_pem.as_str() => {
                let mut fixed = self.wanted(namespace);
                fixed["metadata"]["resourceVersion"] = cm["metadata"]["resourceVersion"].clone();
                self.client
                    .replace(&format!("{list}/{NAME}"), &fixed)
                    .await?;
            }
            Some(_) => {}
        }
        Ok(Action::Done)
    }
}
