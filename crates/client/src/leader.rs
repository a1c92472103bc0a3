//! Leader election through a Lease (client-go's `leaderelection`): when
//! two kube-controller-managers (or two schedulers) run for availability,
//! only the one holding the Lease `kube-system/<name>` acts; the other
//! waits, and takes the Lease over once the holder has not renewed it for
//! its duration — after a crash, within `lease_duration`.
//!
//! The Lease is an ordinary object: `holderIdentity`, `renewTime`,
//! `leaseDurationSeconds`, `leaseTransitions`. Every write names the
//! `resourceVersion` it read, so of two candidates taking over at once,
//! the second write fails with a conflict and that candidate stays
//! standby: there is never a moment with two leaders that both believe
//! they hold the Lease.

use std::time::Duration;

use serde_json::{Value, json};

use crate::rest::{Client, path, resource};

/// Upstream's defaults: 15 s lease, renew every 2 s.
#[derive(Debug, Clone)]
pub struct Election {
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub retry_period: Duration,
}

impl Election {
    pub fn new(name: &str) -> Election {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        Election {
            name: name.to_string(),
            identity: format!("{}_{}", host.trim(), uuid_like()),
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
        }
    }
}

fn uuid_like() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now_micro() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn lease_path(name: Option<&str>) -> String {
    path(
        resource("coordination.k8s.io/v1", "Lease"),
        Some("kube-system"),
        name,
    )
}

/// One attempt: `Ok(true)` when we hold the Lease now (acquired or
/// renewed), `Ok(false)` when another live holder has it.
pub async fn try_acquire_or_renew(client: &Client, e: &Election) -> crate::rest::Result<bool> {
    let secs = e.lease_duration.as_secs();
    let current = match client.get(&lease_path(Some(&e.name))).await {
        Ok(l) => l,
        Err(err) if err.is_not_found() => {
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": e.name, "namespace": "kube-system"},
                "spec": {"holderIdentity": e.identity, "leaseDurationSeconds": secs,
                    "acquireTime": now_micro(), "renewTime": now_micro(), "leaseTransitions": 0}});
            return match client.create(&lease_path(None), &lease).await {
                Ok(_) => Ok(true),
                Err(err) if err.is_already_exists() => Ok(false),
                Err(err) => Err(err),
            };
        }
        Err(err) => return Err(err),
    };
    let spec = &current["spec"];
    let holder = spec["holderIdentity"].as_str().unwrap_or("");
    let renewed = spec["renewTime"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let duration = spec["leaseDurationSeconds"].as_i64().unwrap_or(secs as i64);
    let expired =
        renewed.is_none_or(|r| chrono::Utc::now() > r + chrono::Duration::seconds(duration));
    if holder != e.identity && !holder.is_empty() && !expired {
        return Ok(false);
    }
    let mut lease: Value = current.clone();
    lease["spec"]["renewTime"] = json!(now_micro());
    lease["spec"]["leaseDurationSeconds"] = json!(secs);
    if holder != e.identity {
        let transitions = spec["leaseTransitions"].as_i64().unwrap_or(0);
        lease["spec"]["holderIdentity"] = json!(e.identity);
        lease["spec"]["acquireTime"] = json!(now_micro());
        lease["spec"]["leaseTransitions"] = json!(transitions + 1);
    }
    // the read resourceVersion rides along: a concurrent taker loses
    match client.replace(&lease_path(Some(&e.name)), &lease).await {
        Ok(_) => Ok(true),
        Err(err) if err.is_conflict() => Ok(false),
        Err(err) => Err(err),
    }
}

/// Waits until this candidate holds the Lease.
pub async fn acquire(client: &Client, e: &Election) {
    loop {
        match try_acquire_or_renew(client, e).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(err) => tracing::warn!("leader election {}: {err}", e.name),
        }
        tokio::time::sleep(e.retry_period).await;
    }
}

/// Renews the Lease every retry period; returns when it could not be
/// renewed for a whole lease duration (leadership lost: upstream's
/// components exit then, and so should the caller).
pub async fn keep(client: &Client, e: &Election) {
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(e.retry_period).await;
        match try_acquire_or_renew(client, e).await {
            Ok(true) => last_ok = tokio::time::Instant::now(),
            Ok(false) => return,
            Err(err) => {
                tracing::warn!("renewing lease {}: {err}", e.name);
                if last_ok.elapsed() > e.lease_duration {
                    return;
                }
            }
        }
    }
}
