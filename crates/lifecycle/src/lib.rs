//! # kubelab-lifecycle — multi-container pods (chapter 07)
//!
//! Chapter 02's kubelet starts a pod's `containers` all at once and calls
//! a running container ready. Real pods are more: **init containers** that
//! run to completion first (a migration, a wait for a database), **native
//! sidecars** that start before the app and outlive it (a proxy, a log
//! shipper), **probes** that tell the kubelet whether a container has
//! started, is alive, is ready for traffic, and **hooks** that run right
//! after start and right before stop. This crate adds all of that to the
//! kubelet as one kubelet plugin, plus the API server's rules for it:
//!
//! | piece | upstream | here |
//! |---|---|---|
//! | init containers, sidecars, probe kills | `computePodActions` | [`sequence::next_steps`] (pure) |
//! | probe workers | `pkg/kubelet/prober` | [`prober`] |
//! | one attempt → a verdict | `worker.doProbe` | [`results::observe`], [`results::initial`] (lab 07) |
//! | exec / HTTP / TCP / gRPC | `pkg/probe/*` | [`probe`] |
//! | postStart / preStop | `pkg/kubelet/lifecycle` | [`hooks`] |
//! | validation | `pkg/apis/core/validation` | [`validation`] |
//!
//! Two things of this chapter live in earlier crates because they are the
//! runtime's and the API's: a **shared process namespace** (the pause
//! process becomes PID 1 of a pod-wide PID namespace: `kubelab-runtime`)
//! and **ephemeral containers** (the `pods/x/ephemeralcontainers`
//! subresource that `kubectl debug` patches: `kubelab-apiserver`). The
//! kubelet runs them through this plugin's [`sequence::next_steps`].
//!
//! ## Where to start reading
//! [`sequence::next_steps`], then [`prober::Prober::sync`] and the worker
//! loop, then [`results::observe`].

pub mod hooks;
pub mod probe;
pub mod prober;
pub mod results;
pub mod sequence;
pub mod validation;

use std::sync::Arc;

use kubelab_apiserver::strategy::Strategies;
use kubelab_client::ClusterBuilder;
use kubelab_kubelet::KubeletPlugins;
use kubelab_kubelet::actions::PodActions;
use kubelab_kubelet::plugin::{Health, HookContext, KubeletPlugin, NodeInfo, PodContext};
use serde_json::Value;

use crate::results::{InitialFn, ObserveFn};

/// What lab 07 replaces: the result state machine of every probe (its
/// first verdict and how attempts change it).
#[derive(Clone, Copy)]
pub struct LifecycleOptions {
    pub observe: ObserveFn,
    pub initial: InitialFn,
}

impl Default for LifecycleOptions {
    fn default() -> Self {
        LifecycleOptions {
            observe: results::observe,
            initial: results::initial,
        }
    }
}

/// Chapter 07: the lifecycle kubelet plugin and the API rules.
// ANCHOR: install
pub fn install(b: &mut ClusterBuilder) {
    let strategies = b.slot::<Strategies>();
    strategies.register("", "Pod", validation::PodLifecycleRules);
    for (group, kind, rules) in validation::TEMPLATES {
        strategies.register(group, kind, *rules);
    }
    let options = b.get::<LifecycleOptions>().copied().unwrap_or_default();
    let plugin = Arc::new(LifecyclePlugin {
        prober: Arc::new(prober::Prober::new(options.observe, options.initial)),
    });
    b.insert(plugin.prober.clone());
    b.slot::<KubeletPlugins>().add(plugin);
}
// ANCHOR_END: install

/// The kubelet plugin: decides the steps, runs the probes and the hooks.
pub struct LifecyclePlugin {
    pub prober: Arc<prober::Prober>,
}

#[async_trait::async_trait]
impl KubeletPlugin for LifecyclePlugin {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn pod_actions(&self, _node: &NodeInfo, ctx: &PodContext<'_>) -> Option<PodActions> {
        self.prober.sync(ctx);
        let probed = |name: &str| {
            let id = ctx.records.get(name).and_then(|r| r.id.as_deref());
            self.prober.probed(ctx.pod, name, id)
        };
        Some(sequence::next_steps(
            ctx.pod,
            ctx.records,
            ctx.current,
            &probed,
            ctx.now,
        ))
    }

    async fn post_start(&self, _node: &NodeInfo, ctx: &HookContext<'_>) -> Result<(), String> {
        hooks::run("postStart", ctx).await
    }

    async fn pre_stop(&self, _node: &NodeInfo, ctx: &HookContext<'_>) {
        if let Err(message) = hooks::run("preStop", ctx).await {
            let name = ctx.container["name"].as_str().unwrap_or_default();
            ctx.events
                .for_container(ctx.pod, name, true, "FailedPreStopHook", message);
        }
    }

    fn container_health(
        &self,
        _node: &NodeInfo,
        pod: &Value,
        name: &str,
        id: &str,
    ) -> Option<Health> {
        self.prober.health(pod, name, id)
    }

    fn pod_stopping(&self, _node: &NodeInfo, pod: &Value) {
        self.prober
            .pod_stopping(pod["metadata"]["uid"].as_str().unwrap_or_default());
    }

    fn pod_removed(&self, _node: &NodeInfo, pod_uid: &str, _pod_dir: &std::path::Path) {
        self.prober.forget_pod(pod_uid);
    }
}
