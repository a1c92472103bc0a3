#!/usr/bin/env bash
# Prints kubelab's performance figures (release build), with ratios against a
# real etcd run in the same command. Installs Debian's etcd-server if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v etcd >/dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq etcd-server
fi
cargo build --release -q -p kubelab
./target/release/kubelab bench store
echo
./target/release/kubelab bench api
echo
# Chapter 02: time to a Ready node, pod start latency, density on fake nodes.
./target/release/kubelab bench pods
if [ "$(id -u)" = 0 ]; then
  echo
  # Chapter 03: the pod network, the service proxy and DNS need root.
  ./target/release/kubelab bench services
fi
echo
# Chapter 04: a ConfigMap update reaching 100 pods' files (linux runtime as
# root, else the process runtime), Secret creates with encryption at rest.
./target/release/kubelab bench config
echo
# Chapter 05: claim → Bound by the local-path provisioner; what a new claim
# adds to a pod's start.
./target/release/kubelab bench volumes
if [ "$(id -u)" = 0 ]; then
  echo
  # Chapter 07: probe cost (HTTP against exec), readiness → endpoints,
  # deletions under load with and without readiness + preStop (root: pod
  # networks and exec into real containers).
  ./target/release/kubelab bench lifecycle
fi
echo
# Chapter 06: a DaemonSet on 1,000 fake nodes, a Deployment scaled 0 → 5,000,
# a stopped node's pods Running elsewhere, and (root) the autoscaler's
# reaction to load on the linux runtime.
./target/release/kubelab bench scaling
echo
# Chapter 08: Job completions/s and a StatefulSet of 100 on fake nodes,
# CronJob lateness (two minutes), a StatefulSet with claims on the linux
# runtime (root).
./target/release/kubelab bench batch
echo
# Chapter 09: requests failed during a rollout and a rollback under load
# (root: the linux runtime), and 1,000 replicas rolled on fake nodes
# against the time to create them from scratch.
./target/release/kubelab bench rollout

# Chapter 10: kubelab helm against the real helm (tests/run.sh installs it).
./target/release/kubelab bench helm
