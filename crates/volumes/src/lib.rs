//! # kubelab-volumes — storage that outlives a container (chapter 05)
//!
//! A container's files live in its own writable layer: when it restarts,
//! they are gone. This chapter gives pods places to keep files — for the
//! life of the pod, on the node, or for as long as a claim exists — and
//! gives them files about themselves (their labels, their identity):
//!
//! ```text
//!  pod.spec.volumes ─▶ kubelet: volume plugin (plugin)
//!     emptyDir ─────────▶ <pod dir>/volumes/kubernetes.io~empty-dir/<name> (tmpfs if Memory)
//!     hostPath ─────────▶ the node's path, type-checked
//!     downwardAPI, projected ─▶ files written by the atomic writer (ch04), kept current
//!     persistentVolumeClaim ─▶ the bound PersistentVolume's directory
//!                                   ▲
//!  PVC ─▶ binder (binder) ──match (claims)──┤ a free PV
//!            │ no match, class standard     │
//!            └─▶ provisioner (provisioner) ─┘ a new PV: <data>/storage/<node>/pvc-…
//!  scheduler ─▶ VolumeBinding (scheduling): pods go where their volumes are
//!  ServiceAccounts (serviceaccounts): a signed token (tokens) mounted in every pod
//! ```
//!
//! The chapter plugs in through [`install`] and edits no other crate's
//! logic: strategy layers ([`validation`]), an authenticator and the
//! `token` subresource in the API server's extensions, four controllers
//! (ServiceAccounts, binder, provisioner, in-use protection), a scheduler
//! plugin, and a kubelet plugin.
//!
//! ## Where to start reading
//! [`plugin::VolumePlugin`]'s `prepare_pod` and `container_mounts`; then
//! [`claims::find_best_match`] and [`binder::Binder`]'s `sync_claim`; then
//! [`provisioner`]; then [`serviceaccounts`].

pub mod binder;
pub mod claims;
pub mod ownership;
pub mod plugin;
pub mod pod_volumes;
pub mod protection;
pub mod provisioner;
pub mod scheduling;
pub mod serviceaccounts;
pub mod tokens;
pub mod validation;

use std::sync::Arc;

use kubelab_apiserver::extensions::ApiExtensions;
use kubelab_apiserver::strategy::Strategies;
use kubelab_client::rest;
use kubelab_client::{Cluster, ClusterBuilder, Phase};
use kubelab_client::{Informer, Reconciler, WorkQueue};
use kubelab_kubelet::KubeletPlugins;
use kubelab_scheduler::SchedulerPlugins;
use serde_json::json;

/// Settings of this chapter (a builder slot): lab 05 puts its own
/// volume-matching function here.
#[derive(Clone, Copy)]
pub struct VolumeOptions {
    pub matcher: claims::MatchFn,
}

impl Default for VolumeOptions {
    fn default() -> Self {
        VolumeOptions {
            matcher: claims::find_best_match,
        }
    }
}

/// The default StorageClass every cluster starts with (kind's `standard`).
// ANCHOR: standard_class
pub fn standard_class() -> serde_json::Value {
    json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard",
                     "annotations": {binder::DEFAULT_CLASS: "true"}},
        "provisioner": provisioner::NAME,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    })
}
// ANCHOR_END: standard_class

/// Chapter 05: volumes, claims and ServiceAccount tokens.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    let opts = b.options().clone();
    let strategies = b.slot::<Strategies>();
    strategies.register("", "Pod", validation::PodVolumeRules);
    strategies.register(
        "",
        "Pod",
        serviceaccounts::PodServiceAccount {
            mount_tokens: !opts.ephemeral,
        },
    );
    strategies.register("", "PersistentVolumeClaim", validation::ClaimRules);
    strategies.register("", "PersistentVolume", validation::VolumeRules);
    strategies.register("storage.k8s.io", "StorageClass", validation::ClassRules);

    // ServiceAccount tokens: signed and believed by the API server.
    match tokens::Signer::load_or_create((!opts.ephemeral).then_some(opts.data_dir.as_path())) {
        Ok(signer) => {
            let signer = Arc::new(signer);
            b.slot::<ApiExtensions>()
                .authenticator(serviceaccounts::TokenAuthenticator(signer.clone()))
                .subresource(
                    "",
                    "ServiceAccount",
                    "token",
                    serviceaccounts::TokenRequest(signer),
                );
        }
        Err(e) => {
            let e = e.to_string();
            b.on_start(
                Phase::ApiServer,
                "service-account-key",
                move |_| async move { anyhow::bail!("the service account signing key: {e}") },
            );
        }
    }

    // The scheduler's VolumeBinding plugin; its caches are set below.
    let binding = scheduling::VolumeBinding::default();
    let matcher = b
        .get::<VolumeOptions>()
        .copied()
        .unwrap_or_default()
        .matcher;
    let sched = b.slot::<SchedulerPlugins>();
    sched.filters.push(Arc::new(binding.clone()));
    sched.pre_binds.push(Arc::new(binding.clone()));
    let retry = sched.retry.clone();

    // The kubelet's volume manager.
    let plugin = Arc::new(plugin::VolumePlugin::default());
    b.slot::<KubeletPlugins>().add(plugin.clone());

    b.on_start(
        Phase::ApiServer,
        "volume-caches",
        move |c: Cluster| async move {
            let i = c.informers();
            let _ = binding.0.set(scheduling::Caches {
                claims: i.of("v1", "PersistentVolumeClaim"),
                volumes: i.of("v1", "PersistentVolume"),
                classes: i.of("storage.k8s.io/v1", "StorageClass"),
                client: c.client().named("kube-scheduler"),
                matcher,
            });
            Ok(())
        },
    );
    b.controller("serviceaccount-controller", |client, informers| {
        serviceaccounts::ServiceAccountController::start(client, informers);
    });
    b.controller("persistentvolume-binder", move |client, informers| {
        binder::Binder::start(client, informers, matcher, retry);
    });
    b.controller("pvc-protection-controller", |client, informers| {
        protection::Protection::start(client, informers);
    });
    let storage = opts.data_dir.join("storage");
    b.controller("local-path-provisioner", move |client, informers| {
        provisioner::Provisioner::start(client, informers, storage);
    });
    b.on_start(
        Phase::ControlPlane,
        "default-storage-class",
        |c: Cluster| async move {
            let list = rest::path(
                rest::resource("storage.k8s.io/v1", "StorageClass"),
                None,
                None,
            );
            match c.client().create(&list, &standard_class()).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_already_exists() => Ok(()),
                Err(e) => Err(anyhow::anyhow!("creating the default StorageClass: {e}")),
            }
        },
    );
    b.on_start(
        Phase::NodeSetup,
        "volume-manager",
        move |c: Cluster| async move {
            let i = c.informers();
            let config = kubelab_config::sources::Sources {
                configmaps: i.of("v1", "ConfigMap"),
                secrets: i.of("v1", "Secret"),
            };
            let caches = plugin::Caches {
                client: c.client().named("kubelet"),
                claims: i.of("v1", "PersistentVolumeClaim"),
                volumes: i.of("v1", "PersistentVolume"),
                config,
            };
            caches.claims.synced().await;
            caches.volumes.synced().await;
            let _ = plugin.caches.set(caches);
            tokio::spawn(plugin.keep_files_current());
            Ok(())
        },
    );
}
// ANCHOR_END: install

/// Starts a controller's workers once its caches are filled. A decision
/// made on a half-filled cache can destroy data: a volume whose claim is
/// not cached *yet* looks released, and reclaim policy Delete removes its
/// directory (upstream's controllers wait for `HasSynced` the same way).
pub(crate) fn run_when_synced<R: Reconciler>(
    reconciler: Arc<R>,
    queue: WorkQueue,
    workers: usize,
    caches: Vec<Informer>,
) {
    tokio::spawn(async move {
        for c in &caches {
            c.synced().await;
        }
        kubelab_client::run(reconciler, queue, workers).await;
    });
}
