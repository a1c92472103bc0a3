//! Scores: of the nodes that can run the pod, which is best?
//!
//! Two of upstream's default scoring plugins, each giving 0–100 per node:
//! * `NodeResourcesFit` with the `LeastAllocated` strategy: the more CPU
//!   and memory would stay free after placing the pod, the better;
//! * `PodTopologySpread`'s default (spread by hostname), simplified: the
//!   fewer pods of the same ReplicaSet already on the node, the better —
//!   so a Deployment's replicas land on different nodes.

use serde_json::Value;

use crate::filters::NodeInfo;
use crate::{NodeTotals, Requests};

/// Pods without requests still count as something when scoring
/// (upstream: 100m CPU and 200 MiB), or ten empty pods would look free.
const DEFAULT_CPU_MILLIS: u64 = 100;
const DEFAULT_MEMORY: u64 = 200 * 1024 * 1024;

/// `LeastAllocated`: the average share of CPU and memory left free.
// ANCHOR: least_allocated
pub fn least_allocated(req: &Requests, node: &NodeInfo, used: &NodeTotals) -> u64 {
    let free_share = |capacity: u64, used: u64, asked: u64| -> u64 {
        if capacity == 0 {
            return 0;
        }
        let after = used + asked;
        capacity.saturating_sub(after) * 100 / capacity
    };
    let (cpu, memory) = (node.cpu_millis, node.memory);
    let asked_cpu = if req.cpu_millis == 0 {
        DEFAULT_CPU_MILLIS
    } else {
        req.cpu_millis
    };
    let asked_mem = if req.memory == 0 {
        DEFAULT_MEMORY
    } else {
        req.memory
    };
    let used_cpu = used.cpu_millis.max(used.pods * DEFAULT_CPU_MILLIS);
    let used_mem = used.memory.max(used.pods * DEFAULT_MEMORY);
    (free_share(cpu, used_cpu, asked_cpu) + free_share(memory, used_mem, asked_mem)) / 2
}
// ANCHOR_END: least_allocated

/// Spreading: 100 on a node with none of the pod's siblings, less the
/// more it has compared with the most crowded node.
pub fn spread(req: &Requests, used: &NodeTotals, max_siblings: u64) -> u64 {
    let Some(owner) = &req.owner else { return 100 };
    if max_siblings == 0 {
        return 100;
    }
    let here = used.owners.get(owner).copied().unwrap_or(0);
    100 * (max_siblings - here) / max_siblings
}

/// Total score of every feasible node; the best wins, ties at random.
pub fn score(req: &Requests, feasible: &[(&NodeInfo, &NodeTotals)]) -> Vec<u64> {
    let max_siblings = req
        .owner
        .as_ref()
        .map(|o| {
            feasible
                .iter()
                .map(|(_, u)| u.owners.get(o).copied().unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    feasible
        .iter()
        .map(|(node, used)| least_allocated(req, node, used) + 2 * spread(req, used, max_siblings))
        .collect()
}

pub fn pick<'a>(
    _pod: &Value,
    req: &Requests,
    feasible: &'a [(&'a NodeInfo, &'a NodeTotals)],
) -> &'a NodeInfo {
    let scores = score(req, feasible);
    let best = scores.iter().copied().max().unwrap_or(0);
    let winners: Vec<usize> = (0..feasible.len()).filter(|i| scores[*i] == best).collect();
    let i = winners[rand::random_range(0..winners.len())];
    feasible[i].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emptier_nodes_and_nodes_without_siblings_score_higher() {
        let n = NodeInfo::of(&std::sync::Arc::new(
            json!({"status": {"allocatable": {"cpu": "2", "memory": "4Gi"}}}),
        ));
        let req = Requests {
            cpu_millis: 500,
            memory: 512 << 20,
            owner: Some("rs".into()),
            ..Default::default()
        };
        let empty = NodeTotals::default();
        let busy = NodeTotals {
            cpu_millis: 1000,
            memory: 2 << 30,
            pods: 2,
            ..Default::default()
        };
        assert!(least_allocated(&req, &n, &empty) > least_allocated(&req, &n, &busy));
        let mut crowded = NodeTotals::default();
        crowded.owners.insert("rs".into(), 2);
        assert_eq!(spread(&req, &crowded, 2), 0);
        assert_eq!(spread(&req, &empty, 2), 100);
    }
}
