//! The reference solution of lab 06 (`kubelab lab check 06 --solution`).

use kubelab_scaling::replicas::{PodUsage, Recommendation};

/// usage / requests in whole percent.
fn utilization(pods: &[(u64, u64)]) -> i64 {
    let usage: u64 = pods.iter().map(|p| p.0).sum();
    let requests: u64 = pods.iter().map(|p| p.1).sum();
    (usage * 100).checked_div(requests).unwrap_or(0) as i64
}

pub fn desired_replicas(
    current: i64,
    pods: &[PodUsage],
    target: i64,
    tolerance: f64,
) -> Recommendation {
    let measured: Vec<(u64, u64)> = pods
        .iter()
        .filter(|p| p.ready)
        .filter_map(|p| Some((p.usage?, p.request)))
        .collect();
    if measured.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let used = utilization(&measured);
    let ratio = used as f64 / target as f64;
    let missing: Vec<&PodUsage> = pods
        .iter()
        .filter(|p| p.ready && p.usage.is_none())
        .collect();
    let unready: Vec<&PodUsage> = pods.iter().filter(|p| !p.ready).collect();
    let count_unready = !unready.is_empty() && ratio > 1.0;
    if missing.is_empty() && !count_unready {
        if (ratio - 1.0).abs() <= tolerance {
            return Ok((current, used));
        }
        return Ok(((ratio * measured.len() as f64).ceil() as i64, used));
    }
    let mut all = measured;
    for p in missing {
        let assumed = if ratio < 1.0 {
            p.request * target.max(100) as u64 / 100
        } else {
            0
        };
        all.push((assumed, p.request));
    }
    if count_unready {
        all.extend(unready.iter().map(|p| (0, p.request)));
    }
    let new_ratio = utilization(&all) as f64 / target as f64;
    if (new_ratio - 1.0).abs() <= tolerance || (ratio < 1.0) != (new_ratio < 1.0) {
        return Ok((current, used));
    }
    let replicas = (new_ratio * all.len() as f64).ceil() as i64;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok((current, used));
    }
    Ok((replicas, used))
}
