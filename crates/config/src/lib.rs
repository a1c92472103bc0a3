//! # kubelab-config — configuration into pods, Secrets kept secret (chapter 04)
//!
//! An image should run anywhere; what differs between a laptop and
//! production — a colour, a database URL, a password — comes from outside,
//! as ConfigMaps and Secrets. Chapter 01 can already store them. This
//! chapter makes them reach pods, and keeps Secrets unreadable on disk:
//!
//! ```text
//!  kubectl create configmap/secret ──▶ API server ── Secret strategy: encrypt (encryption)
//!                                         │                     └──▶ store: k8s:enc:secretbox:v1:key1:…
//!                                   watch │
//!                                         ▼
//!  kubelet ── config plugin (plugin) ── env, envFrom ──▶ the container's variables
//!                  │                 └─ volumes ──▶ atomic_writer: ..data swap ──▶ files in the pod
//!                  └── ConfigMap changed ──▶ refresh: the mounted files change (≤ 1 s)
//! ```
//!
//! The chapter plugs in through [`install`] and edits no other crate:
//! - strategy layers for ConfigMaps, Secrets and Pods ([`validation`]),
//!   and Secrets' storage [`encryption`] — both in the API server's
//!   strategy registry;
//! - a kubelet plugin ([`plugin`]) that resolves references, writes
//!   volumes and keeps them current;
//! - the `root-ca-cert-publisher` controller ([`root_ca`]): the cluster's
//!   CA as the ConfigMap `kube-root-ca.crt` in every namespace.
//!
//! ## Where to start reading
//! [`plugin::ConfigPlugin`]'s `env_value` and `prepare_pod`, then
//! [`atomic_writer::write_payload`], then [`encryption`].
//!
//! Simplification: references are read from the kubelet's caches (two
//! shared informers), not fetched per pod; a change reaches mounted files at
//! once instead of at the next periodic sync.

pub mod atomic_writer;
pub mod encryption;
pub mod plugin;
pub mod root_ca;
pub mod sources;
pub mod validation;
pub mod volumes;

use std::sync::Arc;

use kubelab_apiserver::storage::Transformer;
use kubelab_apiserver::strategy::{Strategies, Strategy};
use kubelab_client::{Change, Cluster, ClusterBuilder, Phase};
use kubelab_kubelet::KubeletPlugins;

/// Settings of this chapter (a builder slot): lab 04 puts its own atomic
/// writer here.
#[derive(Clone, Copy)]
pub struct ConfigOptions {
    pub writer: atomic_writer::WriteFn,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions {
            writer: atomic_writer::write_payload,
        }
    }
}

/// A strategy layer that only stores its kind encrypted.
struct Encrypted(encryption::Envelope);

impl Strategy for Encrypted {
    fn transformer(&self) -> Option<Arc<dyn Transformer>> {
        Some(Arc::new(self.0.clone()))
    }
}

/// Chapter 04: ConfigMaps and Secrets into pods, Secrets encrypted at rest.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    let strategies = b.slot::<Strategies>();
    strategies.register("", "ConfigMap", validation::ConfigMapRules);
    strategies.register("", "Secret", validation::SecretRules);
    strategies.register("", "Pod", validation::PodRules);
    // Encryption at rest: a transformer for each resource the configuration names.
    let opts = b.options().clone();
    match encryption::load(opts.encryption_provider_config.as_deref(), &opts.data_dir) {
        Ok(config) => {
            for (resource, envelope) in config.resources {
                let Some(info) = resource_info(&resource) else {
                    continue;
                };
                b.slot::<Strategies>()
                    .register(info.group, info.kind, Encrypted(envelope));
            }
        }
        // Reported when the cluster starts, as kube-apiserver refuses to.
        Err(e) => {
            let e = e.to_string();
            b.on_start(Phase::ApiServer, "encryption-config", move |_| async move {
                anyhow::bail!("--encryption-provider-config: {e}")
            });
        }
    }
    // kube-controller-manager's root-ca-cert-publisher (needs the TLS CA).
    b.on_start(
        Phase::ControlPlane,
        "root-ca-cert-publisher",
        |c: Cluster| async move {
            // In a separate kube-controller-manager, the CA comes with
            // its kubeconfig, as upstream's `--root-ca-file`.
            if let Some(ca) = c
                .get::<kubelab_apiserver::ApiServer>()
                .and_then(|a| a.ca_pem)
                .or_else(|| c.client().ca_pem())
            {
                root_ca::RootCaPublisher::start(&c.client(), &c.informers(), ca);
            }
            Ok(())
        },
    );
    // The kubelet's half: references, volumes, live updates.
    let writer = b.get::<ConfigOptions>().copied().unwrap_or_default().writer;
    let plugin = Arc::new(plugin::ConfigPlugin::new(writer));
    b.slot::<KubeletPlugins>().add(plugin.clone());
    b.on_start(
        Phase::NodeSetup,
        "config-and-secret-managers",
        move |c: Cluster| async move { start_sources(&c, plugin).await },
    );
}
// ANCHOR_END: install

/// `secrets`, `configmaps`, `deployments.apps`: the resource a line of
/// an `EncryptionConfiguration` names.
fn resource_info(name: &str) -> Option<&'static kubelab_api::ResourceInfo> {
    let (plural, group) = name.split_once('.').unwrap_or((name, ""));
    kubelab_api::RESOURCES
        .iter()
        .find(|r| r.plural == plural && r.group == group)
}

/// Fills the plugin's caches before any pod is synced, and rewrites
/// mounted volumes whenever a ConfigMap or Secret changes.
async fn start_sources(c: &Cluster, plugin: Arc<plugin::ConfigPlugin>) -> anyhow::Result<()> {
    let informers = c.informers();
    let s = sources::Sources {
        configmaps: informers.of("v1", "ConfigMap"),
        secrets: informers.of("v1", "Secret"),
    };
    s.configmaps.synced().await;
    s.secrets.synced().await;
    for (kind, informer) in [
        (sources::Kind::ConfigMap, s.configmaps.clone()),
        (sources::Kind::Secret, s.secrets.clone()),
    ] {
        let mut changes = informer.subscribe();
        let plugin = plugin.clone();
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                if let Change::Modified { .. } | Change::Added(_) = change {
                    let m = &change.object()["metadata"];
                    let ns = m["namespace"].as_str().unwrap_or_default().to_string();
                    let name = m["name"].as_str().unwrap_or_default().to_string();
                    // File writes: off the async workers.
                    let p = plugin.clone();
                    let _ = tokio::task::spawn_blocking(move || p.refresh(kind, &ns, &name)).await;
                }
            }
        });
    }
    let _ = plugin.sources.set(s);
    Ok(())
}
