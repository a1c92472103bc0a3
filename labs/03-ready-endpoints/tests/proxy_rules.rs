//! Lab 03's checks: your function inside the proxy's real rule generation
//! (`kubelab_proxy::rules`), on Services and EndpointSlices as the API
//! server stores them.

use std::sync::Arc;

use kubelab_proxy::rules::{render, service_ports_with};
use lab_03_ready_endpoints::{READY_ENDPOINTS, ready_endpoints};
use serde_json::{Value, json};

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

fn slice(ports: Value, endpoints: Value) -> Value {
    json!({"metadata": {"namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
           "ports": ports, "endpoints": endpoints})
}

#[test]
fn only_ready_endpoints_get_traffic() {
    let s = slice(
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
        json!([
            {"addresses": ["10.244.2.7"], "conditions": {"ready": false, "serving": true, "terminating": true}},
            {"addresses": ["10.244.1.2"], "conditions": {"ready": true}},
            {"addresses": ["10.244.1.3"], "conditions": {}},
        ]),
    );
    assert_eq!(
        ready_endpoints(&[&s], "http", "TCP"),
        [(ip("10.244.1.2"), 8080), (ip("10.244.1.3"), 8080)],
        "ready: false is out; a missing ready counts as ready"
    );
}

#[test]
fn the_port_is_found_by_name_and_protocol() {
    let s = slice(
        json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 5353, "protocol": "TCP"}, {"port": 9000}]),
        json!([{"addresses": ["10.244.1.9"], "conditions": {"ready": true}}]),
    );
    assert_eq!(
        ready_endpoints(&[&s], "dns", "UDP"),
        [(ip("10.244.1.9"), 53)]
    );
    assert_eq!(
        ready_endpoints(&[&s], "dns-tcp", "TCP"),
        [(ip("10.244.1.9"), 5353)]
    );
    assert_eq!(
        ready_endpoints(&[&s], "", "TCP"),
        [(ip("10.244.1.9"), 9000)],
        "an unnamed port, TCP by default"
    );
    assert!(
        ready_endpoints(&[&s], "dns", "TCP").is_empty(),
        "same name, other protocol"
    );
    assert!(ready_endpoints(&[&s], "metrics", "TCP").is_empty());
}

#[test]
fn several_slices_merge_sorted_without_duplicates() {
    let a = slice(
        json!([{"name": "", "port": 80, "protocol": "TCP"}]),
        json!([{"addresses": ["10.244.2.10"]}, {"addresses": ["10.244.1.4"]}]),
    );
    let b = slice(
        json!([{"port": 80}]),
        json!([{"addresses": ["10.244.2.9"]}, {"addresses": ["10.244.1.4"]}]),
    );
    let none = slice(
        json!([{"name": "other", "port": 1}]),
        json!([{"addresses": ["10.244.3.3"]}]),
    );
    assert_eq!(
        ready_endpoints(&[&a, &b, &none], "", "TCP"),
        [
            (ip("10.244.1.4"), 80),
            (ip("10.244.2.9"), 80),
            (ip("10.244.2.10"), 80)
        ],
        "numeric order (10.244.2.9 before 10.244.2.10), each once"
    );
}

#[test]
fn the_proxy_rules_balance_over_exactly_the_ready_endpoints() {
    let svc = Arc::new(json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}));
    let s = Arc::new(slice(
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
        json!([
            {"addresses": ["10.244.1.2"], "conditions": {"ready": true}},
            {"addresses": ["10.244.2.2"], "conditions": {"ready": true}},
            {"addresses": ["10.244.2.3"], "conditions": {"ready": false}},
        ]),
    ));
    let ports = service_ports_with(READY_ENDPOINTS, &[svc], &[s]);
    let rules = render(
        &ports,
        &[ip("172.18.0.2")],
        "10.244.1.0/24".parse().unwrap(),
    );
    assert!(
        rules.contains("numgen random mod 2"),
        "two endpoints to choose from:\n{rules}"
    );
    assert!(
        rules.contains("dnat to 10.244.1.2:8080") && rules.contains("dnat to 10.244.2.2:8080"),
        "{rules}"
    );
    assert!(
        !rules.contains("10.244.2.3"),
        "the not-ready pod gets no traffic:\n{rules}"
    );
}
