//! Lifecycle hooks: `postStart` right after a container starts, `preStop`
//! before it gets SIGTERM (upstream: `pkg/kubelet/lifecycle/handlers.go`).
//!
//! - `postStart` runs before the kubelet moves on (the next init step
//!   waits for it). If it fails, the kubelet records `FailedPostStartHook`
//!   and kills the container, which restarts by its policy.
//! - `preStop` runs within the grace period: SIGTERM comes when it is over
//!   (or the grace period is), with at least 2 s left. A failure is only
//!   recorded (`FailedPreStopHook`); the container is stopped anyway.
//! - Handlers: `exec` (in the container), `httpGet` (any answer counts,
//!   only a failed request fails), `sleep` (in the kubelet: nothing runs in
//!   the container — the usual way to let endpoints drain before SIGTERM).
//!   A `tcpSocket` hook (deprecated) is not run.

use std::net::IpAddr;

use kubelab_kubelet::plugin::HookContext;
use serde_json::Value;

use crate::probe::{self, Outcome, Target};

/// Runs hook `which` (`postStart`, `preStop`) of the container, if it has
/// one. `Err` carries upstream's message for the event.
pub async fn run(which: &str, ctx: &HookContext<'_>) -> Result<(), String> {
    let handler = &ctx.container["lifecycle"][which];
    // `tcpSocket` hooks are accepted for old manifests and not run, as
    // upstream's kubelet does (it cannot mean anything useful).
    if !handler.is_object() || handler["tcpSocket"].is_object() {
        return Ok(());
    }
    let pod_ip = ctx
        .pod_ip
        .or(ctx.pod["status"]["podIP"].as_str())
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let target = Target {
        runtime: ctx.runtime,
        sandbox: ctx.sandbox,
        id: ctx.id,
        container: ctx.container,
        pod_ip,
        user_agent: "kube-lifecycle/1.33",
    };
    let left = ctx
        .deadline
        .saturating_duration_since(std::time::Instant::now());
    let m = &ctx.pod["metadata"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let pod = format!("{}_{}({})", s(&m["name"]), s(&m["namespace"]), s(&m["uid"]));
    let name = s(&ctx.container["name"]);
    if let Some(cmd) = handler["exec"]["command"].as_array() {
        let argv: Vec<String> = cmd
            .iter()
            .map(|a| a.as_str().unwrap_or_default().to_string())
            .collect();
        let (error, output) = match probe::exec_output(&argv, &target, left).await {
            Ok((0, _)) => return Ok(()),
            Ok((code, output)) => (
                format!("command '{}' exited with {code}: ", argv.join(" ")),
                output,
            ),
            Err(e) => (e, String::new()),
        };
        return Err(format!(
            "Exec lifecycle hook ([{}]) for Container \"{name}\" in Pod \"{pod}\" failed - error: {error}, message: {output:?}",
            argv.join(" ")
        ));
    }
    let Outcome::Failure(error) = probe::run(handler, &target, left).await else {
        return Ok(());
    };
    if let Some(g) = handler.get("httpGet") {
        // Any answer will do: only a failed request fails the hook.
        if error.starts_with("HTTP probe failed") {
            return Ok(());
        }
        return Err(format!(
            "HTTP lifecycle hook ({}) for Container \"{name}\" in Pod \"{pod}\" failed - error: {error}",
            g["path"].as_str().unwrap_or("/")
        ));
    }
    Err(format!(
        "Sleep lifecycle hook ({}) for Container \"{name}\" in Pod \"{pod}\" failed - error: {error}",
        handler["sleep"]["seconds"]
    ))
}
