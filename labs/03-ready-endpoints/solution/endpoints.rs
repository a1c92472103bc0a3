//! Lab 03, the reference solution.

use std::net::Ipv4Addr;

use serde_json::Value;

pub fn ready_endpoints(slices: &[&Value], port_name: &str, protocol: &str) -> Vec<(Ipv4Addr, u16)> {
    let mut out = Vec::new();
    for slice in slices {
        let target = slice["ports"].as_array().into_iter().flatten().find(|p| {
            p["name"].as_str().unwrap_or("") == port_name
                && p["protocol"].as_str().unwrap_or("TCP") == protocol
        });
        let Some(port) = target.and_then(|p| p["port"].as_u64()) else {
            continue;
        };
        for e in slice["endpoints"].as_array().into_iter().flatten() {
            if e["conditions"]["ready"].as_bool() == Some(false) {
                continue;
            }
            for a in e["addresses"].as_array().into_iter().flatten() {
                if let Some(ip) = a.as_str().and_then(|a| a.parse().ok()) {
                    out.push((ip, port as u16));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
